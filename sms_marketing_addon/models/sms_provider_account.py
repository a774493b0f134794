import ipaddress
import re
from urllib.parse import urlsplit

import phonenumbers

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from .sms_provider_account_health import VERSIONED_FIELDS
from .sms_provider_account_test import NO_ANSWER_AFTER

PROVIDERS = [
    ("console", "Console / sandbox (never bills)"),
    ("twilio", "Twilio"),
    ("plivo", "Plivo"),
    ("vonage", "Vonage (SMS API)"),
]
DEFAULT_BASE_URLS = {
    "console": "",
    "twilio": "https://api.twilio.com",
    "plivo": "https://api.plivo.com",
    "vonage": "https://rest.nexmo.com",
}

# What an SMS Marketing manager who is not a system administrator may change on an account: nothing that decides
# where a credential or a message goes (provider, base URL, credentials, sender, routing, test mode).
MANAGER_WRITABLE_FIELDS = frozenset({"name", "messages_per_second", "price_ids"})
LOOPBACK_HOSTS = frozenset({"localhost", "localhost.localdomain"})


ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 .&-]{1,11}$")
SHORT_CODE = re.compile(r"^\d{3,8}$")


def normalize_sender(sender):
    """(sender as the provider wants it, or None; problem or None): an E.164 number (spaces, dots, dashes and
    brackets removed), a short code (3 to 8 digits) or an alphanumeric sender ID (at most 11 letters, digits,
    spaces, '.', '&', '-', at least one letter)."""
    raw = (sender or "").strip()
    if not raw:
        return None, None
    compact = re.sub(r"[\s().-]", "", raw)
    if compact.startswith("00") and compact[2:].isdigit():
        compact = "+" + compact[2:]
    if SHORT_CODE.match(compact):
        return compact, None
    if compact.startswith("+") and compact[1:].isdigit():
        try:
            number = phonenumbers.parse(compact, None)
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            return None, _("%(sender)s is not a valid phone number.", sender=raw)
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None
    if ALPHANUMERIC_SENDER.match(raw):
        return raw, None
    return None, _(
        "%(sender)s is neither a phone number in international format (+33 6 12 34 56 78), a short code nor an "
        "alphanumeric sender ID (at most 11 letters, digits and spaces, with at least one letter).", sender=raw)


