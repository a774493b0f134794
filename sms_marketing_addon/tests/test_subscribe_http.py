import re
from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestSubscribePage(HttpCase):
    """The public subscribe page and the confirmation link, over real HTTP as a visitor uses them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fr = cls.env.ref("base.fr")
        cls.env.company.country_id = cls.fr
        cls.Partner = cls.env["res.partner"]

    def get_form(self):
        response = self.url_open("/sms/subscribe")
        self.assertEqual(response.status_code, 200)
        token = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
        self.assertTrue(token, "the form carries a CSRF token")
        return response, token.group(1)

    def submit(self, **values):
        _response, token = self.get_form()
        data = {"csrf_token": token, "name": "Léa Dupont", "mobile": "06 11 22 33 44",
                "country_id": str(self.fr.id), "consent": "1", **values}
        return self.url_open("/sms/subscribe", data=data)

    def partner(self, number="+33611223344"):
        return self.Partner.search([("sms_number", "=", number)])

    def test_form_shows_the_consent_text(self):
        response, _token = self.get_form()
        self.assertIn("Reply STOP to unsubscribe", response.text)
        self.assertIn('name="consent"', response.text)

    def test_subscribe_then_yes_confirms(self):
        response = self.submit()
        self.assertEqual(response.status_code, 200)
        self.assertIn("Reply YES", response.text)
        partner = self.partner()
        self.assertEqual(partner.sms_consent_state, "pending")
        log = self.env["sms.consent.log"].search([("partner_id", "=", partner.id)])
        self.assertEqual((log.event, log.source), ("opt_in_request", "website_form"))
        self.assertIn("Reply STOP", log.consent_text)
        self.assertEqual(log.ip_address, "127.0.0.1")
        self.assertTrue(log.user_agent)
        sms = self.env["sms.sms"].search([("number", "=", "+33611223344")])
        self.assertEqual(sms.state, "outgoing")
        self.assertIn("YES", sms.body)
        result = self.env["sms.marketing.api"].apply_inbound_keyword("+33611223344", "confirm", "yes-1", body="YES")
        self.assertEqual(result["result"], "confirmed")
        self.assertEqual(partner.sms_consent_state, "opted_in")

    def test_signed_link_confirms_once_and_a_forged_one_does_not(self):
        self.submit()
        partner = self.partner()
        forged = self.url_open(f"/sms/confirm/{partner.id}/{'0' * 64}")
        self.assertEqual(forged.status_code, 400)
        self.assertEqual(partner.sms_consent_state, "pending")
        link = re.search(r"(/sms/confirm/\d+/[0-9a-f]+)", self.env["sms.sms"].search([("partner_id", "=", partner.id)]).body)
        response = self.url_open(link.group(1))
        self.assertEqual(response.status_code, 200)
        self.assertIn("Subscription confirmed", response.text)
        partner.invalidate_recordset()
        self.assertEqual(partner.sms_consent_state, "opted_in")
        self.assertEqual(self.url_open(link.group(1)).status_code, 400, "a used link confirms nothing")

    def test_expired_request_is_not_confirmable_by_link(self):
        self.submit()
        partner = self.partner()
        link = re.search(r"(/sms/confirm/\d+/[0-9a-f]+)", self.env["sms.sms"].search([("partner_id", "=", partner.id)]).body)
        partner.sudo().with_context(sms_consent_internal=True).write(
            {"sms_consent_pending_date": fields.Datetime.now() - timedelta(days=3)})
        link = link.group(1).rsplit("/", 1)[0] + "/" + partner._sms_confirmation_token()
        response = self.url_open(link)
        self.assertEqual(response.status_code, 400)
        self.assertIn("no longer valid", response.text)
        self.assertEqual(partner.sms_consent_state, "pending")

    def test_invalid_number_shows_the_error_and_keeps_the_input(self):
        response = self.submit(mobile="abcd")
        self.assertEqual(response.status_code, 400)
        self.assertIn("Unable to parse abcd", response.text)
        self.assertIn('value="abcd"', response.text)
        self.assertIn('value="Léa Dupont"', response.text)
        self.assertFalse(self.env["sms.consent.log"].search([("source", "=", "website_form")]))

    def test_missing_consent_is_refused_on_the_page(self):
        response = self.submit(consent="")
        self.assertEqual(response.status_code, 400)
        self.assertIn("tick the box", response.text)
        self.assertFalse(self.partner())

    def test_honeypot_stores_nothing(self):
        response = self.submit(website_url="http://spam.example")
        self.assertEqual(response.status_code, 200)
        self.assertFalse(self.partner())

    def test_rate_limited_per_ip(self):
        self.env.company.sms_subscribe_rate_limit = 2
        for i in range(2):
            self.assertEqual(self.submit(mobile=f"06 11 22 33 4{i}").status_code, 200)
        response = self.submit(mobile="06 11 22 33 49")
        self.assertEqual(response.status_code, 429)
        self.assertIn("Too many subscriptions", response.text)
        self.assertFalse(self.partner("+33611223349"))

    def test_public_cannot_reach_the_log(self):
        raw = self.url_open(
            "/web/dataset/call_kw/sms.consent.log/search_read",
            data='{"jsonrpc": "2.0", "method": "call", "params": {"model": "sms.consent.log", '
                 '"method": "search_read", "args": [[]], "kwargs": {}}}',
            headers={"Content-Type": "application/json"},
        )
        body = raw.json()
        self.assertNotIn("result", body)
        self.assertEqual(body["error"]["data"]["name"], "odoo.http.SessionExpiredException")

    def test_confirmation_link_is_rate_limited_and_never_redirects(self):
        self.submit()
        partner = self.partner()
        for _i in range(20):
            response = self.url_open(f"/sms/confirm/{partner.id}/{'f' * 64}?redirect=https://evil.example",
                                     allow_redirects=False)
            self.assertEqual(response.status_code, 400)
            self.assertNotIn("Location", response.headers)
        self.assertEqual(self.url_open(f"/sms/confirm/{partner.id}/{'f' * 64}").status_code, 429)
        self.assertEqual(partner.sms_consent_state, "pending")

    def test_subscribe_never_redirects(self):
        response = self.submit(mobile="abcd", redirect="https://evil.example")
        self.assertEqual(response.status_code, 400)
        self.assertFalse(response.history, "no redirect followed")
