from odoo import api, fields, models
from odoo.tools import create_index

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
    check, read-only for everyone.

    Built for a million rows per check: no foreign key and no log columns. The mailing, contact, country and
    account are kept as plain ids and shown through computed fields: a foreign key check cost 29 s of 36 s to
    insert 1,000,000 rows here (one key; seven took most of the check's time). The mailing's rows are deleted
    with it (`mailing.mailing.unlink`) and replaced at each check."""

    _name = "sms.mailing.recipient"
    _description = "SMS Mailing Recipient (checked)"
    _order = "id"
    _rec_name = "number"
    _log_access = False

    mailing_ref = fields.Integer(required=True, readonly=True)
    mailing_id = fields.Many2one("mailing.mailing", string="Mailing", compute="_compute_refs",
                                 search="_search_mailing_id")
    res_id = fields.Integer(string="Record ID", readonly=True)
    partner_ref = fields.Integer(readonly=True)
    country_ref = fields.Integer(readonly=True)
    account_ref = fields.Integer(readonly=True)
    partner_id = fields.Many2one("res.partner", string="Contact", compute="_compute_refs", search="_search_partner_id",
                                 help="The recipient, or the opted-in contact of the number when the mailing goes "
                                 "to another kind of record.")
    country_id = fields.Many2one("res.country", string="Destination country", compute="_compute_refs",
                                 search="_search_country_id")
    account_id = fields.Many2one("sms.provider.account", string="Gateway account id", compute="_compute_refs",
                                 search="_search_account_id")
    account_name = fields.Char(string="Gateway account", compute="_compute_refs",
                               help="Shown to every mass mailing user; the account itself is for SMS users.")
    number = fields.Char(readonly=True)
    reason = fields.Selection(RECIPIENT_REASONS, readonly=True)
    excluded = fields.Boolean(readonly=True, help="Never sent by this mailing.")
    send_after = fields.Datetime(string="Deferred until", readonly=True,
                                 help="When its sending hours open (empty: not within 16 days).")
    segments = fields.Integer(readonly=True, help="Estimated from the mailing's text (a sample recipient).")

    def _auto_init(self):
        res = super()._auto_init()
        create_index(self.env.cr, "sms_mailing_recipient_mailing_reason_index", self._table,
                     ["mailing_ref", "reason"])
        return res

    @api.depends("mailing_ref", "partner_ref", "country_ref", "account_ref")
    def _compute_refs(self):
        for row in self:
            row.mailing_id = row.mailing_ref or False
            row.partner_id = row.partner_ref or False
            row.country_id = row.country_ref or False
            row.account_id = row.account_ref or False
            row.account_name = row.account_ref and self.env["sms.provider.account"].sudo().browse(
                row.account_ref).with_context(active_test=False).name
    def _search_ref(self, comodel, column, operator, value):
        ids = value if isinstance(value, (list, tuple)) else [value]
        if operator in ("=", "!=", "in", "not in") and all(isinstance(v, int) or v is False for v in ids):
            return [(column, operator, value)]
        return [(column, "in", self.env[comodel]._search([("display_name", operator, value)]))]

    def _search_mailing_id(self, operator, value):
        return self._search_ref("mailing.mailing", "mailing_ref", operator, value)

    def _search_partner_id(self, operator, value):
        return self._search_ref("res.partner", "partner_ref", operator, value)

    def _search_country_id(self, operator, value):
        return self._search_ref("res.country", "country_ref", operator, value)

    def _search_account_id(self, operator, value):
        return self._search_ref("sms.provider.account", "account_ref", operator, value)


class SmsMailingCost(models.Model):
    """The cost estimate of a checked SMS mailing, per destination country and gateway account: recipients that
    will be texted × segments × the account's price per segment for the country (unknown without a price)."""

    _name = "sms.mailing.cost"
    _description = "SMS Mailing Cost Estimate"
    _order = "mailing_id, country_id, account_id"

    mailing_id = fields.Many2one("mailing.mailing", required=True, readonly=True, index=True, ondelete="cascade")
    country_id = fields.Many2one("res.country", string="Destination country", readonly=True)
    account_id = fields.Many2one("sms.provider.account", string="Gateway account id", readonly=True)
    account_name = fields.Char(string="Gateway account", related="account_id.name")
    recipients = fields.Integer(readonly=True)
    segments = fields.Integer(readonly=True)
    price = fields.Float(string="Price per segment", readonly=True, digits=(16, 5))
    currency_id = fields.Many2one("res.currency", readonly=True)
    cost = fields.Monetary(string="Estimated cost", readonly=True, currency_field="currency_id")
    cost_known = fields.Boolean(string="Price known", readonly=True)
