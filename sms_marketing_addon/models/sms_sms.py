import logging
import unicodedata
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.tools import SQL
from odoo.tools.sql import create_index

from ..tools import recipient_zones

_logger = logging.getLogger(__name__)

SMS_KINDS = [
    ("marketing", "Marketing"),
    ("transactional", "Transactional"),
    ("consent", "Consent request or keyword reply"),
]


def _plain_words(text):
    """Casefolded words without accents or punctuation: 'Répondez STOP !' -> 'repondez stop'."""
    decomposed = unicodedata.normalize("NFKD", (text or "").casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join("".join(ch if ch.isalnum() else " " for ch in plain).split())


def _carries_instruction(body, footer):
    """Whether `body` already carries the opt-out instruction `footer` (case, accents, spacing and punctuation
    ignored): "Reply STOP to opt out" is found in "... reply stop to opt-out.", "non-stop deals" is no
    instruction."""
    instruction = _plain_words(footer)
    return bool(instruction) and f" {instruction} " in f" {_plain_words(body)} "


class SmsSms(models.Model):
    """Odoo's SMS queue is the outbox of the gateway: nothing goes to IAP any more; the sync service claims
    queued SMS (`sms.marketing.api.claim_batch`), the compliance gate runs at claim time."""

    _inherit = "sms.sms"

    failure_type = fields.Selection(selection_add=[
        ("sms_no_consent", "No marketing consent"),
        ("sms_capped", "Frequency cap reached"),
        ("sms_rejected_number", "Number rejected by the provider"),
    ])
    sms_kind = fields.Selection(SMS_KINDS, string="Kind", compute="_compute_sms_kind", store=True, readonly=False,
                                precompute=True, index=True)
    sms_defer_until = fields.Datetime(string="Deferred until", index="btree_not_null", copy=False)
    sms_defer_reason = fields.Char(string="Deferred because", copy=False)
    sms_claim_worker = fields.Char(string="Claimed by", copy=False)
    # Indexed where set (the SMS out right now): the gate's frequency-cap look-up counts them per number.
    sms_claim_expires = fields.Datetime(string="Claim expires", copy=False, index="btree_not_null")
    sms_attempts = fields.Integer(string="Send attempts", copy=False)
    sms_last_error = fields.Char(string="Last provider error", copy=False)
    sms_account_id = fields.Many2one("sms.provider.account", string="Gateway account", copy=False)

    def init(self):
        super().init()
        # claim_batch takes the first queued SMS by id: without it, every claim walks past the SMS already sent
        # (kept until Odoo's clean-up) from the start of the table, a cost that grows with the campaign.
        create_index(self.env.cr, "sms_sms_outgoing_id_index", self._table, ["id"], where="state = 'outgoing'")

    @api.depends("mailing_id")
    def _compute_sms_kind(self):
        for sms in self:
            sms.sms_kind = "marketing" if sms.mailing_id else (sms.sms_kind or "transactional")

    # ------------------------------------------------------------------ no more IAP
    def send(self, unlink_failed=False, unlink_sent=True, auto_commit=False, raise_exception=False):
        """Queued SMS wait for the gateway (the sync service); nothing is sent from inside Odoo. As in Odoo, only
        who may read these SMS may ask to send them (AccessError otherwise)."""
        if self:
            self.check_access("read")
        return None

    def _send(self, unlink_failed=False, unlink_sent=True, raise_exception=False):
        return None

    # ------------------------------------------------------------------ gate
    @api.model
    def _sms_destination(self, number, partner, countries=None, valid=False):
        """(country, state, resolution) of a destination: the number's country, the state whose rules apply
        (the contact's, else the area code's) and the time zones the recipient may be in
        (`tools.recipient_zones.resolve`). `countries` caches the look-ups of one batch; `valid`: the number
        is a valid one (a contact's valid SMS number), which resolves as any of its zone key does."""
        return self._sms_destination_of(number, partner.tz, partner.country_id.code, partner.state_id.code,
                                        countries, valid=valid)

    @api.model
    def _sms_destination_of(self, number, tz, country_code, state_code, countries=None, valid=False):
        """`_sms_destination` from the contact's zone, country code and state code."""
        countries = {} if countries is None else countries
        default_tz = self.env.company.partner_id.tz
        # Valid numbers with the same zone key resolve alike (`recipient_zones.zone_key`): parsed once per key
        # and contact zone, country and state in a batch, not once per number (a campaign's numbers are new).
        zones_key = ("zones", recipient_zones.zone_key(number), tz, country_code, state_code, default_tz) \
            if valid and number else None
        resolution = countries.get(zones_key) if zones_key else None
        if resolution is None:
            resolution = recipient_zones.resolve(number, tz, country_code, state_code, default_tz=default_tz)
            if zones_key:
                countries[zones_key] = resolution
        key = (resolution.region, resolution.state)
        if key not in countries:
            Country = self.env["res.country"].sudo()
            if "by code" not in countries:  # one search per batch, not one per country
                countries["by code"] = {c.code: c for c in Country.search([])}
            country = countries["by code"].get(resolution.region, Country)
            state = self.env["res.country.state"].sudo().search(
                [("country_id", "=", country.id), ("code", "=", resolution.state)], limit=1,
            ) if country and resolution.state else self.env["res.country.state"]
            countries[key] = (country, state)
        country, state = countries[key]
        return country, state, resolution

    @api.model
    def _sms_hours_reason(self, policy, resolution):
        """Why a marketing SMS waits for its sending hours, in the merchant's words: the rule and the zones."""
        if resolution.source == recipient_zones.SOURCE_CONTACT:
            why = _("time zone of the contact")
        elif resolution.source == recipient_zones.SOURCE_STATE:
            why = _("time zones of the number and of the contact's state")
        elif resolution.source == recipient_zones.SOURCE_FALLBACK:
            why = _("company's time zone")
        else:
            why = _("time zones of the number")
        return _("Outside sending hours: %(policy)s, in %(zones)s (%(why)s)",
                 policy=policy.name, zones=", ".join(resolution.zones), why=why)

    def _sms_gate(self, now, bodies=None):
        """Split these queued SMS into (to_send, deferred, canceled) by consent, opt-outs, sending hours and
        frequency caps; decorate marketing bodies with the brand and the opt-out footer. Writes the outcome;
        the decorated bodies too, unless `bodies` (a dict) is given: then they are put there, {id: body}, for
        the caller to write with what it writes next (one UPDATE of each row, not two)."""
        Partner = self.env["res.partner"].sudo().with_context(active_test=False)
        numbers = list({sms.number for sms in self if sms.number})
        # One query for the batch, on the register's unique index: the ORM search would parse every number
        # again (its domain sanitizes), and only numbers spelled as the register keeps them can match below.
        self.env["phone.blacklist"].flush_model(["number", "active"])
        blacklisted = {row[0] for row in self.env.execute_query(SQL(
            "SELECT number FROM phone_blacklist WHERE active AND number = ANY(%s)", numbers))}
        consenting = {}
        partners = Partner.search([("sms_number", "in", numbers)])
        # What the gate reads of the contacts, in one narrow query (their first field read would fetch every
        # column of res_partner: a hundred, for each of the batch's contacts).
        gate_fields = ["sms_number", "sms_consent_state", "sms_number_valid", "sms_number_rejected", "tz",
                       "country_id", "state_id", "lang", "company_id"]
        (partners | self.partner_id).fetch([name for name in (*gate_fields, "website_id") if name in Partner._fields])
        for partner in partners:
            if partner.sms_consent_state == "opted_in" and partner.sms_number_valid and not partner.sms_number_rejected:
                consenting.setdefault(partner.sms_number, partner)
        recent = self._sms_recent_marketing_counts(numbers, now)
        Policy = self.env["sms.compliance.policy"]
        # Ids in lists while the loop runs (a recordset union per SMS costs the square of the batch).
        to_send, deferred, canceled, capped = [], [], {}, {}
        planned, countries, policies, held, allowed = {}, {}, {}, {}, {}
        decorations = {"bodies": {}}  # the batch's look-ups for the decoration, and the bodies it changed
        all_policies = Policy.sudo().search([])
        ruled = set(all_policies.country_id.ids) | set(all_policies.territory_ids.ids)  # countries with own rules
        for sms in self:
            partner = sms.partner_id or consenting.get(sms.number) or Partner.browse()
            country, state, resolution = self._sms_destination(sms.number, partner, countries,
                                                               valid=sms.number in consenting)
            key = (country, state) if country.id in ruled else None
            if key not in policies:
                policies[key] = Policy._for_destination(country, state, now, all_policies)
            policy = policies[key]
            if sms.sms_kind == "consent":
                to_send.append(sms.id)
                continue
            if sms.number in blacklisted and (sms.sms_kind == "marketing" or policy.transactional_blocked_by_optout):
                canceled.setdefault("sms_blacklist", []).append(sms.id)
                continue
            if sms.sms_kind != "marketing":
                to_send.append(sms.id)
                continue
            if sms.number not in consenting:
                canceled.setdefault("sms_no_consent", []).append(sms.id)
                continue
            if (policy, resolution.zones) not in allowed:  # one look-up per rule and zones, not per SMS
                allowed[(policy, resolution.zones)] = policy._next_allowed(now, resolution.zones)
            allowed_at = allowed[(policy, resolution.zones)]
            if allowed_at is None or allowed_at > now:
                hold = (allowed_at or now + timedelta(days=1), policy, resolution.zones, resolution.source)
                if hold not in held:
                    held[hold] = (self._sms_hours_reason(policy, resolution), [])
                held[hold][1].append(sms.id)
                deferred.append(sms.id)
                continue
            if policy.cap_count:
                window = timedelta(hours=policy.cap_hours)
                sent_times = recent.get(sms.number, []) + planned.get(sms.number, [])
                in_window = sorted(t for t in sent_times if t > now - window)
                if len(in_window) >= policy.cap_count:
                    if sms.mailing_id and sms.mailing_id.sms_cap_action == "skip":
                        canceled.setdefault("sms_capped", []).append(sms.id)
                    else:
                        capped.setdefault(in_window[-policy.cap_count] + window, []).append(sms.id)
                        deferred.append(sms.id)
                    continue
            planned.setdefault(sms.number, []).append(now)
            sms._sms_decorate(policy, consenting[sms.number], decorations)
            to_send.append(sms.id)
        if bodies is None:
            self._sms_write_bodies(decorations["bodies"])
        else:
            bodies.update(decorations["bodies"])
        for until, ids in capped.items():
            self.browse(ids)._sms_defer(until, "frequency cap")
        for (until, *_rule), (reason, ids) in held.items():
            self.browse(ids)._sms_defer(until, reason)
        canceled = {failure_type: self.browse(ids) for failure_type, ids in canceled.items()}
        for failure_type, records in canceled.items():
            records._sms_cancel(failure_type)
        to_send, deferred = self.browse(to_send), self.browse(deferred)
        return to_send, deferred, canceled

    def _sms_defer(self, until, reason):
        self.write({"sms_defer_until": until, "sms_defer_reason": reason,
                    "sms_claim_worker": False, "sms_claim_expires": False})

    def _sms_cancel(self, failure_type):
        self.write({"state": "canceled", "failure_type": failure_type,
                    "sms_claim_worker": False, "sms_claim_expires": False})
        self.sms_tracker_id._action_update_from_sms_state("canceled", failure_type=failure_type)

    def _sms_decorate(self, policy, partner, cache=None):
        """Brand prefix and opt-out footer on this marketing SMS's body. `cache` (a dict kept for one batch)
        keeps the brand, language and footer looked up once per company, contact language and rule, and
        (under "bodies") collects the batch's new bodies for one write."""
        self.ensure_one()
        marker = f"/sms/{self.mailing_id.id}/" if self.mailing_id else None
        body = self._sms_decorated_body(self.body or "", policy, partner, unsubscribe_marker=marker, cache=cache)
        if body != self.body:
            if cache is not None and cache.get("bodies") is not None:  # the gate writes a batch's bodies at once
                cache["bodies"][self.id] = body
            else:
                self.body = body

    @api.model
    def _sms_decorated_body(self, body, policy, partner, unsubscribe_marker=None, cache=None):
        """A marketing body as it leaves: the brand first, the opt-out footer of `policy` last, in the
        recipient's language, unless the body already carries it or the mailing's own unsubscribe link
        (`unsubscribe_marker`, "/sms/<mailing id>/"). The gate decorates with it at claim time, and the segment
        counter of templates and mailings counts with it: one implementation of the rule."""
        cache = {} if cache is None else cache
        company = partner.company_id or self.env.company
        if ("brand", company) not in cache:
            cache[("brand", company)] = company._sms_brand()
        brand = cache[("brand", company)]
        if policy.brand_prefix and brand and not body.lstrip().lower().startswith(brand.lower()):
            body = f"{brand}: {body}"
        # One language per SMS: the footer in the recipient's language, as the body and the keyword replies.
        website = partner.website_id if "website_id" in partner._fields else None
        lang_key = ("lang", partner.lang, company, website)  # what _sms_recipient_lang decides from
        if lang_key not in cache:
            cache[lang_key] = self.env["res.partner"]._sms_recipient_lang(partner, company=company)
        lang = cache[lang_key]
        if ("footer", policy, lang) not in cache:
            cache[("footer", policy, lang)] = policy.with_context(lang=lang).optout_footer
        footer = cache[("footer", policy, lang)]
        # The mailing's own unsubscribe link ("STOP SMS: <link>", Odoo) is an opt-out instruction as well.
        unsubscribe_link = bool(unsubscribe_marker) and unsubscribe_marker in body
        if footer and not unsubscribe_link and not _carries_instruction(body, footer):
            body = f"{body}\n{footer}"
        return body

    def _sms_write_bodies(self, bodies):
        """Write {sms id: body} in one UPDATE (the ORM writes each distinct value on its own: one call and
        one cache update per SMS); what depends on the body is told, as after an ORM write."""
        if not bodies:
            return
        self.flush_model(["body"])
        self.env.execute_query(SQL(
            """UPDATE sms_sms SET body = u.body, write_date = %(now)s, write_uid = %(uid)s
                 FROM unnest(%(ids)s::int[], %(bodies)s::text[]) AS u(id, body) WHERE sms_sms.id = u.id""",
            ids=list(bodies), bodies=list(bodies.values()), now=self.env.cr.now(), uid=self.env.uid,
        ))
        records = self.browse(list(bodies))
        records.invalidate_recordset(["body", "write_date", "write_uid"])
        records.modified(["body"])

    def _sms_write_columns(self, vals, bodies=None):
        """`write(vals)` of the same plain stored values on all these SMS in one UPDATE, with their {id: body}
        from `bodies` if given (the ORM flushes a batch's write as one UPDATE ... FROM (VALUES ...) per row
        values, and spends more in Python than PostgreSQL does on it). For the outbox's own columns only: no
        override of `write` reacts to them (`sms_sms_flow.write` does to a cancel or an error: use `write`)."""
        if not self:
            return
        assert vals.get("state") not in ("canceled", "error"), "a cancel or an error goes through write()"
        fnames = list(vals) + (["body"] if bodies else [])
        self.flush_model(fnames)
        self.modified(fnames, before=True)
        sets = [SQL("%s = %s", SQL.identifier(name), self._fields[name].convert_to_column(value, self))
                for name, value in vals.items()]
        if bodies:
            sets.append(SQL("body = COALESCE(u.body, sms_sms.body)"))
        sets += [SQL("write_date = %s", self.env.cr.now()), SQL("write_uid = %s", self.env.uid)]
        ids = list(self.ids)
        bodies = bodies or {}
        self.env.execute_query(SQL(
            "UPDATE sms_sms SET %(sets)s FROM unnest(%(ids)s::int[], %(bodies)s::text[]) AS u(id, body) "
            "WHERE sms_sms.id = u.id",
            sets=SQL(", ").join(sets), ids=ids, bodies=[bodies.get(sms_id) for sms_id in ids],
        ))
        self.invalidate_recordset([*fnames, "write_date", "write_uid"])
        self.modified(fnames)

    @api.model
    def _sms_recent_marketing_counts(self, numbers, now):
        """Send times of marketing SMS per number over the longest cap window, plus those out right now."""
        if not numbers:
            return {}
        longest = max(self.env["sms.compliance.policy"].sudo().search([]).mapped("cap_hours") or [24])
        since = now - timedelta(hours=longest)
        self.env["sms.provider.message"].flush_model()
        self.flush_model()
        rows = self.env.execute_query(SQL(
            """SELECT number, date_sent FROM sms_provider_message
                WHERE number IN %(numbers)s AND is_marketing AND date_sent > %(since)s
               UNION ALL
               SELECT number, %(now)s FROM sms_sms
                WHERE number IN %(numbers)s AND state = 'outgoing' AND sms_kind = 'marketing'
                  AND sms_claim_expires > %(now)s""",
            numbers=tuple(numbers), since=since, now=now,
        ))
        result = {}
        for number, sent in rows:
            result.setdefault(number, []).append(sent)
        return result
