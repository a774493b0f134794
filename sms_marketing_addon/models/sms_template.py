from odoo import api, models


class SmsTemplate(models.Model):
    _name = "sms.template"
    _inherit = ["sms.template", "sms.segment.mixin"]

    def _sms_segment_body_field(self):
        return "body"

    def _sms_segment_footer(self):
        return self.env.company._sms_optout_footer()

    @api.depends("body", "model", "model_id")
    @api.depends_context("company", "lang")
    def _compute_sms_segments(self):
        return super()._compute_sms_segments()

    @api.constrains("body", "model_id")
    def _check_sms_placeholders(self):
        self._sms_check_placeholders("body")
