"""Settings ▸ SMS Marketing: every setting of the suite in one place, found by searching "SMS"."""

from lxml import etree

from odoo.tests import TransactionCase, tagged

SUITE_FIELDS = {
    "sms_brand_name", "sms_consent_text", "sms_consent_text_version", "sms_privacy_policy_url", "sms_double_optin",
    "sms_double_optin_expiry_hours", "sms_help_contact", "sms_subscribe_rate_limit",
    "sms_subscribe_number_weekly_limit", "sms_subscribe_hourly_budget", "sms_subscribe_country_ids",
    "website_sms_checkout_consent", "website_sms_checkout_consent_text", "sms_webhook_base_url",
}


@tagged("post_install", "-at_install")
class TestSettings(TransactionCase):
    def arch(self):
        view = self.env["res.config.settings"].get_views([(False, "form")])["views"]["form"]["arch"]
        return etree.fromstring(view)

    def test_every_setting_of_the_suite_is_found_by_searching_sms(self):
        app = self.arch().xpath("//app[@name='sms_marketing_addon']")
        self.assertTrue(app, "an SMS Marketing section in Settings")
        settings = app[0].xpath(".//setting")
        self.assertTrue(settings)
        for setting in settings:
            self.assertIn("SMS", setting.get("string", ""), etree.tostring(setting)[:200])
        shown = {field.get("name") for field in app[0].xpath(".//setting//field")}
        self.assertEqual(SUITE_FIELDS - shown, set(), "every setting of the suite is on the page")

    def test_settings_write_where_the_suite_reads_them(self):
        website = self.env["website"].search([("company_id", "=", self.env.company.id)], limit=1)
        settings = self.env["res.config.settings"].create({
            "sms_brand_name": "Maison", "sms_help_contact": "help@maison.example", "sms_subscribe_hourly_budget": 7,
            "website_id": website.id, "website_sms_checkout_consent": True,
            "sms_webhook_base_url": "https://sms.maison.example",
        })
        settings.execute()
        self.assertEqual(self.env.company._sms_brand(), "Maison")
        self.assertIn("help@maison.example", self.env.company._sms_text("help_reply"))
        self.assertEqual(self.env.company.sms_subscribe_hourly_budget, 7)
        self.assertTrue(website.sms_checkout_consent)
        account = self.env["sms.provider.account"].create({"name": "T", "provider": "twilio"})
        self.assertEqual(account.webhook_status_url, "https://sms.maison.example/webhooks/twilio/status")
        self.assertEqual(account.webhook_inbound_url, "https://sms.maison.example/webhooks/twilio/inbound")

    def test_the_checkout_disclosure_is_complete_by_default(self):
        text = self.env.company._sms_text("checkout")
        for part in ("Message frequency varies", "Message and data rates may apply", "STOP", "HELP",
                     "not a condition of purchase", self.env.company._sms_brand()):
            self.assertIn(part, text)

    def test_odoo_iap_credits_block_hides_once_a_gateway_account_exists(self):
        self.env["sms.provider.account"].search([]).action_archive()
        iap = self.arch().xpath("//setting[@id='sms']")[0]
        self.assertEqual(iap.get("invisible"), "sms_gateway_active")
        self.assertFalse(self.env["res.config.settings"].create({}).sms_gateway_active)
        self.env["sms.provider.account"].create({"name": "T", "provider": "console"})
        self.assertTrue(self.env["res.config.settings"].create({}).sms_gateway_active)
