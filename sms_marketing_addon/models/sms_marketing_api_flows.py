from datetime import datetime, timedelta, timezone

from odoo import _, api, models
from odoo.exceptions import UserError
from odoo.tools import SQL

DEFAULT_LOOKBACK_EXTRA = timedelta(days=1)
MAX_POLL_LIMIT = 5000
MAX_ENQUEUE_BATCH = 500


def _iso(value):
    return value.isoformat(sep=" ") if value else False


def _parse(value, name):
    """Naive UTC datetime from an ISO string (naive = UTC, or with an offset)."""
    try:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError as err:
        raise UserError(_("%(name)s is not a date and time: %(value)r", name=name, value=value)) from err
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


class SmsMarketingApiFlows(models.AbstractModel):
    """The flows half of the API, for the sync service's cart watcher: read carts that changed since a cursor,
    know the flows' delays, queue a due step (exactly once per cart and step, checked again by Odoo)."""

    _inherit = "sms.marketing.api"

    @api.model
    def get_cart_flows(self):
        """Active abandoned-cart flows and their steps in sending order.

        :return: {version, max_delay_seconds, flows: [{id, name, steps: [{id, delay_seconds}]}]}
        """
        self._check_service()
        Flow = self.env["sms.flow"].sudo()
        flows = Flow.search([("trigger", "=", "cart_abandoned")])
        payload = [
            {"id": flow.id, "name": flow.name,
             "steps": [{"id": step.id, "delay_seconds": step.delay_seconds} for step in flow._sms_flow_steps()]}
            for flow in flows
        ]
        delays = [step["delay_seconds"] for flow in payload for step in flow["steps"]]
        return {"version": Flow._sms_flow_version(), "max_delay_seconds": max(delays, default=0), "flows": payload}

    @api.model
    def poll_carts(self, cursor_write_date=False, cursor_id=0, limit=500, lookback_seconds=0):
        """Website orders changed after the cursor (write_date, id), oldest first, `limit` at most.

        One indexed range read on sale_order (write_date, id): the cost does not grow with the number of
        historical orders. Without a cursor, starts `lookback_seconds` ago (default: the longest step delay
        plus one day). Running flows of carts that are no longer open (confirmed, emptied...) are closed.

        :return: {now, flows_version, carts: [{id, write_date, open, reason, flow_id, done_step_ids}]}
          `write_date` and `now` are UTC with microseconds ('YYYY-MM-DD HH:MM:SS.ffffff'); the next cursor
          is the last cart's (write_date, id).
        """
        self._check_service()
        limit = max(1, min(int(limit or 500), MAX_POLL_LIMIT))
        now = self.env.cr.now()
        Flow = self.env["sms.flow"].sudo()
        if cursor_write_date:
            after = (_parse(cursor_write_date, "cursor_write_date"), int(cursor_id or 0))
        else:
            lookback = timedelta(seconds=float(lookback_seconds)) if lookback_seconds else (
                timedelta(seconds=max(Flow.search([]).step_ids.mapped("delay_seconds") or [0]))
                + DEFAULT_LOOKBACK_EXTRA)
            after = (now - lookback, 0)
        self.env["sale.order"].flush_model(["write_date", "website_id"])
        rows = self.env.execute_query(SQL(
            """SELECT id, write_date FROM sale_order
                WHERE (write_date, id) > (%s, %s) AND website_id IS NOT NULL
                ORDER BY write_date, id
                LIMIT %s""",
            after[0], after[1], limit,
        ))
        return {
            "now": _iso(now),
            "flows_version": Flow._sms_flow_version(),
            "carts": self._sms_flow_describe_carts(rows, now) if rows else [],
        }

    def _sms_flow_describe_carts(self, rows, now):
        orders = self.env["sale.order"].sudo().browse([row[0] for row in rows])
        Flow = self.env["sms.flow"].sudo()
        flows = Flow.search([("trigger", "=", "cart_abandoned")])
        done = {}
        for message in self.env["sms.flow.message"].sudo().search_read(
                [("order_id", "in", orders.ids)], ["order_id", "step_id"]):
            done.setdefault(message["order_id"][0], []).append(message["step_id"][0])
        closed = {}
        carts = []
        for order, (_order_id, write_date) in zip(orders, rows):
            reason = order._sms_flow_cart_reason()
            flow = self.env["sms.flow"]
            if reason:
                closed.setdefault(reason, self.env["sale.order"])
                closed[reason] |= order
            else:
                flow = Flow._sms_flow_for_order(order, flows)
            carts.append({
                "id": order.id, "write_date": _iso(write_date), "open": not reason, "reason": reason or False,
                "flow_id": flow.id or False, "done_step_ids": sorted(done.get(order.id, [])),
            })
        Enrollment = self.env["sms.flow.enrollment"].sudo()
        for reason, closed_orders in closed.items():
            Enrollment._sms_flow_exit_orders(closed_orders, reason, now)
        return carts

    @api.model
    def enqueue_flow_steps(self, items):
        """Queue due flow steps of carts: [{order_id, step_id}]. Exactly once per (cart, step): a step already
        queued is skipped ('already_sent'), a concurrent attempt gets 'retry'. Every exit condition is checked
        again now (order confirmed or cancelled, cart emptied, contact opted out or without consent or valid
        number, cart updated since: 'not_due' with the new due time).

        :return: [{order_id, step_id, result: 'queued'|'skipped'|'retry', reason, message_id, due_at,
                   write_date}] in the order of `items`
        """
        self._check_service()
        if len(items) > MAX_ENQUEUE_BATCH:
            raise UserError(_("At most %s flow steps per call.", MAX_ENQUEUE_BATCH))
        keys = [(int(item["order_id"]), int(item["step_id"])) for item in items]
        now = self.env.cr.now()
        Enrollment = self.env["sms.flow.enrollment"].sudo()
        Order, Step = self.env["sale.order"].sudo(), self.env["sms.flow.step"].sudo()
        results = {}
        # The batch's carts are read together (each cart's fields in one query for the batch, not per cart).
        prefetch = Order.browse(sorted({order_id for order_id, _step_id in keys}))._prefetch_ids
        # Sorted: concurrent batches lock carts in the same order (no deadlock).
        for order_id, step_id in sorted(set(keys)):
            results[order_id, step_id] = Enrollment._sms_flow_enqueue_cart(
                Order.browse(order_id).with_prefetch(prefetch), Step.browse(step_id), now)
        return [results[key] for key in keys]

    @api.model
    def enqueue_flow_step(self, order_id, step_id):
        """Queue step `step_id` of the cart `order_id` (see `enqueue_flow_steps`); returns its result."""
        return self.enqueue_flow_steps([{"order_id": order_id, "step_id": step_id}])[0]

    @api.model
    def claim_batch(self, worker_id, limit=100, lease_seconds=120):
        """Also hand out the MMS image of flow messages (`media_url`) where there is one."""
        result = super().claim_batch(worker_id, limit=limit, lease_seconds=lease_seconds)
        keys = [message["key"] for message in result.get("messages", [])]
        if keys:
            media = {
                row["uuid"]: row["sms_media_url"]
                for row in self.env["sms.sms"].sudo().search_read(
                    [("uuid", "in", keys), ("sms_media_url", "!=", False)], ["uuid", "sms_media_url"])
            }
            for message in result["messages"]:
                if media.get(message["key"]):
                    message["media_url"] = media[message["key"]]
        return result
