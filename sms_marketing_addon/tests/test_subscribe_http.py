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
        self.assertIn("reply YES", response.text)
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

    def confirmation_link(self, partner):
        sms = self.env["sms.sms"].search([("partner_id", "=", partner.id)], order="id desc", limit=1)
        return re.search(r"(/sms/c/\d+/[0-9a-f]{16})(?![0-9a-f])", sms.body).group(1)

    def press_confirm(self, link):
        """What a person does: open the link, press the button (a POST with the page's CSRF token)."""
        page = self.url_open(link)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        if page.status_code != 200 or not token:
            return page
        return self.url_open(link, data={"csrf_token": token.group(1)})

    def test_signed_link_confirms_once_and_a_forged_one_does_not(self):
        self.submit()
        partner = self.partner()
        forged = self.url_open(f"/sms/confirm/{partner.id}/{'0' * 64}")
        self.assertEqual(forged.status_code, 400)
        self.assertEqual(self.url_open(f"/sms/c/{partner.id}/{'0' * 16}").status_code, 400)
        self.assertEqual(self.url_open(f"/sms/c/{partner.id}/{'0' * 15}").status_code, 400)
        self.assertEqual(partner.sms_consent_state, "pending")
        link = self.confirmation_link(partner)
        response = self.press_confirm(link)
        self.assertEqual(response.status_code, 200)
        self.assertIn("Subscription confirmed", response.text)
        partner.invalidate_recordset()
        self.assertEqual(partner.sms_consent_state, "opted_in")
        self.assertEqual(self.url_open(link).status_code, 400, "a used link confirms nothing")

    def test_links_sent_before_the_short_link_still_confirm(self):
        """Confirmation SMS sent before the link was shortened carry /sms/confirm/<id>/<whole token>."""
        self.submit()
        partner = self.partner()
        response = self.press_confirm(f"/sms/confirm/{partner.id}/{partner._sms_confirmation_token()}")
        self.assertEqual(response.status_code, 200)
        partner.invalidate_recordset()
        self.assertEqual(partner.sms_consent_state, "opted_in")

    def test_opening_the_link_confirms_nothing_until_the_button_is_pressed(self):
        """Link scanners and SMS previews open links: only the button confirms."""
        self.submit()
        partner = self.partner()
        link = self.confirmation_link(partner)
        for _i in range(3):
            page = self.url_open(link)
            self.assertEqual(page.status_code, 200)
            self.assertIn("Confirm my subscription", page.text)
        partner.invalidate_recordset()
        self.assertEqual(partner.sms_consent_state, "pending")
        forged_post = self.url_open(f"/sms/confirm/{partner.id}/{'0' * 64}",
                                    data={"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"',
                                                                  self.url_open(link).text).group(1)})
        self.assertEqual(forged_post.status_code, 400)
        partner.invalidate_recordset()
        self.assertEqual(partner.sms_consent_state, "pending")

    def test_expired_request_is_not_confirmable_by_link(self):
        self.submit()
        partner = self.partner()
        partner.sudo().with_context(sms_consent_internal=True).write(
            {"sms_consent_pending_date": fields.Datetime.now() - timedelta(days=3)})
        link = self.confirmation_link(partner).rsplit("/", 1)[0] + "/" + partner._sms_confirmation_token()
        response = self.url_open(link)
        self.assertEqual(response.status_code, 400)
        self.assertIn("no longer valid", response.text)
        self.assertEqual(partner.sms_consent_state, "pending")

    def test_ten_posts_for_one_number_queue_one_confirmation(self):
        """A script posting one number again and again (the per-IP limit out of the way) sends one SMS."""
        self.env.company.sms_subscribe_rate_limit = 1000
        for _i in range(10):
            self.assertEqual(self.submit().status_code, 200)
        self.assertEqual(self.env["sms.sms"].search_count([("number", "=", "+33611223344")]), 1)

    def test_a_few_confirmations_per_number_and_week(self):
        self.env.company.sms_subscribe_rate_limit = 1000
        partner = None
        for _i in range(4):
            self.submit()
            partner = self.partner()
            # The request expired unanswered: a new one may be sent, within the weekly limit.
            partner.sudo().with_context(sms_consent_internal=True).write(
                {"sms_consent_pending_date": fields.Datetime.now() - timedelta(days=3)})
        self.assertEqual(self.env["sms.sms"].search_count([("number", "=", "+33611223344")]), 2)

    def test_number_of_a_country_outside_the_list_is_refused(self):
        response = self.submit(mobile="+1 415 555 2671", country_id=str(self.env.ref("base.us").id))
        self.assertEqual(response.status_code, 400)
        self.assertIn("We only send SMS to numbers of France", response.text)
        self.assertFalse(self.partner("+14155552671"))
        self.env.company.sms_subscribe_country_ids = self.fr | self.env.ref("base.us")
        self.assertEqual(self.submit(mobile="+1 415 555 2671").status_code, 200)
        self.assertEqual(self.partner("+14155552671").sms_consent_state, "pending")

    def answer(self, mobile):
        response = self.submit(mobile=mobile)
        self.assertEqual(response.status_code, 200)
        text = response.text.replace(mobile, "NUMBER")
        return re.sub(r'(csrf_token|nonce)[^"]*"[^"]*"', "", text)

    def test_the_answer_is_the_same_for_a_new_a_pending_and_a_subscribed_number(self):
        self.env.company.sms_subscribe_rate_limit = 1000
        subscribed = self.Partner.create({"name": "Sub", "mobile": "06 11 22 33 55", "country_id": self.fr.id})
        subscribed._sms_opt_in("agent", note="paper form")
        self.Partner.create({"name": "Out", "mobile": "06 11 22 33 66", "country_id": self.fr.id})._sms_opt_out("agent")
        new = self.answer("06 11 22 33 44")
        pending = self.answer("06 11 22 33 44")
        self.assertEqual(new, pending)
        self.assertEqual(new, self.answer("06 11 22 33 55"))
        self.assertEqual(new, self.answer("06 11 22 33 66"))
        self.assertEqual(self.env["sms.sms"].search_count([("number", "=", "+33611223355")]), 0)

    def test_an_opted_out_number_stays_opted_out_until_its_owner_confirms(self):
        out = self.Partner.create({"name": "Out", "mobile": "06 11 22 33 44", "country_id": self.fr.id})
        out._sms_opt_out("keyword")
        self.submit()
        out.invalidate_recordset()
        self.assertEqual(out.sms_consent_state, "opted_out")
        self.assertTrue(self.env["phone.blacklist"].search([("number", "=", "+33611223344")]))
        sms = self.env["sms.sms"].search([("number", "=", "+33611223344")])
        self.assertEqual(sms.sms_kind, "consent", "the one confirmation request reaches the owner")
        self.assertEqual(self.press_confirm(self.confirmation_link(out)).status_code, 200)
        out.invalidate_recordset()
        self.assertEqual(out.sms_consent_state, "opted_in")
        self.assertFalse(self.env["phone.blacklist"].search([("number", "=", "+33611223344")]))
        self.assertEqual(self.logs_of(out)[-1].event, "re_subscribe")

    def logs_of(self, partner):
        return self.env["sms.consent.log"].search([("partner_id", "=", partner.id)], order="id")

    def test_hourly_budget_pauses_the_page_and_tells_the_managers(self):
        self.env.company.sms_subscribe_rate_limit = 1000
        self.env.company.sms_subscribe_hourly_budget = 2
        manager = self.env["res.users"].create({
            "name": "SMS Boss", "login": "sms_boss", "email": "boss@example.com",
            "groups_id": [(6, 0, [self.env.ref("sms_marketing_addon.group_sms_marketing_manager").id])]})
        for i in range(2):
            self.assertEqual(self.submit(mobile=f"06 11 22 33 4{i}").status_code, 200)
        for i in range(2, 4):
            response = self.submit(mobile=f"06 11 22 33 4{i}")
            self.assertEqual(response.status_code, 503)
            self.assertIn("paused", response.text)
        self.assertEqual(self.env["sms.sms"].search_count([("number", "like", "+3361122334")]), 2)
        notices = self.env["mail.message"].search([("subject", "=", "SMS subscribe page paused"),
                                                   ("partner_ids", "in", manager.partner_id.ids)])
        self.assertEqual(len(notices), 1, "one notice per hour, not one per refused request")

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
        self.env.company.sms_subscribe_rate_limit = 1000
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
