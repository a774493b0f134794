from odoo import fields, models


class Website(models.Model):
    _inherit = "website"

    sms_checkout_consent = fields.Boolean(
        string="SMS consent at checkout",
        help="Show an SMS marketing consent checkbox (unchecked by default) on the checkout address form.",
    )
    sms_checkout_consent_text = fields.Text(
        string="Checkout SMS consent text", translate=True,
        help="Wording next to the checkbox, kept with each proof of consent. Empty: the built-in wording.",
    )

    def _sms_checkout_consent_text(self, lang=None):
        self.ensure_one()
        website = self.with_context(lang=lang) if lang else self
        return website.sms_checkout_consent_text or self.company_id._sms_text("checkout", lang)
