import math
from datetime import datetime, timedelta
from unittest.mock import patch

from odoo import fields
from odoo.addons.mail.tests.common import MockEmail
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import SQL

from .common import load_french
from .test_flows import FlowCommon


class TriggerCommon(FlowCommon):
    """The clock the test moves (the transaction's `cr.now()`), the flows' scheduled action, the claim."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_flow_data()
        cls.env.company.sms_brand_name = "Maison Test"
        cls.Enrollment = cls.env["sms.flow.enrollment"]

    def setUp(self):
        super().setUp()
        self.env["sms.sms"].search([("state", "=", "outgoing")]).write({"state": "canceled"})
        # Tuesday 24 November 2026, 10:00 UTC = 11:00 in Paris: within the French sending hours.
        self.now = datetime(2026, 11, 24, 10, 0)
        patcher = patch.object(type(self.env.cr), "now", lambda cr: self.now)
        patcher.start()
        self.addCleanup(patcher.stop)

    def cron(self):
        return self.env["sms.flow"]._cron_sms_flow_welcome()

    def claim(self):
        return [m["key"] for m in self.api.claim_batch("w1", 200, 120)["messages"]]

    def enrollment_of(self, flow, partner):
        return self.Enrollment.search([("flow_id", "=", flow.id), ("partner_id", "=", partner.id)])

    def assert_never_sent(self, sms, message, reason_label, exit_reason, hours=30):
        for _hour in range(hours):
            self.now += timedelta(hours=1)
            self.assertNotIn(sms.uuid, self.claim(), "a flow SMS left after its flow's exit condition held")
        self.assertEqual((sms.state, sms.failure_type, sms.sms_cancel_reason),
                         ("canceled", "sms_flow_exit", reason_label))
        self.assertEqual((message.state, message.exit_reason), ("canceled", exit_reason))

    def visit(self, partner, product, minutes_ago):
        visitor = self.env["website.visitor"].search([("partner_id", "=", partner.id)], limit=1) or \
            self.env["website.visitor"].create({"access_token": str(partner.id)})
        self.assertEqual(visitor.partner_id, partner)
        return self.env["website.track"].create({
            "visitor_id": visitor.id, "product_id": product.id, "url": f"/shop/{product.id}",
            "visit_datetime": self.now - timedelta(minutes=minutes_ago),
        })


@tagged("post_install", "-at_install")
class TestFlowTriggers(TriggerCommon, TransactionCase, MockEmail):
    def test_triggers_are_data_with_their_record_and_exits(self):
        Trigger = self.env["sms.flow.trigger"]
        codes = Trigger.search([]).mapped("code")
        self.assertEqual(codes, ["cart_abandoned", "consent_confirmed", "order_confirmed", "browse_abandoned",
                                 "win_back", "date_anniversary"])
        selection = dict(self.env["sms.flow"]._fields["trigger"]._description_selection(self.env))
        self.assertEqual(selection["order_confirmed"], "Order confirmed (post-purchase)")
        post = Trigger._by_code("order_confirmed")
        self.assertEqual((post.model, post._exit_list()), ("sale.order", ["order_cancelled", "opted_out"]))
        self.assertTrue(all(Trigger.search([]).mapped("available")))
        flow = self.env.ref("sms_marketing_addon.sms_flow_post_purchase")
        self.assertEqual(flow.model, "sale.order")
        with self.assertRaises(ValidationError):
            flow.step_ids[0].template_id = self.env.ref("sms_marketing_addon.sms_template_welcome")

    def test_cart_flows_stay_sms_by_delay(self):
        with self.assertRaises(ValidationError):
            self.env["sms.flow.step"].create({"flow_id": self.flow.id, "step_type": "split", "delay": 0})

    # ------------------------------------------------------------------ post-purchase
    def test_post_purchase_thanks_then_review_at_six_pm_paris(self):
        flow = self.env.ref("sms_marketing_addon.sms_flow_post_purchase")
        flow.active = True
        partner = self.partner()
        order = self.cart(partner)
        order.action_confirm()
        enrollment = self.enrollment_of(flow, partner)
        self.assertEqual((enrollment.state, enrollment.res_key), ("running", f"sale.order,{order.id}"))
        self.assertEqual(enrollment.date_next_step, self.now + timedelta(minutes=10))
        self.cron()
        self.assertFalse(self.sms_of(partner), "not due yet")
        self.now += timedelta(minutes=10)
        self.cron()
        sms = self.sms_of(partner)
        self.assertEqual(len(sms), 1)
        self.assertIn(f"Thank you for your order {order.name}! Discover what goes with it: http", sms.body)
        self.assertIn(sms.uuid, self.claim(), "the SMS goes to the gateway")
        # The review request: 7 days after the confirmation, then 18:00 in Paris (17:00 UTC in December).
        self.assertEqual(enrollment.date_next_step, datetime(2026, 12, 1, 17, 0))
        self.cron()
        self.assertEqual(len(self.sms_of(partner)), 1, "each step once")
        self.Enrollment._sms_flow_enroll("order_confirmed", [(partner, order, None)])  # the same order again
        self.assertEqual(len(self.enrollment_of(flow, partner)), 1, "once per order")

    def test_post_purchase_exit_cancelled_order_stops_a_queued_sms(self):
        flow = self.env.ref("sms_marketing_addon.sms_flow_post_purchase")
        flow.active = True
        self.now = datetime(2026, 11, 24, 20, 30)  # 21:30 in Paris: the SMS waits for the sending hours
        partner = self.partner()
        order = self.cart(partner)
        order.action_confirm()
        self.now += timedelta(minutes=10)
        self.cron()
        sms = self.sms_of(partner)
        message = self.env["sms.flow.message"].search([("sms_uuid", "=", sms.uuid)])
        self.assertEqual((sms.state, message.state), ("outgoing", "queued"))
        self.assertEqual(self.claim(), [], "held by the sending hours")
        order._action_cancel()
        self.assertEqual(self.enrollment_of(flow, partner).exit_reason, "cancelled")
        self.assert_never_sent(sms, message, "Order cancelled", "cancelled")

    # ------------------------------------------------------------------ win-back
    def old_customer(self, days, **partner_values):
        partner = self.partner(**partner_values)
        order = self.cart(partner)
        order.action_confirm()
        self.env.flush_all()
        self.env.cr.execute("UPDATE sale_order SET date_order = %s WHERE id = %s",
                            (self.now - timedelta(days=days), order.id))
        order.invalidate_recordset()
        return partner, order

    def test_win_back_after_sixty_days_once_per_last_order(self):
        flow = self.env.ref("sms_marketing_addon.sms_flow_win_back")
        flow.active = True
        partner, order = self.old_customer(60, mobile="06 12 34 56 71")
        recent, _order = self.old_customer(30, mobile="06 12 34 56 72")
        self.cron()
        enrollment = self.enrollment_of(flow, partner)
        self.assertEqual(enrollment.res_key, f"sale.order,{order.id}")
        self.assertFalse(self.enrollment_of(flow, recent), "ordered 30 days ago: not yet")
        sms = self.sms_of(partner)
        self.assertEqual(len(sms), 1)
        self.assertIn("We miss you! Come and see what is new: http", sms.body)
        self.now += timedelta(hours=2)
        self.cron()
        self.assertEqual(len(self.sms_of(partner)), 1, "once per last order")

    def test_win_back_exit_a_new_order_stops_a_queued_sms(self):
        flow = self.env.ref("sms_marketing_addon.sms_flow_win_back")
        flow.active = True
        self.now = datetime(2026, 11, 24, 20, 30)
        partner, _order = self.old_customer(60)
        self.cron()
        sms = self.sms_of(partner)
        message = self.env["sms.flow.message"].search([("sms_uuid", "=", sms.uuid)])
        self.assertEqual(self.claim(), [])
        self.cart(partner).action_confirm()
        self.assert_never_sent(sms, message, "Contact ordered since entering", "ordered")

    def test_win_back_exit_an_order_confirmed_in_the_second_of_the_entry(self):
        """Odoo dates a confirmation to the second (`date_order`), the entry keeps the transaction's microseconds:
        an order confirmed later within the same second is an order since the entry (the service's end-to-end
        test met it: the win-back SMS left after the contact ordered)."""
        flow = self.env.ref("sms_marketing_addon.sms_flow_win_back")
        flow.active = True
        self.now = datetime(2026, 11, 24, 20, 30, 0, 700000)
        partner, _order = self.old_customer(60)
        self.cron()
        sms = self.sms_of(partner)
        message = self.env["sms.flow.message"].search([("sms_uuid", "=", sms.uuid)])
        self.now += timedelta(microseconds=200000)
        new = self.cart(partner)
        with patch.object(fields.Datetime, "now", staticmethod(lambda *args: datetime(2026, 11, 24, 20, 30))):
            new.action_confirm()
        self.assertEqual(new.date_order, datetime(2026, 11, 24, 20, 30))
        self.assert_never_sent(sms, message, "Contact ordered since entering", "ordered")

    def test_win_back_email_when_no_sms_consent_and_its_exit(self):
        flow = self.env.ref("sms_marketing_addon.sms_flow_win_back")
        flow.active = True
        partner, _order = self.old_customer(60, consent=False, email="alex@example.com")
        self.cron()
        self.assertFalse(self.sms_of(partner))
        message = self.env["sms.flow.message"].search([("partner_id", "=", partner.id)])
        self.assertEqual((message.channel, message.state), ("email", "queued"))
        mail = message.mail_id
        self.assertEqual((mail.state, mail.subject, mail.recipient_ids), ("outgoing", "We miss you", partner))
        self.assertIn("/r/", mail.body_html, "the tracked short link")
        with self.mock_mail_gateway():
            mail.send()
        self.assertEqual(message.state, "sent", "Odoo's mail queue sent it")
        self.assertEqual(self._mails[0]["email_to"], ['"Camille Martin" <alex@example.com>'])
        # A contact who can receive neither does not enter.
        nobody, _order = self.old_customer(60, consent=False, mobile="06 12 34 56 79")
        self.cron()
        self.assertFalse(self.enrollment_of(flow, nobody))

    # ------------------------------------------------------------------ browse abandonment
    def test_browse_abandonment_links_the_product_viewed(self):
        flow = self.env.ref("sms_marketing_addon.sms_flow_browse")
        flow.active = True
        partner = self.partner()
        self.visit(partner, self.product, minutes_ago=90)
        busy = self.partner(mobile="06 12 34 56 73")
        self.visit(busy, self.product, minutes_ago=90)
        self.cart(busy)
        fresh = self.partner(mobile="06 12 34 56 74")
        self.visit(fresh, self.product, minutes_ago=20)
        self.cron()
        self.assertFalse(self.enrollment_of(flow, busy), "started a cart after the view")
        self.assertFalse(self.enrollment_of(flow, fresh), "viewed 20 minutes ago: the delay is 1 hour")
        enrollment = self.enrollment_of(flow, partner)
        self.assertTrue(enrollment.link_url.endswith(self.product.website_url))
        sms = self.sms_of(partner)
        self.assertIn("The product you viewed is waiting for you: http", sms.body)
        message = enrollment.message_ids
        self.assertEqual(message.link_tracker_id.url, enrollment.link_url)
        self.cron()
        self.visit(partner, self.product, minutes_ago=61)
        self.cron()
        self.assertEqual(len(self.sms_of(partner)), 1, "no second entry within the re-entry days")

    def test_a_product_view_wakes_the_flows_action_once_the_browse_delay_is_over(self):
        self.env.ref("sms_marketing_addon.sms_flow_browse").active = True  # entry delay: 1 hour
        cron = self.env.ref("sms_marketing_addon.ir_cron_sms_flow_welcome")
        cron.active = True
        Trigger = self.env["ir.cron.trigger"].sudo()
        before = Trigger.search([("cron_id", "=", cron.id)])
        partner = self.partner()
        visitor = self.env["website.visitor"].sudo().create({"access_token": str(partner.id)})
        visitor._add_viewed_product(self.product.id)
        woken = Trigger.search([("cron_id", "=", cron.id)]) - before
        self.assertEqual(woken.mapped("call_at"), [self.now + timedelta(hours=1, seconds=31)])
        self.now += timedelta(seconds=20)
        visitor._add_viewed_product(self.product.id)
        self.assertEqual(Trigger.search([("cron_id", "=", cron.id)]) - before, woken, "one per 30 s window")
        anonymous = self.env["website.visitor"].sudo().create({"access_token": "f" * 32})
        anonymous._add_viewed_product(self.product.id)
        self.assertEqual(Trigger.search([("cron_id", "=", cron.id)]) - before, woken, "not for anonymous views")

    def test_browse_abandonment_exit_at_claim_time_when_a_cart_was_started(self):
        """No event closes this enrollment: the claim-time re-check alone stops the queued SMS."""
        flow = self.env.ref("sms_marketing_addon.sms_flow_browse")
        flow.active = True
        self.now = datetime(2026, 11, 24, 20, 30)
        partner = self.partner()
        self.visit(partner, self.product, minutes_ago=90)
        self.cron()
        sms = self.sms_of(partner)
        message = self.env["sms.flow.message"].search([("sms_uuid", "=", sms.uuid)])
        self.assertEqual(self.claim(), [])
        self.now += timedelta(minutes=5)
        self.cart(partner)
        self.assertEqual(message.enrollment_id.state, "done", "nothing closed the enrollment yet")
        self.assert_never_sent(sms, message, "Contact started a cart since entering", "cart_started")

    def test_email_fallback_exit_rechecked_by_the_mail_queue(self):
        flow = self.env.ref("sms_marketing_addon.sms_flow_browse")
        flow.step_ids.email_template_id = self.env.ref("sms_marketing_addon.mail_template_win_back")
        flow.active = True
        partner = self.partner(consent=False, email="sam@example.com")
        self.visit(partner, self.product, minutes_ago=90)
        self.cron()
        message = self.env["sms.flow.message"].search([("partner_id", "=", partner.id)])
        mail = message.mail_id
        self.assertEqual((message.channel, mail.state), ("email", "outgoing"))
        self.now += timedelta(minutes=5)
        self.cart(partner)
        with self.mock_mail_gateway():
            mail.send()
        self.assertEqual(mail.state, "cancel")
        self.assertFalse(self._mails, "nothing went to the mail server")
        self.assertEqual((message.state, message.exit_reason), ("canceled", "cart_started"))

    # ------------------------------------------------------------------ a date of the contact
    def test_date_field_of_the_contact_once_a_year(self):
        flow = self.env["sms.flow"].create({
            "name": "Birthday", "trigger": "date_anniversary",
            # Odoo's contacts have no birthday field (a database may add one); the consent date is a date of the
            # contact too: an SMS on the anniversary of the subscription.
            "date_field_id": self.env["ir.model.fields"]._get("res.partner", "sms_consent_date").id,
            "step_ids": [(0, 0, {"delay": 9, "delay_unit": "hours", "at_time_of_day": False,
                                 "template_id": self.env.ref("sms_marketing_addon.sms_template_welcome").id})],
        })
        today = self.partner()
        other = self.partner(mobile="06 12 34 56 76")
        self.env.flush_all()
        self.env.cr.execute("UPDATE res_partner SET sms_consent_date = %s WHERE id = %s", ("2025-11-24 08:00", today.id))
        self.env.cr.execute("UPDATE res_partner SET sms_consent_date = %s WHERE id = %s", ("2024-11-25 19:00", other.id))
        self.env.invalidate_all()
        self.cron()
        enrollment = self.enrollment_of(flow, today)
        self.assertEqual((enrollment.res_key, enrollment.date_next_step), ("sms_consent_date:2026", self.now + timedelta(hours=9)))
        self.assertFalse(self.enrollment_of(flow, other))
        self.now += timedelta(hours=9)
        self.cron()
        self.assertIn("Welcome!", self.sms_of(today).body)
        self.now += timedelta(hours=1)
        self.cron()
        self.assertEqual(len(self.enrollment_of(flow, today)), 1, "once a year")
        self.assertEqual(len(self.sms_of(today)), 1)
        self.now += timedelta(days=1)
        self.cron()
        self.assertTrue(self.enrollment_of(flow, other))

    def test_birthday_preset_needs_its_date_field_then_wishes_at_ten_in_french(self):
        flow = self.env.ref("sms_marketing_addon.sms_flow_date")
        with self.assertRaisesRegex(ValidationError, "choose that date field"):
            flow.active = True
        # Odoo's contacts have no birthday: the consent date stands in for the field a database would add.
        flow.write({"active": True,
                    "date_field_id": self.env["ir.model.fields"]._get("res.partner", "sms_consent_date").id})
        load_french(self.env)
        self.env["sms.flow"]._sms_flow_load_french_texts(["fr_FR"])
        partner = self.partner(lang="fr_FR", name="Léa Martin")
        self.env.flush_all()
        self.env.cr.execute("UPDATE res_partner SET sms_consent_date = %s WHERE id = %s", ("2020-11-24 08:00", partner.id))
        self.env.invalidate_all()
        self.now = datetime(2026, 11, 24, 0, 5)  # the scheduled action's first run of the day
        self.cron()
        enrollment = self.enrollment_of(flow, partner)
        self.assertTrue(enrollment, "the contact's date came up today")
        self.assertFalse(self.sms_of(partner), "not at one in the morning")
        self.now = enrollment.date_next_step
        self.assertEqual(self.now, datetime(2026, 11, 24, 9, 0), "ten o'clock in Paris, on the day")
        self.cron()
        self.assertIn("Joyeux anniversaire, Léa Martin ! Fêtez-le avec nous : http", self.sms_of(partner).body)

    # ------------------------------------------------------------------ idle cost of the scheduled triggers
    def test_idle_run_offers_nobody_who_entered_or_cannot_enter(self):
        """The flows' scheduled action runs every 5 minutes; at 1,000,000 orders a day's window holds some 1,400
        last orders and 2,700 anniversaries. Those who entered, or can receive neither an SMS nor an e-mail, are
        not read again on every run (bench/bench_flows.py measures the cost); newcomers still enter."""
        win_back = self.env.ref("sms_marketing_addon.sms_flow_win_back")
        browse = self.env.ref("sms_marketing_addon.sms_flow_browse")
        (win_back | browse).active = True
        birthday = self.env["sms.flow"].create({
            "name": "Subscription anniversary", "trigger": "date_anniversary",
            "date_field_id": self.env["ir.model.fields"]._get("res.partner", "sms_consent_date").id,
            "step_ids": [(0, 0, {"delay": 0, "template_id": self.env.ref("sms_marketing_addon.sms_template_welcome").id})],
        })
        entered, _order = self.old_customer(60, mobile="06 12 34 56 71")
        unreachable, _order = self.old_customer(60, consent=False, mobile="06 12 34 56 72")  # and no e-mail
        viewer = self.partner(mobile="06 12 34 56 73")
        self.visit(viewer, self.product, minutes_ago=90)
        self.env.flush_all()
        self.env.cr.execute("UPDATE res_partner SET sms_consent_date = %s WHERE id IN %s",
                            (self.now - timedelta(days=365), (entered.id, unreachable.id)))
        self.env.invalidate_all()
        self.cron()
        self.assertTrue(self.enrollment_of(win_back, entered))
        self.assertTrue(self.enrollment_of(browse, viewer))
        self.assertTrue(self.enrollment_of(birthday, entered))
        self.assertFalse(self.Enrollment.search([("partner_id", "=", unreachable.id)]))
        offered = []
        enroll = type(self.Enrollment)._sms_flow_enroll

        def spy(model, code, items, now=None, flows=None):
            offered.extend((code, item[0]) for item in items)
            return enroll(model, code, items, now, flows=flows)

        with patch.object(type(self.Enrollment), "_sms_flow_enroll", spy):
            self.now += timedelta(minutes=5)
            self.cron()
            self.assertEqual(offered, [], "an idle run reads nobody again")
            newcomer, _order = self.old_customer(60, mobile="06 12 34 56 74")
            offered.clear()
            self.cron()
        self.assertEqual(offered, [("win_back", newcomer)])
        self.assertTrue(self.enrollment_of(win_back, newcomer))
        self.assertEqual(len(self.enrollment_of(win_back, entered)), 1)

    def test_date_flow_indexes_the_day_and_month_of_its_date(self):
        """The anniversaries of the day are read through an index, not by reading every contact."""
        self.env["sms.flow"].create({
            "name": "Subscription anniversary", "trigger": "date_anniversary",
            "date_field_id": self.env["ir.model.fields"]._get("res.partner", "sms_consent_date").id,
            "step_ids": [(0, 0, {"delay": 0, "template_id": self.env.ref("sms_marketing_addon.sms_template_welcome").id})],
        })
        self.env.cr.execute("SET LOCAL enable_seqscan = off")
        self.env.cr.execute("""EXPLAIN SELECT p.id FROM res_partner p
                                WHERE p.active AND p.sms_consent_date IS NOT NULL
                                  AND extract(month FROM p.sms_consent_date) = 11
                                  AND extract(day FROM p.sms_consent_date) = 24""")
        plan = "\n".join(row[0] for row in self.env.cr.fetchall())
        self.assertIn("sms_flow_res_partner_sms_consent_date_day", plan)

    def test_link_uniqueness_check_reads_the_label_only(self):
        """Each flow message gets its own tracked link (its own label); Odoo checks a new link's uniqueness with a
        search that, without an index on the label, reads every link of the step (one per contact so far)."""
        query = self.env["link.tracker"]._search([
            ("url", "=", "https://shop.example.com/shop"), ("campaign_id", "=", False), ("medium_id", "=", False),
            ("source_id", "=", False), ("label", "=", "sms-flow-message-1")])
        self.env.cr.execute("SET LOCAL enable_seqscan = off")
        self.env.cr.execute(SQL("EXPLAIN %s", query.select()))
        plan = "\n".join(row[0] for row in self.env.cr.fetchall())
        self.assertIn("link_tracker_sms_label_index", plan)

    # ------------------------------------------------------------------ steps
    def test_condition_step_and_time_of_day(self):
        flow = self.env.ref("sms_marketing_addon.sms_flow_post_purchase")
        flow.active = True
        review = flow.step_ids.sorted("delay_seconds")[-1]
        self.env["sms.flow.step"].create({
            "flow_id": flow.id, "step_type": "condition", "delay": 6, "delay_unit": "days",
            "condition_type": "domain", "condition_domain": "[('email', '!=', False)]",
        })
        with_email = self.partner(email="a@example.com")
        without = self.partner(mobile="06 12 34 56 75")
        (self.cart(with_email) | self.cart(without)).action_confirm()
        self.now += timedelta(days=8)
        self.cron()
        self.assertEqual(self.enrollment_of(flow, without).exit_reason, "condition")
        self.assertEqual(len(self.sms_of(without)), 1, "the thank-you only")
        self.assertEqual(self.sms_of(with_email).mapped("body")[0][:3], self.sms_of(with_email)[0].body[:3])
        self.assertEqual(len(self.sms_of(with_email)), 2)
        self.assertIn(review, self.enrollment_of(flow, with_email).message_ids.step_id)


@tagged("post_install", "-at_install")
class TestFlowSplitAcceptance(TriggerCommon, TransactionCase):
    """Issue 16's acceptance: a 50/50 split with a 10 % holdout over 1,000 contacts reports per-branch figures
    and a lift that matches a hand computation."""

    def test_split_50_50_with_10_percent_holdout_over_1000_contacts(self):
        flow = self.env["sms.flow"].create({
            "name": "Welcome A/B", "trigger": "consent_confirmed", "conversion_days": 5,
            "step_ids": [
                (0, 0, {"step_type": "split", "delay": 0, "sequence": 1, "split_holdout_percent": 10,
                        "split_a_percent": 50}),
                (0, 0, {"delay": 0, "sequence": 2, "branch": "a",
                        "template_id": self.env.ref("sms_marketing_addon.sms_template_welcome").id}),
                (0, 0, {"delay": 0, "sequence": 3, "branch": "b",
                        "template_id": self.env.ref("sms_marketing_addon.sms_template_win_back").id}),
            ],
        })
        self.env.cr.execute(
            """INSERT INTO res_partner (name, mobile, country_id, sms_number, sms_number_valid, sms_consent_state,
                                        active, type, autopost_bills, create_date, write_date)
               SELECT 'Split ' || n, '+3370' || lpad(n::text, 7, '0'), %s, '+3370' || lpad(n::text, 7, '0'),
                      TRUE, 'opted_in', TRUE, 'contact', 'ask', now(), now()
                 FROM generate_series(1, 1000) AS n RETURNING id""", [self.fr.id])
        partners = self.env["res.partner"].browse(sorted(row[0] for row in self.env.cr.fetchall()))
        self.env.cr.execute("UPDATE res_partner SET commercial_partner_id = id, complete_name = name WHERE id IN %s",
                            [tuple(partners.ids)])
        self.env.invalidate_all()
        enrollments = self.Enrollment._sms_flow_enroll("consent_confirmed", [(p, None, None) for p in partners])
        self.assertEqual(len(enrollments), 1000)
        by_branch = {b: enrollments.filtered(lambda e, b=b: e.branch == b) for b in ("a", "b", "holdout")}
        n = {b: len(e) for b, e in by_branch.items()}
        self.assertEqual(sum(n.values()), 1000)
        self.assertTrue(70 <= n["holdout"] <= 130 and 380 <= n["a"] <= 520 and 380 <= n["b"] <= 520, n)
        self.assertFalse(by_branch["holdout"].message_ids, "the holdout receives nothing")
        self.assertTrue(all(e.state == "done" for e in enrollments))
        self.assertEqual(set(by_branch["a"].message_ids.mapped("body")[0].split()[:1]), {"Welcome!"})
        self.assertIn("We miss you!", by_branch["b"].message_ids[0].body)
        # The gateway sends every SMS (the service's report), a few recipients click.
        messages = enrollments.message_ids
        self.assertEqual(len(messages), n["a"] + n["b"])
        keys = [m.sms_uuid for m in messages]
        self.api.report_results("w1", [{"key": key, "outcome": "sent", "provider_message_id": f"SM{i}"}
                                       for i, key in enumerate(keys)])
        self.assertEqual(set(messages.mapped("state")), {"sent"})
        clicked = by_branch["a"][:30].message_ids
        for message in clicked:
            self.env["link.tracker.click"].create({"link_id": message.link_tracker_id.id, "ip": "10.0.0.1"})
        # Conversions within the window: 20 % of A at 100, 10 % of B at 50, 5 % of the holdout at 100.
        self.now += timedelta(days=2)
        share = {"a": (0.20, 100.0), "b": (0.10, 50.0), "holdout": (0.05, 100.0)}
        converted = {b: by_branch[b][:round(n[b] * share[b][0])] for b in share}
        orders = self.env["sale.order"]
        for b, group in converted.items():
            for enrollment in group:
                orders |= self.env["sale.order"].create({
                    "partner_id": enrollment.partner_id.id,
                    "order_line": [(0, 0, {"product_id": self.product.id, "product_uom_qty": 1,
                                           "price_unit": share[b][1], "tax_id": [(6, 0, [])]})],
                })
        orders.action_confirm()
        figures = flow._sms_flow_branch_figures()
        c = {b: len(converted[b]) for b in share}
        for b in share:
            self.assertEqual(figures[b]["entered"], n[b])
            self.assertEqual(figures[b]["converted"], c[b])
            self.assertAlmostEqual(figures[b]["revenue"], c[b] * share[b][1])
            self.assertEqual(figures[b]["opted_out"], 0)
        self.assertEqual((figures["a"]["sent"], figures["b"]["sent"], figures["holdout"]["sent"]),
                         (n["a"], n["b"], 0))
        self.assertEqual((figures["a"]["clicked"], figures["b"]["clicked"]), (30, 0))
        # The lift of everything sent over the holdout, by hand: Wald interval of the difference of two rates.
        n_t, c_t, n_h, c_h = n["a"] + n["b"], c["a"] + c["b"], n["holdout"], c["holdout"]
        p_t, p_h = c_t / n_t, c_h / n_h
        half = 1.959963984540054 * math.sqrt(p_t * (1 - p_t) / n_t + p_h * (1 - p_h) / n_h)
        lifts = {label: (conv, revenue) for label, conv, revenue in flow._sms_flow_lifts()}
        conv, revenue = lifts["All sent"]
        self.assertAlmostEqual(conv.difference, p_t - p_h)
        self.assertAlmostEqual(conv.low, p_t - p_h - half)
        self.assertAlmostEqual(conv.high, p_t - p_h + half)
        # Revenue per contact: A's buyers 100, B's 50, the others 0; Welch interval.
        m_t = (c["a"] * 100 + c["b"] * 50) / n_t
        m_h = c["holdout"] * 100 / n_h
        var_t = (c["a"] * 100 ** 2 + c["b"] * 50 ** 2 - n_t * m_t ** 2) / (n_t - 1)
        var_h = (c["holdout"] * 100 ** 2 - n_h * m_h ** 2) / (n_h - 1)
        self.assertAlmostEqual(revenue.difference, m_t - m_h)
        self.assertAlmostEqual(revenue.high - revenue.difference,
                               1.959963984540054 * math.sqrt(var_t / n_t + var_h / n_h))
        conv_a = lifts["Branch A"][0]
        self.assertAlmostEqual(conv_a.difference, c["a"] / n["a"] - p_h)
        self.assertTrue(flow.has_holdout)
        self.assertIn(f"All sent: conversion {p_t * 100:.1f} % against {p_h * 100:.1f} % in the holdout",
                      flow.lift_summary)
        self.assertIn(f"(95 % confidence: {(p_t - p_h - half) * 100:+.1f} to {(p_t - p_h + half) * 100:+.1f})",
                      flow.lift_summary)


@tagged("post_install", "-at_install")
class TestFlowTriggersFrench(TriggerCommon, TransactionCase):
    def test_presets_in_french(self):
        """Flow names, triggers and SMS texts from FRENCH_TEXTS (the .po's new terms load once the .pot lists
        them)."""
        load_french(self.env)
        self.env["sms.flow"]._sms_flow_load_french_texts(["fr_FR"])
        FlowFr = self.env["sms.flow"].with_context(lang="fr_FR")
        self.assertEqual(FlowFr.browse(self.env.ref("sms_marketing_addon.sms_flow_win_back").id).name, "Reconquête")
        trigger = self.env.ref("sms_marketing_addon.sms_flow_trigger_browse").with_context(lang="fr_FR")
        self.assertEqual(trigger.name, "Produits consultés sans achat")
        self.assertTrue(trigger.entry.startswith("Un visiteur identifié du site web a consulté des produits"))
        self.assertTrue(self.env.ref("sms_marketing_addon.sms_flow_trigger_win_back").with_context(
            lang="fr_FR").entry.startswith("La dernière commande confirmée d'un client"))
        selection = dict(FlowFr._fields["trigger"]._description_selection(FlowFr.env))
        self.assertEqual(selection["order_confirmed"], "Commande confirmée (après l'achat)")
        flow = self.env.ref("sms_marketing_addon.sms_flow_post_purchase")
        flow.active = True
        partner = self.partner(lang="fr_FR")
        order = self.cart(partner)
        order.action_confirm()
        self.now += timedelta(minutes=10)
        self.cron()
        self.assertIn(f"Merci pour votre commande {order.name} ! Découvrez ce qui va avec : http",
                      self.sms_of(partner).body)
        mail_template = self.env.ref("sms_marketing_addon.mail_template_win_back").with_context(lang="fr_FR")
        self.assertEqual(mail_template.subject, "Vous nous manquez")


@tagged("post_install", "-at_install")
class TestFlowTriggerAccess(TransactionCase):
    """Triggers and per-branch statistics, tried as each kind of user."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.users = {
            "portal": new_test_user(cls.env, login="flow_portal", groups="base.group_portal"),
            "internal": new_test_user(cls.env, login="flow_internal", groups="base.group_user"),
            "service": new_test_user(cls.env, login="flow_service", groups=(
                "base.group_user,sms_marketing_addon.group_sms_marketing_service")),
            "sms_user": new_test_user(cls.env, login="flow_sms_user", groups=(
                "base.group_user,sms_marketing_addon.group_sms_marketing_user")),
            "manager": new_test_user(cls.env, login="flow_manager", groups=(
                "base.group_user,sms_marketing_addon.group_sms_marketing_manager")),
        }
        cls.trigger = cls.env.ref("sms_marketing_addon.sms_flow_trigger_win_back")
        cls.flow = cls.env.ref("sms_marketing_addon.sms_flow_win_back")

    def test_who_reads_and_edits_triggers_and_branch_figures(self):
        for kind in ("portal", "internal"):
            env = self.env(user=self.users[kind])
            with self.subTest(kind), self.assertRaises(AccessError):
                env["sms.flow.trigger"].search_read([], ["name", "exit_checks"])
            with self.subTest(kind), self.assertRaises(AccessError):
                env["sms.flow.branch.report"].search_read([], ["converted"])
            with self.subTest(kind), self.assertRaises(AccessError):
                self.flow.with_env(env).write({"partner_domain": "[]"})
        for kind in ("sms_user", "service"):  # the service's group implies the SMS user's: it reads, no more
            user_env = self.env(user=self.users[kind])
            self.assertEqual(self.trigger.with_env(user_env).name, "Win-back (no order since)")
            user_env["sms.flow.branch.report"].search_read([], ["converted"])
            with self.subTest(kind), self.assertRaises(AccessError):
                self.trigger.with_env(user_env).exit_checks = "opted_out"
            with self.subTest(kind), self.assertRaises(AccessError):
                self.flow.with_env(user_env).write({"partner_domain": "[]"})
        manager_env = self.env(user=self.users["manager"])
        self.trigger.with_env(manager_env).exit_checks = "ordered,opted_out"
        self.flow.with_env(manager_env).write({"entry_delay": 90, "partner_domain": "[('email', '!=', False)]"})
        with self.assertRaises(AccessError):
            manager_env["sms.flow.trigger"].create({"code": "x", "name": "X", "model": "res.partner"})
        with self.assertRaises(AccessError):
            self.trigger.with_env(manager_env).unlink()
