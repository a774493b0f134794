import hmac
import logging
from datetime import timedelta

import phonenumbers

from odoo import _, api, fields, models
from odoo.addons.phone_validation.tools.phone_validation import phone_parse
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL
from odoo.tools.misc import hmac as odoo_hmac

from .sms_consent_log import CONSENT_SOURCES

_logger = logging.getLogger(__name__)

CONSENT_STATES = [
    ("none", "No consent"),
    ("pending", "Pending confirmation"),
    ("opted_in", "Opted in"),
    ("opted_out", "Opted out"),
]
# Consent fields that only the consent transitions write (as the system): never by a create or write of a person.
SYSTEM_CONSENT_FIELDS = frozenset({
    "sms_consent_date", "sms_consent_source", "sms_consent_pending_date", "sms_optout_date", "sms_optout_source",
    "sms_number_rejected",
})
# Characters of the confirmation token in the link of the confirmation SMS (hex: 64 bits).
CONFIRMATION_TOKEN_LENGTH = 16
SMS_CAPABLE_TYPES = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


def parse_sms_number(env, raw, region):
    """(E.164 or False, error or False) for a number as typed, with `region` (ISO code) as fallback.

    No number at all is no error (the contact simply has none)."""
    raw = (raw or "").strip()
    if not raw:
        return False, False
    try:
        parsed = phone_parse(raw, region or None)
    except UserError as err:
        return False, str(err.args[0] if err.args else err)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if phonenumbers.number_type(parsed) not in SMS_CAPABLE_TYPES:
        return e164, env._("%(number)s cannot receive SMS (not a mobile number).", number=raw)
    return e164, False


