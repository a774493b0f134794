import logging
import queue
import threading

from odoo import _, fields, models
from odoo.tools import SQL, split_every

_logger = logging.getLogger(__name__)

QUEUE_CHUNK = 10000


class MailingMailing(models.Model):
    _inherit = "mailing.mailing"

    sms_cap_action = fields.Selection(
        [("defer", "Defer until allowed"), ("skip", "Skip the recipient")],
        string="Over the frequency cap", default="defer", required=True,
        help="What happens to a recipient who already received the maximum of marketing SMS in the window.",
    )

    # Before sending: who is excluded, and why; who goes now and who waits for their sending hours.
    sms_preview_date = fields.Datetime(string="Recipients checked at", readonly=True, copy=False)
    sms_preview_total = fields.Integer(string="Recipients", readonly=True, copy=False)
    sms_preview_invalid = fields.Integer(string="Invalid or missing number", readonly=True, copy=False)
    sms_preview_opted_out = fields.Integer(string="Opted out", readonly=True, copy=False)
    sms_preview_no_consent = fields.Integer(string="No consent", readonly=True, copy=False)
    sms_preview_capped = fields.Integer(string="Capped (frequency)", readonly=True, copy=False)
    sms_preview_now = fields.Integer(string="Go now", readonly=True, copy=False)
    sms_preview_deferred = fields.Integer(string="Deferred to their sending hours", readonly=True, copy=False)
    # After sending.
    sms_deferred_count = fields.Integer(string="Deferred", compute="_compute_sms_statistics")
    sms_optout_after_count = fields.Integer(string="Opted out after", compute="_compute_sms_statistics")
    sms_segments_total = fields.Integer(string="Cost (segments)", compute="_compute_sms_statistics")

    def _compute_sms_statistics(self):
        sms_mailings = self.filtered(lambda m: m.mailing_type == "sms" and m.id)
        (self - sms_mailings).update({"sms_deferred_count": 0, "sms_optout_after_count": 0, "sms_segments_total": 0})
        if not sms_mailings:
            return
        self.env["sms.sms"].flush_model()
        self.env["mailing.trace"].flush_model()
        self.env["sms.consent.log"].flush_model()
        ids = tuple(sms_mailings.ids)
        deferred = dict(self.env.execute_query(SQL(
            """SELECT mailing_id, count(*) FROM sms_sms
                WHERE mailing_id IN %s AND state = 'outgoing' AND sms_defer_until IS NOT NULL
                GROUP BY mailing_id""", ids)))
        segments = dict(self.env.execute_query(SQL(
            "SELECT mailing_id, sum(segments) FROM sms_provider_message WHERE mailing_id IN %s GROUP BY mailing_id",
            ids)))
        # In whole seconds: the consent log's dates have none below (fields.Datetime.now), a trace's sent
        # date may have microseconds (cr.now()); an opt-out logged in the same second as the send follows it.
        opted_out = dict(self.env.execute_query(SQL(
            """SELECT t.mass_mailing_id, count(DISTINCT t.sms_number)
                 FROM mailing_trace t
                 JOIN sms_consent_log l ON l.number = t.sms_number AND l.event = 'opt_out'
                  AND l.date >= date_trunc('second', COALESCE(t.sent_datetime, t.create_date))
                WHERE t.mass_mailing_id IN %s AND t.trace_status NOT IN ('cancel', 'outgoing')
                GROUP BY t.mass_mailing_id""", ids)))
        for mailing in sms_mailings:
            mailing.sms_deferred_count = deferred.get(mailing.id, 0)
            mailing.sms_segments_total = segments.get(mailing.id, 0)
            mailing.sms_optout_after_count = opted_out.get(mailing.id, 0)

    def action_view_sms_sent(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window", "name": _("Sent SMS"), "res_model": "sms.provider.message",
            "view_mode": "graph,pivot,list", "domain": [("mailing_id", "=", self.id)],
            "context": {"create": False, "search_default_group_day": 1},
        }

    def _send_sms_get_composer_values(self, res_ids):
        # The per-recipient chatter note costs a third of the queueing time; the mailing trace and the
        # "Sent SMS" register already keep each recipient's history.
        return dict(super()._send_sms_get_composer_values(res_ids), mass_keep_log=False)

    def _get_remaining_recipients(self):
        """Odoo's answer (the recipients in the model's order, minus those the mailing already has a trace for)
        in one query, as one array: Odoo passes every recipient id back to PostgreSQL in an `IN` list, a million
        of them for a million-recipient mailing (memory and parsing). A/B tests keep Odoo's path (random
        fragments)."""
        if self.mailing_type != "sms" or self.ab_testing_enabled:
            return super()._get_remaining_recipients()
        self.ensure_one()
        Model = self.env[self.mailing_model_real]
        query = Model._search(self._get_recipients_domain(), order=Model._order)
        self.env["mailing.trace"].flush_model(["mass_mailing_id", "model", "res_id"])
        query.add_where(SQL(
            """NOT EXISTS (SELECT 1 FROM mailing_trace trace WHERE trace.mass_mailing_id = %s AND trace.model = %s
                                                         AND trace.res_id = %s)""",
            self.id, self.mailing_model_real, SQL.identifier(query.table, "id"),
        ))
        # One array, not a million rows: a row is a Python tuple (~80 bytes each, 80 MB at a million) where the
        # array's ids arrive as one list of ints.
        return self.env.execute_query(SQL("SELECT ARRAY(%s)", query.select()))[0][0]

    def action_send_sms(self, res_ids=None):
        """Queue SMS in chunks, each committed: Odoo's composer takes the recipients through `literal_eval`
        (which refuses more than ~12-15k ids) and keeps every record of the run in memory; chunks keep both
        bounded, and a queueing stopped half-way resumes where it stopped (`_get_remaining_recipients`).
        One composer per mailing, given each chunk's records directly (no id list printed and parsed again).
        From the second chunk on, each chunk's SMS are written and committed by a thread on a cursor of its own
        (`_SmsChunkWriter`) while the next chunk is prepared: the database's work beside Python's."""
        auto_commit = not getattr(threading.current_thread(), "testing", False)
        for mailing in self:
            ids = res_ids or mailing._get_remaining_recipients()
            if not ids:
                continue
            composer = writer = None
            queued = False
            try:
                for index, chunk in enumerate(split_every(QUEUE_CHUNK, ids, list)):
                    if composer is None:
                        composer = self.env["sms.composer"].with_context(active_id=False).create(
                            mailing._send_sms_get_composer_values(chunk))
                        if not composer._sms_bulk_path():  # Odoo's own path, asked for by context
                            composer = False
                        elif (auto_commit and len(ids) > QUEUE_CHUNK and not composer.mass_force_send
                              and not composer.mass_keep_log):
                            writer = _SmsChunkWriter(self.env.registry)
                    handoff = [] if writer and index else None
                    if composer:
                        records = self.env[mailing.mailing_model_real].browse(chunk)
                        composer.with_context(_sms_bulk_handoff=handoff)._action_send_sms_mass(
                            records.with_context(mail_notify_author=True))
                    else:
                        super(MailingMailing, mailing).action_send_sms(res_ids=chunk)
                    if handoff is not None:
                        # What this cursor wrote for the chunk (a link tracker for a new link) is committed
                        # before the SMS that show it; most chunks write nothing here (no commit).
                        if self.env.execute_query(SQL("SELECT txid_current_if_assigned()"))[0][0]:
                            self.env.cr.commit()
                        writer.submit(handoff)
                    elif auto_commit:
                        self.env.cr.commit()
                    self.env.invalidate_all()
                queued = True
            finally:
                if writer:  # the last chunk written; an error of the writer is raised unless one is on its way
                    writer.close(raise_error=queued)
            _logger.info("SMS mailing %s: %s recipients queued", mailing.id, len(ids))
        return True


