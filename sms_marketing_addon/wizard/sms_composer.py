import re
from uuid import uuid4

from odoo.tools.mail import TEXT_URL_REGEX

from odoo import api, models
from odoo.tools import SQL

from odoo.addons.mass_mailing_sms.wizard.sms_composer import SMSComposer as MassSmsComposer


class SmsComposer(models.TransientModel):
    """Mass SMS for mailings, at scale: the same decisions as Odoo's composer (bodies, recipients, blacklist,
    opt-outs, duplicates, unsubscribe footer, short links), made with sets instead of list scans, links
    shortened once per distinct body, and the SMS, traces and trackers written with one INSERT each."""

    _inherit = "sms.composer"

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
            "SELECT number FROM phone_blacklist WHERE active AND number = ANY(%s)", numbers))}
        return [r.id for r in records if recipients_info[r.id]["sanitized"] in blacklisted]

    def _prepare_recipient_values(self, records):
        """Contacts already carry their SMS number in E.164 (`sms_number`): no second parse per recipient."""
        if records._name != "res.partner" or self.number_field_name or self._sms_odoo_path():
            return super()._prepare_recipient_values(records)
        records.fetch(["mobile", "phone", "sms_number"])
        return {
            partner.id: {
                "partner": partner, "sanitized": partner.sms_number or False,
                "number": partner.mobile or partner.phone or False, "partner_store": False,
                "field_store": "mobile" if partner.mobile else "phone",
            } for partner in records
        }

    def _get_done_record_ids(self, records, recipients_info):
        if self._sms_odoo_path():
            return super()._get_done_record_ids(records, recipients_info)
        done_ids, done = [], set()
        for record in records:
            sanitized = recipients_info[record.id]["sanitized"]
            if sanitized in done:
                done_ids.append(record.id)
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
                  AND trace.model = %(model)s AND trace.res_id = ANY(%(ids)s)""",
            table=SQL.identifier(records._table), mailing=mailing.id, model=records._name, ids=records.ids,
        ))]

    def _prepare_body_values(self, records):
        if not self.mailing_id or self._sms_odoo_path():
            return super()._prepare_body_values(records)
        all_bodies = super(MassSmsComposer, self)._prepare_body_values(records)
        tracker_values = self.mailing_id._get_link_tracker_values()
        renderer = self.env["mail.render.mixin"].sudo()
        short_urls = {}  # one link tracker per URL, as Odoo's per-body shortening ends up with
        for res_id, body in all_bodies.items():
            if not body:
                continue
            for url in set(re.findall(TEXT_URL_REGEX, body)):
                if url not in short_urls:
                    short_urls[url] = renderer._shorten_links_text(url, tracker_values)
                if short_urls[url] != url:
                    body = re.sub(re.escape(url) + r"(?![\w@:%.+&~#=/-])", short_urls[url], body)
            all_bodies[res_id] = body
        return all_bodies

    def _prepare_mass_sms_values(self, records):
        if not self.mailing_id or self._sms_odoo_path():
            return super()._prepare_mass_sms_values(records)
        # Read the base URL and translate the unsubscribe line once per run, not once per recipient.
        marker = "\x00unsubscribe-url\x00"
        composer = self.with_context(
            _sms_base_url=self.get_base_url(),
            _sms_unsubscribe_info=super()._get_unsubscribe_info(marker),
            _sms_unsubscribe_marker=marker,
        )
        return super(SmsComposer, composer)._prepare_mass_sms_values(records)

    def _get_unsubscribe_url(self, res_id, trace_code, number):
        base_url = self.env.context.get("_sms_base_url")
        if not base_url:
            return super()._get_unsubscribe_url(res_id, trace_code, number)
        return f"{base_url}/sms/{self.mailing_id.id}/{trace_code}"

    @api.model
    def _get_unsubscribe_info(self, url):
        info = self.env.context.get("_sms_unsubscribe_info")
        if not info:
            return super()._get_unsubscribe_info(url)
        return info.replace(self.env.context["_sms_unsubscribe_marker"], url)

    # ------------------------------------------------------------------ bulk writes
    def _prepare_mass_sms(self, records, sms_record_values):
        if not self.mailing_id or self._sms_odoo_path():
            return super()._prepare_mass_sms(records, sms_record_values)
        values = [sms_record_values[record.id] for record in records]
        if not values:
            return self.env["sms.sms"]
        cr = self.env.cr
        cr.execute("SELECT nextval('sms_sms_id_seq') FROM generate_series(1, %s)", [len(values)])
        sms_ids = [row[0] for row in cr.fetchall()]
        base_url = self.get_base_url()
        short_prefix = base_url + "/r/"
        bodies = [self._sms_with_recipient_links(v["body"] or "", short_prefix, sms_id)
                  for v, sms_id in zip(values, sms_ids)]
        uid, mailing = self.env.uid, self.mailing_id
        self.env["sms.sms"].flush_model()
        self.env["mailing.trace"].flush_model()
        cr.execute(SQL(
            """INSERT INTO sms_sms (id, uuid, number, body, partner_id, state, failure_type, to_delete, mailing_id,
                                    sms_kind, create_uid, write_uid, create_date, write_date)
               SELECT u.id, u.uuid, u.number, u.body, NULLIF(u.partner_id, 0), u.state, NULLIF(u.failure_type, ''),
                      FALSE, %(mailing)s, 'marketing', %(uid)s, %(uid)s, now() at time zone 'UTC',
                      now() at time zone 'UTC'
                 FROM unnest(%(ids)s::int[], %(uuids)s::varchar[], %(numbers)s::varchar[], %(bodies)s::text[],
                             %(partners)s::int[], %(states)s::varchar[], %(failures)s::varchar[])
                   AS u(id, uuid, number, body, partner_id, state, failure_type)""",
            mailing=mailing.id, uid=uid, ids=sms_ids, uuids=[v.get("uuid") or uuid4().hex for v in values],
            numbers=[v["number"] or None for v in values], bodies=bodies,
            partners=[v["partner_id"] or 0 for v in values], states=[v["state"] for v in values],
            failures=[v["failure_type"] or "" for v in values],
        ))
        traces = [v["mailing_trace_ids"][0][2] for v in values]
        cr.execute(SQL(
            """INSERT INTO mailing_trace (trace_type, model, res_id, mass_mailing_id, campaign_id, sms_code,
                                          sms_number, sms_id_int, trace_status, failure_type,
                                          create_uid, write_uid, create_date, write_date)
               SELECT 'sms', %(model)s, u.res_id, %(mailing)s, %(campaign)s, u.code, u.number, u.sms_id,
                      u.status, NULLIF(u.failure_type, ''), %(uid)s, %(uid)s, now() at time zone 'UTC',
                      now() at time zone 'UTC'
                 FROM unnest(%(res_ids)s::int[], %(codes)s::varchar[], %(numbers)s::varchar[], %(sms_ids)s::int[],
                             %(statuses)s::varchar[], %(failures)s::varchar[])
                   AS u(res_id, code, number, sms_id, status, failure_type)
               RETURNING id, sms_id_int""",
            model=self.res_model, mailing=mailing.id, campaign=mailing.campaign_id.id or None, uid=uid,
            res_ids=[t["res_id"] for t in traces], codes=[t["sms_code"] for t in traces],
            numbers=[t["sms_number"] or None for t in traces], sms_ids=sms_ids,
            statuses=[t.get("trace_status") or "outgoing" for t in traces],
            failures=[t.get("failure_type") or "" for t in traces],
        ))
        trace_by_sms = dict((sms_id, trace_id) for trace_id, sms_id in cr.fetchall())
        uuid_by_sms = dict(zip(sms_ids, (v["uuid"] for v in values)))
        cr.execute(SQL(
            """INSERT INTO sms_tracker (sms_uuid, mailing_trace_id, create_uid, write_uid, create_date, write_date)
               SELECT u.uuid, u.trace_id, %(uid)s, %(uid)s, now() at time zone 'UTC', now() at time zone 'UTC'
                 FROM unnest(%(uuids)s::varchar[], %(trace_ids)s::int[]) AS u(uuid, trace_id)""",
            uid=uid, uuids=[uuid_by_sms[i] for i in sms_ids], trace_ids=[trace_by_sms[i] for i in sms_ids],
        ))
        self.env.invalidate_all()
        # As Odoo's composer (`sudo().create`): the caller reads them back on its force-send path, and a marketing
        # user who is not an administrator has no access to sms.sms.
        return self.env["sms.sms"].sudo().browse(sms_ids)

    @api.model
    def _sms_with_recipient_links(self, body, short_prefix, sms_id):
        """Odoo's per-recipient short links (`/r/<code>/s/<sms id>`), as `sms.sms._update_body_short_links`."""
        if short_prefix not in body:
            return body
        return re.sub(re.escape(short_prefix) + r"(\w+)(?![\w@:%.+&~#=/-])",
                      lambda m: f"{m.group(0)}/s/{sms_id}", body)