class ResPartner(models.Model):
    _inherit = "res.partner"

    sms_consent_state = fields.Selection(
        CONSENT_STATES, string="SMS marketing consent", default="none", required=True, copy=False,
        index=True, groups="base.group_user",
    )
    sms_consent_date = fields.Datetime(string="SMS consent date", copy=False, readonly=True, groups="base.group_user")
    sms_consent_source = fields.Selection(
        CONSENT_SOURCES, string="SMS consent source", copy=False, readonly=True, groups="base.group_user"
    )
    sms_consent_pending_date = fields.Datetime(
        string="SMS confirmation requested", copy=False, readonly=True, groups="base.group_user"
    )
    sms_optout_date = fields.Datetime(string="SMS opt-out date", copy=False, readonly=True, groups="base.group_user")
    sms_optout_source = fields.Selection(
        CONSENT_SOURCES, string="SMS opt-out source", copy=False, readonly=True, groups="base.group_user"
    )
    sms_number = fields.Char(
        string="SMS number", compute="_compute_sms_number", store=True, index="btree_not_null",
        help="The number SMS go to, in E.164: the mobile, else the phone, read with the contact's country "
        "(else the company's).",
    )
    sms_number_valid = fields.Boolean(
        string="SMS number valid", compute="_compute_sms_number", store=True,
        help="The number is valid and can receive SMS (mobile, or fixed line or mobile).",
    )
    sms_number_error = fields.Char(string="SMS number problem", compute="_compute_sms_number", store=True)
    sms_number_rejected = fields.Char(
        string="Rejected by the provider", copy=False, readonly=True,
        help="Why a gateway refused this number (invalid, not a mobile). Cleared when the number changes.",
    )
    sms_may_receive_marketing = fields.Boolean(
        string="May receive marketing SMS", compute="_compute_sms_may_receive_marketing",
        search="_search_sms_may_receive_marketing", groups="base.group_user",
        help="Opted in, with a valid SMS number that is not in the opt-out register.",
    )
    sms_consent_note = fields.Char(
        string="Consent reason / proof note", compute="_compute_sms_consent_note", groups="base.group_user",
        help="Required when consent is set by hand or imported: why, and where the proof is.",
    )
    sms_consent_log_ids = fields.One2many(
        "sms.consent.log", "partner_id", string="SMS consent history", groups="sms_marketing_addon.group_sms_marketing_user"
    )
    sms_consent_log_count = fields.Integer(
        compute="_compute_sms_consent_log_count", groups="sms_marketing_addon.group_sms_marketing_user"
    )

    # ------------------------------------------------------------------ computes
    @api.depends("mobile", "phone", "country_id", "company_id")
    def _compute_sms_number(self):
        for partner in self:
            raw = partner.mobile or partner.phone
            country = partner.country_id or partner.company_id.country_id or self.env.company.country_id
            number, error = parse_sms_number(self.env, raw, country.code)
            partner.sms_number = number
            partner.sms_number_error = error
            partner.sms_number_valid = bool(number) and not error

    @api.depends("sms_consent_state", "sms_number", "sms_number_valid", "sms_number_rejected")
    def _compute_sms_may_receive_marketing(self):
        blacklisted = set(
            self.env["phone.blacklist"].sudo().with_context(active_test=True).search(
                [("number", "in", self.mapped("sms_number"))]
            ).mapped("number")
        )
        for partner in self:
            partner.sms_may_receive_marketing = (
                partner.sms_consent_state == "opted_in" and partner.sms_number_valid
                and not partner.sms_number_rejected and partner.sms_number not in blacklisted
            )

    def _search_sms_may_receive_marketing(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise UserError(_("Unsupported search on 'May receive marketing SMS'."))
        blacklisted = SQL("(SELECT number FROM phone_blacklist WHERE active AND number IS NOT NULL)")
        allowed = [
            ("sms_consent_state", "=", "opted_in"), ("sms_number_valid", "=", True),
            ("sms_number_rejected", "=", False), ("sms_number", "not in", blacklisted),
        ]
        if (operator == "=") == value:
            return allowed
        return ["!", "&", "&", "&", *allowed]

    def _compute_sms_consent_note(self):
        self.sms_consent_note = False

    def _compute_sms_consent_log_count(self):
        counts = dict(
            self.env["sms.consent.log"]._read_group([("partner_id", "in", self.ids)], ["partner_id"], ["__count"])
        )
        for partner in self:
            partner.sms_consent_log_count = counts.get(partner, 0)

    # ------------------------------------------------------------------ write hooks
    @api.model_create_multi
    def create(self, vals_list):
        vals_list = [dict(vals) for vals in vals_list]  # callers (e.g. import) may retry with the same dicts
        for vals in vals_list:
            self._sms_check_consent_fields(vals)
        notes = [vals.pop("sms_consent_note", None) for vals in vals_list]
        states = [vals.pop("sms_consent_state", None) for vals in vals_list]
        if any(state and state != "none" for state in states):
            self._sms_check_consent_right()
        partners = super().create(vals_list)
        for partner, state, note in zip(partners, states, notes):
            if state and state != "none":
                partner._sms_set_consent_by_hand(state, note)
        return partners

    def write(self, vals):
        vals = dict(vals)
        internal = self.env.su and self.env.context.get("sms_consent_internal")
        if not internal:
            self._sms_check_consent_fields(vals)
        note = vals.pop("sms_consent_note", None)
        state = None if internal else vals.pop("sms_consent_state", None)
        if state is not None and any(partner.sms_consent_state != state for partner in self):
            self._sms_check_consent_right()
        before = {p.id: p.sms_number for p in self} if {"mobile", "phone", "country_id"} & set(vals) else None
        res = super().write(vals)
        if before is not None:
            self._sms_on_number_changed(before)
        if state is not None:
            for partner in self:
                if partner.sms_consent_state != state:
                    partner._sms_set_consent_by_hand(state, note)
        return res

    def _sms_check_consent_fields(self, vals):
        """The dates and sources of consent are proof: only the consent transitions write them."""
        protected = SYSTEM_CONSENT_FIELDS & set(vals)
        if protected and not self.env.su:
            raise AccessError(_(
                "SMS consent dates and sources are recorded by the consent itself and cannot be written "
                "(%(fields)s). Use the “Change SMS consent” action with a reason.",
                fields=", ".join(sorted(self._fields[name].string for name in protected)),
            ))

    def _sms_check_consent_right(self):
        """Only SMS Marketing users (and the system) change a contact's consent, always with a reason."""
        if not (self.env.su or self.env.user.has_group("sms_marketing_addon.group_sms_marketing_user")):
            raise AccessError(_(
                "Only SMS Marketing users can change a contact's SMS consent. Ask one of them to record it, "
                "with the reason or proof."
            ))

    def _sms_set_consent_by_hand(self, state, note):
        """A consent state written directly (form, import, RPC): needs a proof note, and is logged."""
        self.ensure_one()
        source = "import" if self.env.context.get("import_file") else "agent"
        if state != "opted_out" and not (note or "").strip():
            raise UserError(_(
                "Setting the SMS consent of %(name)s needs a reason or proof note (column 'Consent reason / "
                "proof note' when importing).", name=self.display_name,
            ))
        if state == "opted_in":
            self._sms_opt_in(source, note=note)
        elif state == "opted_out":
            self._sms_opt_out(source, note=note)
        elif state == "pending":
            self._sms_request_consent(source, note=note)
        else:
            raise UserError(_("SMS consent can be set to opted in, opted out or pending, not '%s'.", state))

    def _sms_on_number_changed(self, before):
        """Consent belongs to a number: a new number starts without it (an opt-out is kept)."""
        for partner in self:
            old = before.get(partner.id)
            if old == partner.sms_number:
                continue
            self.env["sms.consent.log"]._log(
                partner, "number_changed", "system", note=_("From %(old)s to %(new)s", old=old or "-",
                                                            new=partner.sms_number or "-"),
            )
            values = {"sms_number_rejected": False}
            if partner.sms_consent_state in ("opted_in", "pending"):
                values.update(sms_consent_state="none", sms_consent_pending_date=False)
            partner.sudo().with_context(sms_consent_internal=True).write(values)

    # ------------------------------------------------------------------ consent transitions
    def _sms_check_number(self):
        for partner in self:
            if not partner.sms_number_valid:
                raise UserError(_(
                    "%(name)s cannot opt in to SMS: %(reason)s", name=partner.display_name,
                    reason=partner.sms_number_error or _("no valid number"),
                ))

    def _sms_write_internal(self, vals):
        return self.sudo().with_context(sms_consent_internal=True).write(vals)

    def _sms_opt_in(self, source, event="opt_in", **proof):
        """Record a consent (agent, import, keyword START, confirmation) and lift the number's opt-out."""
        self._sms_check_number()
        now = fields.Datetime.now()
        self._sms_write_internal({
            "sms_consent_state": "opted_in", "sms_consent_date": now, "sms_consent_source": source,
            "sms_consent_pending_date": False,
        })
        self.env["sms.consent.log"]._log(self, event, source, **proof)
        numbers = [n for n in set(self.mapped("sms_number")) if n]
        if numbers:
            self.env["phone.blacklist"].sudo().with_context(sms_marketing_no_sync=True)._remove(
                numbers, message=_("SMS consent recorded (%s)", dict(CONSENT_SOURCES)[source])
            )
        return self

    def _sms_opt_out(self, source, **proof):
        """Withdraw consent for these contacts and every contact sharing their number; blacklist the number."""
        numbers = [n for n in set(self.mapped("sms_number")) if n]
        sharing = self.sudo().with_context(active_test=False).search([("sms_number", "in", numbers)]) if numbers else self
        partners = self | sharing.sudo(self.env.su)
        now = fields.Datetime.now()
        partners._sms_write_internal({
            "sms_consent_state": "opted_out", "sms_optout_date": now, "sms_optout_source": source,
            "sms_consent_pending_date": False,
        })
        self.env["sms.consent.log"]._log(partners, "opt_out", source, **proof)
        if numbers:
            self.env["phone.blacklist"].sudo().with_context(sms_marketing_no_sync=True)._add(
                numbers, message=_("SMS opt-out (%s)", dict(CONSENT_SOURCES)[source])
            )
        return partners

    def _sms_request_consent(self, source, consent_text=None, consent_text_version=None, **proof):
        """Start a double opt-in: pending, logged with the text shown, and a confirmation SMS queued.

        A contact who opted out stays opted out until the owner of the number confirms: the request is recorded
        (its date makes the confirmation link) but the state does not move."""
        self._sms_check_number()
        for partner in self:
            company = partner.company_id or self.env.company
            if not company.sms_double_optin and partner.sms_consent_state != "opted_out":
                partner._sms_opt_in(source, consent_text=consent_text or company._sms_text("consent", partner.lang),
                                    consent_text_version=consent_text_version or partner._sms_consent_version(), **proof)
                continue
            values = {"sms_consent_pending_date": fields.Datetime.now()}
            if partner.sms_consent_state != "opted_out":
                values["sms_consent_state"] = "pending"
            partner._sms_write_internal(values)
            self.env["sms.consent.log"]._log(
                partner, "opt_in_request", source,
                consent_text=consent_text or company._sms_text("consent", partner.lang),
                consent_text_version=consent_text_version or partner._sms_consent_version(), **proof,
            )
            body = company._sms_text("confirmation", partner.lang, link=partner._sms_confirmation_url())
            self.env["sms.sms"].sudo().create({
                "partner_id": partner.id, "number": partner.sms_number, "body": body, "state": "outgoing",
                "sms_kind": "consent",
            })
        return self

    def _sms_consent_version(self):
        company = self.company_id or self.env.company
        return company.sms_privacy_policy_url and (
            f"{company.sms_consent_text_version or ''} {company.sms_privacy_policy_url}".strip()
        ) or company.sms_consent_text_version

    def _sms_pending_expired(self, now=None):
        self.ensure_one()
        if self.sms_consent_state not in ("pending", "opted_out") or not self.sms_consent_pending_date:
            return True
        company = self.company_id or self.env.company
        delay = timedelta(hours=company.sms_double_optin_expiry_hours or 48)
        return self.sms_consent_pending_date + delay <= (now or fields.Datetime.now())

    def _sms_confirm(self, source, **proof):
        """Confirm pending, unexpired requests; returns the confirmed contacts."""
        confirmable = self.filtered(lambda p: p.sms_consent_state in ("pending", "opted_out")
                                    and not p._sms_pending_expired())
        for partner in confirmable:
            event = "re_subscribe" if partner.sms_consent_state == "opted_out" else "confirmation"
            partner._sms_opt_in(source, event=event, **proof)
        return confirmable

    def _sms_confirmation_token(self):
        self.ensure_one()
        return odoo_hmac(self.env(su=True), "sms_marketing_confirm",
                         (self.id, self.sms_number, str(self.sms_consent_pending_date)))

    def _sms_confirmation_url(self):
        """The link of the confirmation SMS, short enough for the SMS to fit in one segment: `/sms/c/` and the
        first CONFIRMATION_TOKEN_LENGTH characters of the token (64 bits; the page is rate-limited per IP)."""
        self.ensure_one()
        base = self.get_base_url()
        return f"{base}/sms/c/{self.id}/{self._sms_confirmation_token()[:CONFIRMATION_TOKEN_LENGTH]}"

    def _sms_confirmation_token_matches(self, token):
        """Whether `token` is this contact's confirmation token: the short one of the SMS, or the whole one of
        the links sent before the SMS carried the short one."""
        self.ensure_one()
        expected = self._sms_confirmation_token()
        if len(token or "") != len(expected):
            expected = expected[:CONFIRMATION_TOKEN_LENGTH]
        return hmac.compare_digest(expected, token or "")

    @api.model
    def _cron_sms_expire_pending(self):
        pending = self.sudo().search([("sms_consent_state", "=", "pending")])
        expired = pending.filtered(lambda p: p._sms_pending_expired())
        stale = self.sudo().search([("sms_consent_state", "=", "opted_out"), ("sms_consent_pending_date", "!=", False)])
        stale.filtered(lambda p: p._sms_pending_expired())._sms_write_internal({"sms_consent_pending_date": False})
        if expired:
            expired._sms_write_internal({"sms_consent_state": "none", "sms_consent_pending_date": False})
            self.env["sms.consent.log"]._log(expired, "expired", "system")
        return len(expired)

    # ------------------------------------------------------------------ actions
    def action_view_sms_consent_log(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("SMS consent history"),
            "res_model": "sms.consent.log",
            "view_mode": "list,form",
            "domain": [("partner_id", "=", self.id)],
            "context": {"create": False},
        }

    def action_sms_gdpr_erase(self):
        """GDPR erasure: anonymise this contact's consent proof (the opt-out stays in the register)."""
        self.env["sms.consent.log"].sudo().search([("partner_id", "in", self.ids)])._gdpr_anonymize()
        return True
