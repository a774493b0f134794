import re

from werkzeug.urls import url_join

from odoo import api, models
from odoo.addons.link_tracker.models.link_tracker import LINK_TRACKER_MIN_CODE_LENGTH
from odoo.tools.mail import TEXT_URL_REGEX


class MailingMailing(models.Model):
    _name = "mailing.mailing"
    _inherit = ["mailing.mailing", "sms.segment.mixin"]

    def _sms_segment_body_field(self):
        return "body_plaintext"

    def _sms_segment_applies(self):
        return self.mailing_type == "sms"

    def _sms_segment_mailing_id_placeholder(self):
        mailing_id = self._origin.id or self.id
        if isinstance(mailing_id, int):
            return str(mailing_id)
        last = self.sudo().search_read([], ["id"], order="id desc", limit=1)
        return "x" * len(str(last[0]["id"] + 1 if last else 1))

    def _sms_segment_footer(self):
        """Odoo appends "STOP SMS: <base url>/sms/<mailing id>/<trace code>" when the opt-out link is on."""
        if not self.sms_allow_unsubscribe:
            return ""
        code = "x" * self.env["mailing.trace"].CODE_SIZE
        url = url_join(self.get_base_url(), "/sms/%s/%s" % (self._sms_segment_mailing_id_placeholder(), code))
        return self.env["sms.composer"]._get_unsubscribe_info(url)

    def _sms_segment_adapt(self, text):
        """Links are replaced at send time by tracked short links <base url>/r/<code>/s/<sms id>.

        Same placeholder lengths as ``get_sms_link_replacements_placeholders`` (used by Odoo's own widget),
        read without its write-access requirement.
        """
        if not text:
            return text
        base_url = self.env["ir.config_parameter"].sudo().get_param("web.base.url") or ""
        urls = [url for url in set(re.findall(TEXT_URL_REGEX, text))
                if not url.startswith(base_url + "/r/") and not url.startswith(base_url + "/sms/")]
        if not urls:
            return text
        last_sms = self.env["sms.sms"].sudo().search_read([], ["id"], order="id desc", limit=1)
        sms_id_length = max(len(str(last_sms[0]["id"])), 5) if last_sms else 5
        last_code = self.env["link.tracker.code"].sudo().search_read([], ["code"], order="id desc", limit=1)
        code_length = len(last_code[0]["code"]) + 1 if last_code else LINK_TRACKER_MIN_CODE_LENGTH
        short = url_join(self.get_base_url(), "r/%s/s/%s" % ("x" * code_length, "x" * sms_id_length))
        for url in urls:
            text = re.sub(re.escape(url) + r"(?![\w@:%.+&~#=/-])", lambda __: short, text)
        return text

    @api.depends("mailing_type", "body_plaintext", "mailing_model_id", "sms_allow_unsubscribe")
    @api.depends_context("company", "lang")
    def _compute_sms_segments(self):
        return super()._compute_sms_segments()

    @api.constrains("body_plaintext", "mailing_model_id", "mailing_type")
    def _check_sms_placeholders(self):
        self.filtered(lambda m: m.mailing_type == "sms")._sms_check_placeholders("body_plaintext")
