from datetime import datetime
from unittest.mock import patch

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import load_french
from .test_outbox import OutboxCase


class HeldCase(OutboxCase):
    def setUp(self):
        super().setUp()
        self.now = datetime(2026, 11, 24, 9, 0)
        patcher = patch.object(type(self.env.cr), "now", lambda cr: self.now)
        patcher.start()
        self.addCleanup(patcher.stop)
        Account = self.env["sms.provider.account"]
        self.failing = Account.create({"name": "Refused", "provider": "twilio", "account_sid": "AC1",
                                       "auth_token": "typo", "sender": "+14155550100", "country_prefixes": "1"})
        self.working = Account.create({"name": "Working", "provider": "console", "country_prefixes": "33"})

    def queue(self, account, count, number="+14155550{:03d}"):
        return self.Sms.create([{"number": number.format(i), "body": "Your order has shipped",
                                 "sms_kind": "transactional", "sms_account_id": account.id if account else False}
                                for i in range(count)])

    def health(self, account):
        """The account's health as a manager opening its form now (not a value cached earlier in the test)."""
        self.env.invalidate_all()
        return account.health_state

    def refuse(self, account, version=None):
        """What the sync service reports when the provider answers 'invalid credentials' for one SMS."""
        sms = self.queue(account, 1, number="+1415555{:04d}")
        self.api.claim_batch("w1", 1000, 60)
        self.api.report_results("w1", [{
            "key": sms.uuid, "outcome": "held", "error_code": "20003", "reason": "Authenticate",
            "account_version": version or account._health_version()}])
        return sms


@tagged("post_install", "-at_install")
class TestHeldAccounts(HeldCase):
    """An account the provider refuses as a whole (credentials, suspended, credit, sender): its SMS are held,
    never failed, and never in the way of the other accounts' SMS."""

    def test_held_sms_stay_queued_and_do_not_starve_the_other_accounts(self):
        held = self.refuse(self.failing)
        self.assertEqual((held.state, held.failure_type), ("outgoing", False))
        self.assertIn("is failing (20003 Authenticate)", held.sms_defer_reason)
        self.assertEqual(self.health(self.failing), "failing")
        self.assertIn("20003", self.failing.health_failing_reason)
        self.assertEqual(self.failing.health_errors_last_hour, 1)
        waiting = self.queue(self.failing, 5)  # older than the others: first in line if not skipped
        others = self.queue(self.working, 2, number="+3361234{:04d}")
        batch = self.api.claim_batch("w1", 2, 60)
        self.assertEqual(sorted(m["key"] for m in batch["messages"]), sorted(others.mapped("uuid")))
        self.assertEqual(set((held | waiting).mapped("state")), {"outgoing"})
        self.assertFalse((held | waiting).filtered("sms_claim_worker"))

    def test_unrouted_sms_of_a_failing_route_are_held_with_the_reason(self):
        self.refuse(self.failing)
        unrouted = self.queue(False, 3)  # +1…: routed to the failing account by its prefix
        batch = self.api.claim_batch("w1", 100, 60)
        self.assertFalse(set(unrouted.mapped("uuid")) & {m["key"] for m in batch["messages"]})
        self.assertEqual(unrouted.sms_account_id, self.failing)
        self.assertTrue(all("is failing" in reason for reason in unrouted.mapped("sms_defer_reason")))

    def test_changing_the_credentials_ends_the_failing_state(self):
        held = self.refuse(self.failing)
        self.failing.auth_token = "fixed"
        self.assertEqual(self.health(self.failing), "unknown")
        batch = self.api.claim_batch("w1", 100, 60)
        self.assertIn(held.uuid, [m["key"] for m in batch["messages"]])

    def test_a_successful_test_call_ends_the_failing_state(self):
        held = self.refuse(self.failing)
        self.api.report_account_health([{"account_id": self.failing.id, "ok": False, "account_wide": True,
                                         "error_code": "20005", "reason": "the Twilio account is suspended"}])
        self.assertEqual(self.health(self.failing), "failing")
        self.assertEqual(self.failing.health_errors_last_hour, 2)
        self.assertIn("suspended", self.failing.health_last_error)
        self.assertFalse(self.api.claim_batch("w1", 100, 60)["messages"])
        self.api.report_account_health([{"account_id": self.failing.id, "ok": True,
                                         "account_version": self.failing._health_version()}])
        self.assertEqual(self.health(self.failing), "ok")
        self.assertTrue(self.failing.health_last_success)
        self.assertFalse(held.sms_defer_reason)
        self.assertIn(held.uuid, [m["key"] for m in self.api.claim_batch("w1", 100, 60)["messages"]])

    def test_a_refusal_seen_with_settings_since_changed_does_not_mark_the_account(self):
        old_version = self.failing._health_version()
        self.failing.auth_token = "fixed already"
        sms = self.refuse(self.failing, version=old_version)
        self.assertNotEqual(self.health(self.failing), "failing")
        self.assertEqual(sms.state, "outgoing")
        self.assertTrue(sms.sms_defer_until, "tried again shortly, with the new settings")

    def test_a_success_report_clears_the_failing_state(self):
        self.refuse(self.failing)
        sms = self.queue(self.failing, 1, number="+1415556{:04d}")
        self.api.report_results("w1", [{"key": sms.uuid, "outcome": "sent", "provider_message_id": "SM1"}])
        self.assertEqual(self.health(self.failing), "ok")

    def test_health_is_written_by_the_service_only(self):
        self.refuse(self.failing)
        manager = new_test_user(self.env, login="sms_manager_health",
                                groups="base.group_user,sms_marketing_addon.group_sms_marketing_manager")
        health = self.env["sms.provider.account.health"].search([("account_id", "=", self.failing.id)])
        self.assertEqual(health.with_user(manager).failing_reason, "20003 Authenticate")  # readable
        with self.assertRaises(AccessError):
            health.with_user(manager).write({"failing_since": False})
        with self.assertRaises(AccessError):
            self.api.with_user(manager).report_account_health([{"account_id": self.failing.id, "ok": True}])
        self.assertEqual(self.health(self.failing), "failing")


