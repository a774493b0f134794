from lxml import html

from odoo import api
from odoo.http import root
from odoo.tests import HttpCase, tagged

from odoo.addons.sms_marketing_addon.controllers.website_sale import WebsiteSaleSmsConsent
from odoo.addons.website.tools import MockRequest
from odoo.addons.website_sale.tests.common import WebsiteSaleCommon


@tagged("post_install", "-at_install")
class TestCheckoutConsent(WebsiteSaleCommon):
    """The optional SMS consent checkbox of the checkout address form."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fr = cls.env.ref("base.fr")
        cls.controller = WebsiteSaleSmsConsent()

    def submit_address(self, **extra):
        order = self._create_so(partner_id=self.website.user_id.partner_id.id)
        env = api.Environment(self.env.cr, self.website.user_id.id, {})
        with MockRequest(env, website=self.website.with_env(env), sale_order_id=order.id) as request:
            request.httprequest.method = "POST"
            self.controller.shop_address_submit(
                partner_id=-1, name="Jeanne Client", email="jeanne@example.com", street="1 rue de la Paix",
                city="Paris", zip="75002", country_id=self.fr.id, phone="06 44 55 66 77",
                address_type="billing", **extra,
            )
        return order.partner_id

    def test_a_box_submitted_while_the_setting_is_off_records_nothing(self):
        self.website.sms_checkout_consent = False
        partner = self.submit_address(sms_marketing_consent="1")
        self.assertEqual(partner.sms_consent_state, "none")
        self.assertFalse(self.env["sms.consent.log"].search([("partner_id", "=", partner.id)]))

    def test_unticked_box_records_nothing(self):
        self.website.sms_checkout_consent = True
        partner = self.submit_address()
        self.assertEqual(partner.sms_consent_state, "none")
        self.assertFalse(self.env["sms.consent.log"].search([("partner_id", "=", partner.id)]))

    def test_ticked_box_starts_a_double_opt_in_with_the_text_shown(self):
        self.website.sms_checkout_consent = True
        self.website.sms_checkout_consent_text = "Yes, text me the deals"
        partner = self.submit_address(sms_marketing_consent="1")
        self.assertEqual(partner.sms_number, "+33644556677")
        self.assertEqual(partner.sms_consent_state, "pending")
        log = self.env["sms.consent.log"].search([("partner_id", "=", partner.id)])
        self.assertEqual((log.event, log.source, log.consent_text), ("opt_in_request", "checkout", "Yes, text me the deals"))
        self.assertTrue(self.env["sms.sms"].search([("partner_id", "=", partner.id), ("body", "ilike", "YES")]))


@tagged("post_install", "-at_install")
class TestCheckoutConsentForm(WebsiteSaleCommon, HttpCase):
    """The address form a shopper sees: the SMS box is there, unticked, only when the website asks for it."""

    def address_form(self):
        order = self.env["sale.order"].create({
            "partner_id": self.public_partner.id, "website_id": self.website.id,
            "order_line": [(0, 0, {"product_id": self.product.id, "product_uom_qty": 1})],
        })
        session = self.authenticate(None, None)
        session["sale_order_id"] = order.id
        root.session_store.save(session)
        response = self.url_open("/shop/address?address_type=billing")
        self.assertEqual(response.status_code, 200)
        page = html.fromstring(response.content)
        self.assertTrue(page.xpath("//form[.//input[@name='street']]"), "the address form is shown")
        return page

    def test_checkbox_unticked_by_default_with_the_consent_text(self):
        self.website.sms_checkout_consent = True
        self.website.sms_checkout_consent_text = "Yes, text me the deals"
        page = self.address_form()
        boxes = page.xpath("//input[@name='sms_marketing_consent']")
        self.assertEqual(len(boxes), 1)
        self.assertEqual(boxes[0].get("type"), "checkbox")
        self.assertIsNone(boxes[0].get("checked"), "the shopper ticks it, it is never ticked for them")
        label = page.xpath("//label[@for=$id]", id=boxes[0].get("id"))
        self.assertEqual(label[0].text_content().strip(), "Yes, text me the deals")

    def test_checkbox_absent_when_the_website_setting_is_off(self):
        self.website.sms_checkout_consent = False
        page = self.address_form()
        self.assertFalse(page.xpath("//input[@name='sms_marketing_consent']"))
        self.assertFalse(page.xpath("//*[@id='div_sms_marketing_consent']"))
