from odoo import fields, models

RECIPIENT_REASONS = [
    ("now", "Goes now"),
    ("deferred", "Deferred to their sending hours"),
    ("capped", "Frequency cap reached"),
    ("no_consent", "No consent"),
    ("opted_out", "Opted out"),
    ("duplicate", "Duplicate number"),
    ("invalid", "Invalid or missing number"),
]
EXCLUDED_REASONS = ("no_consent", "opted_out", "duplicate", "invalid")


class SmsMailingRecipient(models.Model):
    """One recipient of an SMS mailing as "Check recipients" saw it: what the compliance gate will do with it,
    and why. Written in bulk by `mailing.mailing.action_sms_check_recipients` (set-based SQL), replaced at each
    check, read-only for everyone."""

    _name = "sms.mailing.recipient"
    _description = "SMS Mailing Recipient (checked)"
    _order = "id"
    _rec_name = "number"

    mailing_id = fields.Many2one("mailing.mailing", string="Mailing", required=True, readonly=True,
                                 index=True, ondelete="cascade")
    res_id = fields.Integer(string="Record ID", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Contact", readonly=True, index="btree_not_null",
                                 help="The recipient, or the opted-in contact of the number when the mailing "
                                 "goes to another kind of record.")
    number = fields.Char(readonly=True)
    reason = fields.Selection(RECIPIENT_REASONS, readonly=True, index=True)
    excluded = fields.Boolean(readonly=True, help="Never sent by this mailing.")
    send_after = fields.Datetime(string="Deferred until", readonly=True,
                                 help="When its sending hours open (empty: not within 16 days).")
    country_id = fields.Many2one("res.country", string="Destination country", readonly=True)
    account_id = fields.Many2one("sms.provider.account", string="Gateway account", readonly=True)
    segments = fields.Integer(readonly=True, help="Estimated from the mailing's text (a sample recipient).")
    cost = fields.Float(string="Estimated cost", readonly=True, digits=(16, 4),
                        help="Segments × the account's price per segment for the country; empty when unknown.")
    cost_known = fields.Boolean(string="Price known", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
