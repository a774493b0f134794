from markupsafe import Markup, escape

from odoo import _, api, fields, models
from odoo.exceptions import AccessError

CONSENT_EVENTS = [
    ("opt_in_request", "Opt-in requested"),
    ("confirmation", "Opt-in confirmed"),
    ("opt_in", "Opted in"),
    ("opt_out", "Opted out"),
    ("re_subscribe", "Re-subscribed"),
    ("number_changed", "Number changed"),
    ("expired", "Request expired"),
    ("optout_lifted", "Opt-out lifted"),
]

CONSENT_SOURCES = [
    ("website_form", "Website form"),
    ("checkout", "Checkout"),
    ("keyword", "Keyword reply"),
    ("import", "Import"),
    ("agent", "Agent"),
    ("api", "API"),
    ("provider", "SMS provider"),
    ("odoo", "Odoo blacklist"),
    ("system", "System"),
]


class SmsConsentLog(models.Model):
    """Append-only proof of SMS marketing consent (GDPR art. 7(1), TCPA).

    Rows are only created, through the addon's own methods (sudo). Nobody writes or deletes them through the
    ORM or RPC, the superuser included; GDPR erasure of a contact anonymises its rows in SQL
    (`_gdpr_anonymize`)."""

    _name = "sms.consent.log"
    _description = "SMS Consent Log"
    _order = "date desc, id desc"
    _rec_name = "event"

    date = fields.Datetime(required=True, default=fields.Datetime.now, readonly=True, index=True)
    partner_id = fields.Many2one("res.partner", string="Contact", readonly=True, index=True, ondelete="set null")
    number = fields.Char(string="Number (E.164)", readonly=True, index=True)
    event = fields.Selection(CONSENT_EVENTS, required=True, readonly=True)
    source = fields.Selection(CONSENT_SOURCES, required=True, readonly=True)
    consent_text = fields.Text(string="Consent text shown", readonly=True)
    consent_text_version = fields.Char(
        string="Consent text version / privacy policy", readonly=True,
        help="Version of the consent wording, or the URL of the privacy policy in force.",
    )
    ip_address = fields.Char(string="IP address", readonly=True)
    user_agent = fields.Char(readonly=True)
    inbound_message_id = fields.Char(string="Inbound message", readonly=True, index="btree_not_null")
    user_id = fields.Many2one("res.users", string="Acting user", readonly=True, default=lambda self: self.env.uid)
    note = fields.Text(string="Reason / proof note", readonly=True)
    company_id = fields.Many2one(
        "res.company", readonly=True, index=True, default=lambda self: self.env.company
    )
    anonymized = fields.Boolean(readonly=True)

    @api.depends("event", "partner_id", "number", "date")
    def _compute_display_name(self):
        events = dict(self._fields["event"]._description_selection(self.env))
        for row in self:
            who = row.partner_id.display_name or row.number or _("anonymised")
            row.display_name = f"{events.get(row.event, row.event)} · {who}"

    def write(self, vals):
        raise AccessError(_("The SMS consent log is append-only: its rows cannot be modified."))

    def unlink(self):
        raise AccessError(_("The SMS consent log is append-only: its rows cannot be deleted."))

    @api.model
    def _log(self, partners, event, source, number=None, **values):
        """Create one row per partner (or one row for the number alone); the only way rows are made."""
        base = {"event": event, "source": source, "user_id": self.env.uid, **values}
        rows = [
            dict(base, partner_id=partner.id, number=number or partner.sms_number,
                 company_id=partner.company_id.id or self.env.company.id)
            for partner in partners
        ] or [dict(base, partner_id=False, number=number, company_id=self.env.company.id)]
        created = self.sudo().create(rows)
        created._post_on_contacts()
        return created

    def _post_on_contacts(self):
        """Each consent event in its contact's chatter: what, from where, why, by whom (one note per row)."""
        events = dict(self._fields["event"]._description_selection(self.env))
        sources = dict(self._fields["source"]._description_selection(self.env))
        bodies = {}
        for row in self.filtered("partner_id"):
            parts = [_("SMS consent: %(event)s (%(origin)s)", event=events[row.event], origin=sources[row.source])]
            if row.note:
                parts.append(_("Reason: %s", row.note))
            if row.number:
                parts.append(_("Number: %s", row.number))
            bodies[row.partner_id.id] = Markup("<br/>").join(escape(part) for part in parts)
        if bodies:
            partners = self.env["res.partner"].sudo().browse(list(bodies)).with_context(mail_notify_noemail=True)
            partners._message_log_batch(bodies=bodies, author_id=self.env.user.partner_id.id)

    def _gdpr_anonymize(self):
        """Erase personal data from these rows (GDPR art. 17), keeping what happened and when."""
        if not self:
            return
        self.env.cr.execute(
            """UPDATE sms_consent_log
                  SET partner_id = NULL, number = NULL, ip_address = NULL, user_agent = NULL,
                      note = NULL, inbound_message_id = NULL, anonymized = TRUE
                WHERE id IN %s""",
            [tuple(self.ids)],
        )
        self.invalidate_recordset()
