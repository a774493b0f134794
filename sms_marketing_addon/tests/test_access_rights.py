"""Who may do what, tried as each kind of user: portal, internal without SMS groups, SMS user, SMS manager,
the sync service's user and a system administrator."""

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged

from .common import SmsMarketingCase

# Every RPC method of the sync service, with arguments that would succeed for the service.
SERVICE_CALLS = [
    ("apply_inbound_keyword", ("+33612345678", "opt_in", "SM-forged-1"), {"body": "START"}),
    ("get_consent", ("+33612345678",), {}),
    ("get_keywords", (), {}),
    ("get_provider_accounts", (), {}),
    ("claim_batch", ("worker-x",), {}),
    ("release_claims", ("worker-x", []), {}),
    ("report_results", ("worker-x", []), {}),
    ("apply_delivery_statuses", ([],), {}),
    ("check_opt_outs", (["+33612345678"],), {}),
    ("get_cart_flows", (), {}),
    ("poll_carts", (), {}),
    ("enqueue_flow_steps", ([],), {}),
    ("report_account_health", ([],), {}),
    ("queue_test_sms", ("+33612345678", "Test from the access test"), {}),
    ("test_sms_state", (0,), {}),
    ("get_account_tests", (), {}),
    ("report_account_tests", ([],), {}),
]


