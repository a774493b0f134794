from odoo import api, fields, models

WEBHOOK_BASE_URL_PARAM = "sms_marketing_addon.webhook_base_url"


class ResConfigSettings(models.TransientModel):
    """Settings ▸ SMS Marketing: every setting of the suite in one place (searching "SMS" finds each)."""

    _inherit = "res.config.settings"

    sms_brand_name = fields.Char(related="company_id.sms_brand_name", readonly=False)
    sms_consent_text = fields.Text(related="company_id.sms_consent_text", readonly=False)
    sms_consent_text_version = fields.Char(related="company_id.sms_consent_text_version", readonly=False)
    sms_privacy_policy_url = fields.Char(related="company_id.sms_privacy_policy_url", readonly=False)
    sms_double_optin = fields.Boolean(related="company_id.sms_double_optin", readonly=False)
    sms_double_optin_expiry_hours = fields.Integer(related="company_id.sms_double_optin_expiry_hours", readonly=False)
    sms_help_contact = fields.Char(related="company_id.sms_help_contact", readonly=False)
    sms_team_user_ids = fields.Many2many(related="company_id.sms_team_user_ids", readonly=False)
    sms_subscribe_rate_limit = fields.Integer(related="company_id.sms_subscribe_rate_limit", readonly=False)
    sms_subscribe_number_weekly_limit = fields.Integer(
        related="company_id.sms_subscribe_number_weekly_limit", readonly=False)
    sms_subscribe_hourly_budget = fields.Integer(related="company_id.sms_subscribe_hourly_budget", readonly=False)
    sms_subscribe_country_ids = fields.Many2many(related="company_id.sms_subscribe_country_ids", readonly=False)
    website_sms_checkout_consent = fields.Boolean(related="website_id.sms_checkout_consent", readonly=False)
    website_sms_checkout_consent_text = fields.Text(related="website_id.sms_checkout_consent_text", readonly=False)
    sms_webhook_base_url = fields.Char(
        string="SMS webhook public URL", config_parameter=WEBHOOK_BASE_URL_PARAM,
        help="The public https address of the sync service's webhooks (its SMS_SYNC_PUBLIC_BASE_URL); the gateway "
        "accounts show the delivery-receipt and inbound URLs to paste into the provider's console.",
    )
    sms_gateway_active = fields.Boolean(compute="_compute_sms_gateway_active")

    @api.depends("company_id")
    def _compute_sms_gateway_active(self):
        active = bool(self.env["sms.provider.account"].sudo().search_count([]))
        for settings in self:
            settings.sms_gateway_active = active