class _SmsChunkWriter:
    """Executes each chunk's statements (the SMS, traces and trackers of `sms.composer._prepare_mass_sms`) and
    commits them, in a thread with a cursor of its own: one chunk written while the next one is prepared, at
    most one more waiting (memory stays bounded). A chunk is committed whole or not at all, as without it; after
    an error nothing more is written and the error is raised in the queueing thread."""

    def __init__(self, registry):
        self._queue = queue.Queue(maxsize=1)
        self.error = None
        self._thread = threading.Thread(target=self._run, args=(registry,), name="sms-queue-writer", daemon=True)
        self._thread.start()

    def _run(self, registry):
        cr = None
        while (statements := self._queue.get()) is not None:
            if self.error is not None:
                continue
            try:
                cr = cr or registry.cursor()
                for statement in statements:
                    cr.execute(statement)
                cr.commit()
            except Exception as error:  # noqa: BLE001 - raised in the queueing thread
                self.error = error
                if cr is not None:
                    cr.close()  # rolls back
                    cr = None
        if cr is not None:
            cr.close()

    def _check(self):
        if self.error is not None:
            raise self.error

    def submit(self, statements):
        self._check()
        self._queue.put(statements)

    def close(self, raise_error=True):
        self._queue.put(None)
        self._thread.join()
        if raise_error:
            self._check()
