from datetime import datetime, timedelta
from unittest.mock import patch
from urllib.parse import urlsplit

from odoo.exceptions import ValidationError
from odoo.tests import HttpCase, TransactionCase, tagged
from odoo.tools import SQL

from .common import load_french


class FlowCommon:
    """Website carts of consenting contacts, and a clock the test moves (the transaction's `cr.now()`)."""

    @classmethod
    def setup_flow_data(cls):
        cls.fr = cls.env.ref("base.fr")
        cls.website = cls.env["website"].search([], limit=1)
        cls.flow = cls.env.ref("sms_marketing_addon.sms_flow_cart_default")
        cls.steps = cls.flow._sms_flow_steps()
        cls.api = cls.env["sms.marketing.api"]
        cls.product = cls.env["product.product"].create({
            "name": "Lampe Tempête", "list_price": 80.0, "type": "consu", "sale_ok": True,
            "website_published": True,
        })

    def partner(self, mobile="06 12 34 56 78", consent=True, **values):
        partner = self.env["res.partner"].create({"name": "Camille Martin", "mobile": mobile,
                                                  "country_id": self.fr.id, **values})
        if consent:
            partner._sms_opt_in("agent", note="test")
        return partner

    def cart(self, partner, quantity=2):
        order = self.env["sale.order"].create({
            "partner_id": partner.id, "website_id": self.website.id,
            "order_line": [(0, 0, {"product_id": self.product.id, "product_uom_qty": quantity})],
        })
        self.env.flush_all()  # as at the end of the shopper's request: write_date is the activity time
        return order

    def sms_of(self, partner):
        return self.env["sms.sms"].search([("partner_id", "=", partner.id)])


