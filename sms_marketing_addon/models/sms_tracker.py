from odoo import api, models
from odoo.tools import SQL

# Trace statuses that "handed to the gateway" (pending) leaves as they are (mass_mailing_sms's _update_sms_traces).
PENDING_IGNORES = ("pending", "sent")
TRACE_FIELDS = ["trace_status", "failure_type", "failure_reason", "sent_datetime"]


class SmsTracker(models.Model):
    _inherit = "sms.tracker"

    @api.model
    def _sms_update_pending(self, uuids):
        """`sms_tracker_id._action_update_from_sms_state("pending")` of the SMS `uuids` a report says the gateways
        accepted: their mailing traces in one UPDATE (the ORM looks the trackers up SMS by SMS through a
        computed field, writes each trace twice, the status then the sent date, and spends more in Python than
        PostgreSQL does), then the mailings done as Odoo marks them. The traces are found by their ids (an
        array, so always through the primary key): joined to the trackers, PostgreSQL planned from the
        statistics of the status, which lag behind a mailing queued since the last ANALYZE, and walked every
        tracker for every trace (34 s for 500 SMS of a 20,000 mailing, seen). Trackers of a notification (a
        chatter SMS) go through Odoo's method."""
        if not uuids:
            return
        self.flush_model(["sms_uuid", "mail_notification_id", "mailing_trace_id"])
        notified = self.browse([row[0] for row in self.env.execute_query(SQL(
            "SELECT id FROM sms_tracker WHERE sms_uuid = ANY(%s) AND mail_notification_id IS NOT NULL",
            list(uuids)))])
        if notified:
            notified._action_update_from_sms_state("pending")
        Trace = self.env["mailing.trace"]
        Trace.flush_model(TRACE_FIELDS)
        now = self.env.cr.now()
        rows = self.env.execute_query(SQL(
            """UPDATE mailing_trace AS trace
                  SET trace_status = 'pending', failure_type = NULL, failure_reason = NULL,
                      sent_datetime = COALESCE(trace.sent_datetime, %(now)s), write_date = %(now)s,
                      write_uid = %(uid)s
                WHERE trace.id = ANY(ARRAY(
                          SELECT tracker.mailing_trace_id FROM sms_tracker AS tracker
                           WHERE tracker.sms_uuid = ANY(%(uuids)s) AND tracker.mail_notification_id IS NULL))
                  AND trace.trace_status NOT IN %(ignored)s
            RETURNING trace.id, trace.mass_mailing_id""",
            now=now, uid=self.env.uid, uuids=list(uuids), ignored=PENDING_IGNORES,
        ))
        traces = Trace.browse([row[0] for row in rows])
        traces.invalidate_recordset([*TRACE_FIELDS, "write_date", "write_uid"])
        # What `_update_sms_mailings` reads of them (else a fetch of every column of every trace).
        self.env.cache.update(traces, Trace._fields["mass_mailing_id"], [row[1] for row in rows])
        traces.modified(TRACE_FIELDS)
        self._update_sms_mailings("pending", traces)
