from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import SmsMarketingCase


@tagged("post_install", "-at_install")
class TestOdooPaths(SmsMarketingCase):
    """Odoo's own SMS paths keep working with the addon installed, at Odoo's cost (issue 13, item 7; Odoo's
    suites themselves: `make odoo-suites`, docs/odoo-suites.md)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Odoo's marketing user (Email Marketing / User), as `user_marketing` in Odoo's own suites; not an admin.
        cls.marketing_user = new_test_user(
            cls.env, login="marketing_user", groups="base.group_user,mass_mailing.group_mass_mailing_user")
        cls.sms_marketing_user = new_test_user(
            cls.env, login="sms_marketing_user",
            groups="base.group_user,mass_mailing.group_mass_mailing_user,sms_marketing_addon.group_sms_marketing_user")
        cls.contacts = cls.Partner.create([
            {"name": "Alice", "mobile": "06 11 11 11 11", "country_id": cls.fr.id},
            {"name": "Bob", "mobile": "06 22 22 22 22", "country_id": cls.fr.id},
        ])

    def test_marketing_user_sends_a_mailing_directly(self):
        """"Send Directly" (Odoo's force-send path: the composer's SMS are read back and sent) as a marketing user
        who is not an administrator: no AccessError, the SMS queue for the gateway, one trace each."""
        for user in (self.marketing_user, self.sms_marketing_user):
            with self.subTest(user=user.login):
                self.assertFalse(user.has_group("base.group_system"))
                env = self.env(user=user)
                mailing = env["mailing.mailing"].create({
                    "subject": "Direct", "mailing_type": "sms", "body_plaintext": "Soldes -20% {{ object.name }}",
                    "mailing_model_id": env["ir.model"]._get_id("res.partner"), "sms_force_send": True,
                })
                with self.assertRaises(AccessError):  # the SMS themselves stay out of this user's reach
                    env["sms.sms"].search([]).mapped("body")
                mailing.action_send_sms(res_ids=self.contacts.ids)
                sms = self.env["sms.sms"].search([("mailing_id", "=", mailing.id)], order="number")
                self.assertEqual(sms.mapped("number"), ["+33611111111", "+33622222222"])
                self.assertEqual(set(sms.mapped("state")), {"outgoing"})  # the gateway sends them, not IAP
                self.assertEqual(set(sms.mapped("sms_kind")), {"marketing"})
                self.assertEqual(sms[0].body, "Soldes -20% Alice")
                self.assertEqual(mailing.sudo().mailing_trace_ids.mapped("trace_status"), ["outgoing", "outgoing"])

    def test_marketing_user_force_sends_through_the_composer(self):
        """The composer itself, in mass mode with force send, returns the SMS readable by its caller."""
        env = self.env(user=self.marketing_user)
        mailing = env["mailing.mailing"].create({
            "subject": "Composer", "mailing_type": "sms", "body_plaintext": "Bonjour {{ object.name }}",
            "mailing_model_id": env["ir.model"]._get_id("res.partner"), "sms_force_send": True,
        })
        composer = env["sms.composer"].with_context(active_id=False).create(
            mailing._send_sms_get_composer_values(self.contacts.ids))
        self.assertTrue(composer.mass_force_send)
        sms = composer._action_send_sms()
        self.assertEqual(sorted(sms.mapped("body")), ["Bonjour Alice", "Bonjour Bob"])
        self.assertEqual(set(sms.mapped("state")), {"outgoing"})

    def test_sms_create_costs_what_it_costs_in_odoo(self):
        """Creating SMS is one INSERT, as in Odoo 18 without this addon (measured there: 1 query for each of
        these creates); the kind is computed before the INSERT, not by an UPDATE after it."""
        Sms = self.env["sms.sms"]
        mailing = self.env["mailing.mailing"].create({
            "subject": "Kinds", "mailing_type": "sms", "body_plaintext": "x",
            "mailing_model_id": self.env["ir.model"]._get_id("res.partner"),
        })
        cases = [
            ("plain", [{"number": "+33611111111", "body": "Your code: 1234"}], "transactional"),
            ("contact", [{"number": "+33611111111", "body": "Hi", "partner_id": self.contacts[0].id}], "transactional"),
            ("mailing", [{"number": "+33611111111", "body": "Sale", "mailing_id": mailing.id}] * 2, "marketing"),
            ("kind given", [{"number": "+33611111111", "body": "YES?", "sms_kind": "consent"}], "consent"),
        ]
        Sms.create(cases[0][1])
        self.env.flush_all()  # warm-up: the first create of a run loads what Odoo caches
        for label, vals_list, kind in cases:
            with self.subTest(label):
                with self.assertQueryCount(1):
                    sms = Sms.create(vals_list)
                self.env.invalidate_all()
                self.assertEqual(set(sms.mapped("sms_kind")), {kind})

    def test_send_asks_for_read_access_as_odoo(self):
        """`sms.sms.send()` sends nothing (the gateway does), but as in Odoo only who may read the SMS may call it."""
        sms = self.env["sms.sms"].create({"number": "+33611111111", "body": "Code 1234"})
        with self.assertRaises(AccessError):
            sms.with_user(self.plain_user).send()
        with self.assertRaises(AccessError):
            sms.with_user(self.marketing_user).send()
        self.env["sms.sms"].with_user(self.plain_user).send()  # nothing to send, nothing to refuse
        sms.send()
        self.assertEqual(sms.state, "outgoing")  # still queued for the gateway
