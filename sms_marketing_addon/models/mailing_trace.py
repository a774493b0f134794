from odoo import fields, models
from odoo.tools.sql import create_index


class MailingTrace(models.Model):
    _inherit = "mailing.trace"

    failure_type = fields.Selection(selection_add=[
        ("sms_no_consent", "No marketing consent"),
        ("sms_capped", "Frequency cap reached"),
        ("sms_rejected_number", "Number rejected by the provider"),
    ])

    def init(self):
        super().init()
        # Which of these recipients did the mailing already reach: once per chunk of a mailing being queued
        # (sms.composer._sms_seen_record_ids), a few thousand index probes instead of every trace of the mailing.
        create_index(self.env.cr, "mailing_trace_res_id_mailing_index", self._table, ["res_id", "mass_mailing_id"])
