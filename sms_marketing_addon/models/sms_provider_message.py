from odoo import api, fields, models
from odoo.tools import SQL

DELIVERY_STATES = [
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("undelivered", "Undelivered"),
    ("failed", "Failed"),
]
FINAL_STATES = {"delivered", "undelivered", "failed"}


class SmsProviderMessage(models.Model):
    """What a gateway accepted, kept after Odoo deletes the sent `sms.sms` row: maps the provider's message id
    to Odoo's SMS uuid (so late delivery receipts still land) and feeds the frequency cap and the costs."""

    _name = "sms.provider.message"
    _description = "SMS handed to a gateway"
    _order = "id desc"
    _rec_name = "provider_message_id"

    # Looked up through the unique constraint's index (a second index would cost every report's INSERT).
    sms_uuid = fields.Char(string="SMS uuid", required=True, readonly=True)
    provider_message_id = fields.Char(string="Provider message id", index=True, readonly=True)
    account_id = fields.Many2one("sms.provider.account", string="Gateway account", readonly=True, index=True)
    provider = fields.Char(readonly=True)
    number = fields.Char(readonly=True, index=True)
    partner_id = fields.Many2one("res.partner", readonly=True, index="btree_not_null")
    mailing_id = fields.Many2one("mailing.mailing", readonly=True, index="btree_not_null", ondelete="set null")
    is_marketing = fields.Boolean(readonly=True)
    segments = fields.Integer(readonly=True, default=1)
    state = fields.Selection(DELIVERY_STATES, readonly=True, default="sent", index=True)
    error_code = fields.Char(readonly=True)
    date_sent = fields.Datetime(readonly=True, default=fields.Datetime.now, index=True)
    date_final = fields.Datetime(string="Final status at", readonly=True)

    _sql_constraints = [
        ("sms_uuid_unique", "unique (sms_uuid)", "An SMS is handed to a gateway once."),
    ]

    def init(self):
        super().init()
        # Up to 2026-11: `sms_uuid` had an index of its own beside the unique constraint's (Odoo keeps an index
        # a field no longer asks for).
        self.env.cr.execute("DROP INDEX IF EXISTS sms_provider_message__sms_uuid_index")

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        records._sms_accepted()
        return records

    def _sms_accepted(self):
        """Hook: these messages were just recorded as handed to a gateway (created)."""

    @api.model
    def _sms_create_sent(self, accepted, date_sent):
        """Record what gateways accepted, [(SMS uuid, provider message id, segments)], sent at `date_sent`: the
        rows `create` makes from `sms.marketing.api._provider_message_vals`, in one INSERT ... SELECT from the
        SMS (a report of 500: the ORM's create and the reads of each SMS cost several times the statement),
        with the same follow-ups (`_sms_accepted`, what depends on them). Returns the records."""
        if not accepted:
            return self.browse()
        self.env["sms.sms"].flush_model(["uuid", "sms_account_id", "number", "partner_id", "mailing_id", "sms_kind"])
        self.env["sms.provider.account"].flush_model(["provider"])
        uuids, provider_ids, segments = zip(*accepted)
        now, uid = self.env.cr.now(), self.env.uid
        rows = self.env.execute_query(SQL(
            """INSERT INTO sms_provider_message (sms_uuid, provider_message_id, account_id, provider, number,
                                                 partner_id, mailing_id, is_marketing, segments, date_sent, state,
                                                 create_uid, create_date, write_uid, write_date)
               SELECT sms.uuid, v.provider_message_id, sms.sms_account_id, account.provider, sms.number,
                      sms.partner_id, sms.mailing_id, sms.sms_kind IS NOT DISTINCT FROM 'marketing', v.segments,
                      %(date_sent)s, 'sent', %(uid)s, %(now)s, %(uid)s, %(now)s
                 FROM unnest(%(uuids)s::varchar[], %(provider_ids)s::varchar[], %(segments)s::int[], %(ordinal)s::int[])
                      AS v(uuid, provider_message_id, segments, ordinal)
                 JOIN sms_sms AS sms ON sms.uuid = v.uuid
                 LEFT JOIN sms_provider_account AS account ON account.id = sms.sms_account_id
                ORDER BY v.ordinal
               RETURNING id, sms_uuid, date_sent, mailing_id""",
            date_sent=date_sent, uid=uid, now=now, uuids=list(uuids),
            provider_ids=[provider_id or None for provider_id in provider_ids],
            segments=[count or 1 for count in segments], ordinal=list(range(len(uuids))),
        ))
        records = self.browse([row[0] for row in rows])
        for index, name in enumerate(("sms_uuid", "date_sent", "mailing_id"), start=1):  # what the hooks read
            self.env.cache.update(records, self._fields[name], [row[index] for row in rows])
        records.modified(self._fields, create=True)
        records._sms_accepted()
        return records
