from datetime import timedelta

from odoo import api, fields, models


class SmsPublicHit(models.Model):
    """Requests to the public SMS routes (subscribe, confirm), per IP, and the confirmation SMS they queued (per
    hashed number, and all together under '*'): the rate limits' memory, shared by all Odoo workers. Rows older
    than 8 days are vacuumed (the per-number limit counts a week)."""

    _name = "sms.public.hit"
    _description = "Public SMS route request"
    _log_access = False

    route = fields.Char(required=True, index=True)
    ip_address = fields.Char(required=True, index=True)
    date = fields.Datetime(required=True, default=fields.Datetime.now, index=True)

    @api.model
    def _hit(self, route, ip_address, limit, window_minutes=60):
        """Record a request; False when this IP already made `limit` requests to `route` in the window."""
        if self._count(route, ip_address, window_minutes) >= limit:
            return False
        self._record(route, ip_address)
        return True

    @api.model
    def _count(self, route, key, window_minutes):
        since = fields.Datetime.now() - timedelta(minutes=window_minutes)
        return self.sudo().search_count([("route", "=", route), ("ip_address", "=", key or "unknown"),
                                         ("date", ">=", since)])

    @api.model
    def _record(self, route, key):
        self.sudo().create({"route": route, "ip_address": key or "unknown"})

    @api.autovacuum
    def _gc_hits(self):
        self.sudo().search([("date", "<", fields.Datetime.now() - timedelta(days=8))]).unlink()
