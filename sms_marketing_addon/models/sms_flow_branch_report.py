from odoo import fields, models, tools
from odoo.tools import SQL

from .sms_flow import BRANCHES


class SmsFlowBranchReport(models.Model):
    """Flow figures per branch of an A/B split, one row per contact (or cart) that entered: messages sent,
    clicked, converted (a confirmed order within the flow's conversion window, or a recovered cart), revenue,
    opted out. The holdout's rows have no message: the reference of the lift shown on the flow."""

    _name = "sms.flow.branch.report"
    _description = "SMS Flow Statistics per Branch"
    _auto = False
    _order = "date desc"

    flow_id = fields.Many2one("sms.flow", string="Flow", readonly=True)
    trigger = fields.Selection(related="flow_id.trigger", readonly=True)
    branch = fields.Selection(BRANCHES, readonly=True)
    enrollment_id = fields.Many2one("sms.flow.enrollment", string="Enrollment", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Contact", readonly=True)
    company_id = fields.Many2one("res.company", string="Company", readonly=True)
    currency_id = fields.Many2one("res.currency", string="Currency", readonly=True)
    date = fields.Datetime(string="Entered on", readonly=True)
    entered = fields.Integer(readonly=True, aggregator="sum")
    sent = fields.Integer(readonly=True, aggregator="sum")
    emails = fields.Integer(string="E-mails", readonly=True, aggregator="sum")
    clicked = fields.Integer(readonly=True, aggregator="sum")
    converted = fields.Integer(
        readonly=True, aggregator="sum",
        help="Contacts who confirmed an order within the flow's conversion window after entering, whether or not "
        "they clicked: the holdout is counted the same way, so the lift compares like with like. The flow's own "
        "\"Converted\" counts only orders credited to one of its SMS (a click, or a delivery shortly before).")
    revenue = fields.Monetary(readonly=True, aggregator="sum", currency_field="currency_id",
                              help="Amount of those orders.")
    opted_out = fields.Integer(string="Opt-outs", readonly=True, aggregator="sum")

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(SQL(
            """CREATE OR REPLACE VIEW sms_flow_branch_report AS (
                SELECT e.id, e.flow_id, e.branch, e.id AS enrollment_id, e.partner_id, e.company_id,
                       c.currency_id, e.date_start AS date, 1 AS entered,
                       COALESCE(m.sent, 0) AS sent, COALESCE(m.emails, 0) AS emails,
                       COALESCE(m.clicked, 0) AS clicked,
                       CASE WHEN e.converted OR e.recovered THEN 1 ELSE 0 END AS converted,
                       CASE WHEN e.converted THEN COALESCE(e.converted_amount, 0)
                            WHEN e.recovered THEN COALESCE(e.recovered_amount, 0) ELSE 0 END AS revenue,
                       CASE WHEN e.optout_message_id IS NOT NULL OR e.exit_reason = 'opted_out'
                            THEN 1 ELSE 0 END AS opted_out
                  FROM sms_flow_enrollment e
                  LEFT JOIN res_company c ON c.id = e.company_id
                  LEFT JOIN (SELECT enrollment_id,
                                    count(*) FILTER (WHERE state IN ('sent', 'delivered') AND channel = 'sms') AS sent,
                                    count(*) FILTER (WHERE state IN ('sent', 'delivered') AND channel = 'email')
                                        AS emails,
                                    max(CASE WHEN click_count > 0 THEN 1 ELSE 0 END) AS clicked
                               FROM sms_flow_message GROUP BY enrollment_id) m ON m.enrollment_id = e.id
                 WHERE e.state != 'blocked'
            )"""
        ))

    def _sms_flow_branch_figures(self, flow_id):
        """{branch or '': {entered, sent, emails, clicked, converted, revenue, revenue_sq, opted_out}} of a flow."""
        self.env["sms.flow.message"].flush_model()
        self.env["sms.flow.enrollment"].flush_model()
        rows = self.env.execute_query(SQL(
            """SELECT COALESCE(branch, ''), count(*), sum(sent), sum(emails), sum(clicked), sum(converted),
                      sum(revenue), sum(revenue * revenue), sum(opted_out)
                 FROM sms_flow_branch_report WHERE flow_id = %s GROUP BY 1""", flow_id))
        names = ("entered", "sent", "emails", "clicked", "converted", "revenue", "revenue_sq", "opted_out")
        return {row[0]: dict(zip(names, (float(v or 0) if i >= 5 and i < 7 else int(v or 0)
                                         for i, v in enumerate(row[1:])))) for row in rows}