@tagged("post_install", "-at_install")
class TestCartFlow(FlowCommon, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_flow_data()

    def setUp(self):
        super().setUp()
        self.now = datetime(2026, 11, 24, 9, 0)
        patcher = patch.object(type(self.env.cr), "now", lambda cr: self.now)
        patcher.start()
        self.addCleanup(patcher.stop)

    def at(self, **delta):
        self.now = self.start + timedelta(**delta)

    def new_cart(self, **partner_values):
        self.start = self.now
        partner = self.partner(**partner_values)
        return partner, self.cart(partner)

    def enqueue(self, order, step):
        return self.api.enqueue_flow_step(order.id, step.id)

    def test_default_flow_has_three_steps_and_the_index_exists(self):
        self.assertEqual([s.delay_seconds for s in self.steps], [3600, 86400, 259200])
        [(found,)] = self.env.execute_query(SQL(
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'sale_order_write_date_id_index'"))
        self.assertEqual(found, 1)

    def test_a_step_without_a_name_reads_as_its_delay(self):
        step = self.steps[0]
        for delay, unit, expected in ((1, "hours", "after 1 hour"), (2, "hours", "after 2 hours"),
                                      (1, "days", "after 1 day"), (30, "minutes", "after 30 minutes"),
                                      (0, "hours", "at once")):
            with self.subTest(delay=delay, unit=unit):
                step.write({"name": False, "delay": delay, "delay_unit": unit})
                self.assertEqual(step.display_name, f"{self.flow.name}: {expected}")

    def test_a_step_name_in_french_has_the_space_before_its_colon(self):
        load_french(self.env)
        step = self.steps[0].with_context(lang="fr_FR")
        for delay, unit, expected in ((1, "hours", "après 1 heure"), (2, "days", "après 2 jours"),
                                      (0, "minutes", "immédiatement")):
            with self.subTest(delay=delay, unit=unit):
                step.write({"name": False, "delay": delay, "delay_unit": unit})
                step.invalidate_recordset(["display_name"])
                self.assertEqual(step.display_name, f"{step.flow_id.name} : {expected}")

    def test_each_step_once_then_the_next_ones(self):
        partner, order = self.new_cart()
        self.at(minutes=59)
        self.assertEqual(self.enqueue(order, self.steps[0])["reason"], "not_due")
        self.assertFalse(self.sms_of(partner))
        self.at(hours=1, seconds=1)
        first = self.enqueue(order, self.steps[0])
        second = self.enqueue(order, self.steps[0])
        self.assertEqual((first["result"], second["result"], second["reason"]), ("queued", "skipped", "already_sent"))
        sms = self.sms_of(partner)
        self.assertEqual(len(sms), 1)
        self.assertEqual((sms.sms_kind, sms.state, sms.number), ("marketing", "outgoing", "+33612345678"))
        message = self.env["sms.flow.message"].browse(first["message_id"])
        self.assertIn(message.short_url, sms.body)
        self.assertIn("/r/", message.short_url)
        self.assertIn(f"/shop/cart?access_token={order.access_token}", message.link_tracker_id.url)
        self.at(hours=24, seconds=1)
        self.assertEqual(self.enqueue(order, self.steps[1])["result"], "queued")
        self.at(hours=72, seconds=1)
        self.assertEqual(self.enqueue(order, self.steps[2])["result"], "queued")
        self.assertEqual(len(self.sms_of(partner)), 3)
        enrollment = order.sms_flow_enrollment_ids
        self.assertEqual((enrollment.state, enrollment.exit_reason), ("done", "completed"))
        self.assertIn("3 of 3", order.sms_flow_status)

    def test_batch_enqueue_deduplicates_and_keeps_the_order(self):
        partner, order = self.new_cart()
        self.at(hours=1, seconds=1)
        items = [{"order_id": order.id, "step_id": self.steps[0].id}] * 2
        results = self.api.enqueue_flow_steps(items)
        self.assertEqual([r["result"] for r in results], ["queued", "queued"])  # one call, one SMS
        self.assertEqual(results[0]["message_id"], results[1]["message_id"])
        self.assertEqual(len(self.sms_of(partner)), 1)

    def test_a_later_due_step_supersedes_an_earlier_one(self):
        _partner, late = self.new_cart()
        self.at(hours=24, minutes=30)  # step 2 due for less than its grace (1 h): step 1 still goes out
        self.assertEqual(self.enqueue(late, self.steps[0])["result"], "queued")
        partner, order = self.new_cart(mobile="06 12 34 56 79")
        self.at(hours=30)
        self.assertEqual(self.enqueue(order, self.steps[0])["reason"], "superseded")
        self.assertEqual(self.enqueue(order, self.steps[1])["result"], "queued")
        self.assertEqual(len(self.sms_of(partner)), 1)

    def test_token_is_written_without_touching_the_cart_activity(self):
        _partner, order = self.new_cart()
        self.assertFalse(order.access_token)
        before = order.write_date
        self.at(hours=1, seconds=1)
        self.enqueue(order, self.steps[0])
        order.invalidate_recordset()
        self.assertTrue(order.access_token)
        self.assertEqual(order.write_date, before)

    def test_confirming_the_order_stops_the_flow(self):
        partner, order = self.new_cart()
        self.at(hours=1, seconds=1)
        self.enqueue(order, self.steps[0])
        order.action_confirm()
        self.at(hours=24, seconds=1)
        self.assertEqual(self.enqueue(order, self.steps[1])["reason"], "confirmed")
        self.assertEqual(len(self.sms_of(partner)), 1)
        self.assertEqual(order.sms_flow_enrollment_ids.exit_reason, "confirmed")

    def test_emptying_the_cart_stops_the_flow(self):
        partner, order = self.new_cart()
        self.at(hours=1, seconds=1)
        self.enqueue(order, self.steps[0])
        self.at(hours=2)
        order.order_line.unlink()
        self.env.flush_all()
        self.at(hours=30)
        self.assertEqual(self.enqueue(order, self.steps[1])["reason"], "emptied")
        self.assertEqual(len(self.sms_of(partner)), 1)
        self.assertEqual(order.sms_flow_enrollment_ids.exit_reason, "emptied")

    def test_an_opt_out_stops_the_flow_and_counts_on_the_step(self):
        partner, order = self.new_cart()
        self.at(hours=1, seconds=1)
        self.enqueue(order, self.steps[0])
        partner._sms_opt_out("keyword")
        enrollment = order.sms_flow_enrollment_ids
        self.assertEqual((enrollment.state, enrollment.exit_reason), ("exited", "opted_out"))
        self.at(hours=24, seconds=1)
        self.assertEqual(self.enqueue(order, self.steps[1])["reason"], "opted_out")
        self.assertEqual(len(self.sms_of(partner)), 1)
        self.assertEqual((self.steps[0].opted_out, self.flow.opted_out), (1, 1))

    def test_cart_update_restarts_the_timers(self):
        partner, order = self.new_cart()
        self.at(hours=1, seconds=1)
        self.enqueue(order, self.steps[0])
        self.at(hours=2)
        order.order_line.product_uom_qty = 3
        self.env.flush_all()
        self.at(hours=24, seconds=1)
        result = self.enqueue(order, self.steps[1])
        self.assertEqual(result["reason"], "not_due")
        self.assertTrue(result["due_at"].startswith("2026-11-25 11:00:00"))
        self.at(hours=26, seconds=1)
        self.assertEqual(self.enqueue(order, self.steps[1])["result"], "queued")
        self.assertEqual(len(self.sms_of(partner)), 2)

    def test_no_consent_no_sms_and_the_reason_on_the_order(self):
        partner, order = self.new_cart(consent=False)
        self.assertEqual(order.sms_flow_no_sms_reason, "No SMS marketing consent")
        self.at(hours=1, seconds=1)
        result = self.enqueue(order, self.steps[0])
        self.assertEqual((result["result"], result["reason"]), ("skipped", "no_consent"))
        self.assertFalse(self.sms_of(partner))
        enrollment = order.sms_flow_enrollment_ids
        self.assertEqual((enrollment.state, enrollment.exit_reason), ("blocked", "no_consent"))
        self.assertEqual(order.sms_flow_no_sms_reason, "No SMS marketing consent")
        self.assertEqual((self.flow.carts_blocked, self.flow.carts_entered), (1, 0))
        # Consent given later, then the cart changes: the flow starts.
        partner._sms_opt_in("agent", note="test")
        self.at(hours=2)
        order.order_line.product_uom_qty = 1
        self.env.flush_all()
        self.at(hours=3, seconds=1)
        self.assertEqual(self.enqueue(order, self.steps[0])["result"], "queued")
        self.assertFalse(order.sms_flow_no_sms_reason)

    def test_invalid_number_no_sms_and_the_reason_on_the_order(self):
        partner, order = self.new_cart(mobile="01 23 45 67 89", consent=False)  # a French landline
        self.assertEqual(order.sms_flow_no_sms_reason, "Invalid number, or not a mobile")
        self.at(hours=1, seconds=1)
        self.assertEqual(self.enqueue(order, self.steps[0])["reason"], "invalid_number")
        self.assertFalse(self.sms_of(partner))
        self.assertEqual(order.sms_flow_no_sms_reason, "Invalid number, or not a mobile")

    def test_public_partner_cart_is_not_a_flow_cart(self):
        self.start = self.now
        order = self.cart(self.website.partner_id)
        self.at(hours=1, seconds=1)
        self.assertEqual(self.enqueue(order, self.steps[0])["reason"], "anonymous")
        self.assertFalse(order.sms_flow_enrollment_ids)

    def test_us_numbers_take_the_us_carrier_flow(self):
        us_flow = self.env.ref("sms_marketing_addon.sms_flow_cart_us")
        partner, order = self.new_cart(mobile="+1 415 555 0100", country_id=self.env.ref("base.us").id)
        self.assertEqual(self.env["sms.flow"]._sms_flow_for_order(order), us_flow)
        self.at(hours=1, seconds=1)
        self.assertEqual(self.enqueue(order, self.steps[0])["reason"], "other_flow")
        self.assertEqual(self.enqueue(order, us_flow.step_ids)["result"], "queued")
        self.assertEqual(order.sms_flow_enrollment_ids.state, "done")
        with self.assertRaises(ValidationError):
            us_flow.write({"step_ids": [(0, 0, {"delay": 24, "template_id": self.steps[1].template_id.id})]})

    def test_presets(self):
        flow = self.env["sms.flow"].create({"name": "Test presets"})
        flow.action_apply_preset_default()
        self.assertEqual(flow.step_ids.mapped("delay_seconds"), [3600, 86400, 259200])
        flow.action_apply_preset_us_carrier()
        self.assertEqual((flow.step_ids.mapped("delay_seconds"), flow.us_carrier_guidance), ([3600], True))

    def test_discount_code_and_mms_image(self):
        program = self.env["loyalty.program"].create({
            "name": "Cart comeback", "program_type": "coupons", "trigger": "with_code",
            "reward_ids": [(0, 0, {"reward_type": "discount", "discount": 10, "discount_mode": "percent"})],
        })
        self.steps[0].write({"coupon_program_id": program.id, "mms_image": True,
                             "template_id": self.env.ref("sms_marketing_addon.sms_template_cart_discount").id})
        self.product.image_1920 = "R0lGODlhAQABAIAAAP///wAAACwAAAAAAQABAAACAkQBADs="
        partner, order = self.new_cart()
        self.at(hours=1, seconds=1)
        message = self.env["sms.flow.message"].browse(self.enqueue(order, self.steps[0])["message_id"])
        self.assertTrue(message.coupon_code)
        self.assertEqual((message.coupon_id.partner_id, message.coupon_id.program_id), (partner, program))
        sms = self.sms_of(partner)
        self.assertIn(message.coupon_code, sms.body)
        self.assertTrue(sms.sms_media_url.endswith(f"/web/image/product.product/{self.product.id}/image_512"))

    def test_french_contact_gets_the_french_text(self):
        self.env["res.lang"]._activate_lang("fr_FR")  # the French default texts come with the language
        partner, order = self.new_cart(lang="fr_FR")
        self.at(hours=1, seconds=1)
        self.enqueue(order, self.steps[0])
        self.assertIn("Vous avez oublié quelque chose dans votre panier", self.sms_of(partner).body)

    def test_poll_carts_reads_after_the_cursor_and_closes_confirmed_carts(self):
        partner, order = self.new_cart()
        self.env.flush_all()
        since = (self.now - timedelta(seconds=1)).isoformat(sep=" ")
        polled = self.api.poll_carts(since, 0, 100)
        [cart] = [c for c in polled["carts"] if c["id"] == order.id]
        self.assertEqual((cart["open"], cart["flow_id"], cart["done_step_ids"]), (True, self.flow.id, []))
        self.assertTrue(polled["flows_version"])
        after = self.api.poll_carts(cart["write_date"], order.id, 100)
        self.assertNotIn(order.id, [c["id"] for c in after["carts"]])
        self.at(hours=1, seconds=1)
        self.enqueue(order, self.steps[0])
        self.at(hours=2)
        order.order_line.unlink()
        self.env.flush_all()
        [cart] = [c for c in self.api.poll_carts(cart["write_date"], order.id, 100)["carts"] if c["id"] == order.id]
        self.assertEqual((cart["open"], cart["reason"], cart["done_step_ids"]), (False, "emptied", [self.steps[0].id]))
        flows = self.api.get_cart_flows()
        self.assertIn(self.flow.id, [f["id"] for f in flows["flows"]])

    def test_attribution_after_delivery_with_revenue(self):
        partner, order = self.new_cart()
        self.at(hours=1, seconds=1)
        message = self.env["sms.flow.message"].browse(self.enqueue(order, self.steps[0])["message_id"])
        sms = self.sms_of(partner)
        self.env["sms.provider.message"].create({"sms_uuid": sms.uuid, "provider_message_id": "SM1",
                                                 "number": sms.number, "is_marketing": True})
        self.api.apply_delivery_statuses([{"provider_message_id": "SM1", "status": "delivered"}])
        self.assertEqual(message.state, "delivered")
        self.at(hours=20)
        order.action_confirm()
        enrollment = order.sms_flow_enrollment_ids
        self.assertEqual((enrollment.recovered, enrollment.recovered_via), (True, "delivery"))
        self.assertEqual(self.steps[0].revenue, order.amount_total)
        self.assertEqual((self.flow.sent, self.flow.delivered, self.flow.recovered), (1, 1, 1))

    def test_no_attribution_after_the_window(self):
        partner, order = self.new_cart()
        self.at(hours=1, seconds=1)
        self.enqueue(order, self.steps[0])
        sms = self.sms_of(partner)
        self.env["sms.provider.message"].create({"sms_uuid": sms.uuid, "provider_message_id": "SM2",
                                                 "number": sms.number, "is_marketing": True})
        self.api.apply_delivery_statuses([{"provider_message_id": "SM2", "status": "delivered"}])
        self.at(hours=30)
        order.action_confirm()
        self.assertFalse(order.sms_flow_enrollment_ids.recovered)

    def test_gate_cancellation_reaches_the_flow_message(self):
        partner, order = self.new_cart()
        self.at(hours=1, seconds=1)
        message = self.env["sms.flow.message"].browse(self.enqueue(order, self.steps[0])["message_id"])
        self.sms_of(partner)._sms_cancel("sms_no_consent")
        self.assertEqual((message.state, message.failure_type), ("canceled", "sms_no_consent"))


@tagged("post_install", "-at_install")
class TestWelcomeFlow(FlowCommon, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_flow_data()
        cls.welcome = cls.env.ref("sms_marketing_addon.sms_flow_welcome")
        cls.welcome.active = True

    def test_opt_in_starts_the_welcome_flow_once(self):
        partner = self.partner()
        sms = self.sms_of(partner)
        self.assertEqual(len(sms), 1)
        self.assertIn("Welcome!", sms.body)
        enrollment = self.env["sms.flow.enrollment"].search([("partner_id", "=", partner.id)])
        self.assertEqual((enrollment.flow_id, enrollment.state), (self.welcome, "done"))
        partner._sms_opt_out("keyword")
        partner._sms_opt_in("keyword", event="re_subscribe")
        self.assertEqual(len(self.sms_of(partner)), 1, "a contact is welcomed once")

    def test_later_steps_go_out_with_the_cron(self):
        second = self.env["sms.flow.step"].create({
            "flow_id": self.welcome.id, "delay": 2, "delay_unit": "days",
            "template_id": self.env.ref("sms_marketing_addon.sms_template_welcome").id,
        })
        partner = self.partner()
        enrollment = self.env["sms.flow.enrollment"].search([("partner_id", "=", partner.id)])
        self.assertEqual((enrollment.state, enrollment.next_step_id), ("running", second))
        self.env["sms.flow"]._cron_sms_flow_welcome()
        self.assertEqual(len(self.sms_of(partner)), 1)
        enrollment.date_next_step = enrollment.date_start - timedelta(seconds=1)
        self.env["sms.flow"]._cron_sms_flow_welcome()
        self.assertEqual(len(self.sms_of(partner)), 2)
        self.assertEqual(enrollment.state, "done")


@tagged("post_install", "-at_install")
class TestCartLinkHttp(FlowCommon, HttpCase):
    """The SMS link over real HTTP: the short URL, then the cart recovery URL restores the cart; the click
    counts for the message; confirming the order shows recovered revenue on the flow and the step."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_flow_data()

    def test_short_link_restores_the_cart_counts_the_click_and_the_revenue(self):
        partner = self.partner()
        order = self.cart(partner)
        self.env.flush_all()
        self.env.execute_query(SQL(
            "UPDATE sale_order SET write_date = write_date - interval '2 hours' WHERE id = %s", order.id))
        order.invalidate_recordset()
        result = self.api.enqueue_flow_step(order.id, self.steps[0].id)
        self.assertEqual(result["result"], "queued")
        message = self.env["sms.flow.message"].browse(result["message_id"])
        short = urlsplit(message.short_url)
        self.assertTrue(short.path.startswith("/r/"))

        response = self.url_open(short.path, allow_redirects=False)
        self.assertIn(response.status_code, (301, 302, 303))
        target = urlsplit(response.headers["Location"])
        self.assertEqual(target.path, "/shop/cart")
        self.assertIn(f"access_token={order.access_token}", target.query)
        response = self.url_open(f"{target.path}?{target.query}")
        self.assertEqual(response.status_code, 200)
        self.assertIn("Lampe Tempête", response.text, "the cart is restored in the visitor's session")
        self.assertTrue(urlsplit(response.url).path == "/shop/cart" and "access_token" not in response.url)

        self.env.invalidate_all()
        self.assertEqual(message.click_count, 1)
        self.assertEqual(message.click_ids.sms_flow_message_id, message)

        order.action_confirm()
        enrollment = order.sms_flow_enrollment_ids
        self.assertEqual((enrollment.recovered, enrollment.recovered_via, enrollment.recovered_message_id),
                         (True, "click", message))
        self.assertEqual(self.flow.revenue, order.amount_total)
        self.assertEqual((self.steps[0].recovered, self.steps[0].revenue, self.steps[0].clicked),
                         (1, order.amount_total, 1))