def test_number_e164(number, region=None):
    """`number` in E.164 (read in `region` when it has no +country code), or None when it is no valid number."""
    raw = (number or "").strip()
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        parsed = phonenumbers.parse(raw, None if raw.startswith("+") else (region or None))
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def base_url_problem(url):
    """Why `url` cannot be an API base URL (credentials are sent to it), or None: https anywhere, plain http only
    to this machine (a loopback simulator), no user, query or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError as err:
        return _("%(url)s is not a valid URL (%(error)s).", url=url, error=err)
    if parts.scheme not in ("https", "http") or not host:
        return _("%(url)s must start with https:// and name a host.", url=url)
    if parts.username or parts.password or parts.query or parts.fragment:
        return _("%(url)s must not carry a user name, password, query or fragment.", url=url)
    if parts.scheme == "http":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host.lower() in LOOPBACK_HOSTS
        if not loopback:
            return _("%(url)s must use https:// (plain http is only allowed to this machine, e.g. a simulator on "
                     "127.0.0.1): the gateway's credentials are sent to it.", url=url)
    return None


class SmsProviderAccount(models.Model):
    """A gateway account the sync service sends through. Credentials are readable by system administrators
    only (and handed to the sync service through `sms.marketing.api.get_provider_accounts`). Only system
    administrators create, delete or redirect accounts; SMS Marketing managers may rename them and set their
    rate (`MANAGER_WRITABLE_FIELDS`)."""

    _name = "sms.provider.account"
    _inherit = ["sms.provider.account.health.mixin"]
    _description = "SMS Gateway Account"
    _order = "sequence, id"

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    provider = fields.Selection(PROVIDERS, required=True, default="console")
    base_url = fields.Char(
        string="API base URL", help="Leave empty for the provider's public API; point it at a simulator to test."
    )
    account_sid = fields.Char(
        string="Account ID", groups="base.group_system",
        help="Twilio Account SID, Plivo Auth ID or Vonage API key.",
    )
    auth_token = fields.Char(
        string="Auth token / secret", groups="base.group_system",
        help="Twilio Auth Token, Plivo Auth Token or Vonage API secret. Also signs the provider's webhooks.",
    )
    webhook_secret = fields.Char(
        string="Webhook signature secret", groups="base.group_system",
        help="Vonage signature secret (Twilio and Plivo sign webhooks with the auth token).",
    )
    webhook_signature_method = fields.Selection(
        [("md5hash", "MD5 hash"), ("md5", "HMAC-MD5"), ("sha1", "HMAC-SHA1"), ("sha256", "HMAC-SHA256"),
         ("sha512", "HMAC-SHA512")],
        string="Webhook signature method", default="md5hash", help="Vonage only: as set in its dashboard.",
    )
    sender = fields.Char(help="Sending number (E.164), alphanumeric sender ID, or empty with a messaging service.")
    messaging_service_sid = fields.Char(string="Messaging service SID", help="Twilio only; replaces the sender.")
    messages_per_second = fields.Float(default=10.0, help="The sync service keeps each account under this rate.")
    test_mode = fields.Boolean(help="Never bills: messages are accepted by the sync service's sandbox, not sent.")
    is_default = fields.Boolean(
        string="Default route",
        help="Used for destinations no other account's prefixes match. One per company: ticking it here unticks "
        "it on the previous default.",
    )
    country_prefixes = fields.Char(
        help="Comma-separated calling-code prefixes this account serves, e.g. '33,32' or '1'. Longest match wins."
    )
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company)
    price_ids = fields.One2many(
        "sms.provider.account.price", "account_id", string="Prices per segment",
        help="What the provider charges per segment, by destination country: the cost estimate of a campaign. "
        "No price: the cost shows as unknown.",
    )
    user_can_redirect = fields.Boolean(string="May redirect", compute="_compute_user_can_redirect",
                                       help="The current user may change where this account sends (administrator).")

    test_state = fields.Selection(
        [("none", "Not tested"), ("waiting", "Testing…"), ("late", "No answer from the sync service"),
         ("ok", "Works"), ("failed", "Failed")], string="Last test", compute="_compute_last_test")
    test_kind = fields.Char(string="Last test kind", compute="_compute_last_test")
    test_result = fields.Char(string="Last test result", compute="_compute_last_test")
    test_date = fields.Datetime(string="Last test on", compute="_compute_last_test")
    # Earlier versions' form showed this (the date formatted on the server, in the user's preferred zone, not the
    # browser's); kept so that their views still validate during an upgrade. The form shows kind and date.
    test_heading = fields.Char(string="Last test heading", compute="_compute_last_test")
    user_can_test = fields.Boolean(string="May test", compute="_compute_user_can_redirect",
                                   help="The current user may test this account (SMS Marketing manager).")

    webhook_status_url = fields.Char(string="Delivery receipts URL", compute="_compute_webhook_urls",
                                     help="Paste it as the status callback / delivery receipt URL at the provider.")
    webhook_inbound_url = fields.Char(string="Inbound SMS URL", compute="_compute_webhook_urls",
                                      help="Paste it as the inbound message / incoming SMS URL at the provider.")

    @api.depends("provider")
    def _compute_webhook_urls(self):
        base = (self.env["ir.config_parameter"].sudo().get_param("sms_marketing_addon.webhook_base_url") or "").rstrip("/")
        for account in self:
            real = base and account.provider in ("twilio", "plivo", "vonage")
            account.webhook_status_url = real and f"{base}/webhooks/{account.provider}/status"
            account.webhook_inbound_url = real and f"{base}/webhooks/{account.provider}/inbound"

    @api.depends_context("uid")
    def _compute_user_can_redirect(self):
        self.user_can_redirect = self.env.su or self.env.user.has_group("base.group_system")
        self.user_can_test = self.user_can_redirect or self.env.user.has_group(
            "sms_marketing_addon.group_sms_marketing_manager")

    @api.depends_context("lang")
    def _compute_last_test(self):
        Test = self.env["sms.provider.account.test"].sudo()
        now = fields.Datetime.now()
        kinds = dict(Test._fields["kind"]._description_selection(self.env))
        for account in self:
            test = Test.search([("account_id", "=", account.id), ("state", "!=", "superseded")], limit=1) \
                if account.id else Test
            state = test.state or "none"
            if state == "waiting" and test.create_date < now - NO_ANSWER_AFTER:
                state = "late"
            account.test_state = state
            account.test_kind = kinds.get(test.kind) or False
            account.test_date = test.result_date or test.create_date or False
            account.test_heading = account.test_kind
            if state == "waiting":
                account.test_result = _("The sync service makes the call at its next poll (within seconds when "
                                        "it runs). Refresh to see the result.")
            elif state == "late":
                account.test_result = _("No answer from the sync service for %(minutes)s minutes: is it running "
                                        "(sms-sync run) and connected to this database?",
                                        minutes=int(NO_ANSWER_AFTER.total_seconds() // 60))
            else:
                account.test_result = test.result_text or False

    def _check_may_test(self):
        if not (self.env.su or self.env.user.has_group("base.group_system")
                or self.env.user.has_group("sms_marketing_addon.group_sms_marketing_manager")):
            raise AccessError(_("Only SMS Marketing managers and system administrators may test gateway accounts."))

    def action_test_connection(self):
        """Ask the sync service for a test call of this account (nothing sent, nothing billed). SMS Marketing
        managers and system administrators: it reveals no credential and changes nothing but the account's
        health."""
        self._check_may_test()
        for account in self:
            self.env["sms.provider.account.test"]._request(account.sudo(), "connection")
        return {"type": "ir.actions.client", "tag": "display_notification", "params": {
            "title": _("Test connection"), "type": "info", "sticky": False,
            "message": _("Test requested: the sync service calls the provider within seconds; the result "
                         "appears on the account."),
            "next": {"type": "ir.actions.client", "tag": "soft_reload"},
        }}

    def action_refresh_test(self):
        """The form reloads (the result of a test arrives from the sync service)."""
        return True

    def action_open_test_sms(self):
        """The "Send a test SMS" dialog (system administrators: the SMS goes through this account whatever
        the routing, to any number)."""
        self.ensure_one()
        self._check_may_send_test()
        return {
            "type": "ir.actions.act_window", "name": _("Send a test SMS"),
            "res_model": "sms.provider.account.test.sms", "view_mode": "form", "target": "new",
            "context": {"default_account_id": self.id},
        }

    def _check_may_send_test(self):
        if not (self.env.su or self.env.user.has_group("base.group_system")):
            raise AccessError(_("Only system administrators may send a test SMS through a gateway account: it "
                                "decides where a message goes, whatever the routing."))

    def _send_test_sms(self, number, body):
        """Queue one transactional SMS to `number` through this account (it goes through the compliance gate
        like any other) and record it as a test. Returns the test."""
        self.ensure_one()
        self._check_may_send_test()
        if not self.active:
            raise UserError(_("Archived accounts send nothing: restore the account first."))
        if not (body or "").strip():
            raise UserError(_("A test SMS needs a text."))
        e164 = test_number_e164(number, self.env.company.country_id.code)
        if not e164:
            raise UserError(_("%(number)s is not a phone number: type it in international format, e.g. "
                              "+33 6 12 34 56 78.", number=number or ""))
        sms = self.env["sms.sms"].sudo().create({
            "number": e164, "body": body.strip(), "sms_kind": "transactional", "state": "outgoing",
            "sms_account_id": self.id,
        })
        return self.env["sms.provider.account.test"]._request(self.sudo(), "sms", number=e164, sms_uuid=sms.uuid)

    @api.constrains("country_prefixes")
    def _check_prefixes(self):
        for account in self:
            for prefix in account._prefix_list():
                if not prefix.isdigit():
                    raise ValidationError(_("Country prefixes are digits separated by commas, not %r.", prefix))

    @api.model_create_multi
    def create(self, vals_list):
        self._check_may_redirect(set().union(*vals_list) if vals_list else set())
        accounts = super().create([self._normalized(vals) for vals in vals_list])
        accounts._keep_one_default()
        accounts._request_automatic_tests()
        return accounts

    def write(self, vals):
        self._check_may_redirect(set(vals) - MANAGER_WRITABLE_FIELDS)
        versions = {account.id: account._health_version() for account in self} \
            if set(vals) & set(VERSIONED_FIELDS) else {}
        res = super().write(self._normalized(vals))
        self.filtered(lambda a: a.id in versions and a._health_version() != versions[a.id]) \
            ._request_automatic_tests()
        if vals.get("is_default") or vals.get("active"):
            self._keep_one_default()
        return res

    def _request_automatic_tests(self):
        """New settings that decide whether an account can send are tested at once (a wrong token shows on
        the account within seconds, not at the next campaign)."""
        for account in self.filtered("active"):
            self.env["sms.provider.account.test"]._request(account.sudo(), "connection", automatic=True)

    @api.model
    def _normalized(self, vals):
        """The sender saved as the provider wants it (E.164 without spaces), or a clear error."""
        if vals.get("sender"):
            sender, problem = normalize_sender(vals["sender"])
            if problem:
                raise ValidationError(problem)
            vals = dict(vals, sender=sender)
        return vals

    def _keep_one_default(self):
        """One default route per company: the account just made default replaces the previous one."""
        for account in self.filtered(lambda a: a.is_default and a.active):
            others = self.sudo().search([("id", "!=", account.id), ("is_default", "=", True),
                                         ("company_id", "=", account.company_id.id)])
            others.with_context(sms_keep_default=True).write({"is_default": False})

    def _check_may_redirect(self, field_names):
        """Refuse, to anyone but a system administrator (or the system itself), changes to these fields."""
        field_names = set(field_names) - {"user_can_redirect"}
        if field_names and not (self.env.su or self.env.user.has_group("base.group_system")):
            labels = sorted(self._fields[name].string for name in field_names if name in self._fields)
            raise AccessError(_(
                "Only system administrators may create gateway accounts or change where they send credentials "
                "and messages (%(fields)s). SMS Marketing managers may change the name, the rate and the prices.",
                fields=", ".join(labels) or ", ".join(sorted(field_names)),
            ))

    @api.constrains("base_url")
    def _check_base_url(self):
        for account in self:
            problem = account.base_url and base_url_problem(account.base_url.strip())
            if problem:
                raise ValidationError(problem)

    @api.constrains("messages_per_second")
    def _check_rate(self):
        if any(account.messages_per_second <= 0 for account in self):
            raise ValidationError(_("Messages per second must be above zero."))

    def _prefix_list(self):
        self.ensure_one()
        return [p.strip().lstrip("+") for p in (self.country_prefixes or "").split(",") if p.strip()]

    @api.model
    def _route(self, number, accounts=None):
        """The account for an E.164 number: longest matching prefix, else the default, else the first.
        Pass `accounts` (all active accounts, sudo) to route many numbers with one search."""
        accounts = self.sudo().search([]) if accounts is None else accounts
        digits = (number or "").lstrip("+")
        best, best_len = None, -1
        for account in accounts:
            for prefix in account._prefix_list():
                if digits.startswith(prefix) and len(prefix) > best_len:
                    best, best_len = account, len(prefix)
        return best or accounts.filtered("is_default")[:1] or accounts[:1]

    def _as_service_dict(self):
        self.ensure_one()
        account = self.sudo()
        return {
            "id": account.id, "name": account.name, "provider": account.provider,
            "base_url": account.base_url or DEFAULT_BASE_URLS[account.provider],
            "account_id": account.account_sid or "", "secret": account.auth_token or "",
            "webhook_secret": account.webhook_secret or "",
            "webhook_signature_method": account.webhook_signature_method or "md5hash",
            "sender": account.sender or "",
            "messaging_service_sid": account.messaging_service_sid or "",
            "messages_per_second": account.messages_per_second, "test_mode": account.test_mode,
            "prefixes": account._prefix_list(), "is_default": account.is_default,
        }
