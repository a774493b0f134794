from odoo import fields, models
from odoo.tools.translate import LazyTranslate

_lt = LazyTranslate(__name__)

# Built-in wordings, used while a company has not written its own. They are translated at use time in the
# recipient's language (French in i18n/fr.po). {brand} and {link} are filled in by `_sms_text`.
DEFAULT_TEXTS = {
    "consent": _lt(
        "I agree to receive marketing text messages from {brand} at the number above. Message frequency "
        "varies. Message and data rates may apply. Reply STOP to unsubscribe, HELP for help. Consent is not "
        "a condition of purchase."
    ),
    "checkout": _lt(
        "Send me offers and news by SMS from {brand}. Message frequency varies. Message and data rates may apply. "
        "Reply STOP to unsubscribe, HELP for help. Consent is not a condition of purchase."
    ),
    # Fits in one SMS segment (GSM-7, 160 characters) in every shipped language for a brand of up to 20
    # characters and a web address of up to 30 (tests/test_consent_texts.py): the replies below as well.
    "confirmation": _lt("{brand}: reply YES to get our SMS offers, STOP to opt out. Or confirm: {link}"),
    "confirmed": _lt("{brand}: you are subscribed to our SMS offers. Reply STOP to unsubscribe."),
    "stop_reply": _lt("{brand}: you are unsubscribed and will receive no more SMS offers. Reply START to resubscribe."),
    "start_reply": _lt("{brand}: you are subscribed again to our SMS offers. Reply STOP to unsubscribe."),
    "help_reply": _lt("{brand}: SMS offers. Reply STOP to unsubscribe. Help: {contact}"),
}


class ResCompany(models.Model):
    _inherit = "res.company"

    sms_brand_name = fields.Char(
        string="SMS brand name", help="Starts every marketing SMS and reply. Defaults to the company name."
    )
    sms_consent_text = fields.Text(
        string="SMS consent text", translate=True,
        help="Shown next to the consent checkbox of the subscribe page and kept with each proof of consent. "
        "Leave empty to use the built-in wording.",
    )
    sms_consent_text_version = fields.Char(
        string="Consent text version", default="1", help="Recorded with every consent; change it when the text changes."
    )
    sms_privacy_policy_url = fields.Char(string="Privacy policy URL")
    sms_double_optin = fields.Boolean(
        string="Double opt-in", default=True,
        help="Consent from the website or checkout waits for a YES reply or a click on the confirmation link.",
    )
    sms_double_optin_expiry_hours = fields.Integer(
        string="Confirmation expires after (hours)", default=48,
        help="An unconfirmed request is dropped after this delay; a later YES confirms nothing.",
    )
    sms_confirmation_text = fields.Text(string="Confirmation request SMS", translate=True)
    sms_confirmed_text = fields.Text(string="Subscription confirmed SMS", translate=True)
    sms_stop_reply_text = fields.Text(string="STOP reply", translate=True)
    sms_start_reply_text = fields.Text(string="START reply", translate=True)
    sms_help_reply_text = fields.Text(string="HELP reply", translate=True)
    sms_subscribe_rate_limit = fields.Integer(
        string="Subscriptions per IP and hour", default=5,
        help="The public subscribe page refuses more requests than this from one IP address in an hour.",
    )

    sms_team_user_ids = fields.Many2many(
        "res.users", "res_company_sms_team_rel", "company_id", "user_id", string="SMS team",
        domain=[("share", "=", False)],
        help="Users who answer SMS conversations of contacts without a salesperson (none: the SMS Marketing "
        "managers).",
    )
    sms_help_contact = fields.Char(
        string="SMS HELP contact",
        help="How customers reach you, given in HELP replies (a phone number, an e-mail or a web address). "
        "Empty: the company's phone, else its e-mail, else its website, else the shop's web address.",
    )
    sms_subscribe_number_weekly_limit = fields.Integer(
        string="Confirmation SMS per number and week", default=2,
        help="The public subscribe page sends at most this many confirmation SMS to one number in 7 days, and "
        "never a second one while a request is still waiting for its answer.",
    )
    sms_subscribe_hourly_budget = fields.Integer(
        string="Confirmation SMS per hour (all numbers)", default=50,
        help="Above this many confirmation SMS in an hour, the subscribe page pauses and SMS Marketing managers "
        "are notified (protection against SMS pumping).",
    )
    sms_subscribe_country_ids = fields.Many2many(
        "res.country", "res_company_sms_subscribe_country_rel", "company_id", "country_id",
        string="Subscribe page countries",
        help="Numbers the public subscribe page accepts. Empty: the company's country and the countries of the "
        "websites' pricelists.",
    )

    def _sms_subscribe_countries(self):
        """Countries whose numbers the public subscribe page accepts."""
        self.ensure_one()
        if self.sms_subscribe_country_ids:
            return self.sms_subscribe_country_ids
        websites = self.env["website"].sudo().search([("company_id", "=", self.id)])
        return self.country_id | websites.pricelist_ids.country_group_ids.country_ids

    def _sms_brand(self):
        self.ensure_one()
        return self.sms_brand_name or self.name

    def _sms_help_contact(self):
        """How to reach the business, for HELP replies: phone, e-mail, website, else the shop's own address."""
        self.ensure_one()
        return self.sms_help_contact or self.phone or self.email or self.website or self.get_base_url()

    def _sms_text(self, key, lang=None, **values):
        """The company's wording for `key` in `lang` (its own text, else the built-in one), filled in."""
        self.ensure_one()
        company = self.with_context(lang=lang) if lang else self
        field = {
            "consent": "sms_consent_text", "confirmation": "sms_confirmation_text",
            "confirmed": "sms_confirmed_text", "stop_reply": "sms_stop_reply_text",
            "start_reply": "sms_start_reply_text", "help_reply": "sms_help_reply_text",
        }.get(key)
        text = field and company[field]
        if not text:
            text = company.env._(DEFAULT_TEXTS[key])
        values.setdefault("brand", self._sms_brand())
        values.setdefault("contact", self._sms_help_contact())
        values.setdefault("link", "")
        for name, value in values.items():
            text = text.replace("{%s}" % name, str(value))
        return text
