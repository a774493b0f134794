from odoo import fields, models

from .sms_flow_enrollment import STOCK_ONDELETE, STOCK_REASONS


class SmsFlowMessage(models.Model):
    _inherit = "sms.flow.message"

    exit_reason = fields.Selection(selection_add=STOCK_REASONS, ondelete=STOCK_ONDELETE)

    def write(self, vals):
        """A back-in-stock SMS that failed (refused by the gateway, or not delivered): its contact was not told,
        so goes back on the product's "notify me" list (Odoo's e-mail, or the flow again, tells them later)."""
        res = super().write(vals)
        if vals.get("state") == "failed":
            self.enrollment_id._sms_flow_wait_again("send_failed")
        return res
