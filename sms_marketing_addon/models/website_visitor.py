from datetime import timedelta

from odoo import models
from odoo.tools import SQL

# One wake-up of the flows' scheduled action serves every product view within this window.
WAKE_WINDOW_SECONDS = 30


class WebsiteVisitor(models.Model):
    _inherit = "website.visitor"

    def _add_viewed_product(self, product_id):
        """A product view of an identified visitor wakes the flows' scheduled action when a browse-abandonment
        flow's entry delay has passed, rather than at its next interval (5 minutes by default). At most one
        wake-up per 30 s window: a busy shop does not write one per page view."""
        res = super()._add_viewed_product(product_id)
        if self.partner_id:
            flows = self.env["sms.flow"].sudo().search([("trigger", "=", "browse_abandoned")])
            cron = self.env.ref("sms_marketing_addon.ir_cron_sms_flow_welcome", raise_if_not_found=False)
            if flows and cron and cron.active:
                delay = min(flow._sms_flow_entry_delay_seconds() for flow in flows)
                at = self.env.cr.now().replace(tzinfo=None) + timedelta(seconds=delay + 1)
                window = timedelta(seconds=WAKE_WINDOW_SECONDS)
                if not self.env.execute_query(SQL(
                        "SELECT 1 FROM ir_cron_trigger WHERE cron_id = %s AND call_at BETWEEN %s AND %s LIMIT 1",
                        cron.id, at, at + window)):
                    self.env["sms.flow"]._sms_flow_wake_cron(at=at + window)
        return res
