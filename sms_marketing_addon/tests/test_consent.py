from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import SmsMarketingCase


@tagged("post_install", "-at_install")
class TestSmsNumber(SmsMarketingCase):
    def test_french_mobile_becomes_e164(self):
        partner = self.make_partner("06 12 34 56 78")
        self.assertEqual(partner.sms_number, "+33612345678")
        self.assertTrue(partner.sms_number_valid)
        self.assertFalse(partner.sms_number_error)

    def test_garbage_is_kept_and_flagged(self):
        partner = self.make_partner("abcd")
        self.assertEqual(partner.mobile, "abcd", "what was typed is kept")
        self.assertFalse(partner.sms_number_valid)
        self.assertIn("abcd", partner.sms_number_error)
        self.assertIn(partner, self.Partner.search([("sms_number_valid", "=", False), ("mobile", "=", "abcd")]))

    def test_fixed_line_cannot_receive_sms(self):
        partner = self.Partner.create({"name": "Shop", "phone": "01 42 68 53 00", "country_id": self.fr.id})
        self.assertEqual(partner.sms_number, "+33142685300")
        self.assertFalse(partner.sms_number_valid)
        self.assertIn("not a mobile", partner.sms_number_error)

    def test_mobile_preferred_and_company_country_fallback(self):
        self.env.company.country_id = self.fr
        partner = self.Partner.create({"name": "No country", "phone": "06 99 88 77 66", "mobile": "07 81 22 33 44"})
        self.assertEqual(partner.sms_number, "+33781223344")

    def test_opting_in_an_invalid_number_is_refused(self):
        partner = self.make_partner("abcd")
        with self.assertRaisesRegex(UserError, "cannot opt in to SMS"):
            partner._sms_opt_in("agent", note="phone call")
        self.assertEqual(partner.sms_consent_state, "none")
        self.assertFalse(self.logs(partner))


