from odoo import fields, models


class LinkTrackerClick(models.Model):
    _inherit = "link.tracker.click"

    sms_flow_message_id = fields.Many2one(
        "sms.flow.message", string="SMS flow message", related="link_id.sms_flow_message_id", store=True,
        index="btree_not_null", readonly=True,
    )