@tagged("post_install", "-at_install")
class TestHealthInFrench(OutboxCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        load_french(cls.env)

    def test_labels_and_reasons_are_french(self):
        Account = self.env["sms.provider.account"].with_context(lang="fr_FR")
        states = dict(Account.fields_get(["health_state"])["health_state"]["selection"])
        self.assertEqual(states["failing"], "En échec : SMS retenus")
        sources = dict(self.env["sms.consent.log"].with_context(lang="fr_FR").fields_get(["source"])["source"][
            "selection"])
        self.assertEqual(sources["provider"], "Fournisseur SMS")
        account = Account.create({"name": "Refusé", "provider": "console"})
        self.assertTrue(account._held_reason().startswith("Held: gateway account Refusé is failing"),
                        "written once for everyone, in the shop's language (here English)")
        self.env.company.partner_id.lang = "fr_FR"
        for reader in ("fr_FR", "en_US"):
            self.assertTrue(account.with_context(lang=reader)._held_reason().startswith(
                "Retenu : le compte passerelle Refusé est en échec"), reader)


@tagged("post_install", "-at_install")
class TestFailover(HeldCase):
    """Issue 13, routing: an SMS pinned to an archived account, or to one failing for longer than the failover
    delay, leaves through the next account serving its destination at the next claim."""

    def setUp(self):
        super().setUp()
        self.default = self.env.ref("sms_marketing_addon.provider_account_console")
        self.assertTrue(self.default.active and self.default.is_default)

    def claimed(self, sms):
        batch = self.api.claim_batch("w1", 100, 60)
        return {m["key"]: m["account_id"] for m in batch["messages"]}.get(sms.uuid)

    def test_an_archived_accounts_sms_leave_through_the_default_route(self):
        pinned = self.queue(self.failing, 1)
        self.failing.active = False
        self.assertEqual(self.claimed(pinned), self.default.id)
        self.assertEqual(pinned.sms_account_id, self.default)
        self.assertIn("Moved from gateway account Refused (archived)", pinned.sms_last_error)

    def test_a_deleted_accounts_sms_are_routed_again(self):
        pinned = self.queue(self.failing, 1)
        self.failing.unlink()
        self.assertEqual(self.claimed(pinned), self.default.id)

    def test_failing_for_longer_than_the_delay_moves_to_the_next_serving_account(self):
        held = self.refuse(self.failing)
        self.assertIsNone(self.claimed(held), "held while the failure is recent")
        health = self.env["sms.provider.account.health"].search([("account_id", "=", self.failing.id)])
        health.failing_since = datetime(2026, 11, 24, 8, 40)  # 20 minutes before now: past the 15-minute delay
        self.assertEqual(self.claimed(held), self.default.id)
        self.assertIn("Moved from gateway account Refused (failing since", held.sms_last_error)
        fresh = self.queue(False, 1, number="+1415557{:04d}")  # a new SMS for +1 skips the failing account too
        self.assertEqual(self.claimed(fresh), self.default.id)

    def test_the_failover_delay_is_a_system_parameter(self):
        self.env["ir.config_parameter"].sudo().set_param("sms_marketing_addon.failover_after_minutes", "0")
        held = self.refuse(self.failing)
        self.assertEqual(self.claimed(held), self.default.id)

    def test_no_failover_to_an_account_for_other_countries(self):
        self.default.is_default = False
        held = self.refuse(self.failing)
        self.env["ir.config_parameter"].sudo().set_param("sms_marketing_addon.failover_after_minutes", "0")
        self.assertIsNone(self.claimed(held), "the working account serves +33 only: the SMS stays held")
        self.assertEqual(held.sms_account_id, self.failing)
