from odoo.tests import TransactionCase, tagged

from .common import load_french


@tagged("post_install", "-at_install")
class TestI18nFr(TransactionCase):
    """The French translation (i18n/fr.po) is complete enough to run a French shop."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        load_french(cls.env)
        cls.company = cls.env.company.with_context(lang="fr_FR")

    def test_builtin_sms_wordings(self):
        company = self.company
        company.sudo().with_context(lang="fr_FR").write({
            "sms_brand_name": "Boutique", "sms_consent_text": False, "sms_stop_reply_text": False,
            "sms_confirmation_text": False, "sms_help_reply_text": False,
        })
        consent = company._sms_text("consent", "fr_FR")
        self.assertIn("J'accepte de recevoir des SMS marketing de Boutique", consent)
        self.assertIn("Répondez STOP pour vous désinscrire", consent)
        stop = company._sms_text("stop_reply", "fr_FR")
        self.assertTrue(stop.startswith("Boutique : vous avez été désinscrit(e)"), stop)
        self.assertIn("Répondez START pour vous réinscrire.", stop)
        confirmation = company._sms_text("confirmation", "fr_FR", link="https://shop.example/c/abc")
        self.assertIn("répondez OUI", confirmation)
        self.assertTrue(confirmation.endswith("ou confirmez : https://shop.example/c/abc"), confirmation)
        self.assertIn("Aide : ", company._sms_text("help_reply", "fr_FR"))
        # English stays English.
        self.assertIn("I agree to receive", company._sms_text("consent", "en_US"))

    def test_field_label_and_selection(self):
        Partner = self.env["res.partner"].with_context(lang="fr_FR")
        field = Partner.fields_get(["sms_consent_state"])["sms_consent_state"]
        self.assertEqual(field["string"], "Consentement aux SMS marketing")
        self.assertEqual(dict(field["selection"])["opted_out"], "Désinscrit")
        self.assertEqual(dict(field["selection"])["pending"], "En attente de confirmation")

    def test_compliance_policy_and_holidays(self):
        policy_fr = self.env.ref("sms_marketing_addon.policy_fr").with_context(lang="fr_FR")
        self.assertEqual(policy_fr.optout_footer, "STOP SMS")
        policy_us = self.env.ref("sms_marketing_addon.policy_us").with_context(lang="fr_FR")
        self.assertEqual(policy_us.name, "États-Unis")
        self.assertEqual(policy_us.optout_footer, "Répondez STOP pour vous désinscrire")
        holiday = self.env.ref("sms_marketing_addon.holiday_fr_2026_07_14").with_context(lang="fr_FR")
        self.assertEqual(holiday.name, "Fête nationale")

    def test_website_pages(self):
        page = self.env.ref("sms_marketing_addon.subscribe_page").with_context(lang="fr_FR")
        self.assertIn("Recevez nos offres par SMS", page.arch_db)
        self.assertIn("Numéro de mobile", page.arch_db)
        done = self.env.ref("sms_marketing_addon.subscribe_done").with_context(lang="fr_FR")
        self.assertIn("répondez OUI", done.arch_db)
        confirm = self.env.ref("sms_marketing_addon.confirm_page").with_context(lang="fr_FR")
        self.assertIn("Confirmer mon inscription", confirm.arch_db)
        website = self.env["website"].search([("company_id", "=", self.env.company.id)], limit=1)
        website.sms_checkout_consent_text = False
        self.assertIn("Envoyez-moi des offres et des nouveautés par SMS", website._sms_checkout_consent_text("fr_FR"))
