import logging
from collections import defaultdict
from datetime import timedelta

from psycopg2 import IntegrityError

from odoo import _, api, fields, models
from odoo.tools import SQL, mute_logger
from odoo.tools.safe_eval import safe_eval

from ..tools import flow_math, recipient_zones
from .sms_flow import BRANCHES, number_region

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
    ("ordered", "Contact ordered since entering"),
    ("cart_started", "Contact started a cart since entering"),
    ("condition", "Condition of a step not met"),
    ("holdout", "Holdout: receives nothing"),
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
    # Indexed: every order confirmation asks whether it was already attributed (a read of every enrollment
    # without the index, bench_flows.py).
    recovered_order_id = fields.Many2one("sale.order", string="Recovered order", readonly=True, ondelete="set null",
                                         index="btree_not_null")
    recovered_amount = fields.Monetary(string="Recovered revenue", readonly=True, currency_field="currency_id")
    recovered_date = fields.Datetime(readonly=True)
    recovered_message_id = fields.Many2one("sms.flow.message", string="Attributed to", readonly=True,
                                           ondelete="set null")
    recovered_via = fields.Selection([("click", "Click"), ("delivery", "Delivery")], readonly=True)
    branch = fields.Selection(BRANCHES, readonly=True, index=True,
                              help="Branch of the flow's A/B split this contact fell in.")
    res_model = fields.Char(string="Record model", readonly=True)
    res_id = fields.Many2oneReference(string="Record", model_field="res_model", readonly=True)
    res_key = fields.Char(readonly=True, help="The record that started this enrollment: 'model,id'.")
    link_url = fields.Char(string="Link", readonly=True, help="Where the flow's tracked links lead.")
    converted = fields.Boolean(readonly=True, index=True)
    converted_order_id = fields.Many2one("sale.order", string="Converted with", readonly=True, ondelete="set null")
    converted_amount = fields.Monetary(string="Conversion revenue", readonly=True, currency_field="currency_id")
    converted_date = fields.Datetime(readonly=True)
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
        # Browse abandonment reads product views by time (website_sale indexes them by product only).
        self.env.cr.execute(SQL(
            """CREATE INDEX IF NOT EXISTS sms_flow_website_track_product_views
                   ON website_track (visit_datetime) WHERE product_id IS NOT NULL"""
        ))
        # A contact enters a contact flow once per record that started it (welcome: once per contact).
        self.env.cr.execute(SQL("DROP INDEX IF EXISTS sms_flow_enrollment_contact_once"))
        self.env.cr.execute(SQL(
            """CREATE UNIQUE INDEX IF NOT EXISTS sms_flow_enrollment_contact_record_once
                   ON sms_flow_enrollment (flow_id, partner_id, COALESCE(res_key, ''))
                WHERE order_id IS NULL"""
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
        mails = messages.mail_id.sudo().filtered(lambda m: m.state in ("outgoing", "exception"))
        if mails:
            mails.write({"state": "cancel", "failure_reason": reason})
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

    def _sms_flow_send(self, step, now, activity=None, channel="sms"):
        """Create the step's message (the unique (enrollment, step) row first: a concurrent duplicate fails
        here, before anything else is done), then its SMS (or its e-mail, `channel` "email"). Returns the
        message, or None on a duplicate."""
        self.ensure_one()
        partner = self.partner_id
        Message = self.env["sms.flow.message"].sudo()
        try:
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                message = Message.create({
                    "enrollment_id": self.id, "step_id": step.id, "partner_id": partner.id,
                    "number": partner.sms_number, "state": "draft", "channel": channel,
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
        steps = list(self.flow_id._sms_flow_steps())
        after = steps[steps.index(step) + 1:] if step in steps else [
            s for s in steps if s.delay_seconds >= step.delay_seconds]
        remaining = [s for s in after if s not in done and (not s.branch or s.branch == self.branch)]
        values = {"last_activity": activity or self.last_activity}
        if not remaining:
            values.update(state="done", exit_reason="completed", date_exit=now, next_step_id=False,
                          date_next_step=False)
        elif not self.order_id:
            values.update(next_step_id=remaining[0].id, date_next_step=self._sms_flow_due_at(remaining[0]))
        self.write(values)

    # ------------------------------------------------------------------ contact flows (every trigger but carts)
    def _sms_flow_due_at(self, step):
        """When `step` falls due: its delay after the entry, then (if asked) the next time of day in the
        recipient's zone."""
        self.ensure_one()
        due = self.date_start + timedelta(seconds=step.delay_seconds)
        if step.at_time_of_day:
            partner = self.partner_id.sudo()
            company = self.company_id or self.env.company
            resolution = recipient_zones.resolve(
                partner.sms_number or None, partner.tz or None, partner.country_id.code or None,
                partner.state_id.code or None, company.partner_id.tz or self.env.user.tz or None)
            due = flow_math.next_local_time(due, step.time_of_day, resolution.zones[0])
        return due

    def _sms_flow_record(self):
        """The record the flow's templates render: the cart, the record that started the flow (when the templates
        are on its model), else the contact."""
        self.ensure_one()
        if self.order_id:
            return self.order_id
        if self.res_model and self.res_id and self.res_model == self.flow_id.model:
            record = self.env[self.res_model].sudo().browse(self.res_id).exists()
            if record:
                return record
        return self.partner_id

    @api.model
    def _sms_flow_accepts_email(self, partner):
        partner = partner.sudo()
        return bool(partner.email_normalized) and not partner.is_blacklisted

    @api.model
    def _sms_flow_enroll_contacts(self, partners, now=None):
        """Contacts who just opted in enter the first matching welcome flow; steps due now are queued."""
        return self._sms_flow_enroll("consent_confirmed", [(partner, None, None) for partner in partners], now)

    @api.model
    def _sms_flow_enroll(self, code, items, now=None, flows=None):
        """Contacts enter the first matching active flow of trigger `code`: items are (contact, record that started
        it or None, link or None). A contact enters a flow once per record (the welcome flow: once), and not
        again within the flow's re-entry days. A contact who can receive neither the SMS nor an e-mail fallback
        does not enter (the welcome flow's contacts just opted in). Steps due now are taken at once; later ones
        wake the flows' scheduled action when due."""
        flows = flows if flows is not None else self.env["sms.flow"].sudo().search([("trigger", "=", code)])
        items = [item for item in items if item[0]]
        if not flows or not items:
            return self.browse()
        now = now or self.env.cr.now()
        Flow = self.env["sms.flow"]
        trigger = self.env["sms.flow.trigger"]._by_code(code)
        partners = self.env["res.partner"].sudo().browse({item[0].id for item in items})
        previous = defaultdict(list)
        for enrollment in self.sudo().search([("partner_id", "in", partners.ids), ("order_id", "=", False),
                                              ("flow_id", "in", flows.ids)]):
            previous[(enrollment.flow_id.id, enrollment.partner_id.id)].append(enrollment)
        enrollments = self.browse()
        for partner, record, link, *key_given in items:
            partner = partner.sudo()
            record = record.sudo() if record else None
            region = number_region(partner.sms_number)
            website = record.website_id if record is not None and "website_id" in record._fields else None
            company = (record.company_id if record is not None and "company_id" in record._fields else None) \
                or partner.company_id or self.env.company
            if record is not None and trigger and not trigger._entry_filter(record):
                continue
            flow = next((f for f in flows if Flow._sms_flow_matches(f, company, website or None, region)
                         and self._sms_flow_partner_matches(f, partner)), None)
            if not flow:
                continue
            key = key_given[0] if key_given else (
                f"{record._name},{record.id}" if record is not None and record._name != "res.partner" else False)
            seen = previous[(flow.id, partner.id)]
            if any((e.res_key or False) == key for e in seen):
                continue
            if key and flow.reentry_days and any(
                    e.date_start > now - timedelta(days=flow.reentry_days) for e in seen):
                continue
            if self._sms_flow_contact_reason(partner) and not (
                    flow.step_ids.filtered("email_template_id") and self._sms_flow_accepts_email(partner)):
                continue
            first = flow._sms_flow_steps()[:1]
            enrollment, _conflict = self._sms_flow_create_safely({
                "flow_id": flow.id, "partner_id": partner.id, "date_start": now,
                "company_id": (flow.company_id or company).id,
                "res_model": record._name if record is not None else False,
                "res_id": record.id if record is not None else False, "res_key": key, "link_url": link or False,
            })
            if enrollment:
                enrollment.write({"next_step_id": first.id, "date_next_step": enrollment._sms_flow_due_at(first)})
                seen.append(enrollment)
                enrollments |= enrollment
        if enrollments:
            enrollments._sms_flow_run_due(now=now)
            later = [e.date_next_step for e in enrollments if e.state == "running" and e.date_next_step]
            if later:
                Flow._sms_flow_wake_cron(at=min(later))
        return enrollments

    @api.model
    def _sms_flow_partner_matches(self, flow, partner):
        domain = safe_eval(flow.partner_domain or "[]")
        return not domain or bool(partner.filtered_domain(domain))

    @api.model
    def _sms_flow_due_contacts(self, now, limit=500):
        """Running contact enrollments whose next step is due, most overdue first."""
        return self.sudo().search([("state", "=", "running"), ("order_id", "=", False),
                                   ("date_next_step", "<=", now)], order="date_next_step", limit=limit)

    def _sms_flow_entry_second(self):
        """The entry time to the second, to compare with an order's date: Odoo sets `date_order` to the second
        (`fields.Datetime.now()`) when it confirms an order, while `date_start` keeps the transaction's
        microseconds; an order confirmed in the second of the entry is an order since the entry."""
        self.ensure_one()
        return self.date_start.replace(microsecond=0)

    def _sms_flow_trigger_exit_reason(self, ordered=None):
        """Why this contact enrollment must stop now by its trigger's exit conditions (ordered since entering,
        started a cart, the order that started it cancelled), or False. The contact's SMS consent is checked
        separately (an e-mail fallback may still go)."""
        self.ensure_one()
        if self.order_id:
            return False
        checks = self.flow_id.trigger_id._exit_list() if self.flow_id.trigger_id else []
        Order = self.env["sale.order"].sudo()
        commercial = self.partner_id.commercial_partner_id
        if "ordered" in checks and self._sms_flow_ordered_since_entry(ordered):
            return "ordered"
        if "cart_started" in checks and Order.search_count([
                ("partner_id", "child_of", commercial.id), ("state", "=", "draft"), ("website_id", "!=", False),
                ("create_date", ">=", self.date_start), ("order_line", "!=", False)], limit=1):
            return "cart_started"
        if "order_cancelled" in checks and self.res_model == "sale.order":
            source = Order.browse(self.res_id).exists()
            if not source or source.state == "cancel":
                return "cancelled"
        return False

    def _sms_flow_ordered_since_entry(self, memo=None):
        """Whether the contact (or its company) confirmed an order since entering, other than the one that
        started the flow. `memo` ({enrollment id: bool}) keeps the answer for one pass over the due steps: the
        steps taken in a pass (an SMS or an e-mail queued, a condition or a split decided) confirm no order."""
        self.ensure_one()
        if memo is not None and self.id in memo:
            return memo[self.id]
        excluded = [self.res_id] if self.res_model == "sale.order" else []
        ordered = bool(self.env["sale.order"].sudo().search_count([
            ("partner_id", "child_of", self.partner_id.commercial_partner_id.id), ("state", "=", "sale"),
            ("date_order", ">=", self._sms_flow_entry_second()), ("id", "not in", excluded)], limit=1))
        if memo is not None:
            memo[self.id] = ordered
        return ordered

    def _sms_flow_condition_holds(self, step, ordered=None):
        """Whether the condition of `step` holds for this enrollment (before `condition_negate`)."""
        self.ensure_one()
        partner = self.partner_id.sudo()
        kind = step.condition_type
        if kind == "ordered":
            holds = self._sms_flow_ordered_since_entry(ordered)
        elif kind == "clicked":
            holds = any(m.click_count for m in self.message_ids)
        elif kind == "mailing_list":
            contacts = step.condition_mailing_list_id.sudo().contact_ids
            holds = bool(partner.email_normalized and partner.email_normalized in contacts.mapped(
                "email_normalized")) or bool(partner.sms_number and partner.sms_number in contacts.mapped(
                    "phone_sanitized"))
        else:
            domain = safe_eval(step.condition_domain or "[]")
            holds = bool(partner.filtered_domain(domain)) if domain else True
        return holds != bool(step.condition_negate)

    def _sms_flow_run_due(self, now=None):
        """Take the due steps of these running contact enrollments: an SMS is queued (or, when the contact
        cannot receive it and accepts e-mail, the step's e-mail), a condition keeps or stops the enrollment, a
        split puts it in a branch (the holdout receives nothing more). The trigger's exits and the contact's
        consent are checked before every step. Returns how many messages were queued."""
        now = now or self.env.cr.now()
        due = self.filtered(lambda e: e.state == "running" and e.date_next_step and e.date_next_step <= now)
        queued = 0
        ordered = {}  # "ordered since entering", asked by the exits and by conditions: once per pass
        for enrollment in due:
            flow = enrollment.flow_id
            exit_reason = None  # the trigger's exits, checked before the first step of the pass: the steps
            # taken in the pass (SMS or e-mails queued, conditions and splits decided) change none of them
            while enrollment.state == "running" and enrollment.next_step_id and enrollment.date_next_step <= now:
                step = enrollment.next_step_id
                if not flow.active or not step.active:
                    enrollment._sms_flow_exit("flow_inactive", now)
                    break
                if exit_reason is None:
                    exit_reason = enrollment._sms_flow_trigger_exit_reason(ordered)
                reason = exit_reason
                if reason:
                    enrollment._sms_flow_exit(reason, now)
                    break
                if step.step_type == "split":
                    if not enrollment.branch:
                        enrollment.branch = flow_math.split_bucket(
                            f"{flow.id}/{enrollment.id}", step.split_holdout_percent, step.split_a_percent)
                    if enrollment.branch == "holdout":
                        enrollment.write({"state": "done", "exit_reason": "holdout", "date_exit": now,
                                          "next_step_id": False, "date_next_step": False})
                        break
                    enrollment._sms_flow_advance(step, now)
                    continue
                if step.step_type == "condition":
                    if not enrollment._sms_flow_condition_holds(step, ordered):
                        enrollment._sms_flow_exit("condition", now)
                        break
                    enrollment._sms_flow_advance(step, now)
                    continue
                if step in enrollment.message_ids.step_id:
                    enrollment._sms_flow_advance(step, now)
                    continue
                channel = "sms"
                reason = self._sms_flow_contact_reason(enrollment.partner_id)
                if reason:
                    if not (step.email_template_id and self._sms_flow_accepts_email(enrollment.partner_id)):
                        enrollment._sms_flow_exit(reason, now)
                        break
                    channel = "email"
                if not enrollment._sms_flow_send(step, now, channel=channel):
                    break
                queued += 1
        return queued

    # ------------------------------------------------------------------ scheduled triggers
    @api.model
    def _sms_flow_enter_scheduled(self, now):
        """Contacts of the scheduled triggers enter their flows: win-back (no confirmed order for the flow's entry
        delay after the last one) and browse abandonment (viewed products, no cart since, for the entry delay).
        Nothing is read for a trigger without an active flow."""
        Flow = self.env["sms.flow"].sudo()
        self.env.flush_all()  # the queries below are SQL
        for code in ("win_back", "browse_abandoned", "date_anniversary"):
            flows = Flow.search([("trigger", "=", code)])
            if not flows:
                continue
            getattr(self, f"_sms_flow_enter_{code}")(flows, now)

    @api.model
    def _sms_flow_may_enter_sql(self, flows, partner, key):
        """SQL condition of the scheduled triggers' scans: the contact (`partner`, an SQL alias of res_partner)
        has not entered one of `flows` for the record `key` (an SQL expression) yet, and can receive an SMS (or,
        where a step of these flows has an e-mail fallback, has an e-mail address). A necessary condition only
        (`_sms_flow_enroll` checks every rule again): it keeps an idle run from reading again, every few minutes,
        each contact of the day's window who already entered or cannot enter (their number grows with the
        orders and contacts, the scan's cost must not). A record that entered one active flow of the trigger is
        not offered to another one (`_sms_flow_enroll` would only do so when the first flow stopped matching)."""
        fallback = bool(flows.with_context(active_test=False).step_ids.filtered("email_template_id"))
        return SQL(
            """NOT EXISTS (SELECT 1 FROM sms_flow_enrollment e
                            WHERE e.flow_id IN %(flows)s AND e.partner_id = %(partner)s.id AND e.order_id IS NULL
                              AND COALESCE(e.res_key, '') = %(key)s)
               AND ((%(partner)s.sms_consent_state = 'opted_in' AND %(partner)s.sms_number IS NOT NULL
                     AND %(partner)s.sms_number_valid)
                    OR (%(fallback)s AND %(partner)s.email_normalized IS NOT NULL))""",
            flows=tuple(flows.ids) or (0,), partner=partner, key=key, fallback=fallback,
        )

    @api.model
    def _sms_flow_enter_win_back(self, flows, now):
        """Contacts whose last confirmed order is older than a win-back flow's entry delay (and at most one day
        more, so each last order is looked at on the day it qualifies; re-entry is keyed by that order)."""
        delays = {flow._sms_flow_entry_delay_seconds() for flow in flows}
        items = []
        for delay in delays:
            until = now - timedelta(seconds=delay)
            rows = self.env.execute_query(SQL(
                """SELECT DISTINCT ON (p.commercial_partner_id) o.id
                     FROM sale_order o JOIN res_partner p ON p.id = o.partner_id
                    WHERE o.state = 'sale' AND o.date_order > %s - interval '1 day'
                      AND o.date_order <= %s
                      AND NOT EXISTS (SELECT 1 FROM sale_order o2 JOIN res_partner p2 ON p2.id = o2.partner_id
                                       WHERE p2.commercial_partner_id = p.commercial_partner_id
                                         AND o2.state = 'sale' AND o2.date_order > o.date_order)
                      AND %s
                 ORDER BY p.commercial_partner_id, o.date_order DESC""", until, until,
                self._sms_flow_may_enter_sql(flows, SQL("p"), SQL("'sale.order,' || o.id"))))
            for order in self.env["sale.order"].sudo().browse([row[0] for row in rows]):
                items.append((order.partner_id, order, None))
        return self._sms_flow_enroll("win_back", items, now)

    @api.model
    def _sms_flow_enter_browse_abandoned(self, flows, now):
        """Identified visitors who viewed a product between the entry delay (plus one hour) and the entry delay
        ago, have viewed none since, and have started no cart nor confirmed an order since the view; the flow's
        link leads to the product they viewed last."""
        if "product_id" not in self.env["website.track"]._fields:
            return self.browse()
        items = []
        for delay in {flow._sms_flow_entry_delay_seconds() for flow in flows}:
            until = now - timedelta(seconds=delay)
            rows = self.env.execute_query(SQL(
                """SELECT DISTINCT ON (v.partner_id) v.partner_id, t.id, t.product_id
                     FROM website_track t JOIN website_visitor v ON v.id = t.visitor_id
                     JOIN res_partner p ON p.id = v.partner_id
                    WHERE t.product_id IS NOT NULL AND v.partner_id IS NOT NULL AND %s
                      AND t.visit_datetime > %s - interval '1 hour' AND t.visit_datetime <= %s
                      AND NOT EXISTS (SELECT 1 FROM website_track t2 WHERE t2.visitor_id = t.visitor_id
                                         AND t2.product_id IS NOT NULL AND t2.visit_datetime > t.visit_datetime)
                      AND NOT EXISTS (SELECT 1 FROM sale_order o WHERE o.partner_id = v.partner_id
                                         AND (o.write_date >= t.visit_datetime OR o.create_date >= t.visit_datetime)
                                         AND (o.state = 'sale' OR (o.state = 'draft' AND o.website_id IS NOT NULL)))
                 ORDER BY v.partner_id, t.visit_datetime DESC""",
                self._sms_flow_may_enter_sql(flows, SQL("p"), SQL("'website.track,' || t.id")), until, until))
            Track, Product = self.env["website.track"].sudo(), self.env["product.product"].sudo()
            for partner_id, track_id, product_id in rows:
                product = Product.browse(product_id)
                link = f"{product.get_base_url()}{product.website_url}" if product.website_url else None
                items.append((self.env["res.partner"].browse(partner_id), Track.browse(track_id), link))
        return self._sms_flow_enroll("browse_abandoned", items, now)

    @api.model
    def _sms_flow_enter_date_anniversary(self, flows, now):
        """Contacts whose date field (a birthday, a membership date...) falls, day and month, on the flow's entry
        delay from today (UTC), once a year (the key is the year). Flows without a date field do nothing."""
        enrollments = self.browse()
        for flow in flows.filtered("date_field_id"):
            field = flow.date_field_id
            if field.model != "res.partner" or not field.store or field.ttype not in ("date", "datetime"):
                continue
            day = (now + timedelta(seconds=flow._sms_flow_entry_delay_seconds())).date()
            column = SQL.identifier("p", field.name)
            key = f"{field.name}:{day.year}"
            # Index-backed (sms.flow._sms_flow_date_index): the contacts of the day, not every contact.
            rows = self.env.execute_query(SQL(
                """SELECT p.id FROM res_partner p
                    WHERE p.active AND %s IS NOT NULL
                      AND extract(month FROM %s) = %s AND extract(day FROM %s) = %s AND %s""",
                column, column, day.month, column, day.day,  # the column: a stored date field of res.partner
                self._sms_flow_may_enter_sql(flow, SQL("p"), SQL("%s", key))))
            partners = self.env["res.partner"].sudo().browse([row[0] for row in rows])
            enrollments |= self._sms_flow_enroll("date_anniversary", [
                (partner, None, None, key) for partner in partners], now, flows=flow)
        return enrollments
