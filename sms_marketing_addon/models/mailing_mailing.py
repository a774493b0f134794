import logging
import threading

from odoo import fields, models
from odoo.tools import split_every

_logger = logging.getLogger(__name__)

QUEUE_CHUNK = 2000


class MailingMailing(models.Model):
    _inherit = "mailing.mailing"

    sms_cap_action = fields.Selection(
        [("defer", "Defer until allowed"), ("skip", "Skip the recipient")],
        string="Over the frequency cap", default="defer", required=True,
        help="What happens to a recipient who already received the maximum of marketing SMS in the window.",
    )

    def _send_sms_get_composer_values(self, res_ids):
        # The per-recipient chatter note costs a third of the queueing time; the mailing trace and the
        # "Sent SMS" register already keep each recipient's history.
        return dict(super()._send_sms_get_composer_values(res_ids), mass_keep_log=False)

    def action_send_sms(self, res_ids=None):
        """Queue SMS in chunks: Odoo's composer takes the recipients through `literal_eval` (which refuses
        more than ~12-15k ids) and keeps every record of the run in memory; chunks keep both bounded."""
        auto_commit = not getattr(threading.current_thread(), "testing", False)
        for mailing in self:
            ids = res_ids or mailing._get_remaining_recipients()
            for chunk in split_every(QUEUE_CHUNK, ids, list):
                super(MailingMailing, mailing).action_send_sms(res_ids=chunk)
                if auto_commit:
                    self.env.cr.commit()
                self.env.invalidate_all()
            _logger.info("SMS mailing %s: %s recipients queued", mailing.id, len(ids))
        return True
