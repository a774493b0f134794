from odoo import fields, models

from .sms_flow_enrollment import RETURNED


class SmsFlowMessage(models.Model):
    _inherit = "sms.flow.message"

    exit_reason = fields.Selection(selection_add=RETURNED, ondelete={"returned": "set null"})
