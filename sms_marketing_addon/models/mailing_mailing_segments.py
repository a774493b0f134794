import logging
import re
from html import unescape

from odoo import api, fields, models
from odoo.tools import SQL
from odoo.tools.mail import TEXT_URL_REGEX, validate_url

_logger = logging.getLogger(__name__)


class MailingMailing(models.Model):
    """The segment counter of SMS mailings: the body as the first recipient of the mailing receives it, through
    the mailing composer (links shortened to `<base>/r/<code>/s/<sms id>`, Odoo's unsubscribe line) and the
    compliance gate (brand, opt-out footer)."""

    _name = "mailing.mailing"
    _inherit = ["mailing.mailing", "sms.segment.mixin"]

    sms_cost_estimate = fields.Char(string="Recipients × segments", compute="_compute_sms_cost_estimate")

    def _sms_segment_body_field(self):
        return "body_plaintext"

    def _sms_segment_applies(self):
        return self.mailing_type == "sms"

    def _sms_segment_sample_domain(self):
        """The first recipient of the mailing, in the order the mailing queues them."""
        try:
            return self._get_recipients_domain()
        except Exception:  # a domain being edited may not parse yet
            return [("id", "in", [])]

    def _sms_segment_mailing_id_placeholder(self):
        mailing_id = self._origin.id or self.id
        if isinstance(mailing_id, int):
            return str(mailing_id)
        last = self.sudo().search_read([], ["id"], order="id desc", limit=1)
        return "x" * len(str(last[0]["id"] + 1 if last else 1))

    def _sms_segment_unsubscribe_marker(self):
        return "/sms/%s/" % self._sms_segment_mailing_id_placeholder() if self.sms_allow_unsubscribe else None

    def _sms_segment_footer(self):
        """The composer appends "STOP SMS: <base url>/sms/<mailing id>/<trace code>" when the opt-out link is on."""
        if not self.sms_allow_unsubscribe:
            return ""
        code = "x" * self.env["mailing.trace"].CODE_SIZE
        composer = self.env["sms.composer"]
        url = "%s/sms/%s/%s" % (composer.get_base_url(), self._sms_segment_mailing_id_placeholder(), code)
        return composer._get_unsubscribe_info(url)

    # ------------------------------------------------------------------ links
    @api.model
    def _sms_segment_next_sms_id(self):
        """The id the next SMS will get (the composer numbers its SMS from the table's sequence)."""
        last_value, is_called = self.env.execute_query(SQL("SELECT last_value, is_called FROM sms_sms_id_seq"))[0]
        return last_value + 1 if is_called else last_value

    def _sms_segment_links(self, text):
        """{url: the tracker's code, or None when the mailing has no tracker for it yet} for the links the
        composer shortens (`_shorten_links_text`: not those already short, nor the unsubscribe links)."""
        base_url = self.env["ir.config_parameter"].sudo().get_param("web.base.url") or ""
        urls = [url for url in set(re.findall(TEXT_URL_REGEX, text or ""))
                if not url.startswith(base_url + "/r/") and not url.startswith(base_url + "/sms/")]
        origin = self._origin
        if not urls or not isinstance(origin.id, int):
            return dict.fromkeys(urls)
        values = origin._get_link_tracker_values()
        Tracker = self.env["link.tracker"].sudo()
        links = {}
        for url in urls:
            try:
                target = validate_url(unescape(url))
            except Exception:  # noqa: BLE001 - not a link Odoo would shorten either
                links[url] = None
                continue
            tracker = Tracker.search([
                ("url", "=", target), ("campaign_id", "=", values.get("campaign_id") or False),
                ("medium_id", "=", values.get("medium_id") or False),
                ("source_id", "=", values.get("source_id") or False), ("label", "in", (False, "")),
            ], limit=1)
            links[url] = tracker.code or None
        return links

    def _sms_segment_adapt(self, text):
        """Links become tracked short links `<base url>/r/<code>`: the tracker's own code when the mailing
        already has one for the link (they are made when the mailing is saved), else a code of the length a
        new one would have."""
        if not text:
            return text
        links = self._sms_segment_links(text)
        if links:
            short_host = self.env["link.tracker"].get_base_url() + "/r/"
            length = None
            for url, code in links.items():
                if code is None:
                    length = length or self._sms_segment_code_length()
                    code = "x" * length
                text = re.sub(re.escape(url) + r"(?![\w@:%.+&~#=/-])", lambda __, c=code: short_host + c, text)
        return text

    def _sms_segment_before_gate(self, text):
        """The composer appends the id of each SMS to its short links (`/s/<sms id>`), after the unsubscribe
        line; the first recipient's SMS gets the next id."""
        short_prefix = self.env["sms.composer"].get_base_url() + "/r/"
        return self.env["sms.composer"]._sms_with_recipient_links(text, short_prefix, self._sms_segment_next_sms_id())

    def _sms_segment_prepare_links(self):
        """Make the link trackers of the sample's body now (the composer would at sending), so that the counter
        shows the exact short links: a new code's length is otherwise only the likeliest one."""
        renderer = self.env["mail.render.mixin"].sudo()
        for mailing in self.filtered(lambda m: m.mailing_type == "sms" and m.body_plaintext
                                     and m.state in ("draft", "in_queue")):
            sample = mailing._sms_segment_sample()
            text = mailing._sms_segment_render(mailing.body_plaintext, sample)
            if re.search(TEXT_URL_REGEX, text or ""):
                try:
                    with self.env.cr.savepoint():
                        renderer._shorten_links_text(text, mailing._get_link_tracker_values())
                except Exception:  # noqa: BLE001 - an odd link: the composer will say so at sending
                    _logger.debug("SMS mailing %s: no link tracker made in advance", mailing.id, exc_info=True)

    @api.model_create_multi
    def create(self, vals_list):
        mailings = super().create(vals_list)
        mailings._sms_segment_prepare_links()
        return mailings

    def write(self, vals):
        res = super().write(vals)
        if {"body_plaintext", "campaign_id", "source_id", "medium_id", "mailing_domain", "mailing_model_id",
                "contact_list_ids", "mailing_type"} & set(vals):
            self._sms_segment_prepare_links()
        return res

    @api.depends("mailing_type", "body_plaintext", "mailing_model_id", "mailing_domain", "sms_allow_unsubscribe",
                 "campaign_id", "source_id", "medium_id")
    @api.depends_context("company", "lang")
    def _compute_sms_segments(self):
        return super()._compute_sms_segments()

    @api.depends("sms_segment_count", "sms_preview_date", "sms_preview_now", "sms_preview_deferred",
                 "sms_preview_capped", "sms_cap_action")
    def _compute_sms_cost_estimate(self):
        for mailing in self:
            if mailing.mailing_type != "sms" or not mailing.sms_preview_date or not mailing.sms_segment_count:
                mailing.sms_cost_estimate = False
                continue
            # Everyone who will receive it: now, later in their sending hours, later once the cap allows.
            capped = mailing.sms_preview_capped if mailing.sms_cap_action == "defer" else 0
            recipients = mailing.sms_preview_now + mailing.sms_preview_deferred + capped
            mailing.sms_cost_estimate = self.env._(
                "Recipients × segments: %(recipients)s × %(segments)s = %(total)s",
                recipients=recipients, segments=mailing.sms_segment_count,
                total=recipients * mailing.sms_segment_count)

    @api.constrains("body_plaintext", "mailing_model_id", "mailing_type")
    def _check_sms_placeholders(self):
        self.filtered(lambda m: m.mailing_type == "sms")._sms_check_placeholders("body_plaintext")
