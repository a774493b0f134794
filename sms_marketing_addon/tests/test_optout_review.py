from ast import literal_eval
from datetime import datetime, timedelta
from unittest.mock import patch

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import SmsMarketingCase, load_french
from .test_flows import FlowCommon


class LangCase(SmsMarketingCase):
    """French active with this module's French terms, as in a French shop."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        load_french(cls.env)
        cls.env.company.sms_brand_name = "Maison Test"
        cls.env.company.write({"sms_stop_reply_text": False})
        cls.manager = new_test_user(
            cls.env, login="sms_manager", groups="base.group_user,sms_marketing_addon.group_sms_marketing_manager")
        cls.website = cls.env["website"].search([("company_id", "=", cls.env.company.id)], limit=1)

    def consented(self, mobile="06 12 34 56 78", lang="fr_FR", **values):
        partner = self.make_partner(mobile, lang=lang, **values)
        partner._sms_opt_in("agent", note="test")
        return partner

    def website_lang(self, code):
        lang = self.env["res.lang"]._lang_get(code)
        self.website.write({"language_ids": [(4, lang.id)], "default_lang_id": lang.id})

    def replies(self, number):
        return self.env["sms.sms"].search([("number", "=", number), ("sms_kind", "=", "consent")])


@tagged("post_install", "-at_install")
class TestReviewList(LangCase):
    def test_a_possible_opt_out_waits_for_a_manager_who_opts_out(self):
        partner = self.consented()
        result = self.api.apply_inbound_keyword(partner.sms_number, "review", "IN-R1", "Je veux annuler ma commande")
        self.assertEqual((result["action"], result["result"], result["duplicate"]), ("review", "to_review", False))
        message = self.env["sms.inbound.message"].search([("inbound_message_id", "=", "IN-R1")])
        self.assertEqual((message.action, message.review_state, message.partner_ids), ("review", "to_review", partner))
        self.assertEqual(partner.sms_consent_state, "opted_in", "nothing decided yet")
        self.assertFalse(self.replies(partner.sms_number))
        self.assertIn("Je veux annuler ma commande", partner.message_ids[0].body, "also on the chatter")
        action = self.env.ref("sms_marketing_addon.sms_inbound_message_review_action")
        in_list = self.env["sms.inbound.message"].search(
            [("review_state", "=", "to_review")] + literal_eval(action.domain))  # the "To review" filter of the menu
        self.assertIn(message, in_list)
        again = self.api.apply_inbound_keyword(partner.sms_number, "review", "IN-R1", "Je veux annuler ma commande")
        self.assertTrue(again["duplicate"])

        message.with_user(self.manager).action_review_opt_out()
        self.assertEqual(partner.sms_consent_state, "opted_out")
        log = self.logs(partner)[-1]
        self.assertEqual((log.event, log.source, log.user_id, log.inbound_message_id),
                         ("opt_out", "keyword", self.manager, "IN-R1"))
        self.assertIn("Je veux annuler", log.note)
        self.assertEqual((message.review_state, message.reviewed_by_id, message.result),
                         ("opted_out", self.manager, "opted_out"))
        [reply] = self.replies(partner.sms_number)
        self.assertTrue(reply.body.startswith("Maison Test : vous avez été désinscrit(e)"), reply.body)
        with self.assertRaises(UserError):
            message.with_user(self.manager).action_review_not_optout()

    def test_not_an_opt_out_is_logged_with_the_manager_and_plain_users_cannot_decide(self):
        partner = self.consented(lang="en_US")
        self.api.apply_inbound_keyword(partner.sms_number, "review", "IN-R2", "who is this?")
        message = self.env["sms.inbound.message"].search([("inbound_message_id", "=", "IN-R2")])
        with self.assertRaises(AccessError):
            message.with_user(self.sms_user).action_review_opt_out()
        message.with_user(self.manager).action_review_not_optout()
        self.assertEqual((message.review_state, message.reviewed_by_id), ("not_optout", self.manager))
        self.assertTrue(message.reviewed_date)
        self.assertEqual(partner.sms_consent_state, "opted_in")
        self.assertFalse(self.replies(partner.sms_number))

    def test_a_number_nobody_has_is_blacklisted_on_review(self):
        self.api.apply_inbound_keyword("+33698765432", "review", "IN-R3", "spam")
        message = self.env["sms.inbound.message"].search([("inbound_message_id", "=", "IN-R3")])
        message.with_user(self.manager).action_review_opt_out()
        self.assertTrue(self.env["phone.blacklist"].search([("number", "=", "+33698765432")]))
        self.assertTrue(self.replies("+33698765432").body.startswith("Maison Test : vous avez été désinscrit(e)"))

    def test_review_is_no_keyword_action(self):
        self.assertEqual(set(self.api.get_keywords()), {"opt_out", "opt_in", "confirm", "help", "join"})
        actions = dict(self.env["sms.keyword"]._fields["action"].selection)
        self.assertNotIn("review", actions)


@tagged("post_install", "-at_install")
class TestOneLanguagePerSms(FlowCommon, LangCase):
    """Body, footer and keyword replies in the recipient's language: contact's, else website's, else company's."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_flow_data()
        cls.flow._sms_flow_load_french_texts(["fr_FR"])

    def setUp(self):
        super().setUp()
        self.env["sms.sms"].search([("state", "=", "outgoing")]).write({"state": "canceled"})
        self.now = datetime(2026, 11, 24, 9, 0)  # a Tuesday, 10:00 in Paris
        patcher = patch.object(type(self.env.cr), "now", lambda cr: self.now)
        patcher.start()
        self.addCleanup(patcher.stop)

    def reminder(self, lang, mobile="06 12 34 56 78"):
        """The first cart reminder of a contact speaking `lang` (False: none), as the gateway receives it."""
        partner = self.partner(mobile=mobile, lang=lang)
        order = self.cart(partner)
        self.env.flush_all()
        self.env.cr.execute("UPDATE sale_order SET write_date = %s WHERE id = %s",
                            (self.now - timedelta(hours=1, seconds=1), order.id))
        order.invalidate_recordset()
        self.assertEqual(self.api.enqueue_flow_step(order.id, self.steps[0].id)["result"], "queued")
        [message] = [m for m in self.api.claim_batch("w1", 50, 120)["messages"] if m["kind"] == "marketing"]
        return partner, message["body"]

    def test_english_contact_with_a_french_number_gets_an_english_sms(self):
        _partner, body = self.reminder("en_US")
        self.assertTrue(body.startswith("Maison Test: You left something in your cart."), body)
        self.assertTrue(body.endswith("\nReply STOP SMS to opt out"), body)
        self.assertNotIn("Vous", body)

    def test_french_contact_gets_a_french_sms(self):
        _partner, body = self.reminder("fr_FR")
        self.assertTrue(body.startswith("Maison Test: Vous avez oublié quelque chose dans votre panier."), body)
        self.assertTrue(body.endswith("\nSTOP SMS"), body)
        self.assertNotIn("Reply", body)

    def test_a_contact_without_language_gets_the_website_language(self):
        self.website_lang("fr_FR")
        partner, body = self.reminder(False)
        self.assertIn("Vous avez oublié", body)
        self.assertTrue(body.endswith("\nSTOP SMS"), body)
        self.api.apply_inbound_keyword(partner.sms_number, "opt_out", "IN-L1", "arrêtez")
        self.assertIn("vous avez été désinscrit(e)", self.replies(partner.sms_number).body)

    def test_stop_reply_in_the_contact_language(self):
        english = self.partner(mobile="06 12 34 56 70", lang="en_US")
        french = self.partner(mobile="06 12 34 56 71", lang="fr_FR")
        self.api.apply_inbound_keyword(english.sms_number, "opt_out", "IN-L2", "stop all")
        self.api.apply_inbound_keyword(french.sms_number, "opt_out", "IN-L3", "arrêtez les SMS")
        self.assertIn("you are unsubscribed", self.replies(english.sms_number).body)
        self.assertIn("vous avez été désinscrit(e)", self.replies(french.sms_number).body)


