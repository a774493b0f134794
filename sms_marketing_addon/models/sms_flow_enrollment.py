import logging
from datetime import timedelta

from psycopg2 import IntegrityError

from odoo import _, api, fields, models
from odoo.tools import SQL, mute_logger

from .sms_flow import number_region

_logger = logging.getLogger(__name__)

ENROLLMENT_STATES = [
    ("running", "Running"),
    ("done", "All steps sent"),
    ("exited", "Exited"),
    ("blocked", "No SMS"),
]
EXIT_REASONS = [
    ("completed", "All steps sent"),
    ("confirmed", "Order confirmed"),
    ("cancelled", "Order cancelled"),
    ("emptied", "Cart emptied"),
    ("not_draft", "No longer a cart (quotation sent)"),
    ("anonymous", "No contact (visitor not identified)"),
    ("opted_out", "Contact opted out of SMS"),
    ("no_consent", "No SMS marketing consent"),
    ("no_number", "No mobile number"),
    ("invalid_number", "Invalid number, or not a mobile"),
    ("no_flow", "No active flow for this cart"),
    ("flow_inactive", "Flow archived"),
]
# The contact cannot receive marketing SMS: the cart gets none, and the order says why.
CONTACT_REASONS = {"opted_out", "no_consent", "no_number", "invalid_number"}
# The cart is gone for good: the flow never resumes.
FINAL_REASONS = {"confirmed", "cancelled"}
SUPERSEDE_GRACE_MAX = 3600  # seconds


def _iso(value):
    return value.isoformat(sep=" ") if value else False


