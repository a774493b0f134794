from odoo import fields, models, tools
from odoo.tools import SQL

from .sms_flow import STAT_FIELDS


class SmsFlowReport(models.Model):
    """Flow statistics, one row per message (a step reached by a cart or contact), plus one row per enrollment
    that got no message (blocked: no consent, invalid number...).

    Measures add up per flow and per step: a cart counts as entered on its first message, a recovery (and its
    revenue) on the message it is attributed to, an opt-out on the last message before it."""

    _name = "sms.flow.report"
    _description = "SMS Flow Statistics"
    _auto = False
    _order = "date desc"

    flow_id = fields.Many2one("sms.flow", string="Flow", readonly=True)
    step_id = fields.Many2one("sms.flow.step", string="Step", readonly=True)
    trigger = fields.Selection(related="flow_id.trigger", readonly=True)
    enrollment_id = fields.Many2one("sms.flow.enrollment", string="Enrollment", readonly=True)
    message_id = fields.Many2one("sms.flow.message", string="Message", readonly=True)
    order_id = fields.Many2one("sale.order", string="Cart", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Contact", readonly=True)
    company_id = fields.Many2one("res.company", string="Company", readonly=True)
    currency_id = fields.Many2one("res.currency", string="Currency", readonly=True)
    date = fields.Datetime(readonly=True)
    carts_entered = fields.Integer(string="Entered", readonly=True, aggregator="sum")
    carts_blocked = fields.Integer(string="No SMS", readonly=True, aggregator="sum")
    reached = fields.Integer(string="Reached step", readonly=True, aggregator="sum")
    sent = fields.Integer(string="Sent", readonly=True, aggregator="sum")
    delivered = fields.Integer(string="Delivered", readonly=True, aggregator="sum")
    clicked = fields.Integer(string="Clicked", readonly=True, aggregator="sum")
    clicks = fields.Integer(string="Clicks", readonly=True, aggregator="sum")
    recovered = fields.Integer(string="Converted", readonly=True, aggregator="sum")
    revenue = fields.Monetary(string="Revenue", readonly=True, aggregator="sum", currency_field="currency_id")
    opted_out = fields.Integer(string="Opt-outs", readonly=True, aggregator="sum")

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(SQL(
            """CREATE OR REPLACE VIEW sms_flow_report AS (
                SELECT m.id * 2 AS id, m.flow_id, m.step_id, m.enrollment_id, m.id AS message_id,
                       e.order_id, e.partner_id, e.company_id, c.currency_id, m.create_date AS date,
                       CASE WHEN row_number() OVER (PARTITION BY m.enrollment_id ORDER BY m.id) = 1
                            THEN 1 ELSE 0 END AS carts_entered,
                       0 AS carts_blocked,
                       1 AS reached,
                       CASE WHEN m.state IN ('sent', 'delivered') THEN 1 ELSE 0 END AS sent,
                       CASE WHEN m.state = 'delivered' THEN 1 ELSE 0 END AS delivered,
                       CASE WHEN m.click_count > 0 THEN 1 ELSE 0 END AS clicked,
                       COALESCE(m.click_count, 0) AS clicks,
                       CASE WHEN e.recovered_message_id = m.id THEN 1 ELSE 0 END AS recovered,
                       CASE WHEN e.recovered_message_id = m.id THEN e.recovered_amount ELSE 0 END AS revenue,
                       CASE WHEN e.optout_message_id = m.id THEN 1 ELSE 0 END AS opted_out
                  FROM sms_flow_message m
                  JOIN sms_flow_enrollment e ON e.id = m.enrollment_id
                  LEFT JOIN res_company c ON c.id = e.company_id
                 UNION ALL
                SELECT e.id * 2 + 1, e.flow_id, NULL, e.id, NULL, e.order_id, e.partner_id, e.company_id,
                       c.currency_id, e.date_start,
                       0, CASE WHEN e.state = 'blocked' THEN 1 ELSE 0 END, 0, 0, 0, 0, 0, 0, 0, 0
                  FROM sms_flow_enrollment e
                  LEFT JOIN res_company c ON c.id = e.company_id
                 WHERE NOT EXISTS (SELECT 1 FROM sms_flow_message m WHERE m.enrollment_id = e.id)
            )"""
        ))

    def _sms_flow_statistics(self, group_field, ids):
        """{id of flow or step: {measure: sum}} for the flows or steps `ids`."""
        if not ids:
            return {}
        self.env["sms.flow.message"].flush_model()
        self.env["sms.flow.enrollment"].flush_model()
        groups = self.sudo()._read_group(
            [(group_field, "in", list(ids))], [group_field], [f"{fname}:sum" for fname in STAT_FIELDS],
        )
        return {
            record.id: dict(zip(STAT_FIELDS, (value or 0 for value in values)))
            for record, *values in groups
        }
