from odoo import fields, models


class LinkTracker(models.Model):
    _inherit = "link.tracker"

    sms_flow_message_id = fields.Many2one(
        "sms.flow.message", string="SMS flow message", index="btree_not_null", ondelete="set null", readonly=True,
        help="The flow message this short link was made for: its clicks count for that message.",
    )
