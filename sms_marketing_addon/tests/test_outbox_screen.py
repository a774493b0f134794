"""SMS Marketing ▸ Outbox, as the people who use it: what waits and why, retry, cancel, move."""

from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import SmsMarketingCase


@tagged("post_install", "-at_install")
class TestOutboxScreen(SmsMarketingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(cls.env, login="outbox_manager", groups=(
            "base.group_user,mass_mailing.group_mass_mailing_user,sms_marketing_addon.group_sms_marketing_manager"))
        cls.sysadmin = new_test_user(cls.env, login="outbox_admin", groups="base.group_user,base.group_system")
        Account = cls.env["sms.provider.account"]
        cls.main = Account.create({"name": "Main", "provider": "console", "is_default": True})
        cls.backup = Account.create({"name": "Backup", "provider": "console"})
        Sms = cls.env["sms.sms"]
        later = fields.Datetime.now() + timedelta(hours=9)
        cls.held = Sms.create({"number": "+33612345678", "body": "Held one", "state": "outgoing",
                               "sms_defer_until": later, "sms_defer_reason": "outside sending hours (Europe/Paris)"})
        cls.failing = Sms.create({"number": "+33612345679", "body": "Failing one", "state": "outgoing",
                                  "sms_account_id": cls.main.id, "sms_attempts": 3, "sms_last_error": "dns error",
                                  "sms_defer_until": later, "sms_defer_reason": "provider: dns error"})
        cls.queued = Sms.create({"number": "+33612345670", "body": "Queued one", "state": "outgoing"})

    def outbox(self, user):
        action = self.env["ir.actions.act_window"]._for_xml_id("sms_marketing_addon.sms_sms_action_outbox")
        return self.env["sms.sms"].with_user(user).search([("state", "=", "outgoing"),
                                                           ("id", "in", (self.held | self.failing | self.queued).ids)]), action

    def test_a_manager_sees_what_waits_and_why(self):
        records, action = self.outbox(self.manager)
        self.assertEqual(action["context"], "{'search_default_waiting': 1}")
        self.assertEqual(len(records), 3)
        by_body = {sms.body: sms for sms in records}
        self.assertEqual(by_body["Held one"].sms_outbox_status, "held")
        self.assertEqual(by_body["Held one"].sms_defer_reason, "outside sending hours (Europe/Paris)")
        self.assertEqual(by_body["Failing one"].sms_outbox_status, "retrying")
        self.assertEqual(by_body["Failing one"].sms_last_error, "dns error")
        self.assertEqual(by_body["Queued one"].sms_outbox_status, "queued")
        self.assertEqual(by_body["Queued one"].sms_origin, "Transactional")

    def test_retry_now_puts_held_sms_back_and_says_so(self):
        result = (self.held | self.failing).with_user(self.manager).action_outbox_retry_now()
        self.assertIn("2 SMS back in the queue", result["params"]["message"])
        self.assertFalse(self.held.sms_defer_until)
        self.assertFalse(self.failing.sms_defer_reason)
        claimed = self.env["sms.marketing.api"].claim_batch("w-retry", limit=50)
        self.assertIn(self.failing.uuid, [m["key"] for m in claimed["messages"]])

    def test_cancel_cancels_what_has_not_left(self):
        self.queued.write({"sms_claim_worker": "w1", "sms_claim_expires": fields.Datetime.now() + timedelta(minutes=2)})
        result = (self.held | self.queued).with_user(self.manager).action_outbox_cancel()
        self.assertEqual(self.held.state, "canceled")
        self.assertEqual(self.queued.state, "outgoing", "being sent: it cannot be called back")
        self.assertIn("1 SMS canceled", result["params"]["message"])
        self.assertIn("could not be canceled", result["params"]["message"])

    def test_moving_to_another_account_is_for_system_administrators(self):
        with self.assertRaises(AccessError):
            self.failing.with_user(self.manager).action_outbox_move(self.backup)
        with self.assertRaises(AccessError):
            self.env["sms.outbox.move"].with_user(self.manager).create({"account_id": self.backup.id})
        wizard = self.env["sms.outbox.move"].with_user(self.sysadmin).with_context(
            active_model="sms.sms", active_ids=self.failing.ids).create({"account_id": self.backup.id})
        result = wizard.action_move()
        self.assertIn("will go through Backup", result["params"]["message"])
        self.assertEqual(self.failing.sms_account_id, self.backup)
        self.assertFalse(self.failing.sms_defer_until)

    def test_others_neither_see_nor_act(self):
        for user in (self.sms_user, self.plain_user, self.portal_user):
            with self.subTest(user=user.login):
                with self.assertRaises(AccessError):
                    self.env["sms.sms"].with_user(user).search([])
                with self.assertRaises(AccessError):
                    self.held.with_user(user).action_outbox_retry_now()
        self.assertEqual(self.held.sms_defer_reason, "outside sending hours (Europe/Paris)")
