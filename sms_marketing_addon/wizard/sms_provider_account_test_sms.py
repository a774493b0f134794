from odoo import _, fields, models


class SmsProviderAccountTestSms(models.TransientModel):
    """"Send a test SMS" through one gateway account (system administrators)."""

    _name = "sms.provider.account.test.sms"
    _description = "Send a test SMS through a gateway account"

    account_id = fields.Many2one("sms.provider.account", string="Gateway account", required=True, readonly=True)
    number = fields.Char(required=True, help="In international format, e.g. +33 6 12 34 56 78.")
    body = fields.Char(string="Text", required=True,
                       default=lambda self: _("Test SMS from Odoo: this gateway account works."))

    def action_send(self):
        self.ensure_one()
        test = self.account_id._send_test_sms(self.number, self.body)
        return {"type": "ir.actions.client", "tag": "display_notification", "params": {
            "title": _("Send a test SMS"), "type": "info", "sticky": False,
            "message": _("Test SMS to %(number)s queued through %(account)s: the sync service sends it within "
                         "seconds; the result appears on the account.", number=test.number,
                         account=self.account_id.name),
            "next": {"type": "ir.actions.client", "tag": "soft_reload"},
        }}
