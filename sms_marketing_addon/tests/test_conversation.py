"""Two-way SMS conversations in Discuss: replies open a conversation for the assignee with the SMS they answer,
agents' replies leave as transactional SMS with their delivery state, keywords first, unknown numbers, and who
may read or reply (portal, internal without SMS groups, SMS user, manager, service)."""

from datetime import timedelta
from unittest.mock import patch

import psycopg2
import pytz

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger

from .common import SmsMarketingCase, load_french
from .test_flows import FlowCommon


@tagged("post_install", "-at_install")
class TestSmsConversation(SmsMarketingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env, login="sms_manager", groups="base.group_user,sms_marketing_addon.group_sms_marketing_manager")
        cls.service = new_test_user(
            cls.env, login="sms_service", groups="base.group_user,sms_marketing_addon.group_sms_marketing_service")
        cls.salesperson = new_test_user(cls.env, login="sales_camille", groups="base.group_user")
        cls.teammate = new_test_user(
            cls.env, login="sms_teammate", groups="base.group_user,sms_marketing_addon.group_sms_marketing_user")
        cls.sms_agent = new_test_user(cls.env, login="sms_agent", groups=(
            "base.group_user,base.group_partner_manager,sms_marketing_addon.group_sms_marketing_user"))
        cls.Channel = cls.env["discuss.channel"]
        cls.seq = 0

    def inbound(self, number, body, action="none", to_number="+33757000001"):
        type(self).seq += 1
        return self.api.apply_inbound_keyword(number, action, f"SM-conv-{self.seq}", body, "twilio", to_number)

    def conversation(self, number, sender="+33757000001"):
        return self.Channel.search([("channel_type", "=", "sms"), ("sms_number", "=", number),
                                    ("sms_sender", "=", sender)])

    def member(self, channel, user):
        return channel.channel_member_ids.filtered(lambda m: m.partner_id == user.partner_id)

    def customer(self, mobile="06 12 34 56 78", **values):
        partner = self.make_partner(mobile, **values)
        partner._sms_opt_in("agent", note="paper form")
        return partner

    def sent_campaign_sms(self, partner, subject="Spring sale"):
        mailing = self.env["mailing.mailing"].create({
            "subject": subject, "mailing_type": "sms", "body_plaintext": "Spring sale: -20% until Sunday",
            "mailing_model_id": self.env["ir.model"]._get_id("res.partner")})
        return self.env["sms.provider.message"].create({
            "sms_uuid": f"uuid-{partner.id}-{subject}", "provider_message_id": f"SM-out-{partner.id}",
            "number": partner.sms_number, "partner_id": partner.id, "mailing_id": mailing.id, "is_marketing": True})

    # ------------------------------------------------------------------ inbound
    def test_a_reply_opens_a_conversation_for_the_salesperson_with_the_sms_it_answers(self):
        partner = self.customer(user_id=self.salesperson.id)
        self.sent_campaign_sms(partner)
        self.inbound("+33612345678", "Is it also valid in the Lyon shop?")
        channel = self.conversation("+33612345678")
        self.assertEqual(len(channel), 1)
        self.assertEqual(channel.sms_partner_id, partner)
        self.assertEqual(channel.channel_member_ids.partner_id, self.salesperson.partner_id)
        messages = channel.message_ids.sorted("id")
        self.assertEqual(len(messages), 2)
        self.assertIn("campaign “Spring sale”", messages[0].body)
        self.assertIn("Spring sale: -20% until Sunday", messages[0].body)
        self.assertEqual(messages[1].author_id, partner)
        self.assertEqual(messages[1].message_type, "comment")
        self.assertIn("Is it also valid in the Lyon shop?", messages[1].body)
        self.assertEqual(self.member(channel, self.salesperson).message_unread_counter, 1)
        self.assertEqual(self.member(channel, self.salesperson).custom_notifications, "all")
        self.assertTrue(self.Channel.with_user(self.salesperson).search([("id", "=", channel.id)]),
                        "the assignee reads it although not an SMS user")
        inbound = self.env["sms.inbound.message"].search([("conversation_id", "=", channel.id)])
        self.assertEqual(inbound.to_number, "+33757000001")

    def test_replies_join_one_conversation_per_number_and_sending_number(self):
        self.customer(user_id=self.salesperson.id)
        self.inbound("+33612345678", "First question")
        self.inbound("0033612345678", "Second question")
        self.inbound("+33612345678", "To our other number", to_number="+33757000002")
        first = self.conversation("+33612345678")
        self.assertEqual(len(first.message_ids.filtered(lambda m: m.message_type == "comment")), 2)
        self.assertEqual(self.member(first, self.salesperson).message_unread_counter, 2)
        self.assertEqual(len(self.conversation("+33612345678", "+33757000002")), 1)

    def test_without_salesperson_the_sms_team_else_the_managers(self):
        self.env.company.sms_team_user_ids = self.teammate
        self.customer()
        self.inbound("+33612345678", "Hello")
        self.assertEqual(self.conversation("+33612345678").channel_member_ids.partner_id, self.teammate.partner_id)
        self.env.company.sms_team_user_ids = False
        self.customer("06 12 34 56 79")
        self.inbound("+33612345679", "Hello")
        members = self.conversation("+33612345679").channel_member_ids.partner_id
        self.assertIn(self.manager.partner_id, members)
        self.assertNotIn(self.service.partner_id, members, "the service user is nobody's assignee")

    # ------------------------------------------------------------------ replies
    def test_an_agent_reply_is_a_transactional_sms_with_its_delivery_state(self):
        partner = self.customer(user_id=self.salesperson.id)
        self.inbound("+33612345678", "Do you deliver on Saturday?")
        channel = self.conversation("+33612345678").with_user(self.salesperson)
        message = channel.message_post(body="Yes, until noon.", message_type="comment",
                                       subtype_xmlid="mail.mt_comment")
        sms = self.env["sms.sms"].search([("mail_message_id", "=", message.id)])
        self.assertEqual((sms.number, sms.body, sms.sms_kind, sms.partner_id, sms.state),
                         ("+33612345678", "Yes, until noon.", "transactional", partner, "outgoing"))
        notification = message.notification_ids
        self.assertEqual((notification.notification_type, notification.notification_status), ("sms", "ready"))
        self.api.report_results("w-conv", [{"key": sms.uuid, "outcome": "sent", "provider_message_id": "SM-r1"}])
        self.assertEqual(notification.notification_status, "pending")
        self.api.apply_delivery_statuses([{"provider_message_id": "SM-r1", "status": "delivered"}])
        self.assertEqual(notification.notification_status, "sent", "delivered: shown on the message")
        self.inbound("+33612345678", "Thanks!")
        self.assertNotIn("Replying to", channel.message_ids.sorted("id")[-1].body)
        self.assertEqual(len(channel.message_ids.filtered(lambda m: "Replying to" in (m.body or ""))), 0,
                         "the agent's own SMS is not shown as the SMS answered")

    def test_stop_in_a_conversation_opts_out_and_the_thread_says_so_then_replies_are_refused(self):
        partner = self.customer(user_id=self.salesperson.id)
        self.inbound("+33612345678", "When does it end?")
        result = self.inbound("+33612345678", "STOP", action="opt_out")
        self.assertEqual(result["result"], "opted_out")
        self.assertEqual(partner.sms_consent_state, "opted_out")
        channel = self.conversation("+33612345678")
        last = channel.message_ids.sorted("id")[-1]
        self.assertIn("Opted out by keyword", last.body)
        self.assertTrue(channel.sms_opted_out)
        with self.assertRaisesRegex(UserError, "opted out of SMS"):
            channel.with_user(self.salesperson).message_post(body="Sorry to see you go", message_type="comment")
        self.assertFalse(self.env["sms.sms"].search([("body", "=", "Sorry to see you go")]))

    def test_the_thread_speaks_the_language_of_its_readers_not_the_services(self):
        load_french(self.env)
        self.salesperson.write({"lang": "fr_FR", "tz": "Europe/Paris"})
        self.service.write({"lang": "en_US", "tz": "UTC"})
        partner = self.customer(user_id=self.salesperson.id)
        outbound = self.sent_campaign_sms(partner)
        api = self.env["sms.marketing.api"].with_user(self.service)
        api.apply_inbound_keyword("+33612345678", "none", "SM-conv-lang-1", "Jusqu'à quand ?", "twilio", "+33757000001")
        api.apply_inbound_keyword("+33612345678", "opt_out", "SM-conv-lang-2", "STOP", "twilio", "+33757000001")
        bodies = self.conversation("+33612345678").message_ids.sorted("id").mapped("body")
        paris = pytz.timezone("Europe/Paris")
        sent = pytz.utc.localize(outbound.date_sent).astimezone(paris).strftime("%Y-%m-%d %H:%M")
        self.assertIn(f"En réponse au SMS de la campagne « Spring sale » envoyé le {sent}", bodies[0])
        self.assertIn("Désinscrit par mot-clé", bodies[-1])

    def test_a_keyword_without_conversation_opens_none(self):
        self.customer()
        self.inbound("+33612345678", "HELP", action="help")
        self.assertFalse(self.conversation("+33612345678"))

    def test_an_unknown_number_opens_a_conversation_and_an_agent_creates_the_contact(self):
        self.inbound("+33698765432", "Hi, who is this?")
        channel = self.conversation("+33698765432")
        self.assertFalse(channel.sms_partner_id)
        self.assertEqual(channel.name, "+33698765432")
        self.assertEqual(channel.message_ids.author_id, self.env["res.partner"])
        self.assertEqual(channel.message_ids.email_from, "+33698765432")
        reply = channel.with_user(self.sms_user).message_post(body="Maison Test here", message_type="comment")
        self.assertEqual(self.env["sms.sms"].search([("mail_message_id", "=", reply.id)]).number, "+33698765432")
        with self.assertRaises(AccessError, msg="creating a contact needs Odoo's right to create contacts"):
            channel.with_user(self.sms_user).action_sms_create_contact()
        channel.with_user(self.sms_agent).action_sms_create_contact()
        self.assertEqual(channel.sms_partner_id.sms_number, "+33698765432")
        with self.assertRaises(UserError):
            channel.with_user(self.sms_agent).action_sms_create_contact()

    def test_an_agent_links_an_existing_contact(self):
        self.inbound("+33698765433", "It's Jordan")
        channel = self.conversation("+33698765433")
        jordan = self.Partner.create({"name": "Jordan Miller"})
        channel.with_user(self.sms_user).write({"sms_partner_id": jordan.id})
        channel.with_user(self.sms_user).action_sms_link_contact()
        self.assertEqual(channel.name, "Jordan Miller (+33698765433)")

    # ------------------------------------------------------------------ surveys
    def test_a_rating_reply_is_counted_in_the_campaign_results_then_stop_in_the_same_thread(self):
        partner = self.customer(user_id=self.salesperson.id)
        other = self.customer("06 12 34 56 70")
        outbound = self.sent_campaign_sms(partner, subject="Delivery survey")
        self.env["sms.provider.message"].create({
            "sms_uuid": "uuid-other", "number": other.sms_number, "mailing_id": outbound.mailing_id.id})
        survey = self.env["sms.survey"].create({"name": "How was your delivery?", "kind": "rating",
                                                "mailing_id": outbound.mailing_id.id})
        self.inbound("+33612345678", " 4 ")
        answer = survey.answer_ids
        self.assertEqual((answer.partner_id, answer.value, answer.score_label), (partner, 4, "4"))
        survey.invalidate_recordset()
        self.assertEqual((survey.answer_count, survey.sent_count, survey.response_rate, survey.average),
                         (1, 2, 50.0, 4.0))
        channel = self.conversation("+33612345678")
        self.assertIn("Survey answer from Camille Martin: 4", channel.message_ids.sorted("id")[-1].body)
        self.assertEqual(self.member(channel, self.salesperson).message_unread_counter, 0, "answers are quiet")
        self.inbound("+33612345678", "5")
        self.assertEqual(len(survey.answer_ids), 1, "the first answer counts")
        self.inbound("+33612345678", "STOP", action="opt_out")
        self.assertEqual(partner.sms_consent_state, "opted_out")
        self.assertIn("Opted out by keyword", channel.message_ids.sorted("id")[-1].body)

    def test_what_reads_as_an_answer(self):
        partner = self.customer()
        outbound = self.sent_campaign_sms(partner, subject="NPS")
        survey = self.env["sms.survey"].create({"name": "Recommend us?", "kind": "nps",
                                                "mailing_id": outbound.mailing_id.id})
        for body, expected in [("11", None), ("great shop", None), ("0", (0, False)), ("10/10", (10, False))]:
            self.assertEqual(survey._read_answer(body), expected, body)
        survey.write({"kind": "choice", "choices": "Bleu, ROUGE"})
        self.assertEqual(survey._read_answer(" bleu! "[:-1]), (0, "BLEU"))
        self.assertIsNone(survey._read_answer("vert"))
        self.inbound("+33612345678", "I prefer green")
        self.assertFalse(survey.answer_ids)
        channel = self.conversation("+33612345678")
        self.assertIn("I prefer green", channel.message_ids.sorted("id")[-1].body, "free text: the conversation")
        with self.assertRaises(ValidationError):
            survey.choices = " , "

    def test_survey_results_access(self):
        partner = self.customer()
        outbound = self.sent_campaign_sms(partner, subject="Access")
        self.env["sms.survey"].create({"name": "Rate us", "mailing_id": outbound.mailing_id.id})
        self.inbound("+33612345678", "3")
        Answer = self.env["sms.survey.answer"]
        for user in (self.portal_user, self.plain_user):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                Answer.with_user(user).search([])
        self.assertEqual(len(Answer.with_user(self.sms_user).search([("number", "=", "+33612345678")])), 1)
        with self.assertRaises(AccessError):
            Answer.with_user(self.manager).create({"survey_id": Answer.search([], limit=1).survey_id.id,
                                                   "number": "+33600000000", "value": 5})

    def outsider(self):
        other = self.env["res.company"].create({"name": "Other shop"})
        return new_test_user(self.env, login="sms_manager_other_company", company_id=other.id,
                             company_ids=[(6, 0, [other.id])],
                             groups="base.group_user,sms_marketing_addon.group_sms_marketing_manager")

    def test_an_sms_manager_of_another_company_sees_no_answer_of_this_one(self):
        partner = self.customer()
        outbound = self.sent_campaign_sms(partner, subject="Companies")
        survey = self.env["sms.survey"].create({"name": "Rate us", "mailing_id": outbound.mailing_id.id})
        self.inbound("+33612345678", "2")
        answer = survey.answer_ids
        self.assertEqual(answer.company_id, self.env.company, "the company the reply reached (no company on the "
                                                              "contact, none on a campaign)")
        outsider = self.outsider()
        Answer = self.env["sms.survey.answer"].with_user(outsider)
        self.assertFalse(Answer.search([("number", "=", "+33612345678")]))
        self.assertFalse(Answer.read_group([("survey_id", "=", survey.id)], ["value:avg"], [])[0]["__count"],
                         "nor in the results' graph and pivot")
        with self.assertRaises(AccessError):
            answer.with_user(outsider).read(["number", "value"])
        self.assertEqual(self.env["sms.survey"].with_user(outsider).search([("id", "=", survey.id)]), survey,
                         "a campaign's survey itself is shared, as Odoo's campaigns are")
        self.assertEqual(Answer.with_user(self.sms_user).search([("number", "=", "+33612345678")]), answer)
        # the survey's figures are the campaign's, whichever companies are selected (answers stay hidden)
        seen = survey.with_user(outsider)
        self.assertEqual((seen.answer_count, seen.sent_count, seen.response_rate, seen.average), (1, 1, 100.0, 2.0))
        # nor can the other shop wipe this one's answers through the survey they share
        for user in (outsider, self.manager):
            with self.subTest(user=user.login):
                with self.assertRaises(UserError):
                    survey.with_user(user).unlink()
                with self.assertRaises(UserError):
                    survey.with_user(user).write({"kind": "nps"})
        self.assertEqual(survey.kind, "rating")
        survey.with_user(outsider).write({"name": "Rate us from 1 to 5", "active": False})
        self.assertEqual(answer.exists().survey_id, survey, "archived, its answers kept")
        self.assertEqual(answer.display_name, "Rate us from 1 to 5: 2")
        # deleting the campaign (whoever may: here the administrator) takes an unanswered survey along, never answers
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.IntegrityError), self.env.cr.savepoint():
            outbound.mailing_id.unlink()
        self.assertTrue(answer.exists())

    def test_the_results_list_scores_in_their_order_not_as_text(self):
        outbound = self.sent_campaign_sms(self.customer(), subject="NPS order")
        survey = self.env["sms.survey"].create({"name": "Recommend us?", "kind": "nps",
                                                "mailing_id": outbound.mailing_id.id})
        Answer = self.env["sms.survey.answer"]
        for index, value in enumerate((10, 2, 9, 0, 10)):
            Answer.create({"survey_id": survey.id, "number": f"+3361234560{index}", "value": value})
        domain = [("survey_id", "=", survey.id)]
        labels = [group["score_label"] for group in Answer.read_group(domain, ["value:count"], ["score_label"])]
        self.assertEqual(labels, ["0", "2", "9", "10"], "as the graph and the pivot list them")
        both = Answer.read_group(domain, ["value:count"], ["survey_id", "score_label"], lazy=False)
        self.assertEqual([(g["score_label"], g["__count"]) for g in both], [("0", 1), ("2", 1), ("9", 1), ("10", 2)])
        highest_first = Answer.read_group(domain, ["value:count"], ["score_label"], orderby="score_label desc")
        self.assertEqual([group["score_label"] for group in highest_first], ["10", "9", "2", "0"])

    def test_an_unanswered_survey_may_change_or_go(self):
        outbound = self.sent_campaign_sms(self.customer(), subject="Draft survey")
        survey = self.env["sms.survey"].create({"name": "Rate us", "mailing_id": outbound.mailing_id.id})
        survey.with_user(self.manager).write({"kind": "nps"})
        self.assertEqual(survey.kind, "nps")
        survey.with_user(self.manager).unlink()
        self.assertFalse(survey.exists())

    # ------------------------------------------------------------------ JOIN
    def test_join_from_a_new_number_starts_the_double_opt_in_and_yes_ends_it_with_both_proofs(self):
        result = self.inbound("+33698765400", "Join", action="join")
        self.assertEqual(result["result"], "opt_in_requested")
        partner = self.Partner.search([("sms_number", "=", "+33698765400")])
        self.assertEqual((partner.name, partner.sms_consent_state), ("+33698765400", "pending"))
        requests = self.env["sms.sms"].search([("number", "=", "+33698765400"), ("sms_kind", "=", "consent")])
        self.assertEqual(len(requests), 1)
        self.assertIn("YES", requests.body)
        again = self.inbound("+33698765400", "JOIN", action="join")
        self.assertEqual(again["result"], "already_pending")
        self.assertEqual(self.env["sms.sms"].search_count([("number", "=", "+33698765400")]), 1,
                         "no second confirmation SMS while one waits for its answer")
        self.inbound("+33698765400", "YES", action="confirm")
        self.assertEqual(partner.sms_consent_state, "opted_in")
        logs = self.logs(partner)
        self.assertEqual([(log.event, log.source, log.inbound_message_id, log.note) for log in logs], [
            ("opt_in_request", "keyword", f"SM-conv-{self.seq - 2}", "Join"),
            ("confirmation", "keyword", f"SM-conv-{self.seq}", "YES")])
        self.assertFalse(self.conversation("+33698765400"), "keywords open no conversation")

    def test_join_from_an_opted_in_contact_changes_nothing(self):
        partner = self.customer()
        result = self.inbound("+33612345678", "JOIN", action="join")
        self.assertEqual(result["result"], "already_opted_in")
        self.assertEqual(partner.sms_consent_state, "opted_in")
        self.assertFalse(self.env["sms.sms"].search([("number", "=", "+33612345678")]))

    # ------------------------------------------------------------------ who may do what
    def test_who_may_read_and_reply(self):
        self.customer(user_id=self.salesperson.id)
        self.inbound("+33612345678", "A question")
        channel = self.conversation("+33612345678")
        for user in (self.portal_user, self.plain_user):
            with self.subTest(user=user.login):
                self.assertFalse(self.Channel.with_user(user).search([("id", "=", channel.id)]))
                with self.assertRaises(AccessError):
                    channel.with_user(user).message_post(body="Hijack", message_type="comment")
                with self.assertRaises(AccessError):
                    channel.with_user(user).action_sms_open_discuss()
        for user in (self.sms_user, self.manager):
            with self.subTest(user=user.login):
                self.assertEqual(self.Channel.with_user(user).search([("id", "=", channel.id)]), channel)
                channel.with_user(user).action_sms_open_discuss()
                self.assertTrue(self.member(channel, user), "opening it from the list joins it")
                channel.with_user(user).message_post(body=f"From {user.login}", message_type="comment")
                self.assertTrue(self.env["sms.sms"].search([("body", "=", f"From {user.login}")]))
        self.assertEqual(self.Channel.with_user(self.service).search([("id", "=", channel.id)]), channel)
        with self.assertRaises(AccessError):
            channel.with_user(self.service).message_post(body="From the service", message_type="comment")
        self.assertFalse(self.env["sms.sms"].search([("body", "=", "From the service")]))

    def test_an_sms_user_of_another_company_does_not_see_the_conversation(self):
        self.customer(user_id=self.salesperson.id)
        self.inbound("+33612345678", "A question")
        channel = self.conversation("+33612345678")
        self.assertEqual(channel.sms_company_id, self.env.company)
        other = self.env["res.company"].create({"name": "Other shop"})
        outsider = new_test_user(self.env, login="sms_user_other_company", company_id=other.id,
                                 company_ids=[(6, 0, [other.id])],
                                 groups="base.group_user,sms_marketing_addon.group_sms_marketing_user")
        self.assertFalse(self.Channel.with_user(outsider).search([("id", "=", channel.id)]))
        with self.assertRaises(AccessError):
            channel.with_user(outsider).action_sms_open_discuss()
        self.assertEqual(self.Channel.with_user(self.sms_user).search([("id", "=", channel.id)]), channel)
        with self.assertRaises(AccessError):
            channel.with_user(self.manager).write({"sms_company_id": other.id})

    def test_nobody_redirects_a_conversation_or_forges_one(self):
        self.customer(user_id=self.salesperson.id)
        self.inbound("+33612345678", "A question")
        channel = self.conversation("+33612345678")
        sysadmin = new_test_user(self.env, login="sms_sysadmin", groups="base.group_user,base.group_system")
        for user in (self.plain_user, self.sms_user, self.manager, self.salesperson, sysadmin):
            with self.subTest(user=user.login):
                with self.assertRaises(AccessError):
                    channel.with_user(user).write({"sms_number": "+33600000000"})
                with self.assertRaises(AccessError):
                    self.Channel.with_user(user).create({"name": "x", "channel_type": "sms",
                                                         "sms_number": "+33600000000"})
        with self.assertRaises(AccessError):
            channel.with_user(self.salesperson).write({"sms_partner_id": self.env.user.partner_id.id})


