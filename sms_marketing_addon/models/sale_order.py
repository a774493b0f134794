import uuid
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.tools import SQL
from odoo.tools.sql import create_index

from .sms_flow_enrollment import CONTACT_REASONS


class SaleOrder(models.Model):
    _inherit = "sale.order"

    sms_flow_enrollment_ids = fields.One2many("sms.flow.enrollment", "order_id", string="SMS flows")
    sms_flow_no_sms_reason = fields.Char(
        string="No cart SMS because", compute="_compute_sms_flow_no_sms_reason",
        help="Why this cart gets no abandoned-cart SMS (consent, number), if it gets none.",
    )
    sms_flow_status = fields.Char(string="Abandoned-cart SMS", compute="_compute_sms_flow_status")
    sms_flow_cart_url = fields.Char(
        string="Cart recovery link", compute="_compute_sms_flow_cart_url",
        help="In SMS templates: the short tracked link to this cart (the plain recovery link in previews).",
    )
    sms_flow_link = fields.Char(
        string="Flow link", compute="_compute_sms_flow_link",
        help="In SMS templates of post-purchase flows: the short tracked link of the message (the shop in "
        "previews).",
    )
    sms_flow_coupon_code = fields.Char(
        string="Flow discount code", compute="_compute_sms_flow_coupon_code",
        help="In SMS templates: the single-use discount code of the flow step being sent.",
    )

    def init(self):
        super().init()
        # The cart watcher reads orders by (write_date, id) from a cursor; Odoo has no index on write_date.
        create_index(self.env.cr, "sale_order_write_date_id_index", self._table, ["write_date", "id"])

    # ------------------------------------------------------------------ computes
    @api.depends("partner_id", "website_id", "state", "order_line", "sms_flow_enrollment_ids.state")
    def _compute_sms_flow_no_sms_reason(self):
        labels = dict(self.env["sms.flow.enrollment"]._fields["exit_reason"]._description_selection(self.env))
        Enrollment = self.env["sms.flow.enrollment"].sudo()
        for order in self:
            reason = False
            blocked = order.sudo().sms_flow_enrollment_ids.filtered(lambda e: e.state == "blocked")[:1]
            if blocked:
                reason = blocked.exit_reason
            elif order.id and order.website_id and order.state == "draft" \
                    and order.partner_id != order.website_id.partner_id:
                reason = Enrollment._sms_flow_contact_reason(order.partner_id)
                if not reason and not self.env["sms.flow"].sudo()._sms_flow_for_order(order):
                    reason = "no_flow"
            order.sms_flow_no_sms_reason = labels.get(reason) if reason in CONTACT_REASONS | {"no_flow"} else False

    @api.depends("sms_flow_enrollment_ids.state", "sms_flow_enrollment_ids.message_ids")
    def _compute_sms_flow_status(self):
        Enrollment = self.env["sms.flow.enrollment"]
        states = dict(Enrollment._fields["state"]._description_selection(self.env))
        reasons = dict(Enrollment._fields["exit_reason"]._description_selection(self.env))
        for order in self:
            enrollment = order.sudo().sms_flow_enrollment_ids[:1]
            if not enrollment:
                order.sms_flow_status = False
                continue
            sent, total = len(enrollment.message_ids), len(enrollment.flow_id._sms_flow_steps())
            status = _("%(flow)s: %(sent)s of %(total)s SMS, %(state)s", flow=enrollment.flow_id.name, sent=sent,
                       total=total, state=states.get(enrollment.state, "").lower())
            if enrollment.exit_reason and enrollment.exit_reason != "completed":
                status += f" ({reasons.get(enrollment.exit_reason)})"
            if enrollment.recovered:
                status += _(", recovered")
            order.sms_flow_status = status

    @api.depends("access_token")
    @api.depends_context("sms_flow_link")
    def _compute_sms_flow_cart_url(self):
        link = self.env.context.get("sms_flow_link")
        for order in self:
            base = f"{order.get_base_url()}/shop/cart"
            order.sms_flow_cart_url = link or (f"{base}?access_token={order.access_token}" if order.access_token
                                               else base)

    @api.depends_context("sms_flow_link")
    def _compute_sms_flow_link(self):
        link = self.env.context.get("sms_flow_link")
        for order in self:
            order.sms_flow_link = link or f"{order.get_base_url()}/shop"

    @api.depends_context("sms_flow_coupon_code")
    def _compute_sms_flow_coupon_code(self):
        self.sms_flow_coupon_code = self.env.context.get("sms_flow_coupon_code") or False

    # ------------------------------------------------------------------ cart state
    def _sms_flow_cart_reason(self):
        """Why this order is not (or no longer) an open website cart with a known contact, or False."""
        self.ensure_one()
        if not self.website_id:
            return "not_website"
        if self.state == "sale":
            return "confirmed"
        if self.state == "cancel":
            return "cancelled"
        if self.state != "draft":
            return "not_draft"
        if not self.website_order_line:
            return "emptied"
        if not self.partner_id or self.partner_id == self.website_id.partner_id:
            return "anonymous"
        return False

    def _sms_flow_recovery_url(self):
        """The cart recovery link `/shop/cart?access_token=…`. The token is written in SQL: an ORM write would
        move `write_date`, the cart's activity, and so restart the flow's timers."""
        self.ensure_one()
        if not self.access_token:
            self.flush_recordset(["access_token"])
            self.env.execute_query(SQL(
                "UPDATE sale_order SET access_token = %s WHERE id = %s AND access_token IS NULL",
                str(uuid.uuid4()), self.id,
            ))
            self.invalidate_recordset(["access_token"])
        return f"{self.get_base_url()}/shop/cart?access_token={self.access_token}"

    # ------------------------------------------------------------------ exits and attribution
    def _action_confirm(self):
        res = super()._action_confirm()
        self._sms_flow_on_confirm()
        return res

    def _action_cancel(self):
        res = super()._action_cancel()
        Enrollment = self.env["sms.flow.enrollment"].sudo()
        Enrollment._sms_flow_exit_orders(self, "cancelled")
        Enrollment.search([("res_model", "=", "sale.order"), ("res_id", "in", self.ids),
                           ("state", "in", ("running", "done"))])._sms_flow_exit("cancelled")
        return res

    def _sms_flow_on_confirm(self):
        now = self.env.cr.now()
        Enrollment = self.env["sms.flow.enrollment"].sudo()
        Enrollment._sms_flow_exit_orders(self, "confirmed", now)
        flows = self.env["sms.flow"].sudo().with_context(active_test=False).search([])
        if not flows:
            return
        for order in self:
            order._sms_flow_attribute(now, flows)
        self._sms_flow_convert(now)
        # Contact flows whose trigger stops on an order (browse abandonment, win-back) end now.
        running = Enrollment.search([
            ("partner_id", "child_of", self.partner_id.commercial_partner_id.ids), ("order_id", "=", False),
            ("state", "in", ("running", "done")), ("date_start", "<=", now),
        ])
        for enrollment in running:
            reason = enrollment._sms_flow_trigger_exit_reason()
            if reason:
                enrollment._sms_flow_exit(reason, now)
        Enrollment._sms_flow_enroll("order_confirmed", [(order.partner_id, order, None) for order in self], now)

    def _sms_flow_convert(self, now):
        """These confirmed orders convert the contact flows their contact entered within the flow's conversion
        window (every branch, holdout included; not the flow that this order started)."""
        Enrollment = self.env["sms.flow.enrollment"].sudo()
        for order in self:
            candidates = Enrollment.search([
                ("partner_id", "child_of", order.partner_id.commercial_partner_id.id), ("order_id", "=", False),
                ("converted", "=", False), ("state", "!=", "blocked"), ("date_start", "<=", now),
            ])
            for enrollment in candidates:
                if enrollment.res_model == "sale.order" and enrollment.res_id == order.id:
                    continue
                if enrollment.date_start < now - timedelta(days=enrollment.flow_id.conversion_days):
                    continue
                enrollment.write({"converted": True, "converted_order_id": order.id, "converted_date": now,
                                  "converted_amount": order.currency_id._convert(
                                      order.amount_total, enrollment.currency_id or order.currency_id,
                                      order.company_id, now.date()) if enrollment.currency_id else
                                  order.amount_total})

    def _sms_flow_attribute(self, now, flows):
        """Count this confirmed order as recovered by the flow message clicked (within the flow's click window)
        or delivered (within its delivery window) last before it; the cart's own flow first."""
        self.ensure_one()
        Enrollment = self.env["sms.flow.enrollment"].sudo()
        if Enrollment.search_count([("recovered_order_id", "=", self.id)], limit=1):
            return Enrollment.browse()
        commercial = self.partner_id.commercial_partner_id
        max_click = timedelta(days=max(flows.mapped("attribution_click_days") or [0]))
        max_delivery = timedelta(hours=max(flows.mapped("attribution_delivery_hours") or [0]))
        messages = self.env["sms.flow.message"].sudo().search([
            ("enrollment_id.recovered", "=", False),
            "|", ("order_id", "=", self.id), ("partner_id", "child_of", commercial.id),
            "|", ("date_clicked", ">=", now - max_click), ("date_delivered", ">=", now - max_delivery),
        ])
        candidates = []
        for message in messages:
            flow = message.flow_id
            own = message.order_id == self
            if message.date_clicked and message.date_clicked >= now - timedelta(days=flow.attribution_click_days):
                candidates.append(((own, 1, message.date_clicked, message.id), message, "click"))
            elif message.date_delivered and (
                    message.date_delivered >= now - timedelta(hours=flow.attribution_delivery_hours)):
                candidates.append(((own, 0, message.date_delivered, message.id), message, "delivery"))
        if not candidates:
            return Enrollment.browse()
        _key, message, via = max(candidates, key=lambda c: c[0])
        enrollment = message.enrollment_id
        company = enrollment.company_id or self.company_id
        amount = self.currency_id._convert(self.amount_total, company.currency_id, company,
                                           fields.Date.context_today(self))
        enrollment.write({
            "recovered": True, "recovered_order_id": self.id, "recovered_amount": amount,
            "recovered_date": now, "recovered_message_id": message.id, "recovered_via": via,
        })
        return enrollment

    # ------------------------------------------------------------------ actions
    def action_view_sms_flow_enrollments(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window", "name": _("SMS flows"), "res_model": "sms.flow.enrollment",
            "view_mode": "list,form", "domain": [("order_id", "=", self.id)], "context": {"create": False},
        }
