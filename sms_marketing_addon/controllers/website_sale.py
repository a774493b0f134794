from odoo.http import request

from odoo.addons.website_sale.controllers.main import WebsiteSale

from .proof import request_proof


class WebsiteSaleSmsConsent(WebsiteSale):
    """The optional SMS consent checkbox of the checkout address form (unchecked by default)."""

    def _handle_extra_form_data(self, extra_form_data, address_values):
        super()._handle_extra_form_data(extra_form_data, address_values)
        website = request.website
        if not (website.sms_checkout_consent and extra_form_data.get("sms_marketing_consent")):
            return
        order = website.sale_get_order()
        partner = order.partner_id.sudo() if order else request.env["res.partner"]
        if not partner or partner == website.partner_id or not partner.sms_number_valid:
            return
        if partner.sms_consent_state in ("opted_in", "pending"):
            return
        partner._sms_request_consent(
            "checkout",
            consent_text=website._sms_checkout_consent_text(request.env.lang),
            **request_proof(),
            note=order and order.name or False,
        )
