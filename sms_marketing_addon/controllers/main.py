import hmac
import logging

from odoo import _, http
from odoo.http import request

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
            "countries": request.env["res.country"].sudo().search([]),
            "default_country": company.country_id,
            "honeypot": HONEYPOT_FIELD,
        }
        return request.render("sms_marketing_addon.subscribe_page", context, status=status)

    @http.route("/sms/subscribe", type="http", auth="public", website=True, methods=["GET"], sitemap=True)
    def subscribe_form(self, **kw):
        return self._render_subscribe()

    @http.route("/sms/subscribe", type="http", auth="public", website=True, methods=["POST"], sitemap=False)
    def subscribe_submit(self, **post):
        values = {k: (post.get(k) or "").strip() for k in ("name", "mobile", "country_id")}
        if post.get(HONEYPOT_FIELD):
            # A bot: answer as if it worked, keep nothing.
            _logger.info("SMS subscribe honeypot triggered from %s", self._client_ip())
            return request.render("sms_marketing_addon.subscribe_done", {"mobile": values["mobile"]})
        company = request.website.company_id.sudo()
        errors = {}
        if not request.env["sms.public.hit"]._hit("subscribe", self._client_ip(), company.sms_subscribe_rate_limit or 5):
            errors["form"] = _("Too many subscriptions from your network in the last hour. Please try again later.")
            return self._render_subscribe(values, errors, status=429)
        if not values["name"]:
            errors["name"] = _("Please enter your name.")
        country = request.env["res.country"].sudo().browse(
            int(values["country_id"]) if values["country_id"].isdigit() else company.country_id.id
        ).exists()
        number, problem = parse_sms_number(request.env, values["mobile"], country.code)
        if not values["mobile"]:
            errors["mobile"] = _("Please enter your mobile number.")
        elif problem:
            errors["mobile"] = problem
        if not post.get("consent"):
            errors["consent"] = _("Please tick the box to give your consent.")
        if errors:
            return self._render_subscribe(values, errors, status=400)

        Partner = request.env["res.partner"].sudo()
        partner = Partner.search([("sms_number", "=", number)], order="id", limit=1)
        if not partner:
            partner = Partner.create({"name": values["name"], "mobile": values["mobile"], "country_id": country.id,
                                      "company_id": False})
        if partner.sms_consent_state == "opted_in" and partner.sms_may_receive_marketing:
            return request.render("sms_marketing_addon.subscribe_done", {"mobile": values["mobile"], "already": True})
        partner._sms_request_consent(
            "website_form",
            consent_text=company._sms_text("consent", request.env.lang),
            **request_proof(),
        )
        return request.render("sms_marketing_addon.subscribe_done", {
            "mobile": values["mobile"], "pending": partner.sms_consent_state == "pending",
        })

    @http.route("/sms/confirm/<int:partner_id>/<string:token>", type="http", auth="public", website=True,
                methods=["GET"], sitemap=False)
    def confirm(self, partner_id, token, **kw):
        if not request.env["sms.public.hit"]._hit("confirm", self._client_ip(), CONFIRM_RATE_LIMIT):
            return request.render("sms_marketing_addon.confirm_done", {"confirmed": False, "throttled": True},
                                  status=429)
        partner = request.env["res.partner"].sudo().browse(partner_id).exists()
        valid = bool(partner) and hmac.compare_digest(partner._sms_confirmation_token(), token)
        confirmed = valid and partner._sms_confirm("website_form", **request_proof())
        return request.render("sms_marketing_addon.confirm_done", {"confirmed": bool(confirmed)},
                              status=200 if confirmed else 400)
