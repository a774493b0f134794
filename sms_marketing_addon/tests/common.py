from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user


def assert_trigger_and_flow_access(case, trigger, flow, exit_checks, login):
    """A flow trigger and a flow tried as each kind of user: portal and internal users without SMS groups read
    neither; the sync service and SMS users read both and change neither; SMS managers edit both (here: the
    trigger's exits set to `exit_checks`, the flow turned on) but delete no trigger. Returns the users by kind
    (logins start with `login`)."""
    users = {kind: new_test_user(case.env, login=f"{login}_{kind}", groups=groups) for kind, groups in {
        "portal": "base.group_portal", "internal": "base.group_user",
        "service": "base.group_user,sms_marketing_addon.group_sms_marketing_service",
        "sms_user": "base.group_user,sms_marketing_addon.group_sms_marketing_user",
        "manager": "base.group_user,sms_marketing_addon.group_sms_marketing_manager"}.items()}
    for kind in ("portal", "internal"):
        env = case.env(user=users[kind])
        with case.subTest(kind), case.assertRaises(AccessError):
            trigger.with_env(env).read(["name"])
        with case.subTest(kind), case.assertRaises(AccessError):
            flow.with_env(env).read(["name"])
    for kind in ("service", "sms_user"):
        env = case.env(user=users[kind])
        case.assertEqual(trigger.with_env(env).name, trigger.name)
        case.assertEqual(flow.with_env(env).name, flow.name)
        with case.subTest(kind), case.assertRaises(AccessError):
            trigger.with_env(env).exit_checks = "opted_out"
        with case.subTest(kind), case.assertRaises(AccessError):
            flow.with_env(env).active = True
    manager = case.env(user=users["manager"])
    trigger.with_env(manager).exit_checks = exit_checks
    flow.with_env(manager).active = True
    case.assertEqual((trigger.exit_checks, flow.active), (exit_checks, True))
    with case.assertRaises(AccessError):
        trigger.with_env(manager).unlink()
    return users


def load_french(env):
    """French active with this module's current French terms (model and model_terms; code terms are read from
    the .po at use), as in a French shop."""
    env["res.lang"]._activate_lang("fr_FR")
    env["ir.module.module"].search([("name", "=", "sms_marketing_addon")])._update_translations(
        ["fr_FR"], overwrite=True)


class SmsMarketingCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fr = cls.env.ref("base.fr")
        cls.us = cls.env.ref("base.us")
        cls.Partner = cls.env["res.partner"]
        cls.Log = cls.env["sms.consent.log"]
        cls.api = cls.env["sms.marketing.api"]
        cls.sms_user = new_test_user(
            cls.env, login="sms_user", groups="base.group_user,sms_marketing_addon.group_sms_marketing_user"
        )
        cls.plain_user = new_test_user(cls.env, login="plain_user", groups="base.group_user")
        cls.portal_user = new_test_user(cls.env, login="portal_user", groups="base.group_portal")

    def make_partner(self, mobile="06 12 34 56 78", country=None, **values):
        return self.Partner.create({"name": "Camille Martin", "mobile": mobile,
                                    "country_id": (country or self.fr).id, **values})

    def logs(self, partner=None, number=None):
        domain = [("partner_id", "=", partner.id)] if partner else [("number", "=", number)]
        return self.Log.search(domain, order="id")
