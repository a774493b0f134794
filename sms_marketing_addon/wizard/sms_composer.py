import re
import string
from random import choices
from uuid import uuid4

from odoo.tools.mail import TEXT_URL_REGEX
from odoo.tools.rendering_tools import parse_inline_template

from odoo import api, fields, models
from odoo.tools import SQL

from odoo.addons.mass_mailing_sms.wizard.sms_composer import SMSComposer as MassSmsComposer

TRACE_CODE_CHARS = string.ascii_letters + string.digits  # mailing.trace._get_random_code's alphabet
_ARRAY_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"'})


def int_array(values):
    """A PostgreSQL array literal of integers: one string parameter, where psycopg2 would send a list as an
    `ARRAY[...]` expression of one node per element for the server to parse (a third of the insert's time)."""
    return "{%s}" % ",".join(map(str, values))


def text_array(values):
    """A PostgreSQL array literal of strings (None is NULL), as `int_array`."""
    return "{%s}" % ",".join("NULL" if value is None else '"%s"' % value.translate(_ARRAY_ESCAPES)
                             for value in values)


class SmsComposer(models.TransientModel):
    """Mass SMS for mailings, at scale: the same decisions as Odoo's composer (bodies, recipients, blacklist,
    opt-outs, duplicates, unsubscribe footer, short links), made with sets instead of list scans, links
    shortened once per distinct body, and the SMS, traces and trackers written with one INSERT each."""

    _name = "sms.composer"
    _inherit = ["sms.composer", "sms.segment.mixin"]

    # ------------------------------------------------------------------ the length shown is the length billed
    # Odoo's own counter (`sms_widget`) counts in the browser and takes a GSM-7 body with € [ ] { } ~ ^ | \ for
    # UCS-2 (70 characters a segment instead of 160); ours counts on the server, as the gate and the provider.
    sms_segment_count = fields.Integer(compute="_compute_sms_segments")

    def _sms_segment_body_field(self):
        return "body"

    def _sms_segment_applies(self):
        return bool(self.body)  # nothing typed yet: nothing to count

    def _sms_segment_marketing(self):
        """A mailing's SMS are marketing (the gate adds brand and opt-out footer); the chatter's and a list's
        "Send SMS" are transactional, sent as written."""
        return bool(self.mailing_id)

    def _sms_segment_sample(self):
        """The record the SMS goes to (the first of a list), not any record of the model."""
        if self.composition_mode == "numbers" or not self.res_model or self.res_model not in self.env:
            return None
        try:
            records = self._get_records()
        except (ValueError, SyntaxError):  # res_ids that are not a list of ids
            return None
        return records[:1].exists() or None

    def _sms_segment_render(self, body, sample=None):
        """As the composer renders when sending: the chatter's body as written (Odoo rendered its template
        already), a list's for its first record (as Odoo renders it for each)."""
        if not body or not sample or self.composition_mode != "mass":
            return body or ""
        try:
            return self._prepare_body_values(sample)[sample.id] or ""
        except Exception:  # a placeholder this user may not run, or that fails: count the text as written
            return body

    @api.depends("body", "res_model", "res_id", "res_ids", "composition_mode", "mailing_id")
    @api.depends_context("company", "lang")
    def _compute_sms_segments(self):
        return super()._compute_sms_segments()

    def _sms_odoo_path(self):
        """True when asked for Odoo's own composer path (context key `sms_marketing_odoo_composer`), e.g. to
        compare with it in the benchmark, or for a third-party module that relies on per-record ORM writes."""
        return bool(self.env.context.get("sms_marketing_odoo_composer"))

    # ------------------------------------------------------------------ same decisions, linear time
    def _get_blacklist_record_ids(self, records, recipients_info):
        if self._sms_odoo_path():
            return super()._get_blacklist_record_ids(records, recipients_info)
        if not self.mass_use_blacklist:
            return []
        numbers = list({info["sanitized"] for info in recipients_info.values() if info["sanitized"]})
        self.env["phone.blacklist"].flush_model(["number", "active"])
        blacklisted = {row[0] for row in self.env.execute_query(SQL(
            "SELECT number FROM phone_blacklist WHERE active AND number = ANY(%s::varchar[])", text_array(numbers)))}
        return [res_id for res_id in records._ids if recipients_info[res_id]["sanitized"] in blacklisted]

    def _get_done_record_ids(self, records, recipients_info):
        if self._sms_odoo_path():
            return super()._get_done_record_ids(records, recipients_info)
        done_ids, done = [], set()
        for res_id in records._ids:
            sanitized = recipients_info[res_id]["sanitized"]
            if sanitized in done:
                done_ids.append(res_id)
            else:
                done.add(sanitized)
        if self.mailing_id:
            done_ids += self._sms_seen_record_ids(records)
        return done_ids

    def _sms_seen_record_ids(self, records):
        """Those of `records` the mailing already reached (a trace), as Odoo's `_get_seen_list_sms` decides,
        looked up for these records only: Odoo's query returns every trace of the mailing, once per chunk of
        recipients, which grows with the square of the mailing's size (a million recipients, 200 chunks)."""
        mailing = self.mailing_id
        if not isinstance(records, self.pool["mail.thread.phone"]) or records._name != mailing.mailing_model_real:
            return mailing._get_seen_list_sms()[0]
        self.env["mailing.trace"].flush_model(["res_id", "mass_mailing_id", "model"])
        records.flush_model(["phone_sanitized"])
        return [row[0] for row in self.env.execute_query(SQL(
            """SELECT DISTINCT target.id FROM mailing_trace trace JOIN %(table)s target ON trace.res_id = target.id
                WHERE target.phone_sanitized IS NOT NULL AND trace.mass_mailing_id = %(mailing)s
                  AND trace.model = %(model)s AND trace.res_id = ANY(%(ids)s::int[])""",
            table=SQL.identifier(records._table), mailing=mailing.id, model=records._name, ids=int_array(records.ids),
        ))]

    def _sms_bulk_path(self):
        """The suite's bulk path: a mailing's mass SMS, unless Odoo's own composer path is asked for."""
        return bool(self.mailing_id) and self.composition_mode == "mass" and not self._sms_odoo_path()

    def _prepare_body_values(self, records):
        if not self.mailing_id or self._sms_odoo_path():
            return super()._prepare_body_values(records)
        if self.template_id and self.body == self.template_id.body:  # rendered in each recipient's language
            all_bodies = super(MassSmsComposer, self)._prepare_body_values(records)
        else:
            all_bodies = self._sms_render_bodies(records)
        tracker_values = self.mailing_id._get_link_tracker_values()
        renderer = self.env["mail.render.mixin"].sudo()
        short_urls = {}  # one link tracker per URL, as Odoo's per-body shortening ends up with
        shortened = {}  # each distinct body shortened once (a body without placeholder: once per chunk)
        find_urls = re.compile(TEXT_URL_REGEX).findall
        for res_id, body in all_bodies.items():
            if not body:
                continue
            done = shortened.get(body)
            if done is None:
                done = body
                for url in set(find_urls(body)):
                    if url not in short_urls:
                        short_urls[url] = renderer._shorten_links_text(url, tracker_values)
                    if short_urls[url] != url:
                        done = re.sub(re.escape(url) + r"(?![\w@:%.+&~#=/-])", short_urls[url], done)
                shortened[body] = done
            all_bodies[res_id] = done
        return all_bodies

    def _sms_body_field_names(self, records):
        """The fields of `records` the body shows, one per placeholder, when every placeholder is a plain field
        (`{{ object.field }}`) that Odoo renders in regex mode; else None (Odoo's renderer renders the body)."""
        template_txt, model = self.body, records._name
        if not template_txt or (self.template_id and self.body == self.template_id.body):
            return None
        renderer = self.env["mail.render.mixin"]
        if renderer._has_unsafe_expression_template_inline_template(str(template_txt), model):
            return None
        names = []
        for _literal, expression, _default in parse_inline_template(str(template_txt)):
            if not expression:
                continue
            path = expression.split(".")
            field = records._fields.get(path[1]) if len(path) == 2 and path[0] == "object" else None
            if (field is None or field.relational or field.type in ("binary", "properties", "json")
                    or not self.env["ir.qweb"]._is_expression_allowed(expression, model)):
                return None
            names.append(field.name)
        return names

    def _sms_render_bodies(self, records):
        """Odoo's inline-template rendering (`mail.render.mixin._render_template`, regex mode), with each
        `{{ object.field }}` of a plain field read for the whole chunk at once (`mapped`: the same values as
        Odoo's per-record `record[field]`, cache and access rights included). Any other template (several
        levels, relational fields, expressions that need the QWeb engine) is Odoo's renderer itself."""
        template_txt, model, res_ids = self.body, records._name, records.ids
        if not template_txt or not res_ids:
            return dict.fromkeys(res_ids, "")
        names = self._sms_body_field_names(records)
        if names is None:
            return self.env["mail.render.mixin"]._render_template(str(template_txt), model, res_ids)
        # Only the fields the body shows (Odoo's `record[field]` would prefetch every column of the model).
        records.fetch([name for name in set(names) if records._fields[name].store])
        columns = [records.mapped(name) for name in names]
        template = parse_inline_template(str(template_txt))
        if not columns:
            body = "".join(literal for literal, _expression, _default in template)
            return dict.fromkeys(res_ids, body)
        bodies = {}
        for index, res_id in enumerate(res_ids):
            rendered, column = [], 0
            for literal, expression, default in template:
                rendered.append(literal)
                if expression:
                    rendered.append(str(columns[column][index] or default))
                    column += 1
            bodies[res_id] = "".join(rendered)
        return bodies

    def _sms_recipients(self, records):
        """{record id: (sanitized number, number, partner id)}, and Odoo's recipients info for the hooks that
        take it (blacklist, opt-out, duplicates)."""
        if records._name == "res.partner" and not self.number_field_name:
            # Contacts already carry their SMS number in E.164 (`sms_number`): no second parse per recipient.
            records.fetch(["mobile", "phone", "sms_number"])
            mobiles, phones, sanitized = records.mapped("mobile"), records.mapped("phone"), records.mapped("sms_number")
            columns, info = {}, {}
            for partner, mobile, phone, number in zip(records, mobiles, phones, sanitized):
                columns[partner._ids[0]] = (number or False, mobile or phone or False, partner._ids[0])
                info[partner._ids[0]] = {
                    "partner": partner, "sanitized": number or False, "number": mobile or phone or False,
                    "partner_store": False, "field_store": "mobile" if mobile else "phone",
                }
            return columns, info
        info = self._prepare_recipient_values(records)
        return {res_id: (values["sanitized"], values["number"], values["partner"].id)
                for res_id, values in info.items()}, info

    def _prepare_recipient_values(self, records):
        """Contacts already carry their SMS number in E.164 (`sms_number`): no second parse per recipient."""
        if records._name != "res.partner" or self.number_field_name or self._sms_odoo_path():
            return super()._prepare_recipient_values(records)
        return self._sms_recipients(records)[1]

    def _prepare_mass_sms_values(self, records):
        """Odoo's decisions (`sms.composer` and `mass_mailing_sms`: state, failure type, number, partner, trace
        code, unsubscribe line), taken on plain values, in one pass. Each value is a flat dict: `body`,
        `number`, `partner_id`, `state`, `failure_type`, `res_id`, `sms_code`, `trace_status`; the body is split
        in `_body_main` (rendered, links shortened) and `_footer` (the unsubscribe line) for `_prepare_mass_sms`,
        which adds the per-recipient short links to the former."""
        if not self._sms_bulk_path():
            return super()._prepare_mass_sms_values(records)
        if records._name == "res.partner" and not self.number_field_name:  # one query for numbers and body fields
            names = [name for name in self._sms_body_field_names(records) or () if records._fields[name].store]
            records.fetch(["mobile", "phone", "sms_number", *names])
        all_bodies = self._prepare_body_values(records)
        recipients, recipients_info = self._sms_recipients(records)
        blacklist_ids = set(self._get_blacklist_record_ids(records, recipients_info))
        optout_ids = set(self._get_optout_record_ids(records, recipients_info))
        done_ids = set(self._get_done_record_ids(records, recipients_info))
        head = tail = None
        if self.mass_sms_allow_unsubscribe:
            # Read the base URL and translate the unsubscribe line once per chunk, not once per recipient.
            marker = "\x00unsubscribe-url\x00"
            info = self._get_unsubscribe_info(marker)
            head, found, tail = info.partition(marker)
            url_prefix = f"{self.get_base_url()}/sms/{self.mailing_id.id}/"
            if not found:
                head, url_prefix, tail = info, "", None
        code_size = self.env["mailing.trace"].CODE_SIZE
        result = {}
        for res_id in records._ids:
            sanitized, number, partner_id = recipients[res_id]
            failure_type = ""
            if not sanitized:
                failure_type = "sms_number_format" if number else "sms_number_missing"
            elif res_id in blacklist_ids:
                failure_type = "sms_blacklist"
            elif res_id in optout_ids:
                failure_type = "sms_optout"
            elif res_id in done_ids:
                failure_type = "sms_duplicate"
            code = "".join(choices(TRACE_CODE_CHARS, k=code_size))
            main = all_bodies[res_id]
            footer = None
            if failure_type:
                body = main
            elif head is None:
                body = main
            else:
                footer = f"\n{head}{url_prefix}{code}{tail}" if tail is not None else f"\n{head}"
                body = f"{main or ''}{footer}"
                main = main or ""
            result[res_id] = {
                "body": body, "failure_type": failure_type, "number": sanitized or number,
                "partner_id": partner_id, "state": "canceled" if failure_type else "outgoing",
                "res_id": res_id, "sms_code": code, "trace_status": "cancel" if failure_type else "outgoing",
                "_body_main": main, "_footer": footer,
            }
        return result

    # ------------------------------------------------------------------ bulk writes
    def _prepare_mass_sms(self, records, sms_record_values):
        """The SMS, their traces and SMS trackers in one statement (three INSERTs chained by CTEs), their ids
        taken from the sequence first for the per-recipient short links (`/r/<code>/s/<sms id>`)."""
        if not self._sms_bulk_path():
            return super()._prepare_mass_sms(records, sms_record_values)
        values = [sms_record_values[res_id] for res_id in records._ids]
        if not values:
            return self.env["sms.sms"]
        cr = self.env.cr
        cr.execute("SELECT nextval('sms_sms_id_seq') FROM generate_series(1, %s)", [len(values)])
        sms_ids = [row[0] for row in cr.fetchall()]
        short_prefix = self.get_base_url() + "/r/"
        split_links = self._sms_split_recipient_links
        parts_by_body = {}
        bodies = []
        for v, sms_id in zip(values, sms_ids):
            main, footer = v["_body_main"], v["_footer"]
            if not main or short_prefix not in main:
                body = v["body"] or ""
                if footer and short_prefix in footer:  # an unsubscribe line with a short link: as Odoo does
                    body = self._sms_with_recipient_links(body, short_prefix, sms_id)
                bodies.append(body)
                continue
            parts = parts_by_body.get(main)
            if parts is None:
                parts = parts_by_body[main] = split_links(main, short_prefix)
            body = str(sms_id).join(parts) if len(parts) > 1 else main
            if footer:
                body = self._sms_with_recipient_links(body + footer, short_prefix, sms_id) \
                    if short_prefix in footer else body + footer
            bodies.append(body)
        parts_by_body = None
        uid, mailing = self.env.uid, self.mailing_id
        self.env["sms.sms"].flush_model()
        self.env["mailing.trace"].flush_model()
        self.env["sms.tracker"].flush_model()
        statement = SQL(
            """WITH u AS (
                   SELECT * FROM unnest(%(ids)s::int[], %(uuids)s::varchar[], %(numbers)s::varchar[],
                                        %(bodies)s::text[], %(partners)s::int[], %(states)s::varchar[],
                                        %(failures)s::varchar[], %(res_ids)s::int[], %(codes)s::varchar[],
                                        %(statuses)s::varchar[])
                     AS u(id, uuid, number, body, partner_id, state, failure_type, res_id, code, status)
               ), sms AS (
                   INSERT INTO sms_sms (id, uuid, number, body, partner_id, state, failure_type, to_delete,
                                        mailing_id, sms_kind, create_uid, write_uid, create_date, write_date)
                   SELECT u.id, u.uuid, u.number, u.body, NULLIF(u.partner_id, 0),
                          u.state, NULLIF(u.failure_type, ''), FALSE, %(mailing)s, 'marketing', %(uid)s, %(uid)s,
                          now() at time zone 'UTC', now() at time zone 'UTC'
                     FROM u
                   RETURNING id, uuid
               ), trace AS (
                   INSERT INTO mailing_trace (trace_type, model, res_id, mass_mailing_id, campaign_id, sms_code,
                                              sms_number, sms_id_int, trace_status, failure_type,
                                              create_uid, write_uid, create_date, write_date)
                   SELECT 'sms', %(model)s, u.res_id, %(mailing)s, %(campaign)s, u.code, u.number, u.id,
                          u.status, NULLIF(u.failure_type, ''), %(uid)s, %(uid)s, now() at time zone 'UTC',
                          now() at time zone 'UTC'
                     FROM u
                   RETURNING id, sms_id_int
               )
               INSERT INTO sms_tracker (sms_uuid, mailing_trace_id, create_uid, write_uid, create_date, write_date)
               SELECT sms.uuid, trace.id, %(uid)s, %(uid)s, now() at time zone 'UTC', now() at time zone 'UTC'
                 FROM sms JOIN trace ON trace.sms_id_int = sms.id""",
            mailing=mailing.id, uid=uid, model=self.res_model, campaign=mailing.campaign_id.id or None,
            ids=int_array(sms_ids), uuids=text_array([uuid4().hex for __ in sms_ids]),  # as Odoo's composer
            numbers=text_array([v["number"] or None for v in values]),
            bodies=text_array(bodies), partners=int_array([v["partner_id"] or 0 for v in values]),
            states=text_array([v["state"] for v in values]), failures=text_array([v["failure_type"] for v in values]),
            res_ids=int_array([v["res_id"] for v in values]), codes=text_array([v["sms_code"] for v in values]),
            statuses=text_array([v["trace_status"] for v in values]),
        )
        handoff = self.env.context.get("_sms_bulk_handoff")
        if handoff is not None:  # written by the mailing's writer thread (mailing.mailing.action_send_sms)
            handoff.append(statement)
            return self.env["sms.sms"].sudo().browse(sms_ids)
        cr.execute(statement)
        self.env.invalidate_all()
        # As Odoo's composer (`sudo().create`): the caller reads them back on its force-send path, and a marketing
        # user who is not an administrator has no access to sms.sms.
        return self.env["sms.sms"].sudo().browse(sms_ids)

    @api.model
    def _sms_split_recipient_links(self, body, short_prefix):
        """`body` cut where `_sms_with_recipient_links` puts each SMS id: `str(sms_id).join(parts)` is its result."""
        parts, start = [], 0
        for match in re.finditer(re.escape(short_prefix) + r"(\w+)(?![\w@:%.+&~#=/-])", body):
            parts.append(body[start:match.end()] + "/s/")
            start = match.end()
        parts.append(body[start:])
        return parts

    @api.model
    def _sms_with_recipient_links(self, body, short_prefix, sms_id):
        """Odoo's per-recipient short links (`/r/<code>/s/<sms id>`), as `sms.sms._update_body_short_links`."""
        if short_prefix not in body:
            return body
        return re.sub(re.escape(short_prefix) + r"(\w+)(?![\w@:%.+&~#=/-])",
                      lambda m: f"{m.group(0)}/s/{sms_id}", body)
