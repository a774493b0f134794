"""Check recipients before sending: what the compliance gate will do with each recipient of an SMS mailing, and
what it will cost. Set-based: the recipients, their consent, opt-outs, duplicates, frequency caps, routes and
prices are joined in PostgreSQL; Python only resolves the sending hours once per group of recipients whose
number prefix (`recipient_zones.zone_key`) and contact zone, country and state are the same. Memory stays
bounded and the time grows with the SQL, not with Python loops over recipients (bench/bench_check_recipients.py).
"""

from datetime import timedelta

from odoo import _, api, fields, models
from odoo.tools import SQL, split_every

from ..tools import recipient_zones
from .sms_mailing_recipient import EXCLUDED_REASONS

PYTHON_CHUNK = 5000
TEMP_TABLES = ("smsm_rcpt", "smsm_head", "smsm_chk", "smsm_grp", "smsm_recent", "smsm_route")
ELIGIBLE = "c.valid AND NOT c.blacklisted AND c.rank = 1 AND c.consent_partner IS NOT NULL"


class MailingMailing(models.Model):
    _inherit = "mailing.mailing"

    sms_preview_duplicate = fields.Integer(string="Duplicate numbers", readonly=True, copy=False)
    sms_preview_excluded = fields.Integer(string="Excluded", readonly=True, copy=False,
                                          help="Recipients this mailing will never text, whatever the reason.")
    sms_preview_later = fields.Integer(string="Later", readonly=True, copy=False,
                                       help="Deferred to their sending hours, or by the frequency cap.")
    sms_preview_deferred_from = fields.Datetime(string="Deferred from", readonly=True, copy=False)
    sms_preview_deferred_until = fields.Datetime(string="Deferred until", readonly=True, copy=False)
    sms_preview_segments = fields.Integer(string="Estimated segments", readonly=True, copy=False)
    sms_preview_cost = fields.Float(string="Estimated cost", readonly=True, copy=False, digits=(16, 2))
    sms_preview_currency_id = fields.Many2one("res.currency", string="Cost currency", readonly=True, copy=False)
    sms_preview_cost_note = fields.Char(string="Cost note", readonly=True, copy=False)
    # After sending: SMS the compliance gate (or a provider answer) holds, rather than "will be sent soon".
    sms_held_count = fields.Integer(string="Held", compute="_compute_sms_held")
    sms_held_until = fields.Datetime(string="Held until", compute="_compute_sms_held",
                                     help="The latest date a held SMS of this mailing waits for.")
    sms_held_reason = fields.Char(string="Held because", compute="_compute_sms_held",
                                  help="Why most of the held SMS wait (and how many other reasons there are).")
    sms_soon_count = fields.Integer(string="In queue, not held", compute="_compute_sms_held")

    def _compute_sms_held(self):
        sms_mailings = self.filtered(lambda m: m.mailing_type == "sms" and isinstance(m.id, int))
        (self - sms_mailings).update({"sms_held_count": 0, "sms_held_until": False, "sms_held_reason": False,
                                      "sms_soon_count": 0})
        if not sms_mailings:
            return
        self.env["sms.sms"].flush_model(["mailing_id", "state", "sms_defer_until", "sms_defer_reason"])
        now = fields.Datetime.now()
        rows = self.env.execute_query(SQL(
            """SELECT mailing_id, sms_defer_reason, count(*), max(sms_defer_until) FROM sms_sms
                WHERE mailing_id IN %s AND state = 'outgoing' AND sms_defer_until > %s
                GROUP BY mailing_id, sms_defer_reason ORDER BY count(*) DESC, sms_defer_reason""",
            tuple(sms_mailings.ids), now))
        held = {}
        for mailing_id, reason, count, until in rows:
            held.setdefault(mailing_id, []).append((reason, count, until))
        for mailing in sms_mailings:
            reasons = held.get(mailing.id, [])
            reason = reasons[0][0] if reasons else False
            if len(reasons) > 1:
                reason = _("%(reason)s (and %(count)s other reasons)", reason=reason, count=len(reasons) - 1)
            mailing.sms_held_count = sum(count for __, count, __ in reasons)
            mailing.sms_held_until = max((until for *__, until in reasons), default=False)
            mailing.sms_held_reason = reason
            mailing.sms_soon_count = max(mailing.scheduled - mailing.sms_held_count, 0)

    def action_sms_view_held(self):
        """The held SMS of this mailing in the Outbox (managers), else the checked recipients."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window", "name": _("Held SMS of %s", self.subject or self.display_name),
            "res_model": "sms.sms", "view_mode": "list,form",
            "views": [(self.env.ref("sms_marketing_addon.sms_sms_view_list_outbox").id, "list"),
                      (self.env.ref("sms_marketing_addon.sms_sms_view_form_outbox").id, "form")],
            "domain": [("mailing_id", "=", self.id), ("state", "=", "outgoing"),
                       ("sms_defer_until", ">", fields.Datetime.now())],
            "context": {"create": False},
        }

    def action_sms_send_confirm(self):
        """Odoo's Send, for SMS mailings: check the recipients, then say what will happen before confirming."""
        self.ensure_one()
        return self.env["sms.mailing.send.confirm"]._open_for(self)

    def unlink(self):
        # The checked recipients have no foreign key to the mailing (see sms.mailing.recipient): go with it.
        if self.ids:
            self.env.cr.execute("DELETE FROM sms_mailing_recipient WHERE mailing_ref IN %s", [tuple(self.ids)])
        return super().unlink()

    # ------------------------------------------------------------------ check
    def action_sms_check_recipients(self):
        """Decide, before sending, what the compliance gate will do with every recipient; keep each recipient
        with its reason (sms.mailing.recipient) and the counts, segments and cost on the mailing."""
        for mailing in self.filtered(lambda m: m.mailing_type == "sms"):
            mailing._sms_check_recipients()
        return True

    def _sms_check_recipients(self):
        self.ensure_one()
        # Rows are written in SQL below: only who may change the mailing (Odoo's mass mailing users) checks it.
        self.check_access("write")
        now = fields.Datetime.now()
        cr = self.env.cr
        for model in ("res.partner", "phone.blacklist", "sms.provider.message", "sms.sms", "mailing.trace",
                      "sms.provider.account", "sms.provider.account.price", "sms.mailing.recipient",
                      self.mailing_model_real):
            self.env[model].flush_model()
        cr.execute(SQL("DROP TABLE IF EXISTS %s", SQL(", ").join(SQL.identifier(t) for t in TEMP_TABLES)))
        # Whole-table joins and sorts: JIT compilation costs more than it saves here (8 s of 28 s measured at
        # 100,000), and sorts of a million rows stay in memory.
        cr.execute("SET LOCAL jit = off")
        cr.execute("SET LOCAL work_mem = '64MB'")
        cr.execute("CREATE TEMP TABLE smsm_rcpt (res_id int, number varchar, valid boolean, partner_id int)")
        self._sms_check_fill_recipients()
        cr.execute("ANALYZE smsm_rcpt")

        # Zone keys of the numbers' first digits (a few hundred heads at most).
        cr.execute("SELECT DISTINCT left(number, 5) FROM smsm_rcpt WHERE valid AND number IS NOT NULL")
        heads = [row[0] for row in cr.fetchall()]
        cr.execute("CREATE TEMP TABLE smsm_head (head varchar PRIMARY KEY, size int)")
        cr.execute("INSERT INTO smsm_head SELECT * FROM unnest(%s::varchar[], %s::int[])",
                   [heads, [recipient_zones._zone_key_digits(head[1:]) for head in heads]])
        cr.execute("ANALYZE smsm_head")

        # Opt-outs, duplicates (Odoo's composer cancels all but the first), consent: as the gate decides them.
        cr.execute("""
            CREATE TEMP TABLE smsm_chk AS
            SELECT r.res_id, r.number, COALESCE(r.valid, FALSE) AND r.number IS NOT NULL AS valid,
                   b.number IS NOT NULL AS blacklisted,
                   row_number() OVER (PARTITION BY r.number ORDER BY r.res_id) AS rank,
                   c.id AS consent_partner, COALESCE(r.partner_id, c.id) AS dest_partner,
                   CASE WHEN h.size = 0 THEN r.number ELSE left(r.number, h.size + 1) END AS gkey,
                   COALESCE(p.tz, '') AS tz, COALESCE(co.code, '') AS ccode, COALESCE(st.code, '') AS scode
              FROM smsm_rcpt r
              LEFT JOIN (SELECT DISTINCT number FROM phone_blacklist WHERE active) b ON b.number = r.number
              LEFT JOIN (SELECT DISTINCT ON (sms_number) sms_number, id FROM res_partner
                          WHERE sms_consent_state = 'opted_in' AND sms_number_valid AND sms_number_rejected IS NULL
                            AND sms_number IN (SELECT number FROM smsm_rcpt)
                          ORDER BY sms_number, id) c ON c.sms_number = r.number
              LEFT JOIN smsm_head h ON h.head = left(r.number, 5)
              LEFT JOIN res_partner p ON p.id = COALESCE(r.partner_id, c.id)
              LEFT JOIN res_country co ON co.id = p.country_id
              LEFT JOIN res_country_state st ON st.id = p.state_id""")
        cr.execute("ANALYZE smsm_chk")

        # Sending hours and policy: once per group of recipients that resolve alike.
        cr.execute(f"""SELECT c.gkey, c.tz, c.ccode, c.scode, min(c.number) FROM smsm_chk c
                        WHERE {ELIGIBLE} GROUP BY 1, 2, 3, 4""")
        groups = self._sms_check_groups(cr.fetchall(), now)
        cr.execute("""CREATE TEMP TABLE smsm_grp (gkey varchar, tz varchar, ccode varchar, scode varchar,
                                                   country_id int, allowed_at timestamp,
                                                   cap_count int, cap_hours int)""")
        cr.execute("INSERT INTO smsm_grp SELECT * FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], "
                   "%s::varchar[], %s::int[], %s::timestamp[], %s::int[], %s::int[])",
                   [list(column) for column in zip(*groups)] if groups else [[]] * 8)
        cr.execute("CREATE INDEX ON smsm_grp (gkey, tz, ccode, scode)")

        # Marketing SMS already sent (or going out now) per number, over each cap window in use.
        windows = sorted({hours for *__, count, hours in groups if count})
        cr.execute("CREATE TEMP TABLE smsm_recent (number varchar, hours int, sent int)")
        if windows:
            cr.execute(f"""
                INSERT INTO smsm_recent
                SELECT m.number, w.hours, count(*)
                  FROM (SELECT number, date_sent AS at FROM sms_provider_message
                         WHERE is_marketing AND date_sent > %(since)s
                           AND number IN (SELECT c.number FROM smsm_chk c WHERE {ELIGIBLE})
                        UNION ALL
                        SELECT number, %(now)s FROM sms_sms
                         WHERE state = 'outgoing' AND sms_kind = 'marketing' AND sms_claim_expires > %(now)s) m
                  JOIN unnest(%(windows)s::int[]) AS w(hours) ON m.at > %(now)s - w.hours * interval '1 hour'
                 GROUP BY 1, 2""", {"since": now - timedelta(hours=max(windows)), "now": now, "windows": windows})

        # Routes: the gateway account of each number, as `sms.provider.account._route` chooses it.
        accounts = self.env["sms.provider.account"].sudo().search([])
        default = accounts.filtered("is_default")[:1] or accounts[:1]
        routes = [(prefix, account.id) for account in accounts for prefix in account._prefix_list()]
        cr.execute("CREATE TEMP TABLE smsm_route (prefix varchar, account_id int)")
        if routes:
            cr.execute("INSERT INTO smsm_route SELECT * FROM unnest(%s::varchar[], %s::int[])",
                       [list(column) for column in zip(*routes)])
        route = SQL("""COALESCE((SELECT o.account_id FROM smsm_route o WHERE starts_with(substr(d.number, 2), o.prefix)
                                   ORDER BY length(o.prefix) DESC LIMIT 1), %s)""", default.id or None) \
            if routes else SQL("%s::int", default.id or None)

        skip_capped = self.sms_cap_action == "skip"
        segments = max(self.sms_segment_count, 1)
        cr.execute("DELETE FROM sms_mailing_recipient WHERE mailing_ref = %s", [self.id])
        cr.execute("DELETE FROM sms_mailing_cost WHERE mailing_id = %s", [self.id])
        cr.execute(SQL(f"""
            WITH decided AS (
                SELECT c.res_id, c.number, c.dest_partner, g.country_id,
                       CASE WHEN NOT c.valid THEN 'invalid'
                            WHEN c.blacklisted THEN 'opted_out'
                            WHEN c.rank > 1 THEN 'duplicate'
                            WHEN c.consent_partner IS NULL THEN 'no_consent'
                            WHEN g.allowed_at IS NULL OR g.allowed_at > %(now)s THEN 'deferred'
                            WHEN g.cap_count > 0 AND COALESCE(rc.sent, 0) >= g.cap_count THEN 'capped'
                            ELSE 'now' END AS reason,
                       CASE WHEN {ELIGIBLE} AND g.allowed_at > %(now)s THEN g.allowed_at END AS send_after
                  FROM smsm_chk c
                  LEFT JOIN smsm_grp g ON {ELIGIBLE} AND g.gkey = c.gkey AND g.tz = c.tz AND g.ccode = c.ccode
                                      AND g.scode = c.scode
                  LEFT JOIN smsm_recent rc ON rc.number = c.number AND rc.hours = g.cap_hours
            ), sending AS (
                SELECT d.*, d.reason IN ('now', 'deferred') OR (d.reason = 'capped' AND NOT %(skip)s) AS sends
                  FROM decided d
            )
            INSERT INTO sms_mailing_recipient (mailing_ref, res_id, partner_ref, number, reason, excluded, send_after,
                                               country_ref, account_ref, segments)
            SELECT %(mailing)s, d.res_id, d.dest_partner, d.number, d.reason, NOT d.sends, d.send_after,
                   d.country_id, CASE WHEN d.sends THEN %(route)s END, CASE WHEN d.sends THEN %(segments)s ELSE 0 END
              FROM sending d""",
            now=now, skip=skip_capped, route=route, mailing=self.id, segments=segments))
        # The estimate per destination country and account: a handful of rows.
        cr.execute("""
            INSERT INTO sms_mailing_cost (mailing_id, country_id, account_id, recipients, segments, price, currency_id,
                                          cost, cost_known, create_uid, create_date, write_uid, write_date)
            SELECT r.mailing_id, r.country_ref, r.account_ref, r.recipients, r.segments, pr.price, pr.currency_id,
                   pr.price * r.segments, pr.price IS NOT NULL, %(uid)s, %(now)s, %(uid)s, %(now)s
              FROM (SELECT mailing_ref AS mailing_id, country_ref, account_ref, count(*) AS recipients,
                           sum(segments) AS segments
                      FROM sms_mailing_recipient WHERE mailing_ref = %(mailing)s AND NOT excluded
                     GROUP BY 1, 2, 3) r
              LEFT JOIN LATERAL (SELECT p.price, p.currency_id FROM sms_provider_account_price p
                                  WHERE p.account_id = r.account_ref
                                    AND (p.country_id = r.country_ref OR p.country_id IS NULL)
                                  ORDER BY p.country_id IS NULL LIMIT 1) pr ON TRUE""",
                   {"uid": self.env.uid, "now": now, "mailing": self.id})
        self.env["sms.mailing.recipient"].invalidate_model()
        self.env["sms.mailing.cost"].invalidate_model()
        self._sms_check_summarize(now)
        cr.execute(SQL("DROP TABLE IF EXISTS %s", SQL(", ").join(SQL.identifier(t) for t in TEMP_TABLES)))

    def _sms_check_fill_recipients(self):
        """smsm_rcpt: the recipients not yet traced, with their number, whether it is valid and their contact."""
        cr = self.env.cr
        Model = self.env[self.mailing_model_real]
        if self.ab_testing_enabled:  # Odoo picks an A/B test's share at random: take its pick
            ids = self._get_remaining_recipients()
            source = SQL("SELECT unnest(%s::int[])", ids)
        else:
            query = Model._search(self._get_recipients_domain())
            source = SQL(
                """SELECT x.id FROM %s x WHERE x.id IN %s AND NOT EXISTS (
                       SELECT 1 FROM mailing_trace t
                        WHERE t.mass_mailing_id = %s AND t.model = %s AND t.res_id = x.id)""",
                SQL.identifier(Model._table), query.subselect(), self.id, Model._name)
        if Model._name == "res.partner":
            cr.execute(SQL("""INSERT INTO smsm_rcpt
                              SELECT p.id, p.sms_number, p.sms_number_valid, p.id FROM res_partner p
                               WHERE p.id IN (%s)""", source))
            return
        field = Model._fields.get("phone_sanitized")
        if field is not None and field.store:
            cr.execute(SQL("""INSERT INTO smsm_rcpt
                              SELECT x.id, x.phone_sanitized, x.phone_sanitized IS NOT NULL, NULL FROM %s x
                               WHERE x.id IN (%s)""", SQL.identifier(Model._table), source))
            return
        cr.execute(source)
        ids = [row[0] for row in cr.fetchall()]
        for chunk in split_every(PYTHON_CHUNK, ids, list):
            info = Model.browse(chunk)._sms_get_recipients_info()
            numbers = [info[res_id]["sanitized"] or None for res_id in chunk]
            partners = [info[res_id]["partner"].id or None for res_id in chunk]
            cr.execute("INSERT INTO smsm_rcpt SELECT r, n, n IS NOT NULL, p FROM unnest(%s::int[], %s::varchar[], "
                       "%s::int[]) AS u(r, n, p)", [chunk, numbers, partners])
            self.env.invalidate_all()

    @api.model
    def _sms_check_groups(self, groups, now):
        """For each (zone key, contact zone, country code, state code, sample number): the destination country,
        when the sending hours open (None: not within 16 days) and the policy's cap."""
        Sms = self.env["sms.sms"]
        Policy = self.env["sms.compliance.policy"]
        all_policies = Policy.sudo().search([])
        ruled = set(all_policies.country_id.ids) | set(all_policies.territory_ids.ids)
        countries, policies, allowed, rows = {}, {}, {}, []
        for gkey, tz, ccode, scode, sample in groups:
            country, state, resolution = Sms._sms_destination_of(sample, tz or None, ccode or None, scode or None,
                                                                 countries)
            key = (country, state) if country.id in ruled else None
            if key not in policies:
                policies[key] = Policy._for_destination(country, state, now, all_policies)
            policy = policies[key]
            if (policy, resolution.zones) not in allowed:
                allowed[policy, resolution.zones] = policy._next_allowed(now, resolution.zones)
            rows.append((gkey, tz, ccode, scode, country.id or None, allowed[policy, resolution.zones],
                         policy.cap_count, policy.cap_hours))
        return rows

    def _sms_check_summarize(self, now):
        cr = self.env.cr
        cr.execute("""SELECT reason, count(*), sum(segments), min(send_after), max(send_after)
                        FROM sms_mailing_recipient WHERE mailing_ref = %s GROUP BY reason""", [self.id])
        by_reason = {reason: (count, segs, first, last) for reason, count, segs, first, last in cr.fetchall()}
        counts = {reason: by_reason.get(reason, (0,))[0] for reason in
                  ("now", "deferred", "capped", "no_consent", "opted_out", "duplicate", "invalid")}
        cr.execute("""SELECT currency_id, sum(cost), sum(recipients) FILTER (WHERE NOT cost_known)
                        FROM sms_mailing_cost WHERE mailing_id = %s GROUP BY currency_id""", [self.id])
        costs = cr.fetchall()
        priced = [(currency, total) for currency, total, __ in costs if currency]
        unknown = sum(missing or 0 for __, __, missing in costs)
        deferred = by_reason.get("deferred", (0, 0, None, None))
        skip = self.sms_cap_action == "skip"
        if len(priced) > 1:
            note = _("Several currencies: see the estimate per country and account.")
        elif unknown:
            note = _("Cost unknown for %(count)s recipients: no price for their gateway account and country.",
                     count=unknown)
        else:
            note = False
        self.write({
            "sms_preview_date": now, "sms_preview_total": sum(counts.values()),
            **{f"sms_preview_{reason}": count for reason, count in counts.items()},
            "sms_preview_excluded": sum(counts[r] for r in EXCLUDED_REASONS) + (counts["capped"] if skip else 0),
            "sms_preview_later": counts["deferred"] + (0 if skip else counts["capped"]),
            "sms_preview_deferred_from": deferred[2], "sms_preview_deferred_until": deferred[3],
            "sms_preview_segments": sum(segs or 0 for __, segs, *__ in by_reason.values()),
            "sms_preview_cost": priced[0][1] if len(priced) == 1 else 0.0,
            "sms_preview_currency_id": priced[0][0] if len(priced) == 1 else False,
            "sms_preview_cost_note": note,
        })

    # ------------------------------------------------------------------ the recipients, with their reason
    def action_sms_view_recipients(self):
        """The checked recipients, filtered by the reason given in the context (`sms_reason`)."""
        self.ensure_one()
        reason = self.env.context.get("sms_reason")
        context = {"create": False, "edit": False, "delete": False}
        if reason:
            context[f"search_default_reason_{reason}"] = 1
        return {
            "type": "ir.actions.act_window", "name": _("Recipients of %s", self.subject or self.display_name),
            "res_model": "sms.mailing.recipient", "view_mode": "list,graph",
            "domain": [("mailing_id", "=", self.id)], "context": context,
        }

    def action_sms_view_cost(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window", "name": _("Estimated cost of %s", self.subject or self.display_name),
            "res_model": "sms.mailing.cost", "view_mode": "list,pivot",
            "domain": [("mailing_id", "=", self.id)],
            "context": {"create": False, "edit": False, "delete": False},
        }
