from odoo import api, models


class SmsTemplate(models.Model):
    """The segment counter of SMS templates: the body as a flow sends it (templates are the messages of the
    flows): rendered in the recipient's language with the flow's short link and discount code, then decorated
    by the compliance gate (brand, opt-out footer) as a marketing SMS."""

    _name = "sms.template"
    _inherit = ["sms.template", "sms.segment.mixin"]

    def _sms_segment_body_field(self):
        return "body"

    def _sms_segment_body(self, lang):
        """A saved template goes out in the recipient's language (its translation, if any); a body being typed
        is counted as typed."""
        if lang and lang != self.env.lang and isinstance(self.id, int):
            return self.with_context(lang=lang).body or ""
        return super()._sms_segment_body(lang)

    def _sms_segment_render_lang(self, lang):
        return lang

    def _sms_segment_render_context(self):
        """A flow renders with its tracked short link (`<base url>/r/<code>`) and a single-use code."""
        code = "x" * self._sms_segment_code_length()
        return {
            "sms_flow_link": self.env["link.tracker"].get_base_url() + "/r/" + code,
            "sms_flow_coupon_code": "x" * len(self.env["loyalty.card"]._generate_code()),
        }

    @api.depends("body", "model", "model_id")
    @api.depends_context("company", "lang")
    def _compute_sms_segments(self):
        return super()._compute_sms_segments()

    @api.constrains("body", "model_id")
    def _check_sms_placeholders(self):
        self._sms_check_placeholders("body")