@tagged("post_install", "-at_install")
class TestSmsSurveyOnAFlowStep(FlowCommon, TransactionCase):
    """A flow step asks the question: answers to the SMS of that step count for it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_flow_data()

    def test_an_answer_to_a_flow_step_sms_counts_for_that_step(self):
        partner = self.partner()
        order = self.cart(partner)
        due = self.env.cr.now() + timedelta(hours=1, minutes=1)
        with patch.object(type(self.env.cr), "now", lambda cr: due):
            self.assertFalse(self.api.enqueue_flow_step(order.id, self.steps[0].id)["reason"], "queued")
        sms = self.sms_of(partner)
        self.api.report_results("w-flow", [{"key": sms.uuid, "outcome": "sent", "provider_message_id": "SM-f1"}])
        survey = self.env["sms.survey"].create({"name": "Did you find what you wanted?", "kind": "choice",
                                                "choices": "OUI, NON", "flow_step_id": self.steps[0].id})
        self.api.apply_inbound_keyword(partner.sms_number, "none", "SM-flow-answer", "non", "twilio", "")
        self.assertEqual(survey.answer_ids.mapped("choice"), ["NON"])
        self.assertEqual((survey.sent_count, survey.response_rate), (1, 100.0))
        self.assertEqual(survey.company_id, self.steps[0].company_id)
        self.assertEqual(survey.answer_ids.company_id, survey.company_id, "the flow's company")
        other = self.env["res.company"].create({"name": "Other shop"})
        outsider = new_test_user(self.env, login="sms_manager_other_shop", company_id=other.id,
                                 company_ids=[(6, 0, [other.id])],
                                 groups="base.group_user,sms_marketing_addon.group_sms_marketing_manager")
        self.assertFalse(self.env["sms.survey"].with_user(outsider).search([("id", "=", survey.id)]))
        self.assertFalse(self.env["sms.survey.answer"].with_user(outsider).search([("survey_id", "=", survey.id)]))
        with self.assertRaises(AccessError):
            survey.with_user(outsider).read(["name"])
