from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

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


class SmsProviderAccount(models.Model):
    """A gateway account the sync service sends through. Credentials are readable by system administrators
    only (and handed to the sync service through `sms.marketing.api.get_provider_accounts`)."""

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
    is_default = fields.Boolean(string="Default route", help="Used for destinations no other account's prefixes match.")
    country_prefixes = fields.Char(
        help="Comma-separated calling-code prefixes this account serves, e.g. '33,32' or '1'. Longest match wins."
    )
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company)

    @api.constrains("country_prefixes")
    def _check_prefixes(self):
        for account in self:
            for prefix in account._prefix_list():
                if not prefix.isdigit():
                    raise ValidationError(_("Country prefixes are digits separated by commas, not %r.", prefix))

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