@tagged("post_install", "-at_install")
class TestOptOutFooter(LangCase):
    """The footer is added unless the body already carries the configured opt-out instruction."""

    def gate(self, partner, body, mailing=None):
        mailing = mailing or self.env["mailing.mailing"].create({
            "subject": "Offre", "mailing_type": "sms", "body_plaintext": body,
            "mailing_model_id": self.env["ir.model"]._get_id("res.partner")})
        sms = self.env["sms.sms"].create({"number": partner.sms_number, "body": body, "partner_id": partner.id,
                                          "mailing_id": mailing.id})
        # 17:00 UTC: 18:00 in Paris, 09:00 in San Francisco, within both sending hours.
        to_send, _deferred, _canceled = sms._sms_gate(datetime(2026, 11, 24, 17, 0))
        self.assertEqual(to_send, sms)
        return sms.body

    def test_a_stop_in_another_sense_does_not_skip_the_footer(self):
        english = self.consented(lang="en_US")
        self.assertEqual(self.gate(english, "Non-stop deals all weekend"),
                         "Maison Test: Non-stop deals all weekend\nReply STOP SMS to opt out")
        french = self.consented(mobile="06 12 34 56 79", lang="fr_FR")
        self.assertEqual(self.gate(french, "Des promos non-stop tout le week-end"),
                         "Maison Test: Des promos non-stop tout le week-end\nSTOP SMS")

    def test_a_body_with_the_instruction_gets_no_second_one(self):
        french = self.consented(lang="fr_FR")
        self.assertEqual(self.gate(french, "Soldes -20 % ce week-end. Stop  SMS !"),
                         "Maison Test: Soldes -20 % ce week-end. Stop  SMS !")
        american = self.consented(mobile="+1 415 555 0100", lang="en_US", country=self.us)
        body = self.gate(american, "Sale today. Reply stop to opt-out.")
        self.assertEqual(body.count("opt"), 1, body)

    def test_the_mailing_unsubscribe_link_counts_as_the_instruction(self):
        english = self.consented(lang="en_US")
        mailing = self.env["mailing.mailing"].create({
            "subject": "Offre", "mailing_type": "sms", "body_plaintext": "Sale",
            "mailing_model_id": self.env["ir.model"]._get_id("res.partner")})
        body = f"Sale today\nSTOP SMS: {mailing.get_base_url()}/sms/{mailing.id}/abc123"
        self.assertEqual(self.gate(english, body, mailing), f"Maison Test: {body}")
