from odoo import fields, models

from .sms_flow_enrollment import STOCK_ONDELETE, STOCK_REASONS


class SmsFlowMessage(models.Model):
    _inherit = "sms.flow.message"

    exit_reason = fields.Selection(selection_add=STOCK_REASONS, ondelete=STOCK_ONDELETE)