@tagged("post_install", "-at_install")
class TestConsent(SmsMarketingCase):
    def test_opt_out_keyword_by_number(self):
        partner = self.make_partner()
        partner._sms_opt_in("agent", note="signed form")
        self.assertTrue(partner.sms_may_receive_marketing)
        result = self.api.apply_inbound_keyword("+33612345678", "opt_out", "SMin-1", body="STOP")
        self.assertEqual(result["result"], "opted_out")
        self.assertFalse(result["duplicate"])
        self.assertIn("unsubscribed", result["reply"])
        self.assertEqual(partner.sms_consent_state, "opted_out")
        self.assertFalse(partner.sms_may_receive_marketing)
        self.assertTrue(self.env["phone.blacklist"].search([("number", "=", "+33612345678")]))
        self.assertNotIn(partner, self.Partner.search([("sms_may_receive_marketing", "=", True)]))
        opt_outs = self.logs(partner).filtered(lambda log: log.event == "opt_out")
        self.assertEqual(len(opt_outs), 1)
        self.assertEqual((opt_outs.source, opt_outs.inbound_message_id, opt_outs.number),
                         ("keyword", "SMin-1", "+33612345678"))
        # The same inbound message again changes nothing and logs nothing.
        count = self.Log.search_count([])
        again = self.api.apply_inbound_keyword("+33612345678", "opt_out", "SMin-1", body="STOP")
        self.assertTrue(again["duplicate"])
        self.assertEqual(self.Log.search_count([]), count)

    def test_shared_number_shares_the_opt_out(self):
        first = self.make_partner()
        second = self.make_partner("+33 6 12 34 56 78", name="Other contact, same phone")
        (first | second)._sms_opt_in("agent", note="both asked")
        first._sms_opt_out("agent", note="asked by phone")
        self.assertEqual(second.sms_consent_state, "opted_out")
        self.assertEqual(len(self.logs(number="+33612345678").filtered(lambda log: log.event == "opt_out")), 2)

    def test_start_resubscribes_and_lifts_the_blacklist(self):
        partner = self.make_partner()
        self.api.apply_inbound_keyword("0033612345678", "opt_out", "in-1", body="Arrêt")
        result = self.api.apply_inbound_keyword("33612345678", "opt_in", "in-2", body="START")
        self.assertEqual(result["result"], "opted_in")
        self.assertEqual(partner.sms_consent_state, "opted_in")
        self.assertFalse(self.env["phone.blacklist"].search([("number", "=", "+33612345678")]))
        self.assertEqual(self.logs(partner)[-1].event, "re_subscribe")
        # The released number stays in the register as an archived entry: it must not count as opted out.
        self.assertTrue(partner.with_context(active_test=False).sms_may_receive_marketing)
        self.assertTrue(self.api.get_consent("+33612345678")["may_receive_marketing"])

    def test_unknown_number_opt_out_still_lands_in_register(self):
        result = self.api.apply_inbound_keyword("+33698765432", "opt_out", "in-3", body="STOP")
        self.assertEqual(result["partner_ids"], [])
        self.assertTrue(self.env["phone.blacklist"].search([("number", "=", "+33698765432")]))
        self.assertEqual(self.logs(number="+33698765432").event, "opt_out")

    def test_bad_api_input_is_a_clear_error(self):
        with self.assertRaisesRegex(UserError, "Unknown keyword action"):
            self.api.apply_inbound_keyword("+33612345678", "unsubscribe", "in-4")
        with self.assertRaisesRegex(UserError, "Not a phone number"):
            self.api.apply_inbound_keyword("hello", "opt_out", "in-5")
        with self.assertRaisesRegex(UserError, "inbound message id is required"):
            self.api.apply_inbound_keyword("+33612345678", "opt_out", "")

    def test_other_replies_land_on_the_chatter(self):
        partner = self.make_partner()
        result = self.api.apply_inbound_keyword("+33612345678", "none", "in-6", body="Is the shop open on Sunday?")
        self.assertEqual(result["result"], "received")
        self.assertIn("Is the shop open on Sunday?", partner.message_ids[0].body)

    def test_odoo_blacklist_is_the_same_register(self):
        partner = self.make_partner()
        partner._sms_opt_in("agent", note="form")
        self.env["phone.blacklist"].add("+33612345678", message="unsubscribed from a mailing")
        self.assertEqual(partner.sms_consent_state, "opted_out")
        self.assertEqual(self.logs(partner)[-1].source, "odoo")
        self.env["phone.blacklist"].remove("+33612345678")
        self.assertEqual(partner.sms_consent_state, "none")
        self.assertEqual(self.logs(partner)[-1].event, "optout_lifted")

    def test_number_change_drops_consent(self):
        partner = self.make_partner()
        partner._sms_opt_in("agent", note="form")
        partner.mobile = "07 81 22 33 44"
        self.assertEqual(partner.sms_consent_state, "none")
        self.assertEqual(self.logs(partner)[-1].event, "number_changed")

    def test_setting_consent_by_hand_needs_a_reason(self):
        partner = self.make_partner()
        with self.assertRaisesRegex(UserError, "needs a reason"):
            partner.write({"sms_consent_state": "opted_in"})
        partner.write({"sms_consent_state": "opted_in", "sms_consent_note": "asked in the shop"})
        self.assertEqual(partner.sms_consent_state, "opted_in")
        log = self.logs(partner)[-1]
        self.assertEqual((log.event, log.source, log.note), ("opt_in", "agent", "asked in the shop"))

    def test_import_with_consent_columns(self):
        Partner = self.Partner.with_context(import_file=True)
        result = Partner.load(
            ["name", "mobile", "country_id", "sms_consent_state", "sms_consent_note"],
            [["Imported", "06 55 44 33 22", "France", "opted_in", "paper form 2026-03, box 4"]],
        )
        self.assertFalse(result["messages"], result["messages"])
        partner = self.Partner.browse(result["ids"])
        self.assertEqual(partner.sms_consent_state, "opted_in")
        self.assertEqual(self.logs(partner)[-1].source, "import")
        refused = Partner.load(["name", "mobile", "country_id", "sms_consent_state"],
                               [["No proof", "06 55 44 33 21", "France", "opted_in"]])
        self.assertFalse(refused["ids"])
        self.assertIn("needs a reason", refused["messages"][0]["message"])

    def test_agent_wizard(self):
        partner = self.make_partner()
        wizard = self.env["sms.consent.wizard"].with_user(self.sms_user).with_context(
            active_model="res.partner", active_ids=partner.ids).create({"action": "opted_in", "reason": "phone call"})
        wizard.action_apply()
        self.assertEqual(partner.sms_consent_state, "opted_in")
        self.assertEqual(self.logs(partner)[-1].user_id, self.sms_user)

    def test_wizard_proposes_the_likely_change_and_an_opt_out_needs_no_reason(self):
        partner = self.make_partner()
        Wizard = self.env["sms.consent.wizard"].with_user(self.sms_user).with_context(
            active_model="res.partner", active_ids=partner.ids)
        self.assertEqual(Wizard.default_get(["partner_ids", "action"])["action"], "opted_in")
        partner._sms_opt_in("agent", note="form")
        self.assertEqual(Wizard.default_get(["partner_ids", "action"])["action"], "opted_out")
        with self.assertRaisesRegex(UserError, "reason is required"):
            Wizard.create({"action": "opted_in", "reason": ""}).action_apply()
        Wizard.create({"action": "opted_out"}).action_apply()
        self.assertEqual(partner.sms_consent_state, "opted_out")
        partner.write({"sms_consent_state": "opted_out"})  # idempotent, no reason asked

    def test_consent_events_are_told_in_the_contact_chatter(self):
        partner = self.make_partner()
        before = set(partner.message_ids.ids)
        partner.with_user(self.sms_user).env["sms.consent.wizard"].with_context(
            active_model="res.partner", active_ids=partner.ids).create(
            {"action": "opted_in", "reason": "asked at the counter"}).action_apply()
        [note] = partner.message_ids.filtered(lambda m: m.id not in before)
        self.assertIn("SMS consent: Opted in (Agent)", note.body)
        self.assertIn("Reason: asked at the counter", note.body)
        self.assertEqual(note.author_id, self.sms_user.partner_id)
        self.api.apply_inbound_keyword("+33612345678", "opt_out", "SM-chatter-stop", body="STOP")
        self.assertIn("SMS consent: Opted out (Keyword reply)", partner.message_ids[0].body)

    def test_a_log_row_is_titled_by_what_happened(self):
        partner = self.make_partner()
        partner._sms_opt_in("agent", note="form")
        self.assertEqual(self.logs(partner)[-1].display_name, "Opted in · Camille Martin")


