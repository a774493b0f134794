from odoo import models


class SmsSms(models.Model):
    _inherit = "sms.sms"

    def _sms_flow_cancel(self, reason, now=None):
        """A back-in-stock SMS cancelled when claimed (the product sold out again...): its contact waits again."""
        res = super()._sms_flow_cancel(reason, now)
        if self:
            self.env["sms.flow.message"].sudo().search(
                [("sms_uuid", "in", self.mapped("uuid"))]).enrollment_id._sms_flow_wait_again(reason)
        return res
