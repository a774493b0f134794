from odoo import fields, models


class SmsOutboxMove(models.TransientModel):
    """Move waiting SMS to another gateway account (system administrators)."""

    _name = "sms.outbox.move"
    _description = "Move SMS to another gateway account"

    sms_ids = fields.Many2many("sms.sms", string="SMS")
    account_id = fields.Many2one("sms.provider.account", string="Gateway account", required=True)

    def default_get(self, fields_list):
        res = super().default_get(fields_list)
        if self.env.context.get("active_model") == "sms.sms" and "sms_ids" in fields_list:
            res["sms_ids"] = [(6, 0, self.env.context.get("active_ids") or [])]
        return res

    def action_move(self):
        self.ensure_one()
        return self.sms_ids.action_outbox_move(self.account_id)
