import random
from datetime import datetime, timedelta
from unittest.mock import patch
from zoneinfo import ZoneInfo

from odoo.tests import new_test_user, tagged

from odoo.addons.sms.tools.sms_api import SmsApi

from .common import SmsMarketingCase

UTC = ZoneInfo("UTC")


class OutboxCase(SmsMarketingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Sms = cls.env["sms.sms"]
        cls.api = cls.env["sms.marketing.api"]
        cls.env.company.sms_brand_name = "Maison Test"
        cls.mailing = cls.env["mailing.mailing"].create({
            "subject": "Soldes", "mailing_type": "sms", "body_plaintext": "Soldes -20% ce week-end",
            "mailing_model_id": cls.env["ir.model"]._get_id("res.partner"),
        })

    def setUp(self):
        super().setUp()
        # Start from an empty queue (inside this test's transaction).
        self.Sms.search([("state", "=", "outgoing")]).write({"state": "canceled"})

    def consented(self, mobile="06 12 34 56 78", country=None, **values):
        partner = self.make_partner(mobile, country=country, **values)
        partner._sms_opt_in("agent", note="test")
        return partner

    def marketing_sms(self, partner, body="Soldes -20% ce week-end"):
        return self.Sms.create({"number": partner.sms_number, "body": body, "partner_id": partner.id,
                                "mailing_id": self.mailing.id})

    def gate(self, sms, now):
        return sms._sms_gate(now)


@tagged("post_install", "-at_install")
class TestNoIap(OutboxCase):
    def test_chatter_sms_waits_in_the_gateway_queue(self):
        partner = self.consented()
        with patch.object(SmsApi, "_contact_iap", side_effect=AssertionError("IAP must not be called")):
            partner._message_sms("Your order has shipped")
        sms = self.Sms.search([("partner_id", "=", partner.id)])
        self.assertEqual((sms.state, sms.sms_kind, sms.body), ("outgoing", "transactional", "Your order has shipped"))

    def test_mailing_test_button_queues_instead_of_calling_iap(self):
        wizard = self.env["mailing.sms.test"].create({"mailing_id": self.mailing.id, "numbers": "+33612345678\nabc"})
        with patch.object(SmsApi, "_contact_iap", side_effect=AssertionError("IAP must not be called")):
            wizard.action_send_sms()
        sms = self.Sms.search([("number", "=", "+33612345678")])
        self.assertEqual((sms.state, sms.body), ("outgoing", "Soldes -20% ce week-end"))
        self.assertIn("not correctly encoded: abc", self.mailing.message_ids[0].body)

    def test_queue_cron_sends_nothing(self):
        partner = self.consented()
        sms = self.marketing_sms(partner)
        with patch.object(SmsApi, "_contact_iap", side_effect=AssertionError("IAP must not be called")):
            self.Sms._process_queue()
        self.assertEqual(sms.state, "outgoing")


@tagged("post_install", "-at_install")
class TestClaim(OutboxCase):
    def setUp(self):
        super().setUp()
        # A Tuesday, 10:00 in Paris: marketing allowed.
        self.now = datetime(2026, 11, 24, 9, 0)
        patcher = patch.object(type(self.env.cr), "now", lambda cr: self.now)  # the transaction's clock
        patcher.start()
        self.addCleanup(patcher.stop)
        self.partner = self.consented()

    def claim(self, worker="w1", limit=50, lease=120):
        return self.api.claim_batch(worker, limit, lease)

    def test_claim_is_exclusive_until_the_lease_expires(self):
        sms = self.marketing_sms(self.partner)
        first = self.claim("w1")
        self.assertEqual([m["key"] for m in first["messages"]], [sms.uuid])
        message = first["messages"][0]
        self.assertEqual(message["number"], "+33612345678")
        self.assertTrue(message["body"].startswith("Maison Test: "), "brand prefix added")
        self.assertTrue(message["body"].endswith("\nReply STOP SMS to opt out"), "opt-out footer added (English contact)")
        self.assertEqual(message["account_id"], self.env.ref("sms_marketing_addon.provider_account_console").id)
        self.assertEqual(self.claim("w2")["messages"], [], "never handed out twice while the claim holds")
        self.now += timedelta(seconds=121)
        again = self.claim("w2")
        self.assertEqual([m["key"] for m in again["messages"]], [sms.uuid], "an expired claim comes back")
        self.assertEqual(sms.sms_claim_worker, "w2")

    def test_a_campaign_batch_claimed_and_reported_as_the_merchant_sees_it(self):
        """A campaign's batch through the claim and the report (both set-based): each recipient timed in their
        own zone, even when their numbers resolve alike (+33 6 mobiles, one contact living in Nouméa, where it is
        23:00), and what the report leaves: the SMS handed over, its trace pending with its sent date, the
        sent register's row, the campaign done."""
        self.now = datetime(2026, 11, 24, 12, 0)  # 13:00 in Paris
        paris = self.partner
        noumea = self.consented("06 12 34 56 79", name="Lucie Wamytan", tz="Pacific/Noumea")
        self.mailing.action_send_sms(res_ids=(paris | noumea).ids)
        sms = {p: self.Sms.search([("mailing_id", "=", self.mailing.id), ("partner_id", "=", p.id)])
               for p in (paris, noumea)}
        claim = self.claim()
        self.assertEqual([m["key"] for m in claim["messages"]], [sms[paris].uuid])
        self.assertEqual(claim["deferred"], 1)
        self.assertIn("Pacific/Noumea", sms[noumea].sms_defer_reason)
        self.assertFalse(sms[noumea].sms_claim_worker)
        self.assertEqual(sms[paris].body, claim["messages"][0]["body"])
        self.assertTrue(sms[paris].body.startswith("Maison Test: "), "the brand, written with the claim")
        self.assertEqual((sms[paris].sms_claim_worker, sms[paris].sms_claim_expires),
                         ("w1", self.now + timedelta(seconds=120)))
        account = self.env.ref("sms_marketing_addon.provider_account_console")
        self.api.report_results("w1", [{"key": sms[paris].uuid, "outcome": "sent", "provider_message_id": "SMcamp",
                                        "segments": 2}])
        self.assertEqual((sms[paris].state, sms[paris].to_delete, sms[paris].sms_claim_worker), ("pending", True, False))
        trace = sms[paris].mailing_trace_ids
        self.assertEqual((trace.trace_status, trace.sent_datetime), ("pending", self.now))
        self.assertEqual(sms[noumea].mailing_trace_ids.trace_status, "outgoing")
        kept = self.env["sms.provider.message"].search([("sms_uuid", "=", sms[paris].uuid)])
        self.assertEqual(
            (kept.provider_message_id, kept.account_id, kept.provider, kept.number, kept.partner_id, kept.mailing_id,
             kept.is_marketing, kept.segments, kept.state, kept.date_sent),
            ("SMcamp", account, account.provider, "+33612345678", paris, self.mailing, True, 2, "sent", self.now))
        self.assertEqual(self.mailing.state, "done", "Odoo's rule: no SMS of the campaign waits for IAP")

    def test_no_consent_and_opted_out_are_cancelled_with_a_reason(self):
        stranger = self.make_partner("06 98 76 54 32", name="No consent")
        no_consent = self.marketing_sms(stranger)
        opted_out = self.marketing_sms(self.partner)
        self.partner._sms_opt_out("agent", note="asked")
        result = self.claim()
        self.assertEqual(result["messages"], [])
        self.assertEqual(result["canceled"], 2)
        self.assertEqual((no_consent.state, no_consent.failure_type), ("canceled", "sms_no_consent"))
        self.assertEqual((opted_out.state, opted_out.failure_type), ("canceled", "sms_blacklist"))

    def test_the_last_look_before_sending_finds_every_opted_out_number(self):
        """`check_opt_outs` (the service asks it just before a claimed SMS leaves): the register's numbers as
        the claim gives them (E.164) and any other spelling, active entries only."""
        self.partner._sms_opt_out("agent", note="asked after the claim")  # +33612345678
        gone = self.make_partner("06 98 76 54 32", name="Unblocked")
        gone._sms_opt_out("agent", note="asked")
        gone._sms_opt_in("agent", note="came back")  # the register's entry archived
        self.assertFalse(self.env["phone.blacklist"].search([("number", "=", "+33698765432")]))
        self.env["phone.blacklist"].sudo()._add(["+12125550199"])
        service = new_test_user(self.env, login="svc_optouts",
                                groups="base.group_user,sms_marketing_addon.group_sms_marketing_service")
        api = self.api.with_user(service)
        asked = ["+33612345678", "+33698765432", "+12125550199", "+33611111111"]
        self.assertEqual(sorted(api.check_opt_outs(asked)), ["+12125550199", "+33612345678"])
        # Another spelling of an opted-out number (not what the claim gives, still found).
        self.assertEqual(api.check_opt_outs(["+33 6 12 34 56 78", "0612345678"]), ["+33612345678"])
        self.assertEqual(api.check_opt_outs([]), [])

    def test_transactional_passes_without_consent_but_not_a_hard_opt_out(self):
        stranger = self.make_partner("06 98 76 54 32", name="No consent")
        order_update = self.Sms.create({"number": stranger.sms_number, "body": "Your parcel is on its way"})
        self.assertEqual([m["key"] for m in self.claim()["messages"]], [order_update.uuid])
        self.assertEqual(order_update.body, "Your parcel is on its way", "no marketing decoration")
        stranger._sms_opt_out("keyword", note="STOP")
        late = self.Sms.create({"number": stranger.sms_number, "body": "Your parcel is delivered"})
        reply = self.Sms.search([("number", "=", stranger.sms_number), ("sms_kind", "=", "consent")])
        self.now += timedelta(seconds=200)
        self.claim()
        self.assertEqual(late.failure_type, "sms_blacklist")
        self.assertFalse(reply, "an opt-out by hand sends no reply")

    def test_keyword_reply_goes_out_even_to_an_opted_out_number(self):
        self.api.apply_inbound_keyword("+33612345678", "opt_out", "in-stop", body="STOP")
        reply = self.Sms.search([("number", "=", "+33612345678"), ("sms_kind", "=", "consent")])
        self.assertIn("unsubscribed", reply.body)
        self.assertEqual([m["key"] for m in self.claim()["messages"]], [reply.uuid])

    def test_frequency_cap_defers_then_skips_per_campaign(self):
        first, second = self.marketing_sms(self.partner), self.marketing_sms(self.partner)
        result = self.claim()
        self.assertEqual([m["key"] for m in result["messages"]], [first.uuid])
        self.assertEqual(result["deferred"], 1)
        self.assertEqual(second.sms_defer_reason, "frequency cap")
        self.api.report_results("w1", [{"key": first.uuid, "outcome": "sent", "provider_message_id": "SM1"}])
        self.now += timedelta(hours=2)
        self.assertEqual(self.claim()["messages"], [], "still within 24 h of the first")
        self.now += timedelta(hours=22, minutes=1)
        self.assertEqual([m["key"] for m in self.claim()["messages"]], [second.uuid])
        # With "skip", a capped recipient is dropped from the campaign instead.
        self.mailing.sms_cap_action = "skip"
        self.api.report_results("w1", [{"key": second.uuid, "outcome": "sent", "provider_message_id": "SM2"}])
        third = self.marketing_sms(self.partner)
        self.claim()
        self.assertEqual((third.state, third.failure_type), ("canceled", "sms_capped"))


@tagged("post_install", "-at_install")
class TestSendingHours(OutboxCase):
    """Over many (country, local time, weekday) cases, no marketing SMS passes the gate outside its allowed
    hours, and a deferred one passes once allowed."""

    CASES = [
        # (mobile, country xmlid, state xmlid, tz, start, end, allowed weekdays, holidays)
        ("06 12 34 56 78", "base.fr", None, "Europe/Paris", 8, 21.5, {0, 1, 2, 3, 4, 5}),
        ("(212) 555-0123", "base.us", "base.state_us_27", "America/New_York", 8, 21, set(range(7))),
        ("(415) 555-0134", "base.us", "base.state_us_5", "America/Los_Angeles", 8, 21, set(range(7))),
        ("(305) 555-0145", "base.us", "base.state_us_10", "America/New_York", 8, 20, set(range(7))),
    ]

    def test_gate_respects_local_hours_days_and_holidays(self):
        rng = random.Random(20261122)
        fr_holidays = set(self.env.ref("sms_marketing_addon.policy_fr").holiday_ids.filtered(
            lambda h: not h.country_id).mapped("date"))
        checked = deferred_checked = 0
        for mobile, country, state, tz_name, start, end, weekdays in self.CASES:
            partner = self.consented(mobile, country=self.env.ref(country),
                                     state_id=self.env.ref(state).id if state else False)
            tz = ZoneInfo(tz_name)
            holidays = fr_holidays if country == "base.fr" else set()
            for _i in range(60):
                # From 1 March 2026 (the AF2M 2026 charter for France) to the end of 2027.
                now = datetime(2026, 3, 1) + timedelta(minutes=rng.randrange(0, 670 * 24 * 60))
                sms = self.marketing_sms(partner)
                to_send, deferred, _canceled = self.gate(sms, now)
                local = now.replace(tzinfo=UTC).astimezone(tz)
                allowed = (local.weekday() in weekdays and local.date() not in holidays
                           and start <= local.hour + local.minute / 60 < end)
                self.assertEqual(bool(to_send), allowed, f"{mobile} at {local:%a %Y-%m-%d %H:%M} ({tz_name})")
                if deferred:
                    until = sms.sms_defer_until
                    self.assertGreater(until, now)
                    opens = until.replace(tzinfo=UTC).astimezone(tz)
                    self.assertTrue(opens.weekday() in weekdays and opens.date() not in holidays
                                    and start <= opens.hour < end, f"deferred to {opens}")
                    self.assertEqual((opens.hour, opens.minute), (start, 0), "deferred to the opening minute")
                    passed, _d, _c = self.gate(sms, until)
                    self.assertEqual(passed, sms, "claimable once allowed")
                    deferred_checked += 1
                sms.unlink()
                checked += 1
        self.assertEqual(checked, 240)
        self.assertGreater(deferred_checked, 60)


@tagged("post_install", "-at_install")
class TestResults(OutboxCase):
    def setUp(self):
        super().setUp()
        self.partner = self.consented()
        self.partner.mobile = "06 12 34 56 78"
        self.mailing.action_send_sms(res_ids=self.partner.ids)
        self.sms = self.Sms.search([("mailing_id", "=", self.mailing.id)])
        self.trace = self.sms.mailing_trace_ids

    def test_sent_then_delivered_updates_the_mailing_statistics(self):
        self.assertEqual(self.trace.trace_status, "outgoing")
        result = self.api.report_results("w1", [{"key": self.sms.uuid, "outcome": "sent", "provider_message_id": "SMabc",
                                                 "segments": 2}])
        self.assertEqual(result, {"updated": 1, "unknown": []})
        self.assertEqual((self.sms.state, self.sms.to_delete), ("pending", True))
        self.assertEqual(self.trace.trace_status, "pending")
        kept = self.env["sms.provider.message"].search([("sms_uuid", "=", self.sms.uuid)])
        self.assertEqual((kept.provider_message_id, kept.segments, kept.is_marketing), ("SMabc", 2, True))
        self.sms.unlink()  # Odoo deletes sent rows: late receipts must still land
        self.api.apply_delivery_statuses([{"provider_message_id": "SMabc", "status": "delivered"}])
        self.assertEqual(self.trace.trace_status, "sent")
        self.assertEqual(self.mailing.delivered, 1)
        # A late or duplicate "sent" or "failed" never downgrades a final state.
        result = self.api.apply_delivery_statuses([{"provider_message_id": "SMabc", "status": "sent"},
                                                   {"provider_message_id": "SMabc", "status": "failed"},
                                                   {"provider_message_id": "SMunknown", "status": "delivered"}])
        self.assertEqual(result, {"applied": 0, "ignored": 2, "unknown": ["SMunknown"], "invalid": []})
        bad = self.api.apply_delivery_statuses([{"provider_message_id": "SMabc", "status": "lost in space"}])
        self.assertEqual(bad["invalid"], ["SMabc"], "a bad status is reported, not fatal for the batch")
        self.assertEqual(self.trace.trace_status, "sent")

    def test_a_batch_of_receipts_applies_each_in_order(self):
        """One call with the receipts of several SMS, as the service hands them over: each applied once, in
        order (a receipt after a final one of the same SMS in the same batch changes nothing)."""
        other = self.consented("06 98 76 54 31", name="Noé Martin")
        self.mailing.action_send_sms(res_ids=other.ids)
        sms2 = self.Sms.search([("mailing_id", "=", self.mailing.id), ("partner_id", "=", other.id)])
        trace2 = sms2.mailing_trace_ids
        self.api.report_results("w1", [{"key": self.sms.uuid, "outcome": "sent", "provider_message_id": "SMa"},
                                       {"key": sms2.uuid, "outcome": "sent", "provider_message_id": "SMb"}])
        result = self.api.apply_delivery_statuses([
            {"provider_message_id": "SMa", "status": "sent"},
            {"provider_message_id": "SMb", "status": "undelivered", "error_code": "30003"},
            {"provider_message_id": "SMa", "status": "delivered"},
            {"provider_message_id": "SMb", "status": "delivered"},
        ])
        self.assertEqual(result, {"applied": 2, "ignored": 2, "unknown": [], "invalid": []})
        kept = {m.provider_message_id: m for m in self.env["sms.provider.message"].search(
            [("provider_message_id", "in", ["SMa", "SMb"])])}
        self.assertEqual((kept["SMa"].state, kept["SMa"].error_code), ("delivered", False))
        self.assertEqual((kept["SMb"].state, kept["SMb"].error_code), ("undelivered", "30003"))
        self.assertTrue(kept["SMa"].date_final and kept["SMb"].date_final)
        self.assertEqual(self.trace.trace_status, "sent")
        self.assertEqual((trace2.trace_status, trace2.failure_type), ("error", "sms_not_delivered"))
        self.assertEqual(self.mailing.delivered, 1)

    def test_invalid_number_fails_with_the_reason_and_flags_the_number(self):
        self.api.report_results("w1", [{"key": self.sms.uuid, "outcome": "failed", "error_code": "21211",
                                        "reason": "Invalid 'To' Phone Number", "number_rejected": True}])
        self.assertEqual((self.sms.state, self.sms.failure_type), ("error", "sms_rejected_number"))
        self.assertEqual(self.trace.trace_status, "error")
        self.assertIn("21211", self.trace.failure_reason)
        self.assertIn("Invalid", self.partner.sms_number_rejected)
        self.assertFalse(self.partner.sms_may_receive_marketing)

    def test_provider_opt_out_opts_the_contact_out(self):
        self.api.report_results("w1", [{"key": self.sms.uuid, "outcome": "opted_out", "error_code": "21610"}])
        self.assertEqual(self.sms.failure_type, "sms_optout")
        self.assertEqual(self.partner.sms_consent_state, "opted_out")

    def test_retry_defers_and_releases_the_claim(self):
        self.api.report_results("w1", [{"key": self.sms.uuid, "outcome": "retry", "retry_after": 30,
                                        "reason": "HTTP 429"}])
        self.assertEqual(self.sms.state, "outgoing")
        self.assertEqual(self.sms.sms_attempts, 1)
        self.assertTrue(self.sms.sms_defer_until)
        self.assertIn("429", self.sms.sms_defer_reason)

    def test_results_are_idempotent(self):
        results = [{"key": self.sms.uuid, "outcome": "sent", "provider_message_id": "SMdup"}]
        self.api.report_results("w1", results)
        self.api.report_results("w1", results)
        self.assertEqual(self.env["sms.provider.message"].search_count([("sms_uuid", "=", self.sms.uuid)]), 1)
        # A late "failed" (e.g. a crashed worker's unknown outcome) never undoes an accepted send.
        self.api.report_results("w2", [{"key": self.sms.uuid, "outcome": "failed", "error_code": "unknown_outcome"}])
        self.assertEqual(self.sms.state, "pending")

    def test_a_receipt_naming_the_sms_settles_an_unknown_outcome(self):
        """The worker died after handing the SMS to the gateway: it was reported failed (unknown outcome); the
        gateway's receipt names the SMS (its key), so the campaign shows it delivered after all."""
        self.api.report_results("w2", [{"key": self.sms.uuid, "outcome": "failed", "error_code": "unknown_outcome",
                                        "reason": "the worker stopped before the gateway answered"}])
        self.assertEqual((self.sms.state, self.trace.trace_status), ("error", "error"))
        without_key = self.api.apply_delivery_statuses([{"provider_message_id": "SMlate", "status": "delivered"}])
        self.assertEqual(without_key["unknown"], ["SMlate"])
        result = self.api.apply_delivery_statuses([{"provider_message_id": "SMlate", "status": "delivered",
                                                    "key": self.sms.uuid}])
        self.assertEqual(result, {"applied": 1, "ignored": 0, "unknown": [], "invalid": []})
        kept = self.env["sms.provider.message"].search([("sms_uuid", "=", self.sms.uuid)])
        self.assertEqual((kept.provider_message_id, kept.state, kept.is_marketing), ("SMlate", "delivered", True))
        self.assertEqual((self.sms.state, self.sms.failure_type, self.sms.to_delete), ("pending", False, True))
        self.assertEqual(self.trace.trace_status, "sent")
        self.assertEqual(self.mailing.delivered, 1)
        again = self.api.apply_delivery_statuses([{"provider_message_id": "SMlate", "status": "delivered",
                                                   "key": self.sms.uuid}])
        self.assertEqual(again["ignored"], 1)
        self.assertEqual(self.env["sms.provider.message"].search_count([("sms_uuid", "=", self.sms.uuid)]), 1)

    def test_a_receipt_never_revives_an_sms_that_failed_for_a_known_reason(self):
        self.api.report_results("w1", [{"key": self.sms.uuid, "outcome": "failed", "error_code": "21211",
                                        "reason": "Invalid 'To' Phone Number", "number_rejected": True}])
        result = self.api.apply_delivery_statuses([{"provider_message_id": "SMx", "status": "delivered",
                                                    "key": self.sms.uuid}])
        self.assertEqual(result["unknown"], ["SMx"])
        self.assertEqual((self.sms.state, self.trace.trace_status), ("error", "error"))
        self.assertFalse(self.env["sms.provider.message"].search([("sms_uuid", "=", self.sms.uuid)]))

    def test_the_service_user_applies_receipts_of_sms_without_mailing(self):
        """The sync service's own user (only the technical group) applies the receipts of SMS that have no
        mailing trace (flow reminders, transactional SMS)."""
        service = new_test_user(self.env, login="sms_service",
                                groups="base.group_user,sms_marketing_addon.group_sms_marketing_service")
        sms = self.Sms.create({"number": self.partner.sms_number, "body": "Your order has shipped",
                               "sms_kind": "transactional", "state": "outgoing"})
        api = self.api.with_user(service)
        api.report_results("w1", [{"key": sms.uuid, "outcome": "sent", "provider_message_id": "SMnotrace"}])
        result = api.apply_delivery_statuses([{"provider_message_id": "SMnotrace", "status": "delivered"}])
        self.assertEqual(result["applied"], 1)
        kept = self.env["sms.provider.message"].search([("provider_message_id", "=", "SMnotrace")])
        self.assertEqual(kept.state, "delivered")

    def test_service_api_is_reserved(self):
        from odoo.exceptions import AccessError
        with self.assertRaises(AccessError):
            self.api.with_user(self.sms_user).claim_batch("w1")
        with self.assertRaises(AccessError):
            self.api.with_user(self.sms_user).get_provider_accounts()
        account = self.env.ref("sms_marketing_addon.provider_account_console")
        account.auth_token = "s3cret"
        with self.assertRaises(AccessError):
            account.with_user(self.sms_user).read(["auth_token"])
