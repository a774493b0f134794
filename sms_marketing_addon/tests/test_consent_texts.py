from pathlib import Path

from odoo.tests import tagged

from odoo.addons.sms_marketing_addon.tools.segments import count_segments

from .common import SmsMarketingCase, load_french

# The shipped wordings fit in one segment for a brand and a web address up to these lengths (README).
BRAND = "Maison Lefèvre Paris"  # 20 characters
BASE_URL = "https://www.maison-lefevre.fr"  # 29 characters
HELP_CONTACT = "service-client@lefevre-paris.fr"  # 31 characters
ID_DIGITS = 7  # contact ids up to 9,999,999 in the confirmation link
LANGS = ["en_US", "fr_FR"]


@tagged("post_install", "-at_install")
class TestConsentTextsFitOneSegment(SmsMarketingCase):
    """The double opt-in confirmation and every keyword reply (STOP, START, YES, HELP) fit in one SMS segment
    in every shipped language, as queued by the real paths (consent request, inbound keyword)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        load_french(cls.env)
        cls.env["ir.config_parameter"].sudo().set_param("web.base.url", BASE_URL)
        cls.env.company.write({
            "sms_brand_name": BRAND, "sms_help_contact": HELP_CONTACT, "sms_double_optin": True,
            "sms_confirmation_text": False, "sms_confirmed_text": False, "sms_stop_reply_text": False,
            "sms_start_reply_text": False, "sms_help_reply_text": False,
        })

    def assertOneSegment(self, text, padding=0):
        info = count_segments(text + "x" * padding)
        self.assertEqual(info["segments"], 1, f"{info['units']} {info['encoding']} units: {text!r}")
        return info

    def test_the_shipped_languages_are_tested(self):
        shipped = sorted(path.stem for path in (Path(__file__).parent.parent / "i18n").glob("*.po"))
        self.assertEqual(shipped, ["fr"], "a new language: add it to LANGS")

    def test_confirmation_request_fits_one_segment(self):
        for index, lang in enumerate(LANGS):
            with self.subTest(lang=lang):
                partner = self.make_partner(mobile=f"06 12 34 56 7{index}", lang=lang)
                partner._sms_request_consent("website_form", consent_text="Send me offers")
                sms = self.env["sms.sms"].search([("partner_id", "=", partner.id)])
                self.assertIn(f"{BASE_URL}/sms/c/{partner.id}/", sms.body)
                self.assertIn("OUI" if lang == "fr_FR" else "YES", sms.body)
                self.assertOneSegment(sms.body, padding=ID_DIGITS - len(str(partner.id)))

    def test_keyword_replies_fit_one_segment(self):
        for index, lang in enumerate(LANGS):
            number = f"+3361234568{index}"
            partner = self.make_partner(mobile=number, lang=lang)
            partner._sms_request_consent("website_form", consent_text="Send me offers")
            replies = {}
            for step, (action, body) in enumerate([("confirm", "YES"), ("help", "HELP"), ("opt_out", "STOP"),
                                                   ("opt_in", "START")]):
                result = self.api.apply_inbound_keyword(number, action, f"seg-{lang}-{step}", body=body)
                replies[action] = result["reply"]
            self.assertEqual(partner.sms_consent_state, "opted_in")
            for action, reply in replies.items():
                with self.subTest(lang=lang, action=action):
                    self.assertTrue(reply)
                    self.assertIn(BRAND, reply)
                    self.assertOneSegment(reply)
                    queued = self.env["sms.sms"].search([("number", "=", partner.sms_number), ("body", "=", reply)])
                    self.assertTrue(queued, "the reply is the SMS queued")
        self.assertIn(HELP_CONTACT, replies["help"])
