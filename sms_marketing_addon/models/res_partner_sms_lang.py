from odoo import api, models


class ResPartner(models.Model):
    """One language per SMS: the body, the brand, the opt-out footer and keyword replies are all in the
    recipient's language (see `_sms_recipient_lang`)."""

    _inherit = "res.partner"

    @api.model
    def _sms_recipient_lang(self, partner=None, company=None, website=None):
        """The language an SMS to `partner` is written in: the contact's language, else the website's (the
        contact's website, else `website`, else the company's first one), else the company's, else English.
        Only active languages count. Works without a contact (a number nobody in Odoo has)."""
        partner = (self if partner is None else partner)[:1].sudo()
        installed = {code for code, _name in self.env["res.lang"].get_installed()}
        if partner.lang in installed:
            return partner.lang
        company = company or partner.company_id or self.env.company
        website = website or (partner.website_id if "website_id" in partner._fields else False)
        if not website and "website" in self.env:
            website = self.env["website"].sudo().search([("company_id", "in", [company.id, False])], limit=1)
        if website and website.default_lang_id.code in installed:
            return website.default_lang_id.code
        if company.partner_id.lang in installed:
            return company.partner_id.lang
        return "en_US" if "en_US" in installed or not installed else sorted(installed)[0]
