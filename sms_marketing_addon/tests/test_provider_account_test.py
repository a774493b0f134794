"""Test connection and Send a test SMS on a gateway account: Odoo records the request, the sync service makes the
call (here: its RPC answers, as the service would send them) and the account shows the verdict in plain words."""

from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged
from odoo.tools.misc import file_path

from .common import load_french
from .test_outbox import OutboxCase

TWILIO_CREDENTIALS = "Twilio refused the credentials: check the Account SID and the Auth Token (20003)"


@tagged("post_install", "-at_install")
class TestAccountTests(OutboxCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Test = cls.env["sms.provider.account.test"]
        cls.manager = new_test_user(
            cls.env, login="acct_manager", groups="base.group_user,sms_marketing_addon.group_sms_marketing_manager")
        cls.service = new_test_user(
            cls.env, login="acct_service", groups="base.group_user,sms_marketing_addon.group_sms_marketing_service")
        cls.sysadmin = new_test_user(cls.env, login="acct_sysadmin", groups="base.group_user,base.group_system")

    def setUp(self):
        super().setUp()
        self.account = self.env["sms.provider.account"].create({
            "name": "Twilio US", "provider": "twilio", "account_sid": "AC1", "auth_token": "right",
            "sender": "+14155550100", "country_prefixes": "1"})
        self.service_api = self.api.with_user(self.service)

    def pending(self):
        return [t for t in self.service_api.get_account_tests() if t["account_id"] == self.account.id]

    def answer(self, ok, reason, code="20003", account_wide=True):
        """What the sync service reports after its test call."""
        [test] = self.pending()
        self.service_api.report_account_tests([{"id": test["id"], "ok": ok, "account_wide": account_wide and not ok,
                                                "error_code": code, "reason": reason}])

    def form(self, user=None):
        self.env.invalidate_all()
        return self.account.with_user(user) if user else self.account

    def test_new_settings_are_tested_at_once_and_a_wrong_token_shows_in_plain_words(self):
        self.assertEqual(len(self.pending()), 1, "a new account is tested")
        self.answer(True, "Twilio accepts the credentials and the account can send", code="200")
        self.assertEqual(self.form().test_state, "ok")
        self.assertEqual(self.form().health_state, "ok")
        waiting = self.Sms.create({"number": "+14155550123", "body": "Your order has shipped",
                                   "sms_kind": "transactional", "sms_account_id": self.account.id})

        self.account.write({"auth_token": "a-token-with-a-typo"})
        self.assertEqual(self.form().test_state, "waiting")
        self.assertIn("next poll", self.form().test_result)
        self.answer(False, TWILIO_CREDENTIALS)

        account = self.form(self.manager)
        self.assertEqual(account.test_state, "failed")
        self.assertEqual(account.test_result, f"The connection test failed: {TWILIO_CREDENTIALS}.")
        self.assertEqual(account.health_state, "failing")
        self.assertEqual(account.health_failing_reason, TWILIO_CREDENTIALS)
        self.assertEqual(waiting.sms_outbox_status, "held")
        self.assertIn(f"is failing ({TWILIO_CREDENTIALS})", waiting.sms_defer_reason)
        self.assertFalse(self.api.claim_batch("w1", 10, 60)["messages"], "held, not sent")

        self.account.write({"auth_token": "right"})  # fixed: tested again, and the SMS leave
        self.answer(True, "Twilio accepts the credentials and the account can send", code="200")
        self.assertEqual(self.form().health_state, "ok")
        self.assertEqual(self.form().test_result, "The connection works: Twilio accepts the credentials and the "
                                                  "account can send.")
        self.assertEqual([m["key"] for m in self.api.claim_batch("w1", 10, 60)["messages"]], [waiting.uuid])

    def test_a_manager_tests_the_connection_and_a_second_press_replaces_the_first(self):
        self.answer(True, "fine", code="200")
        self.account.with_user(self.manager).action_test_connection()
        self.account.with_user(self.manager).action_test_connection()
        self.assertEqual(len(self.pending()), 1)
        self.assertEqual(self.Test.search([("account_id", "=", self.account.id)], limit=1).requested_by,
                         self.manager)
        self.answer(False, "Could not reach Twilio at https://api.twilio.com (dns error): check the API base URL "
                           "and the sync service's network access", code="dns", account_wide=False)
        account = self.form(self.manager)
        self.assertEqual(account.test_state, "failed")
        self.assertIn("Could not reach Twilio", account.test_result)
        self.assertEqual(account.health_state, "ok", "a provider out of reach does not hold the account's SMS")
        self.assertIn("dns error", account.health_last_error)

    def test_a_test_for_settings_changed_since_or_unanswered_says_so(self):
        [test] = self.pending()
        self.account.write({"sender": "+14155550101"})
        self.assertNotIn(test["id"], [t["id"] for t in self.pending()], "superseded by the new settings' test")
        [current] = self.pending()
        self.Test.browse(current["id"]).flush_recordset()
        self.env.cr.execute("UPDATE sms_provider_account_test SET create_date = %s WHERE id = %s",
                            [fields.Datetime.now() - timedelta(minutes=3), current["id"]])
        self.env.invalidate_all()
        self.assertEqual(self.form().test_state, "late")
        self.assertIn("is it running", self.form().test_result)
        self.env.cr.execute("UPDATE sms_provider_account_test SET create_date = %s WHERE id = %s",
                            [fields.Datetime.now() - timedelta(minutes=11), current["id"]])
        self.env.invalidate_all()
        self.assertEqual(self.pending(), [], "too old to test the settings of then")

    def test_only_managers_and_administrators_test_a_connection(self):
        for user in (self.portal_user, self.plain_user, self.sms_user):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.account.with_user(user).action_test_connection()
        for user in (self.manager, self.sysadmin):
            self.account.with_user(user).action_test_connection()
            self.assertTrue(self.form(user).user_can_test)
        self.assertFalse(self.form(self.sms_user).user_can_test)

    def test_nobody_writes_a_test_result_but_the_service(self):
        [pending] = self.pending()
        test = self.Test.browse(pending["id"])
        for user in (self.portal_user, self.plain_user, self.sms_user, self.manager, self.sysadmin):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                test.with_user(user).write({"state": "ok", "result": "forged"})
            with self.subTest(user=user.login, what="create"), self.assertRaises(AccessError):
                self.Test.with_user(user).create({"account_id": self.account.id, "kind": "connection"})
        for user in (self.portal_user, self.plain_user, self.sms_user, self.manager):
            with self.subTest(user=user.login, what="report"), self.assertRaises(AccessError):
                self.api.with_user(user).report_account_tests([{"id": test.id, "ok": True}])
        self.assertEqual(test.state, "waiting")

    def test_an_administrator_sends_a_test_sms_through_this_account_and_sees_what_the_provider_said(self):
        other = self.env["sms.provider.account"].create({"name": "Default", "provider": "console",
                                                         "is_default": True})
        wizard = self.env["sms.provider.account.test.sms"].with_user(self.sysadmin).create(
            {"account_id": self.account.id, "number": "+1 415 555 0199", "body": "Hello from the test"})
        wizard.action_send()
        test = self.Test.search([("account_id", "=", self.account.id), ("kind", "=", "sms")])
        self.assertEqual((test.number, test.state, test.requested_by), ("+14155550199", "waiting", self.sysadmin))
        self.assertEqual(self.form().test_state, "waiting")
        batch = self.api.claim_batch("w1", 10, 60)["messages"]
        self.assertEqual([(m["key"], m["account_id"]) for m in batch], [(test.sms_uuid, self.account.id)])
        self.assertNotEqual(other.id, self.account.id)
        self.api.report_results("w1", [{"key": test.sms_uuid, "outcome": "sent", "provider_message_id": "SM123",
                                        "segments": 1}])
        self.assertEqual(self.form().test_state, "ok")
        self.assertEqual(self.form().test_result, "Twilio accepted the test SMS to +14155550199 (message id SM123).")

    def test_a_refused_test_sms_says_why(self):
        test = self.account._send_test_sms("+14155550199", "Hello")
        self.api.claim_batch("w1", 10, 60)
        self.api.report_results("w1", [{"key": test.sms_uuid, "outcome": "held", "error_code": "20003",
                                        "reason": TWILIO_CREDENTIALS,
                                        "account_version": self.account._health_version()}])
        self.assertEqual(self.form().test_state, "failed")
        self.assertEqual(self.form().test_result,
                         f"Twilio did not take the test SMS to +14155550199: {TWILIO_CREDENTIALS}")

    def test_a_test_sms_needs_an_administrator_a_number_and_a_text(self):
        for user in (self.portal_user, self.plain_user, self.sms_user, self.manager):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.account.with_user(user)._send_test_sms("+14155550199", "Hello")
            with self.subTest(user=user.login, what="dialog"), self.assertRaises(AccessError):
                self.account.with_user(user).action_open_test_sms()
        with self.assertRaisesRegex(UserError, "abcd is not a phone number"):
            self.account._send_test_sms("abcd", "Hello")
        with self.assertRaisesRegex(UserError, "needs a text"):
            self.account._send_test_sms("+14155550199", "  ")
        self.assertFalse(self.Test.search([("account_id", "=", self.account.id), ("kind", "=", "sms")]))
        self.env.company.country_id = self.us  # a number typed without its country code is read in the company's
        self.assertEqual(self.account._send_test_sms("(415) 555-0199", "Hi").number, "+14155550199")

    def test_a_french_manager_reads_the_verdict_in_french(self):
        # Odoo reads fr.po merged with the .pot: a term the .pot lacks is dropped. The .pot is regenerated when
        # this branch is merged (not by hand); until then this test cannot see the new French terms.
        pot = file_path("sms_marketing_addon/i18n/sms_marketing_addon.pot")
        with open(pot, encoding="utf-8") as handle:
            if 'msgid "The connection test failed: %(verdict)s."' not in handle.read():
                self.skipTest("sms_marketing_addon.pot predates the account test strings: regenerate it")
        load_french(self.env)
        self.answer(False, TWILIO_CREDENTIALS)
        account = self.form(self.manager).with_context(lang="fr_FR")
        self.assertEqual(account.test_result, f"Le test de connexion a échoué : {TWILIO_CREDENTIALS}.")
        self.account.write({"auth_token": "the-token-fixed"})
        self.answer(True, "Twilio accepts the credentials and the account can send", code="200")
        account = self.form(self.manager).with_context(lang="fr_FR")
        self.assertEqual(account.test_result, "La connexion fonctionne : Twilio accepte les identifiants et le "
                                              "compte peut envoyer.", "Odoo's words, not the service's English")
        self.assertEqual(account.fields_get(["test_state"])["test_state"]["string"], "Dernier test")
        self.assertEqual(dict(account.fields_get(["test_state"])["test_state"]["selection"])["waiting"],
                         "Test en cours…")

    def answer_as_the_service(self, ok, key, args, reason, code):
        """What the sync service reports now: its English sentence, and the template it was made from."""
        [test] = self.pending()
        self.service_api.report_account_tests([{
            "id": test["id"], "ok": ok, "account_wide": not ok, "error_code": code, "reason": reason,
            "reason_key": key, "reason_args": args}])

    def test_a_french_shop_reads_why_its_account_fails_in_french(self):
        load_french(self.env)
        self.env.company.partner_id.lang = "fr_FR"
        waiting = self.Sms.create({"number": "+14155550123", "body": "Your order has shipped",
                                   "sms_kind": "transactional", "sms_account_id": self.account.id})
        args = {"name": "Twilio", "ident": "Account SID", "secret": "Auth Token", "code": "20003", "detail": ""}
        self.answer_as_the_service(False, "credentials", args, TWILIO_CREDENTIALS, "20003")
        french = ("Twilio a refusé les identifiants : vérifiez les champs Account SID et Auth Token (20003)")
        account = self.form(self.manager)
        self.assertEqual(account.health_failing_reason, french, "written once, in the shop's language")
        self.assertIn(f"est en échec ({french})", waiting.sms_defer_reason)
        self.assertEqual(account.with_context(lang="fr_FR").test_result, f"Le test de connexion a échoué : {french}.")
        self.assertEqual(account.with_context(lang="en_US").test_result,
                         f"The connection test failed: {TWILIO_CREDENTIALS}.", "the verdict: in each reader's")

        # a dispatcher's send refused for the whole account (report_results 'held'), another problem
        self.account.write({"auth_token": "another-token"})
        self.answer_as_the_service(True, "accepted", {"name": "Twilio"}, "Twilio accepts the credentials", "200")
        sms = self.Sms.create({"number": "+14155550124", "body": "Your order has shipped", "sms_kind": "transactional",
                               "sms_account_id": self.account.id})
        self.api.claim_batch("w1", 10, 60)
        self.api.report_results("w1", [{
            "key": sms.uuid, "outcome": "held", "error_code": "20005", "account_version": self.account._health_version(),
            "reason": "Twilio says the account is suspended or closed: see the account in Twilio's console (20005)",
            "reason_key": "suspended", "reason_args": dict(args, code="20005")}])
        self.assertEqual(self.form().health_failing_reason, "Twilio indique que le compte est suspendu ou fermé : "
                                                            "voyez le compte dans la console de Twilio (20005)")

    def test_an_english_shop_reads_the_services_words_and_an_unknown_template_falls_back_to_them(self):
        args = {"name": "Twilio", "ident": "Account SID", "secret": "Auth Token", "code": "20003", "detail": ""}
        self.answer_as_the_service(False, "credentials", args, TWILIO_CREDENTIALS, "20003")
        self.assertEqual(self.form().health_failing_reason, TWILIO_CREDENTIALS, "the same words as the service")
        self.account.write({"auth_token": "again"})
        self.answer_as_the_service(False, "a_newer_services_key", args, "Twilio said something new (29999)", "29999")
        self.assertEqual(self.form().health_failing_reason, "Twilio said something new (29999)")
        self.account.write({"auth_token": "and-again"})
        self.answer_as_the_service(False, ["not", "a", "key"], args, "Twilio said something new (29999)", "29999")
        self.assertEqual(self.form().health_failing_reason, "Twilio said something new (29999)")
        self.assertEqual(self.form().test_result, "The connection test failed: Twilio said something new (29999).")
        # what a report may leave on a test is bounded: the names a template uses, 500 characters each
        self.account.write({"auth_token": "once-more"})
        self.answer_as_the_service(False, "refused_detail", dict(args, detail="d" * 100_000, extra="x" * 100_000),
                                   "Twilio refused the account", "20003")
        test = self.Test.search([("account_id", "=", self.account.id)], limit=1)
        self.assertEqual(sorted(test.result_args), ["code", "detail", "ident", "name", "secret"])
        self.assertEqual(len(test.result_args["detail"]), 500)
