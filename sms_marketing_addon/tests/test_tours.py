import uuid
from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestSmsMarketingTours(HttpCase):
    """Browser tours (headless Chromium) of the public pages and of the SMS Marketing backend.

    The tours live in static/tests/tours/ (bundle web.assets_tests). Each test runs one tour, which
    fails when a step's element never shows up, then checks what the tour left in the database.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fr = cls.env.ref("base.fr")
        cls.env.company.country_id = cls.fr
        cls.website = cls.env["website"].get_current_website()
        cls.Partner = cls.env["res.partner"]
        cls.Log = cls.env["sms.consent.log"]
        cls.marketer = new_test_user(
            cls.env, login="sms_tour_marketer", name="Margot Marketing",
            groups="base.group_user,mass_mailing.group_mass_mailing_user,"
                   "sms_marketing_addon.group_sms_marketing_user",
        )
        cls._pregenerate_tour_assets()

    @classmethod
    def _pregenerate_tour_assets(cls):
        """Build the asset bundles the tours load once for the class, not once per test.

        ``odoo-bin`` pregenerates bundles (committed) before HTTP tests; pytest-odoo does not, so each
        browser would rebuild them inside its test's savepoint. Built here, in the class transaction,
        they are shared by the tours. Backend bundles carry no website, frontend ones the website's.
        """
        for website_id, js_bundles, css_bundles in [
            (False, ["web.assets_web", "web.assets_tests", "web.assets_backend_lazy", "web.chartjs_lib",
                     "bus.websocket_worker_assets"], ["web.assets_web", "web.assets_web_print",
                                                      "web.assets_backend_lazy"]),
            (cls.website.id, ["web.assets_frontend_minimal", "web.assets_frontend_lazy",
                              "web.__assets_tests_call__"], ["web.assets_frontend"]),
        ]:
            qweb = cls.env["ir.qweb"].with_context(website_id=website_id)
            for bundle in js_bundles:
                qweb._get_asset_bundle(bundle, css=False, js=True).js()
            for bundle in css_bundles:
                qweb._get_asset_bundle(bundle, css=True, js=False).css()

    # ------------------------------------------------------------------ public pages

    def test_subscribe_page(self):
        self.start_tour("/sms/subscribe", "sms_marketing_subscribe")

        partners = self.Partner.search([("name", "=", "Léa Tour")])
        self.assertEqual(len(partners), 1, "the invalid number created nobody, the valid one one contact")
        self.assertEqual(partners.sms_number, "+33612987654")
        self.assertEqual(partners.sms_consent_state, "pending")
        log = self.Log.search([("partner_id", "=", partners.id)])
        self.assertEqual((log.event, log.source), ("opt_in_request", "website_form"))
        self.assertTrue(log.user_agent, "the proof keeps the browser's user agent")
        confirmation = self.env["sms.sms"].search([("partner_id", "=", partners.id),
                                                   ("body", "ilike", "YES")])
        self.assertTrue(confirmation, "the confirmation request is queued")

    def test_checkout_consent(self):
        self.website.sms_checkout_consent = True
        product = self.env["product.template"].create({
            "name": "SMS Tour Mug", "list_price": 12.5, "type": "consu", "sale_ok": True,
            "is_published": True, "website_id": False,
        })
        self.start_tour(product.website_url, "sms_marketing_checkout_consent")

        partner = self.Partner.search([("email", "=", "jeanne.tour@example.com")])
        self.assertEqual(len(partner), 1)
        self.assertEqual(partner.sms_number, "+33644556678")
        self.assertEqual(partner.sms_consent_state, "pending")
        log = self.Log.search([("partner_id", "=", partner.id)])
        self.assertEqual((log.event, log.source), ("opt_in_request", "checkout"))
        self.assertEqual(log.consent_text, self.website._sms_checkout_consent_text())
        order = self.env["sale.order"].search([("partner_id", "=", partner.id)])
        self.assertIn(product, order.order_line.product_id.product_tmpl_id)

    # ------------------------------------------------------------------ backend

    def test_mailing_segment_counter(self):
        self.env["mailing.list"].create([{"name": "SMS Tour List"}, {"name": "SMS Tour Other List"}])
        self.start_tour("/odoo", "sms_marketing_mailing_segments", login=self.marketer.login)

        mailing = self.env["mailing.mailing"].search([("sms_subject", "=", "Spring sale tour")])
        self.assertEqual(len(mailing), 1)
        self.assertEqual(mailing.mailing_type, "sms")
        self.assertEqual(mailing.create_uid, self.marketer)
        self.assertEqual(mailing.contact_list_ids.name, "SMS Tour List")
        self.assertEqual(len(mailing.body_plaintext), 200)
        self.assertEqual(mailing.sms_segment_count, 2)

    def test_sent_mailing_graph(self):
        now = fields.Datetime.now()
        mailing = self.env["mailing.mailing"].create({
            "mailing_type": "sms", "sms_subject": "Sent tour SMS", "body_plaintext": "Hello from the tour",
            "mailing_model_id": self.env["ir.model"]._get_id("res.partner"), "mailing_domain": "[]",
            "state": "done", "sent_date": now,
        })
        self.env["sms.provider.message"].sudo().create([{
            "sms_uuid": uuid.uuid4().hex, "number": number, "mailing_id": mailing.id, "is_marketing": True,
            "segments": segments, "state": state, "date_sent": date_sent,
        } for number, segments, state, date_sent in [
            ("+33611111111", 1, "delivered", now - timedelta(days=1)),
            ("+33622222222", 2, "delivered", now),
            ("+33633333333", 3, "failed", now),
        ]])
        self.start_tour(f"/odoo/sms-marketing/{mailing.id}", "sms_marketing_sent_graph",
                        login=self.marketer.login)

        self.assertEqual(mailing.state, "done")
        self.assertEqual(mailing.sms_segments_total, 6)

    def test_send_confirmation(self):
        self.env["sms.compliance.policy"].search([]).write({
            "hour_start": 0, "hour_end": 24, "day_mon": True, "day_tue": True, "day_wed": True, "day_thu": True,
            "day_fri": True, "day_sat": True, "day_sun": True})
        consented = self.Partner.create({"name": "Camille Tour", "mobile": "06 12 34 56 78", "country_id": self.fr.id})
        consented._sms_opt_in("agent", note="tour")
        never = self.Partner.create({"name": "Never asked", "mobile": "06 12 34 56 79", "country_id": self.fr.id})
        mailing = self.env["mailing.mailing"].create({
            "mailing_type": "sms", "sms_subject": "Send decision tour", "body_plaintext": "Hello from the tour",
            "mailing_model_id": self.env["ir.model"]._get_id("res.partner"),
            "mailing_domain": repr([("id", "in", (consented | never).ids)]),
        })
        self.start_tour(f"/odoo/sms-marketing/{mailing.id}", "sms_marketing_send_confirmation",
                        login=self.marketer.login)

        self.assertEqual(mailing.state, "in_queue")
        self.assertEqual((mailing.sms_preview_now, mailing.sms_preview_no_consent), (1, 1))
