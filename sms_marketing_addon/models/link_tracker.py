from odoo import fields, models
from odoo.tools import SQL


class LinkTracker(models.Model):
    _inherit = "link.tracker"

    sms_flow_message_id = fields.Many2one(
        "sms.flow.message", string="SMS flow message", index="btree_not_null", ondelete="set null", readonly=True,
        help="The flow message this short link was made for: its clicks count for that message.",
    )

    def init(self):
        super().init()
        # Odoo checks that a new link is unique (URL, campaign, medium, source, label) with a search that, without
        # this index, reads every link of the same source: each flow message has its own label, and a flow step
        # (one source) makes one link per contact, so the check grew with the step's contacts (bench_flows.py).
        self.env.cr.execute(SQL(
            "CREATE INDEX IF NOT EXISTS link_tracker_sms_label_index ON link_tracker (label) WHERE label IS NOT NULL"
        ))
