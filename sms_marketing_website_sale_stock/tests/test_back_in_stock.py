from datetime import datetime

from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, tagged

from odoo.addons.mail.tests.common import MockEmail
from odoo.addons.sms_marketing_addon.tests.common import assert_trigger_and_flow_access, load_french
from odoo.addons.sms_marketing_addon.tests.test_flow_triggers import TriggerCommon


class BackInStockCommon(TriggerCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stock_flow = cls.env.ref("sms_marketing_website_sale_stock.sms_flow_back_in_stock")
        cls.stock_flow.active = True
        cls.lamp = cls.env["product.product"].create({
            "name": "Lampe Berger", "list_price": 45.0, "type": "consu", "is_storable": True, "sale_ok": True,
            "website_published": True,
        })
        cls.stock_location = cls.env["stock.warehouse"].search(
            [("company_id", "=", cls.env.company.id)], limit=1).lot_stock_id

    def restock(self, quantity):
        self.env["stock.quant"]._update_available_quantity(self.lamp, self.stock_location, quantity)
        self.env.invalidate_all()  # as after the request that moved the stock: quantities are read again

    def ask_to_be_told(self, *partners):
        self.lamp.stock_notification_partner_ids = [(4, partner.id) for partner in partners]

    def availability_run(self):
        """Odoo's hourly "send email regarding products availability" action."""
        self.env.ref("website_sale_stock.ir_cron_send_availability_email").method_direct_trigger()

    def back_in_stock_sms(self, partner):
        self.ask_to_be_told(partner)
        self.restock(3)
        self.availability_run()
        sms = self.sms_of(partner)
        return sms, self.env["sms.flow.message"].search([("sms_uuid", "=", sms.uuid)])


@tagged("post_install", "-at_install")
class TestBackInStock(BackInStockCommon, TransactionCase, MockEmail):
    def test_trigger_is_data_and_installed_by_itself(self):
        trigger = self.env["sms.flow.trigger"]._by_code("back_in_stock")
        self.assertEqual((trigger.model, trigger._exit_list(), trigger.available),
                         ("product.product", ["product_sold_out", "ordered_product", "opted_out"], True))
        module = self.env["ir.module.module"].search([("name", "=", "sms_marketing_website_sale_stock")])
        self.assertEqual((module.state, module.auto_install), ("installed", True))

    def test_sms_to_consenting_contacts_odoo_email_to_the_others_nobody_twice(self):
        texter = self.partner(email="camille@example.com")
        emailer = self.partner(mobile="06 12 34 56 79", consent=False, name="Jules Petit",
                               email="jules@example.com")
        self.ask_to_be_told(texter, emailer)
        with self.mock_mail_gateway():
            self.availability_run()
        self.assertFalse(self.sms_of(texter) or self._new_mails, "still sold out: nobody is told")
        self.restock(3)
        with self.mock_mail_gateway():
            self.availability_run()
        sms = self.sms_of(texter)
        self.assertEqual(len(sms), 1)
        self.assertIn("Good news: Lampe Berger is back in stock! Order it here: http", sms.body)
        message = self.env["sms.flow.message"].search([("sms_uuid", "=", sms.uuid)])
        self.assertTrue(message.link_tracker_id.url.endswith(self.lamp.website_url), "the product's page")
        self.assertEqual(self._new_mails.mapped("email_to"), [emailer.email_formatted],
                         "Odoo's e-mail to the contact without SMS consent only")
        self.assertFalse(self.lamp.stock_notification_partner_ids, "both told, once")
        self.assertIn(sms.uuid, self.claim(), "the SMS goes to the gateway")
        with self.mock_mail_gateway():
            self.availability_run()
        self.assertFalse(self._new_mails)
        self.assertEqual(len(self.sms_of(texter)), 1)

    def test_without_an_active_flow_odoo_emails_everyone(self):
        self.stock_flow.active = False
        texter = self.partner(email="camille@example.com")
        self.ask_to_be_told(texter)
        self.restock(3)
        with self.mock_mail_gateway():
            self.availability_run()
        self.assertFalse(self.sms_of(texter))
        self.assertEqual(self._new_mails.mapped("email_to"), [texter.email_formatted])

    def test_sold_out_again_stops_a_queued_sms_and_the_contact_waits_again(self):
        self.now = datetime(2026, 11, 24, 20, 30)  # 21:30 in Paris: the SMS waits for the sending hours
        partner = self.partner(email="camille@example.com")
        sms, message = self.back_in_stock_sms(partner)
        self.assertEqual((sms.state, message.state), ("outgoing", "queued"))
        self.assertEqual(self.claim(), [], "held by the sending hours")
        self.restock(-3)
        self.assert_never_sent(sms, message, "Product out of stock again", "out_of_stock")
        self.assertEqual(self.lamp.stock_notification_partner_ids, partner, "told when it is back again")
        self.restock(2)
        self.availability_run()
        self.assertEqual(len(self.sms_of(partner).filtered(lambda s: s.state == "outgoing")), 1, "told then")

    def test_a_failed_sms_puts_the_contact_back_on_the_list(self):
        partner = self.partner(email="camille@example.com")
        sms, message = self.back_in_stock_sms(partner)
        self.assertFalse(self.lamp.stock_notification_partner_ids)
        self.assertEqual(self.claim(), [sms.uuid])
        self.api.report_results("w1", [{"key": sms.uuid, "outcome": "failed", "error_code": "30003",
                                        "reason": "Unreachable destination handset"}])
        self.assertEqual(message.state, "failed")
        self.assertEqual(self.lamp.stock_notification_partner_ids, partner, "not told: waits again")

    def test_a_delivered_sms_leaves_the_contact_off_the_list(self):
        partner = self.partner(email="camille@example.com")
        sms, message = self.back_in_stock_sms(partner)
        self.assertEqual(self.claim(), [sms.uuid])
        self.api.report_results("w1", [{"key": sms.uuid, "outcome": "sent", "provider_message_id": "SM-bis-1"}])
        self.api.apply_delivery_statuses([{"provider_message_id": "SM-bis-1", "status": "delivered"}])
        self.assertEqual(message.state, "delivered")
        self.assertFalse(self.lamp.stock_notification_partner_ids, "told: not on the list again")

    def test_ordered_the_product_stops_a_queued_sms(self):
        self.now = datetime(2026, 11, 24, 20, 30)
        partner = self.partner()
        sms, message = self.back_in_stock_sms(partner)
        order = self.env["sale.order"].create({
            "partner_id": partner.id, "website_id": self.website.id,
            "order_line": [(0, 0, {"product_id": self.lamp.id, "product_uom_qty": 1})]})
        order.action_confirm()
        self.assertEqual(self.enrollment_of(self.stock_flow, partner).exit_reason, "ordered_product")
        self.assert_never_sent(sms, message, "Contact ordered the product", "ordered_product")
        self.assertFalse(self.lamp.stock_notification_partner_ids, "answered: not on the list again")

    def test_opt_out_stops_a_queued_sms_and_odoo_emails_instead(self):
        self.now = datetime(2026, 11, 24, 20, 30)
        partner = self.partner(email="camille@example.com")
        sms, message = self.back_in_stock_sms(partner)
        partner._sms_opt_out("agent", note="test")
        self.assert_never_sent(sms, message, "Contact opted out of SMS", "opted_out")
        with self.mock_mail_gateway():
            self.availability_run()
        self.assertEqual(self._new_mails.mapped("email_to"), [partner.email_formatted])

    def test_back_in_stock_in_french(self):
        load_french(self.env)
        self.env["sms.flow"]._sms_flow_load_french_texts(["fr_FR"])
        self.env["ir.module.module"].search([("name", "=", "sms_marketing_website_sale_stock")])._update_translations(["fr_FR"], overwrite=True)
        env_fr = self.env(context=dict(self.env.context, lang="fr_FR"))
        reasons = dict(self.Enrollment._fields["exit_reason"]._description_selection(env_fr))
        self.assertEqual(reasons["out_of_stock"], "Produit de nouveau en rupture de stock", "why an SMS was cancelled, in French (i18n/fr.po)")
        trigger = self.env.ref("sms_marketing_website_sale_stock.sms_flow_trigger_back_in_stock")
        self.assertEqual(trigger.with_context(lang="fr_FR").name, "De retour en stock (me prévenir)")
        partner = self.partner(lang="fr_FR")
        sms, _message = self.back_in_stock_sms(partner)
        self.assertIn("Bonne nouvelle : Lampe Berger est de nouveau en stock ! Commandez-le ici : http", sms.body)


@tagged("post_install", "-at_install")
class TestBackInStockAccess(TransactionCase):
    def test_trigger_flow_and_product_link_follow_the_addon_groups(self):
        trigger = self.env.ref("sms_marketing_website_sale_stock.sms_flow_trigger_back_in_stock")
        flow = self.env.ref("sms_marketing_website_sale_stock.sms_flow_back_in_stock")
        product = self.env["product.product"].create({"name": "Lampe", "website_published": True})
        self.assertEqual((trigger.name, flow.name), ("Back in stock (notify me)", "Back in stock"))
        users = assert_trigger_and_flow_access(self, trigger, flow, "product_sold_out,opted_out", "restock")
        manager = self.env(user=users["manager"])
        # The product's flow link is its public page (what the shop shows anyone): readable, never writable.
        for kind in ("portal", "internal", "sms_user"):
            env = self.env(user=users[kind])
            self.assertTrue(product.with_env(env).sms_flow_link.endswith(product.website_url))
        with self.assertRaises(AccessError):  # products are the shop's: the SMS manager does not write them
            product.with_env(manager).write({"sms_flow_link": "https://evil.example"})
        product.write({"sms_flow_link": "https://evil.example"})  # computed, no inverse: nothing is kept
        product.invalidate_recordset()
        self.assertTrue(product.sms_flow_link.endswith(product.website_url))
