import logging

import phonenumbers

from odoo import _, http
from odoo.http import request
from odoo.tools.misc import hmac as odoo_hmac

from ..models.res_partner import parse_sms_number
from .proof import request_proof

_logger = logging.getLogger(__name__)

HONEYPOT_FIELD = "website_url"  # hidden from people, filled in by naive bots
CONFIRM_RATE_LIMIT = 20  # confirmation link openings per IP and hour


class SmsMarketingController(http.Controller):
    """Public SMS consent capture: the subscribe page and the double opt-in confirmation link."""

    def _client_ip(self):
        return request.httprequest.remote_addr

    def _render_subscribe(self, values=None, errors=None, status=200):
        website = request.website
        company = website.company_id
        lang = request.env.lang
        context = {
            "values": values or {},
            "errors": errors or {},
            "consent_text": company._sms_text("consent", lang),
            "privacy_policy_url": company.sms_privacy_policy_url,
            "countries": company.sudo()._sms_subscribe_countries() or request.env["res.country"].sudo().search([]),
            "default_country": company.country_id,
            "honeypot": HONEYPOT_FIELD,
        }
        return request.render("sms_marketing_addon.subscribe_page", context, status=status)

    @http.route("/sms/subscribe", type="http", auth="public", website=True, methods=["GET"], sitemap=True)
    def subscribe_form(self, **kw):
        return self._render_subscribe()

    @http.route("/sms/subscribe", type="http", auth="public", website=True, methods=["POST"], sitemap=False)
    def subscribe_submit(self, **post):
        """The same answer whatever the number's state (new, pending, subscribed, opted out): nothing here tells
        a visitor who is subscribed. At most one confirmation SMS waits per number, a few per number and week,
        and a budget per hour for all numbers."""
        values = {k: (post.get(k) or "").strip() for k in ("name", "mobile", "country_id")}
        if post.get(HONEYPOT_FIELD):
            # A bot: answer as if it worked, keep nothing.
            _logger.info("SMS subscribe honeypot triggered from %s", self._client_ip())
            return self._render_done(values)
        company = request.website.company_id.sudo()
        Hit = request.env["sms.public.hit"]
        errors = {}
        if not Hit._hit("subscribe", self._client_ip(), company.sms_subscribe_rate_limit or 5):
            errors["form"] = _("Too many subscriptions from your network in the last hour. Please try again later.")
            return self._render_subscribe(values, errors, status=429)
        if not values["name"]:
            errors["name"] = _("Please enter your name.")
        allowed = company._sms_subscribe_countries()
        country = request.env["res.country"].sudo().browse(
            int(values["country_id"]) if values["country_id"].isdigit() else company.country_id.id
        ).exists()
        number, problem = parse_sms_number(request.env, values["mobile"], country.code)
        number_country = number and self._number_country(number)
        if not values["mobile"]:
            errors["mobile"] = _("Please enter your mobile number.")
        elif problem:
            errors["mobile"] = problem
        elif allowed and number_country not in allowed:
            errors["mobile"] = _("We only send SMS to numbers of %(countries)s.",
                                 countries=", ".join(allowed.mapped("name")))
        if not post.get("consent"):
            errors["consent"] = _("Please tick the box to give your consent.")
        if errors:
            return self._render_subscribe(values, errors, status=400)
        if Hit._count("subscribe_sms", "*", 60) >= max(company.sms_subscribe_hourly_budget, 0):
            self._notify_budget_reached(company)
            errors["form"] = _("Subscriptions by SMS are paused for a while. Please try again later.")
            return self._render_subscribe(values, errors, status=503)

        Partner = request.env["res.partner"].sudo()
        partner = Partner.search([("sms_number", "=", number)], order="id", limit=1)
        if partner and not self._may_send_confirmation(partner, company):
            return self._render_done(values)
        number_key = self._number_key(number)
        if Hit._count("subscribe_number", number_key, 7 * 24 * 60) >= company.sms_subscribe_number_weekly_limit:
            _logger.info("SMS subscribe: weekly confirmation limit reached for a number (from %s)", self._client_ip())
            return self._render_done(values)
        if not partner:
            partner = Partner.create({"name": values["name"], "mobile": values["mobile"], "country_id": country.id,
                                      "company_id": False})
        Hit._record("subscribe_number", number_key)
        Hit._record("subscribe_sms", "*")
        partner._sms_request_consent(
            "website_form",
            consent_text=company._sms_text("consent", request.env.lang),
            **request_proof(),
        )
        return self._render_done(values)

    def _render_done(self, values):
        return request.render("sms_marketing_addon.subscribe_done", {"mobile": values.get("mobile")})

    @staticmethod
    def _may_send_confirmation(partner, company):
        """False for a number already subscribed, or with a confirmation request still waiting for its answer."""
        if partner.sms_consent_state == "opted_in" and partner.sms_may_receive_marketing:
            return False
        return partner._sms_pending_expired()

    @staticmethod
    def _number_country(number):
        region = phonenumbers.region_code_for_number(phonenumbers.parse(number, None))
        return request.env["res.country"].sudo().search([("code", "=", region)], limit=1) if region else None

    @staticmethod
    def _number_key(number):
        """The number as the rate limit remembers it: a keyed hash, not the number itself."""
        return odoo_hmac(request.env(su=True), "sms_marketing_subscribe", number)

    def _notify_budget_reached(self, company):
        """Tell the SMS Marketing managers, once per hour, that the subscribe page paused."""
        Hit = request.env["sms.public.hit"]
        if Hit._count("subscribe_budget_notice", "*", 60):
            return
        Hit._record("subscribe_budget_notice", "*")
        managers = request.env.ref("sms_marketing_addon.group_sms_marketing_manager").sudo().users.filtered(
            lambda user: not user.share and company in user.company_ids)
        _logger.warning("SMS subscribe page paused: %d confirmation SMS in the last hour", company.sms_subscribe_hourly_budget)
        if managers:
            request.env["mail.thread"].sudo().message_notify(
                partner_ids=managers.partner_id.ids,
                subject=_("SMS subscribe page paused"),
                body=_("The public SMS subscribe page sent %(count)s confirmation SMS in the last hour, its hourly "
                       "budget. It refuses new subscriptions until the hour has passed. If this is real traffic, "
                       "raise the budget in the company's SMS Marketing settings; if not, someone may be using the "
                       "page to send SMS at your expense.", count=company.sms_subscribe_hourly_budget),
            )

    @http.route(["/sms/c/<int:partner_id>/<string:token>", "/sms/confirm/<int:partner_id>/<string:token>"],
                type="http", auth="public", website=True, methods=["GET"], sitemap=False)
    def confirm(self, partner_id, token, **kw):
        """The link of the confirmation SMS shows a button: link scanners and message previews open links, only
        a person presses the button (POST, below)."""
        if not request.env["sms.public.hit"]._hit("confirm", self._client_ip(), CONFIRM_RATE_LIMIT):
            return request.render("sms_marketing_addon.confirm_done", {"confirmed": False, "throttled": True},
                                  status=429)
        partner = self._confirmable_partner(partner_id, token)
        if not partner:
            return request.render("sms_marketing_addon.confirm_done", {"confirmed": False}, status=400)
        return request.render("sms_marketing_addon.confirm_page", {"action": request.httprequest.path})

    @http.route(["/sms/c/<int:partner_id>/<string:token>", "/sms/confirm/<int:partner_id>/<string:token>"],
                type="http", auth="public", website=True, methods=["POST"], sitemap=False)
    def confirm_submit(self, partner_id, token, **kw):
        if not request.env["sms.public.hit"]._hit("confirm", self._client_ip(), CONFIRM_RATE_LIMIT):
            return request.render("sms_marketing_addon.confirm_done", {"confirmed": False, "throttled": True},
                                  status=429)
        partner = self._confirmable_partner(partner_id, token)
        confirmed = partner and partner._sms_confirm("website_form", **request_proof())
        return request.render("sms_marketing_addon.confirm_done", {"confirmed": bool(confirmed)},
                              status=200 if confirmed else 400)

    @staticmethod
    def _confirmable_partner(partner_id, token):
        partner = request.env["res.partner"].sudo().browse(partner_id).exists()
        if partner and partner._sms_confirmation_token_matches(token) and not partner._sms_pending_expired():
            return partner
        return request.env["res.partner"]
