from odoo import fields, models

INBOUND_ACTIONS = [
    ("opt_out", "Opt-out (STOP)"),
    ("opt_in", "Re-subscribe (START)"),
    ("confirm", "Confirmation (YES)"),
    ("help", "Help (HELP)"),
    ("none", "Other reply"),
]


class SmsInboundMessage(models.Model):
    """Every inbound SMS the sync service handed to Odoo, once (unique provider message id)."""

    _name = "sms.inbound.message"
    _description = "Inbound SMS"
    _order = "id desc"
    _rec_name = "inbound_message_id"

    inbound_message_id = fields.Char(string="Provider message id", required=True, readonly=True, index=True)
    provider = fields.Char(readonly=True)
    number = fields.Char(string="From (E.164)", readonly=True, index=True)
    body = fields.Text(readonly=True)
    action = fields.Selection(INBOUND_ACTIONS, required=True, readonly=True)
    result = fields.Char(readonly=True, help="What Odoo did with it.")
    partner_ids = fields.Many2many("res.partner", string="Contacts", readonly=True)
    reply = fields.Text(string="Reply sent", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True, default=lambda self: self.env.company)

    _sql_constraints = [
        ("inbound_message_id_unique", "unique (inbound_message_id)", "This inbound message was already applied."),
    ]