class SmsFlowEnrollment(models.Model):
    """A cart (or a contact, for welcome flows) going through a flow. At most one running enrollment per cart;
    a cart enters a given flow once, a contact a given welcome flow once."""

    _name = "sms.flow.enrollment"
    _description = "SMS Flow Enrollment"
    _order = "id desc"

    flow_id = fields.Many2one("sms.flow", string="Flow", required=True, ondelete="cascade", index=True)
    trigger = fields.Selection(related="flow_id.trigger", store=True)
    order_id = fields.Many2one("sale.order", string="Cart", ondelete="cascade", index="btree_not_null")
    partner_id = fields.Many2one("res.partner", string="Contact", ondelete="cascade", index=True)
    company_id = fields.Many2one("res.company", string="Company", index=True)
    currency_id = fields.Many2one(related="company_id.currency_id", string="Currency")
    website_id = fields.Many2one(related="order_id.website_id", string="Website")
    state = fields.Selection(ENROLLMENT_STATES, required=True, default="running", index=True)
    exit_reason = fields.Selection(EXIT_REASONS, string="Reason")
    date_start = fields.Datetime(string="Entered on", default=fields.Datetime.now, required=True)
    date_exit = fields.Datetime(string="Left on")
    last_activity = fields.Datetime(string="Cart activity", help="Last activity of the cart when a step was sent.")
    next_step_id = fields.Many2one("sms.flow.step", string="Next step", help="Welcome flows: the step to send next.")
    date_next_step = fields.Datetime(string="Next step due", index="btree_not_null")
    message_ids = fields.One2many("sms.flow.message", "enrollment_id", string="Messages")
    message_count = fields.Integer(compute="_compute_message_count")
    recovered = fields.Boolean(readonly=True, index=True)
    recovered_order_id = fields.Many2one("sale.order", string="Recovered order", readonly=True, ondelete="set null")
    recovered_amount = fields.Monetary(string="Recovered revenue", readonly=True, currency_field="currency_id")
    recovered_date = fields.Datetime(readonly=True)
    recovered_message_id = fields.Many2one("sms.flow.message", string="Attributed to", readonly=True,
                                           ondelete="set null")
    recovered_via = fields.Selection([("click", "Click"), ("delivery", "Delivery")], readonly=True)
    optout_message_id = fields.Many2one(
        "sms.flow.message", string="Opted out after", readonly=True, ondelete="set null",
        help="The last message of this enrollment before the contact opted out.",
    )

    _sql_constraints = [
        ("flow_order_unique", "UNIQUE (flow_id, order_id)", "A cart enters a flow once."),
    ]

    def init(self):
        super().init()
        self.env.cr.execute(SQL(
            """CREATE UNIQUE INDEX IF NOT EXISTS sms_flow_enrollment_one_running_per_cart
                   ON sms_flow_enrollment (order_id) WHERE state = 'running' AND order_id IS NOT NULL"""
        ))
        self.env.cr.execute(SQL(
            """CREATE UNIQUE INDEX IF NOT EXISTS sms_flow_enrollment_contact_once
                   ON sms_flow_enrollment (flow_id, partner_id) WHERE order_id IS NULL"""
        ))

    @api.depends("flow_id", "order_id", "partner_id")
    def _compute_display_name(self):
        for enrollment in self:
            subject = enrollment.order_id.name or enrollment.partner_id.display_name or ""
            enrollment.display_name = f"{enrollment.flow_id.name or ''}: {subject}"

    @api.depends("message_ids")
    def _compute_message_count(self):
        for enrollment in self:
            enrollment.message_count = len(enrollment.message_ids)

    def action_view_messages(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window", "name": _("Flow messages"), "res_model": "sms.flow.message",
            "view_mode": "list,form", "domain": [("enrollment_id", "=", self.id)], "context": {"create": False},
        }

    # ------------------------------------------------------------------ checks
    @api.model
    def _sms_flow_contact_reason(self, partner):
        """Why this contact may not receive marketing SMS (a CONTACT_REASONS key), or False."""
        partner = partner.sudo()
        if not partner:
            return "anonymous"
        if partner.sms_consent_state == "opted_out":
            return "opted_out"
        if not partner.sms_number:
            return "no_number"
        if not partner.sms_number_valid or partner.sms_number_rejected:
            return "invalid_number"
        if partner.sms_consent_state != "opted_in":
            return "no_consent"
        if not partner.sms_may_receive_marketing:
            return "opted_out"  # the number is in the opt-out register
        return False

    # ------------------------------------------------------------------ state changes
    def _sms_flow_exit(self, reason, now=None):
        """Running enrollments leave their flow (an opt-out is attributed to the last message sent); whatever
        these enrollments still have in the queue is cancelled, also when all their steps were queued ("All
        steps sent"): such an enrollment then exits too."""
        now = now or self.env.cr.now()
        running = self.filtered(lambda e: e.state == "running")
        pending = self.filtered(lambda e: e.state == "done")._sms_flow_queued_messages().enrollment_id
        exiting = running | pending
        if not exiting:
            return exiting
        exiting.write({"state": "exited", "exit_reason": reason, "date_exit": now, "date_next_step": False})
        if reason == "opted_out":
            for enrollment in exiting:
                last = enrollment.message_ids.sorted("id")[-1:]
                if last:
                    enrollment.optout_message_id = last
        exiting._sms_flow_cancel_queued(reason, now)
        return exiting

    def _sms_flow_queued_messages(self):
        """Messages of these enrollments not sent yet (being prepared or queued)."""
        if not self:
            return self.env["sms.flow.message"]
        return self.env["sms.flow.message"].sudo().search(
            [("enrollment_id", "in", self.ids), ("state", "in", ("draft", "queued"))])

    def _sms_flow_cancel_queued(self, reason, now=None):
        """Cancel the SMS these enrollments have in the queue, because their flow exited for `reason`."""
        messages = self._sms_flow_queued_messages()
        if not messages:
            return messages
        sms = self.env["sms.sms"].sudo().search(
            [("uuid", "in", [m.sms_uuid for m in messages if m.sms_uuid]), ("state", "=", "outgoing")])
        sms._sms_flow_cancel(reason, now)
        # Messages whose SMS is gone (or never created) are cancelled as well.
        messages.filtered(lambda m: m.state in ("draft", "queued")).write(
            {"state": "canceled", "failure_type": "sms_flow_exit", "exit_reason": reason})
        return messages

    @api.model
    def _sms_flow_exit_orders(self, orders, reason, now=None):
        """Enrollments of these orders leave their flow: running ones, and finished ones with SMS still queued."""
        if not orders:
            return self.browse()
        return self.sudo().search(
            [("order_id", "in", orders.ids), ("state", "in", ("running", "done"))])._sms_flow_exit(reason, now)

    @api.model
    def _sms_flow_create_safely(self, values):
        """Create an enrollment unless a concurrent transaction did: (enrollment, False) or (empty, True)."""
        try:
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                return self.sudo().create(values), False
        except IntegrityError:
            return self.browse(), True

    @api.model
    def _sms_flow_block(self, enrollment, flow, order, partner, reason, now):
        """The contact cannot receive the step: record why (blocked at entry, or exit of a running flow)."""
        if not enrollment:
            self._sms_flow_create_safely({
                "flow_id": flow.id, "order_id": order.id, "partner_id": partner.id,
                "company_id": (order.company_id or flow.company_id or self.env.company).id,
                "state": "blocked", "exit_reason": reason, "date_start": now,
            })
        elif enrollment.state == "running":
            enrollment._sms_flow_exit(reason, now)
        elif enrollment.state == "blocked" and enrollment.exit_reason != reason:
            enrollment.exit_reason = reason

    def _sms_flow_resume(self, now):
        """A blocked or exited (not final) enrollment runs again; False when another one runs for the cart."""
        self.ensure_one()
        if self.state == "running":
            return True
        try:
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                self.write({"state": "running", "exit_reason": False, "date_exit": False})
            return True
        except IntegrityError:
            return False

    # ------------------------------------------------------------------ abandoned carts
    @api.model
    def _sms_flow_order_write_date(self, order):
        """The cart's last activity, to the microsecond (the ORM rounds to the second)."""
        self.env.flush_all()  # pending updates of the cart would move write_date when flushed later
        rows = self.env.execute_query(SQL("SELECT write_date FROM sale_order WHERE id = %s", order.id))
        return rows[0][0] if rows else False

    @api.model
    def _sms_flow_enqueue_cart(self, order, step, now):
        """Queue step `step` of the cart `order` if it is due and every condition still holds, exactly once.

        :return: dict(order_id, step_id, result: 'queued'|'skipped'|'retry', reason, message_id, due_at,
                 write_date)"""
        order = order.sudo()
        step = step.sudo().with_context(active_test=False)
        result = {"order_id": order.id, "step_id": step.id, "result": "skipped", "reason": False,
                  "message_id": False, "due_at": False, "write_date": False}
        if not order.exists():
            return dict(result, reason="not_found")
        if not step.exists():
            return dict(result, reason="step_unknown")
        write_date = self._sms_flow_order_write_date(order)
        result["write_date"] = _iso(write_date)
        reason = order._sms_flow_cart_reason()
        if reason:
            self._sms_flow_exit_orders(order, reason, now)
            return dict(result, reason=reason)
        flow = self.env["sms.flow"]._sms_flow_for_order(order)
        if not flow:
            return dict(result, reason="no_flow")
        if step.flow_id != flow or not step.active:
            return dict(result, reason="other_flow")
        enrollment = order.sms_flow_enrollment_ids.filtered(lambda e: e.flow_id == flow)[:1]
        sent = enrollment.message_ids.filtered(lambda m: m.step_id == step)
        if sent:
            return dict(result, reason="already_sent", message_id=sent[0].id)
        if enrollment.exit_reason in FINAL_REASONS:
            return dict(result, reason=enrollment.exit_reason)
        partner = order.partner_id
        contact_reason = self._sms_flow_contact_reason(partner)
        if contact_reason and enrollment.state == "running":
            enrollment._sms_flow_exit(contact_reason, now)  # an exit does not wait for the step to be due
            return dict(result, reason=contact_reason)
        due = write_date + timedelta(seconds=step.delay_seconds)
        result["due_at"] = _iso(due)
        if due > now:
            return dict(result, reason="not_due")
        if self._sms_flow_superseded(flow, step, enrollment, write_date, now):
            return dict(result, reason="superseded")
        if contact_reason:
            self._sms_flow_block(enrollment, flow, order, partner, contact_reason, now)
            return dict(result, reason=contact_reason)
        if not enrollment:
            enrollment, conflict = self._sms_flow_create_safely({
                "flow_id": flow.id, "order_id": order.id, "partner_id": partner.id,
                "company_id": (order.company_id or flow.company_id or self.env.company).id, "date_start": now,
            })
            if conflict:
                return dict(result, result="retry", reason="concurrent")
        elif not enrollment._sms_flow_resume(now):
            return dict(result, result="retry", reason="concurrent")
        message = enrollment._sms_flow_send(step, now, activity=write_date)
        if not message:
            return dict(result, result="retry", reason="concurrent")
        return dict(result, result="queued", message_id=message.id)

    @api.model
    def _sms_flow_superseded(self, flow, step, enrollment, activity, now):
        """A step is skipped when the next one already went out, or is well overdue too (the watcher was down):
        the shopper gets the latest reminder, not a burst. Well overdue: by half the gap between the two steps,
        at most an hour."""
        steps = flow._sms_flow_steps()
        later = steps[list(steps).index(step) + 1:][:1]
        if not later:
            return False
        if later in enrollment.message_ids.step_id:
            return True
        gap = later.delay_seconds - step.delay_seconds
        grace = timedelta(seconds=min(gap / 2, SUPERSEDE_GRACE_MAX))
        return now >= activity + timedelta(seconds=later.delay_seconds) + grace

    def _sms_flow_send(self, step, now, activity=None):
        """Create the step's message (the unique (enrollment, step) row first: a concurrent duplicate fails
        here, before anything else is done), then its SMS. Returns the message, or None on a duplicate."""
        self.ensure_one()
        partner = self.partner_id
        Message = self.env["sms.flow.message"].sudo()
        try:
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                message = Message.create({
                    "enrollment_id": self.id, "step_id": step.id, "partner_id": partner.id,
                    "number": partner.sms_number, "state": "draft",
                })
        except IntegrityError:
            return None
        message._sms_flow_queue(now)
        self._sms_flow_advance(step, now, activity)
        return message

    def _sms_flow_advance(self, step, now, activity=None):
        """After `step` went out: the next step (welcome flows), or done when none is left."""
        self.ensure_one()
        self.invalidate_recordset(["message_ids"])
        done = self.message_ids.step_id
        remaining = self.flow_id._sms_flow_steps().filtered(
            lambda s: s not in done and s.delay_seconds >= step.delay_seconds)
        values = {"last_activity": activity or self.last_activity}
        if not remaining:
            values.update(state="done", exit_reason="completed", date_exit=now, next_step_id=False,
                          date_next_step=False)
        elif not self.order_id:
            values.update(next_step_id=remaining[0].id,
                          date_next_step=self.date_start + timedelta(seconds=remaining[0].delay_seconds))
        self.write(values)

    # ------------------------------------------------------------------ welcome flows
    @api.model
    def _sms_flow_enroll_contacts(self, partners, now=None):
        """Contacts who just opted in enter the first matching welcome flow; steps due now are queued."""
        flows = self.env["sms.flow"].sudo().search([("trigger", "=", "consent_confirmed")])
        if not flows or not partners:
            return self.browse()
        now = now or self.env.cr.now()
        existing = self.sudo().search([("partner_id", "in", partners.ids), ("order_id", "=", False),
                                       ("flow_id", "in", flows.ids)])
        seen = {(e.flow_id.id, e.partner_id.id) for e in existing}
        enrollments = self.browse()
        for partner in partners:
            region = number_region(partner.sms_number)
            flow = next((f for f in flows if self.env["sms.flow"]._sms_flow_matches(
                f, partner.company_id or self.env.company, None, region)), None)
            if not flow or (flow.id, partner.id) in seen:
                continue
            first = flow._sms_flow_steps()[:1]
            enrollment, _conflict = self._sms_flow_create_safely({
                "flow_id": flow.id, "partner_id": partner.id, "date_start": now,
                "company_id": (flow.company_id or partner.company_id or self.env.company).id,
                "next_step_id": first.id, "date_next_step": now + timedelta(seconds=first.delay_seconds),
            })
            enrollments |= enrollment
        if enrollments:
            enrollments._sms_flow_run_due(now=now)
        return enrollments

    @api.model
    def _sms_flow_due_contacts(self, now, limit=500):
        """Running welcome enrollments whose next step is due, most overdue first."""
        return self.sudo().search([("state", "=", "running"), ("order_id", "=", False),
                                   ("date_next_step", "<=", now)], order="date_next_step", limit=limit)

    def _sms_flow_run_due(self, now=None):
        """Queue the due steps of these running welcome enrollments; returns how many SMS were queued."""
        now = now or self.env.cr.now()
        due = self.filtered(lambda e: e.state == "running" and e.date_next_step and e.date_next_step <= now)
        queued = 0
        for enrollment in due:
            while enrollment.state == "running" and enrollment.next_step_id and enrollment.date_next_step <= now:
                step = enrollment.next_step_id
                if not enrollment.flow_id.active or not step.active:
                    enrollment._sms_flow_exit("flow_inactive", now)
                    break
                reason = self._sms_flow_contact_reason(enrollment.partner_id)
                if reason:
                    enrollment._sms_flow_exit(reason, now)
                    break
                if step in enrollment.message_ids.step_id:
                    enrollment._sms_flow_advance(step, now)
                    continue
                if not enrollment._sms_flow_send(step, now):
                    break
                queued += 1
        return queued
