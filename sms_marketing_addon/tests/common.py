from odoo.tests import TransactionCase, new_test_user


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
