from odoo import fields, models

DELIVERY_STATES = [
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("undelivered", "Undelivered"),
    ("failed", "Failed"),
]
FINAL_STATES = {"delivered", "undelivered", "failed"}


class SmsProviderMessage(models.Model):
    """What a gateway accepted, kept after Odoo deletes the sent `sms.sms` row: maps the provider's message id
    to Odoo's SMS uuid (so late delivery receipts still land) and feeds the frequency cap and the costs."""

    _name = "sms.provider.message"
    _description = "SMS handed to a gateway"
    _order = "id desc"
    _rec_name = "provider_message_id"

    sms_uuid = fields.Char(string="SMS uuid", required=True, index=True, readonly=True)
    provider_message_id = fields.Char(string="Provider message id", index=True, readonly=True)
    account_id = fields.Many2one("sms.provider.account", string="Gateway account", readonly=True, index=True)
    provider = fields.Char(readonly=True)
    number = fields.Char(readonly=True, index=True)
    partner_id = fields.Many2one("res.partner", readonly=True, index="btree_not_null")
    mailing_id = fields.Many2one("mailing.mailing", readonly=True, index="btree_not_null", ondelete="set null")
    is_marketing = fields.Boolean(readonly=True)
    segments = fields.Integer(readonly=True, default=1)
    state = fields.Selection(DELIVERY_STATES, readonly=True, default="sent", index=True)
    error_code = fields.Char(readonly=True)
    date_sent = fields.Datetime(readonly=True, default=fields.Datetime.now, index=True)
    date_final = fields.Datetime(string="Final status at", readonly=True)

    _sql_constraints = [
        ("sms_uuid_unique", "unique (sms_uuid)", "An SMS is handed to a gateway once."),
    ]
