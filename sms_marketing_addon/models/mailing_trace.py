from odoo import fields, models


class MailingTrace(models.Model):
    _inherit = "mailing.trace"

    failure_type = fields.Selection(selection_add=[
        ("sms_no_consent", "No marketing consent"),
        ("sms_capped", "Frequency cap reached"),
        ("sms_rejected_number", "Number rejected by the provider"),
    ])