@tagged("post_install", "-at_install")
class TestAccessRights(SmsMarketingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env, login="sms_manager", groups="base.group_user,sms_marketing_addon.group_sms_marketing_manager")
        cls.service = new_test_user(
            cls.env, login="sms_service", groups="base.group_user,sms_marketing_addon.group_sms_marketing_service")
        cls.sysadmin = new_test_user(cls.env, login="sms_sysadmin", groups="base.group_user,base.group_system")
        cls.contact_creator = new_test_user(
            cls.env, login="contact_creator", groups="base.group_user,base.group_partner_manager")
        cls.sms_agent = new_test_user(cls.env, login="sms_agent", groups=(
            "base.group_user,base.group_partner_manager,sms_marketing_addon.group_sms_marketing_user"))
        cls.account = cls.env["sms.provider.account"].create({
            "name": "Twilio", "provider": "twilio", "account_sid": "AC1", "auth_token": "tok-secret-1",
            "country_prefixes": "33",
        })

    # ------------------------------------------------------------------ gateway accounts
    def test_a_manager_finds_every_screen_of_the_suite_in_the_sms_marketing_app(self):
        """With Odoo's Email Marketing user right, as the group's description asks (the app's menus need it; the
        role does not imply it: it sends campaigns)."""
        manager = new_test_user(self.env, login="sms_manager_menus", groups=(
            "base.group_user,sms_marketing_addon.group_sms_marketing_manager,mass_mailing.group_mass_mailing_user"))
        visible = self.env["ir.ui.menu"].with_user(manager)._visible_menu_ids()
        ours = self.env["ir.model.data"].search([("module", "=", "sms_marketing_addon"), ("model", "=", "ir.ui.menu")])
        root = self.env.ref("mass_mailing_sms.mass_mailing_sms_menu_root")
        self.assertIn(root.id, visible)
        hidden = self.env["ir.ui.menu"].browse(set(ours.mapped("res_id")) - visible)
        system = self.env.ref("base.group_system")
        self.assertEqual(hidden.groups_id, system, "only the settings are for system administrators")
        self.assertEqual(hidden.mapped("complete_name"), ["SMS Marketing/Configuration/Settings"])

    def visible_in_the_app(self, user):
        """The menus of the SMS Marketing app `user` sees: visible, and every folder above them too (as the web
        client shows them; a folder whose action the user may not read is hidden with all it holds)."""
        root = self.env.ref("mass_mailing_sms.mass_mailing_sms_menu_root")
        ids = self.env["ir.ui.menu"].with_user(user)._visible_menu_ids()
        return self.env["ir.ui.menu"].browse(ids).filtered(lambda menu: menu.parent_path.startswith(
            root.parent_path) and all(int(part) in ids for part in menu.parent_path.strip("/").split("/")))

    def test_an_sms_manager_without_email_marketing_finds_the_suite_but_not_campaign_sending(self):
        manager = new_test_user(self.env, login="sms_manager_no_mass", groups=(
            "base.group_user,sms_marketing_addon.group_sms_marketing_manager"))
        menus = self.visible_in_the_app(manager)
        names = set(menus.mapped("complete_name"))
        for expected in ("SMS Marketing", "SMS Marketing/Outbox", "SMS Marketing/Conversations",
                         "SMS Marketing/Configuration/Gateway Accounts", "SMS Marketing/Reporting/Sent SMS",
                         "SMS Marketing/Configuration/SMS Templates"):
            self.assertIn(expected, names)
        mass = self.env.ref("mass_mailing.group_mass_mailing_user")
        self.assertFalse([menu.complete_name for menu in menus if menu.action and mass in menu.groups_id],
                         "none of Odoo's campaign, mailing list or trace screens")
        self.assertNotIn("SMS Marketing/Configuration/Settings", names)
        with self.assertRaises(AccessError):
            self.env["mailing.mailing"].with_user(manager).check_access("read")

    def test_uninstalling_gives_odoos_reporting_menu_its_action_back(self):
        from odoo.addons.sms_marketing_addon import uninstall_hook

        reporting = self.env.ref("mass_mailing_sms.mass_mailing_sms_menu_reporting")
        self.assertFalse(reporting.action, "a folder while the suite is installed")
        uninstall_hook(self.env)
        self.assertEqual(reporting.action, self.env.ref("mass_mailing_sms.mailing_trace_report_action_sms"))

    def test_an_sms_user_finds_conversations_and_consent_and_others_find_no_app(self):
        names = set(self.visible_in_the_app(self.sms_agent).mapped("complete_name"))
        self.assertTrue({"SMS Marketing", "SMS Marketing/Conversations", "SMS Marketing/Consent"} <= names, names)
        self.assertNotIn("SMS Marketing/Outbox", names, "managers only")
        self.assertFalse(self.visible_in_the_app(self.plain_user), "an internal user without SMS rights")
        with self.assertRaises(AccessError):  # no back-end at all
            self.visible_in_the_app(self.portal_user)

    # Models of the addon with a company that need no company rule, and why.
    COMPANY_RULE_EXEMPT = {
        # Names, sender numbers and prices of the gateway accounts, not their secrets (administrators only):
        # the routing picks an account per company among all of them.
        "sms.provider.account",
    }

    def test_every_model_of_the_addon_with_a_company_keeps_to_the_users_companies(self):
        """A user of one company reads nothing of another's: every model of the addon with a stored company
        has a record rule on it (consent proofs, replies, survey answers, flows...)."""
        ours = self.env["ir.model.data"].search([("module", "=", "sms_marketing_addon"), ("model", "=", "ir.model")])
        models = self.env["ir.model"].browse(ours.mapped("res_id"))
        missing = []
        for model in models:
            field = self.env[model.model]._fields.get("company_id")
            Model = self.env[model.model]
            if (Model._original_module != "sms_marketing_addon" or model.model in self.COMPANY_RULE_EXEMPT
                    or Model._abstract or field is None
                    or not field.store or field.comodel_name != "res.company"):
                continue
            rules = self.env["ir.rule"].sudo().search([("model_id", "=", model.id), ("perm_read", "=", True)])
            if not any("company_ids" in (rule.domain_force or "") for rule in rules):
                missing.append(model.model)
        self.assertIn("sms.survey.answer", models.mapped("model"))
        self.assertEqual(missing, [], "models with a company and no company rule")

    def test_a_manager_cannot_redirect_an_account_or_its_credentials(self):
        account = self.account.with_user(self.manager)
        for values in ({"base_url": "https://attacker.example"}, {"provider": "vonage"}, {"account_sid": "AC2"},
                       {"auth_token": "mine"}, {"sender": "+33700000000"}, {"messaging_service_sid": "MG1"},
                       {"country_prefixes": "1"}, {"is_default": True}, {"test_mode": True}, {"active": False},
                       {"webhook_secret": "x"}, {"sequence": 1}):
            with self.subTest(values=values), self.assertRaises(AccessError):
                account.write(values)
        with self.assertRaises(AccessError):
            self.env["sms.provider.account"].with_user(self.manager).create(
                {"name": "Mine", "provider": "twilio", "base_url": "https://attacker.example"})
        with self.assertRaises(AccessError):
            account.unlink()
        self.assertEqual(self.account.base_url, False)
        self.assertEqual(self.account.provider, "twilio")
        account.write({"messages_per_second": 3.0, "name": "Twilio FR"})  # what is theirs
        self.assertEqual(self.account.messages_per_second, 3.0)
        self.assertFalse(account.user_can_redirect)

    def test_a_manager_cannot_smuggle_a_redirect_through_the_context(self):
        with self.assertRaises(AccessError):
            self.account.with_user(self.manager).with_context(sms_consent_internal=True).write(
                {"base_url": "https://attacker.example"})

    def test_other_users_cannot_touch_accounts(self):
        for user in (self.sms_user, self.plain_user, self.portal_user):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.account.with_user(user).write({"messages_per_second": 1.0})

    def test_a_system_administrator_configures_accounts_over_https_or_loopback(self):
        Account = self.env["sms.provider.account"].with_user(self.sysadmin)
        account = Account.create({"name": "Plivo", "provider": "plivo", "base_url": "https://api.plivo.com"})
        self.assertTrue(account.user_can_redirect)
        for url in ("http://127.0.0.1:9099", "http://localhost:9099", "http://[::1]:9099"):
            account.write({"base_url": url})
        for url in ("http://api.plivo.com", "http://10.0.0.5:8080", "ftp://host", "https://user:pw@host",
                    "https://host/?x=1", "api.plivo.com", "https://"):
            with self.subTest(url=url), self.assertRaises(ValidationError):
                account.write({"base_url": url})
        self.assertEqual(account.base_url, "http://[::1]:9099")

    # ------------------------------------------------------------------ the service's RPC methods
    def test_every_service_method_is_in_the_list(self):
        api_methods = {name for name in dir(type(self.api)) if not name.startswith("_")
                       and callable(getattr(type(self.api), name, None))
                       and getattr(type(self.api), name).__module__.startswith("odoo.addons.sms_marketing_addon")}
        self.assertEqual(api_methods - {"enqueue_flow_step"}, {method for method, _a, _k in SERVICE_CALLS})

    def test_the_service_methods_refuse_people(self):
        for user in (self.portal_user, self.plain_user, self.sms_user, self.manager):
            api = self.api.with_user(user)
            for method, args, kwargs in SERVICE_CALLS:
                with self.subTest(user=user.login, method=method), self.assertRaises(AccessError):
                    getattr(api, method)(*args, **kwargs)
            with self.subTest(user=user.login, method="enqueue_flow_step"), self.assertRaises(AccessError):
                api.enqueue_flow_step(0, 0)
        self.assertFalse(self.Log.search([("inbound_message_id", "=", "SM-forged-1")]), "no fabricated proof")

    def test_the_service_and_administrators_may_call_them(self):
        for user in (self.service, self.sysadmin):
            api = self.api.with_user(user)
            for method, args, kwargs in SERVICE_CALLS:
                if method == "apply_inbound_keyword":
                    args = (args[0], "help", f"SM-help-{user.login}")
                with self.subTest(user=user.login, method=method):
                    getattr(api, method)(*args, **kwargs)

    # ------------------------------------------------------------------ consent on contacts
    def test_an_internal_user_without_sms_groups_cannot_set_consent(self):
        partner = self.make_partner()
        as_user = partner.with_user(self.contact_creator)
        with self.assertRaises(AccessError):
            as_user.write({"sms_consent_state": "opted_in", "sms_consent_note": "trust me"})
        with self.assertRaises(AccessError):
            self.Partner.with_user(self.contact_creator).create({
                "name": "Already in", "mobile": "06 12 34 56 70", "country_id": self.fr.id,
                "sms_consent_state": "opted_in", "sms_consent_note": "trust me"})
        for field, value in (("sms_consent_date", "2026-01-01 00:00:00"), ("sms_consent_source", "checkout"),
                             ("sms_optout_date", "2026-01-01 00:00:00"), ("sms_optout_source", "keyword"),
                             ("sms_consent_pending_date", "2026-01-01 00:00:00"), ("sms_number_rejected", False)):
            with self.subTest(field=field), self.assertRaises(AccessError):
                as_user.write({field: value})
        partner.invalidate_recordset()
        self.assertEqual(partner.sms_consent_state, "none")
        self.assertFalse(self.logs(partner))
        # What the contact form sends for a contact of theirs works: the other fields, the unchanged state.
        as_user.write({"name": "Camille M.", "sms_consent_state": "none"})
        created = self.Partner.with_user(self.contact_creator).create(
            {"name": "New", "mobile": "06 12 34 56 71", "country_id": self.fr.id, "sms_consent_state": "none"})
        self.assertEqual(created.sms_consent_state, "none")

    def test_the_internal_context_key_does_not_bypass_the_reason(self):
        partner = self.make_partner()
        with self.assertRaises(UserError):
            partner.with_user(self.sms_agent).with_context(sms_consent_internal=True).write(
                {"sms_consent_state": "opted_in"})
        with self.assertRaises(AccessError):
            partner.with_user(self.sms_agent).with_context(sms_consent_internal=True).write(
                {"sms_consent_source": "checkout"})
        partner.invalidate_recordset()
        self.assertEqual(partner.sms_consent_state, "none")

    def test_an_sms_user_changes_consent_with_a_reason_and_is_logged(self):
        partner = self.make_partner()
        partner.with_user(self.sms_agent).write({"sms_consent_state": "opted_in", "sms_consent_note": "phone call"})
        self.assertEqual(partner.sms_consent_state, "opted_in")
        self.assertEqual((self.logs(partner)[-1].user_id, self.logs(partner)[-1].source), (self.sms_agent, "agent"))
        wizard = self.env["sms.consent.wizard"].with_user(self.sms_user).with_context(
            active_model="res.partner", active_ids=partner.ids).create({"action": "opted_out", "reason": "asked"})
        wizard.action_apply()
        self.assertEqual(partner.sms_consent_state, "opted_out")
        self.assertEqual(self.logs(partner)[-1].user_id, self.sms_user)

    # ------------------------------------------------------------------ HELP
    def test_help_reply_always_says_how_to_reach_the_business(self):
        company = self.env.company
        company.write({"phone": False, "email": False, "website": False})
        reply = self.api.apply_inbound_keyword("+33612345699", "help", "SM-help-empty", body="HELP")["reply"]
        self.assertIn(company.get_base_url(), reply)
        self.assertFalse(reply.rstrip().endswith(":"), reply)
        company.phone = "+33 1 23 45 67 89"
        reply = self.api.apply_inbound_keyword("+33612345699", "help", "SM-help-phone", body="HELP")["reply"]
        self.assertIn("+33 1 23 45 67 89", reply)