@tagged("post_install", "-at_install")
class TestConsentLogIntegrity(SmsMarketingCase):
    def test_log_is_append_only_even_for_superuser(self):
        partner = self.make_partner()
        partner._sms_opt_in("agent", note="form")
        log = self.logs(partner)
        for env_log in (log, log.sudo(), log.with_user(self.env.ref("base.user_admin"))):
            with self.assertRaises(AccessError):
                env_log.write({"event": "opt_out"})
            with self.assertRaises(AccessError):
                env_log.unlink()
        self.assertEqual(log.event, "opt_in")

    def test_gdpr_erasure_anonymises(self):
        partner = self.make_partner()
        partner._sms_opt_in("agent", note="form", ip_address="203.0.113.9")
        log = self.logs(partner)
        partner.action_sms_gdpr_erase()
        self.assertTrue(log.anonymized)
        self.assertFalse(log.number or log.ip_address or log.partner_id or log.note)
        self.assertEqual(log.event, "opt_in", "what happened, and when, stays")

    def test_users_outside_sms_groups_read_nothing(self):
        partner = self.make_partner()
        partner._sms_opt_in("agent", note="form")
        self.assertTrue(self.Log.with_user(self.sms_user).search([("partner_id", "=", partner.id)]))
        with self.assertRaises(AccessError):
            self.Log.with_user(self.plain_user).search([])
        with self.assertRaises(AccessError):
            self.Log.with_user(self.portal_user).search([])
        own = self.portal_user.partner_id.with_user(self.portal_user)
        own.read(["name"])  # a portal user reads its own contact...
        with self.assertRaises(AccessError):
            own.read(["sms_consent_state"])  # ...but nothing of its SMS consent
        with self.assertRaises(AccessError):
            self.api.with_user(self.plain_user).get_consent("+33612345678")


@tagged("post_install", "-at_install")
class TestDoubleOptIn(SmsMarketingCase):
    def test_request_confirm_and_expiry(self):
        partner = self.make_partner()
        partner._sms_request_consent("checkout", consent_text="Send me offers", ip_address="198.51.100.7")
        self.assertEqual(partner.sms_consent_state, "pending")
        self.assertFalse(partner.sms_may_receive_marketing)
        sms = self.env["sms.sms"].search([("partner_id", "=", partner.id)])
        self.assertEqual(sms.state, "outgoing")
        self.assertIn("YES", sms.body)
        self.assertIn(f"/sms/c/{partner.id}/", sms.body)
        request = self.logs(partner)[-1]
        self.assertEqual((request.event, request.consent_text, request.ip_address),
                         ("opt_in_request", "Send me offers", "198.51.100.7"))
        result = self.api.apply_inbound_keyword("+33612345678", "confirm", "in-yes", body="oui")
        self.assertEqual(result["result"], "confirmed")
        self.assertEqual(partner.sms_consent_state, "opted_in")
        self.assertTrue(partner.sms_may_receive_marketing)

    def test_expired_request_is_not_confirmable(self):
        partner = self.make_partner()
        partner._sms_request_consent("website_form")
        partner.sudo().with_context(sms_consent_internal=True).write(
            {"sms_consent_pending_date": fields.Datetime.now() - timedelta(hours=49)})
        result = self.api.apply_inbound_keyword("+33612345678", "confirm", "in-late", body="YES")
        self.assertEqual(result["result"], "expired")
        self.assertEqual(partner.sms_consent_state, "pending")
        self.assertEqual(self.Partner._cron_sms_expire_pending(), 1)
        self.assertEqual(partner.sms_consent_state, "none")
        self.assertEqual(self.logs(partner)[-1].event, "expired")

    def test_yes_without_request_confirms_nothing(self):
        partner = self.make_partner()
        result = self.api.apply_inbound_keyword("+33612345678", "confirm", "in-yes-2", body="YES")
        self.assertEqual(result["result"], "nothing_pending")
        self.assertFalse(result["reply"])
        self.assertEqual(partner.sms_consent_state, "none")
