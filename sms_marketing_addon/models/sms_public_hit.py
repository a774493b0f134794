from datetime import timedelta

from odoo import api, fields, models


class SmsPublicHit(models.Model):
    """Requests to the public SMS routes (subscribe, confirm), per IP: the rate limit's memory, shared by all
    Odoo workers. Rows older than a day are vacuumed."""

    _name = "sms.public.hit"
    _description = "Public SMS route request"
    _log_access = False

    route = fields.Char(required=True, index=True)
    ip_address = fields.Char(required=True, index=True)
    date = fields.Datetime(required=True, default=fields.Datetime.now, index=True)

    @api.model
    def _hit(self, route, ip_address, limit, window_minutes=60):
        """Record a request; False when this IP already made `limit` requests to `route` in the window."""
        since = fields.Datetime.now() - timedelta(minutes=window_minutes)
        recent = self.sudo().search_count([("route", "=", route), ("ip_address", "=", ip_address),
                                           ("date", ">=", since)])
        if recent >= limit:
            return False
        self.sudo().create({"route": route, "ip_address": ip_address or "unknown"})
        return True

    @api.autovacuum
    def _gc_hits(self):
        self.sudo().search([("date", "<", fields.Datetime.now() - timedelta(days=1))]).unlink()
