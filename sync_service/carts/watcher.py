"""The abandoned-cart watcher: follows website carts in Odoo and asks Odoo to queue flow steps when due.

Each poll reads the website orders changed since a ``(write_date, id)`` cursor kept in the store's
key/value table: one ``sms.marketing.api.poll_carts`` call, an indexed range read whose cost does
not depend on how many orders Odoo holds. Each open cart gets a timer in the store (its next step,
due at its last activity plus the step's delay); a cart that changes again restarts from its new
activity; a cart that closes (confirmed, cancelled, emptied) loses its timer. Due timers are claimed
for a lease and sent to Odoo in batches (``enqueue_flow_steps``), which re-checks everything and
queues each (cart, step) at most once (unique constraint): restarts and several replicas sharing the
store never send a step twice.

A poll when nothing changed costs one RPC call; the flows (steps and delays) are read again only
when Odoo reports that their version changed.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sync_service.carts.timers import CartTimers, Finished
from sync_service.core.cart_schedule import (
    Action,
    CartChange,
    Cursor,
    Flow,
    Outcome,
    Timer,
    advance_cursor,
    after_enqueue,
    classify,
    parse_odoo_datetime,
    plan,
    replan,
)
from sync_service.shell.odoo_client import OdooError
from sync_service.store import Clock, Store, StoreError, utcnow

logger = logging.getLogger("sync_service.carts.watcher")

API = "sms.marketing.api"
CURSOR_KEY = "cart_watcher.cursor"
MAX_IDLE_BACKOFF = 60.0
IDLE_CURSOR_STEP = timedelta(seconds=60)
MIN_WAIT = 0.05  # seconds between two polls at least (a step falling due now)


class OdooCaller(Protocol):
    """What the watcher needs of the Odoo client (``OdooClient`` or ``OdooSession``, in ``shell/``)."""

    def call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any: ...


@dataclass
class PollResult:
    """What one :meth:`CartWatcher.poll_once` did."""

    read: int = 0  # cart rows Odoo reported as changed
    scheduled: int = 0  # timers created or moved
    dropped: int = 0  # timers removed (cart closed, flow left)
    enqueued: int = 0  # steps Odoo queued now
    skipped: int = 0  # steps Odoo did not queue (already sent, exit conditions, not due)
    retried: int = 0  # steps to ask again soon (concurrent call)
    rpc_calls: int = 0
    flows_refreshed: bool = False
    more: bool = False  # stopped early with work left: poll again without waiting
    next_due_in: float | None = None  # seconds until the next timer falls due (None: no timer)
    lags: list[float] = field(default_factory=list)  # seconds from due time to Odoo's answer, per queued step
    reasons: Counter[str] = field(default_factory=Counter)  # why steps were skipped


class CartWatcher:
    """Polls Odoo's website carts and enqueues due flow steps. Thread-safe enough for one ``run`` loop;
    several watchers (threads, processes, replicas) may share one store and one Odoo."""

    def __init__(
        self,
        store: Store,
        client: OdooCaller,
        *,
        poll_interval: float = 5.0,
        page_size: int = 500,
        max_pages: int = 20,
        enqueue_batch: int = 50,
        max_batches: int = 20,
        settle_seconds: float = 30.0,
        lease_seconds: float = 60.0,
        retry_base_seconds: float = 1.0,
        retry_cap_seconds: float = 60.0,
        worker_id: str | None = None,
        clock: Clock = utcnow,
    ) -> None:
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        self.store = store
        self.client = client
        self.poll_interval = poll_interval
        self.page_size = page_size
        self.max_pages = max_pages
        self.enqueue_batch = enqueue_batch
        self.max_batches = max_batches
        self.settle_seconds = settle_seconds
        self.lease_seconds = lease_seconds
        self.retry_base_seconds = retry_base_seconds
        self.retry_cap_seconds = retry_cap_seconds
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}-carts-{id(self):x}"
        self._clock = clock
        self.timers = CartTimers(store, clock=clock)
        self._flows: dict[int, Flow] | None = None
        self._flows_version: str | None = None
        self._offset = timedelta(0)  # Odoo's clock minus ours

    # ------------------------------------------------------------------ time
    def now(self) -> datetime:
        """Odoo's time, estimated from the last poll (due times are in Odoo's clock)."""
        return self._clock() + self._offset

    # ------------------------------------------------------------------ flows
    def _call(self, result: PollResult, method: str, *args: Any) -> Any:
        result.rpc_calls += 1
        return self.client.call(API, method, *args)

    def _refresh_flows(self, result: PollResult) -> None:
        reply = self._call(result, "get_cart_flows")
        flows = {int(payload["id"]): Flow.from_odoo(payload) for payload in reply.get("flows", [])}
        changed = self._flows is not None
        self._flows, self._flows_version = flows, str(reply.get("version") or "")
        result.flows_refreshed = True
        if changed:
            self._replan_all(result)
        logger.info("cart watcher: %d cart flow(s) loaded", len(flows), extra={"flows": sorted(flows)})

    def _replan_all(self, result: PollResult) -> None:
        flows = self._flows or {}
        ids = self.timers.all_order_ids()
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]

            def decide(current: dict[int, Timer]) -> dict[int, Timer | None]:
                return {order_id: replan(timer, flows) for order_id, timer in current.items()}

            written, deleted = self.timers.merge(chunk, decide)
            result.scheduled += written
            result.dropped += deleted

    # ------------------------------------------------------------------ cursor
    def _load_cursor(self) -> Cursor | None:
        raw = self.store.get(CURSOR_KEY)
        return Cursor.from_json(json.loads(raw)) if raw else None

    def _save_cursor(self, cursor: Cursor) -> None:
        self.store.set(CURSOR_KEY, json.dumps(cursor.to_json()))

    # ------------------------------------------------------------------ one poll
    def poll_once(self) -> PollResult:
        """Read the carts changed since the cursor, update their timers, enqueue the due steps."""
        result = PollResult()
        if self._flows is None:
            self._refresh_flows(result)
        cursor = self._load_cursor()
        position, last_read, server_now = cursor, None, None
        for page in range(self.max_pages):
            reply = self._call(
                result, "poll_carts",
                position.odoo_write_date() if position else False, position.id if position else 0,
                self.page_size,
            )
            received = self._clock()
            server_now = parse_odoo_datetime(reply["now"])
            self._offset = server_now - received
            if str(reply.get("flows_version") or "") != self._flows_version:
                self._refresh_flows(result)
            changes = [CartChange.from_odoo(row) for row in reply.get("carts", [])]
            if changes:
                self._apply_changes(changes, result)
                last_read = position = changes[-1].cursor
            if len(changes) < self.page_size:
                break
            if page == self.max_pages - 1:
                result.more = True
        if server_now is not None:
            new_cursor = advance_cursor(cursor, last_read, server_now, self.settle_seconds)
            # Nothing read: the cursor only follows the clock; store it now and then, not on every idle poll.
            if new_cursor != cursor and (
                cursor is None or last_read is not None
                or new_cursor.write_date - cursor.write_date >= IDLE_CURSOR_STEP
            ):
                self._save_cursor(new_cursor)
        self._enqueue_due(result)
        next_due = self.timers.next_due_at(self.now())
        if next_due is not None:
            result.next_due_in = max(0.0, (next_due - self.now()).total_seconds())
        return result

    def _apply_changes(self, changes: list[CartChange], result: PollResult) -> None:
        result.read += len(changes)
        latest = {change.order_id: change for change in changes}  # a page may hold a cart once only
        flows = self._flows or {}

        def decide(current: dict[int, Timer]) -> dict[int, Timer | None]:
            wanted: dict[int, Timer | None] = {}
            for order_id, change in latest.items():
                previous = current.get(order_id)
                timer = plan(change, flows, previous)
                if timer is None and previous is None:
                    continue
                wanted[order_id] = timer
            return wanted

        written, deleted = self.timers.merge(list(latest), decide)
        result.scheduled += written
        result.dropped += deleted

    def _enqueue_due(self, result: PollResult) -> None:
        flows = self._flows or {}
        for batch_no in range(self.max_batches):
            now = self.now()
            claimed = self.timers.claim_due(self.worker_id, now, self.enqueue_batch, self.lease_seconds)
            if not claimed:
                return
            items = [{"order_id": timer.order_id, "step_id": timer.step_id} for timer in claimed]
            try:
                answers = self._call(result, "enqueue_flow_steps", items)
            except OdooError:
                self.timers.finish(self.worker_id, [
                    Finished(timer, after_enqueue(timer, Outcome("retry", "odoo_error"), flows, self.now(),
                                                  retry_base=self.retry_base_seconds,
                                                  retry_cap=self.retry_cap_seconds))
                    for timer in claimed
                ])
                raise
            answered = self.now()
            finished = []
            for timer, answer in zip(claimed, answers, strict=True):
                outcome = Outcome.from_odoo(answer)
                action = classify(outcome)
                if outcome.result == "queued":
                    result.enqueued += 1
                    result.lags.append((answered - timer.due_at).total_seconds())
                elif action is Action.RETRY:
                    result.retried += 1
                else:
                    result.skipped += 1
                    result.reasons[outcome.reason or "unknown"] += 1
                new = after_enqueue(timer, outcome, flows, answered, retry_base=self.retry_base_seconds,
                                    retry_cap=self.retry_cap_seconds)
                if new is None:
                    result.dropped += 1
                finished.append(Finished(timer, new, timer.step_id if action is Action.ADVANCE else None))
            self.timers.finish(self.worker_id, finished)
            if len(claimed) < self.enqueue_batch:
                return
            if batch_no == self.max_batches - 1:
                result.more = True

    # ------------------------------------------------------------------ loop
    def run(self, stop: threading.Event) -> None:
        """Poll until `stop` is set: at least every `poll_interval` seconds, sooner when a step falls due."""
        logger.info("cart watcher started", extra={"worker": self.worker_id})
        failures = 0
        while not stop.is_set():
            try:
                result = self.poll_once()
            except (OdooError, StoreError) as exc:
                failures += 1
                delay = min(MAX_IDLE_BACKOFF, self.poll_interval * 2 ** min(failures, 6))
                logger.error("cart watcher: %s (next try in %.0f s)", exc, delay)
                stop.wait(delay)
                continue
            except Exception:
                failures += 1
                logger.exception("cart watcher: unexpected error")
                stop.wait(min(MAX_IDLE_BACKOFF, self.poll_interval * 2 ** min(failures, 6)))
                continue
            failures = 0
            if result.enqueued or result.skipped or result.retried:
                reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(result.reasons.items()))
                logger.info(
                    "cart watcher: %d step(s) queued, %d skipped%s, %d to retry, %d cart(s) read",
                    result.enqueued, result.skipped, f" ({reasons})" if reasons else "", result.retried,
                    result.read, extra={"reasons": dict(result.reasons)},
                )
            if result.more:
                continue
            wait = self.poll_interval
            if result.next_due_in is not None:
                wait = min(wait, result.next_due_in)
            stop.wait(max(MIN_WAIT, wait))
        logger.info("cart watcher stopped", extra={"worker": self.worker_id})
