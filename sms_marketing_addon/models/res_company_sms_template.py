from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    # No longer used: the opt-out footer is the compliance policy's (`sms.compliance.policy.optout_footer`), the
    # one the gate adds and the segment counter counts. Kept so that databases upgrading load their views.
    sms_optout_footer = fields.Char(string="SMS opt-out footer", translate=True)
    sms_max_segments = fields.Integer(
        string="Maximum SMS segments", default=2,
        help="Templates and SMS mailings longer than this many segments show a warning. 0 disables it.",
    )
