"""Scheduling of abandoned-cart flow steps, without I/O.

A cart's *timer* says which step of its flow is next and when it is due: the cart's last activity
(``sale.order.write_date``) plus the step's delay. Steps go in the flow's order; a step Odoo already
queued (``done``) is never asked again by this watcher, and Odoo refuses a second one anyway.

The read cursor is a ``(write_date, id)`` pair. Odoo stamps ``write_date`` with the start time of
the writing transaction, so a transaction still open at poll time can commit rows *older* than rows
already read. The committed cursor therefore never goes beyond ``server_now - settle``: rows of the
last ``settle`` seconds are read again at the next poll (re-planning them is idempotent).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

__all__ = [
    "Action",
    "CartChange",
    "Cursor",
    "Flow",
    "FlowStep",
    "Outcome",
    "Timer",
    "advance_cursor",
    "after_enqueue",
    "classify",
    "next_step",
    "parse_odoo_datetime",
    "plan",
    "replan",
    "retry_delay",
    "schedule",
]

# Odoo's answers to "queue step N of this cart" (sms.marketing.api.enqueue_flow_steps).
ADVANCE_REASONS = frozenset({"already_sent", "superseded"})
RESCHEDULE_REASONS = frozenset({"not_due"})
# Odoo said "not due yet" for a time our clock already passed (clock skew): wait at least this long.
MIN_RESCHEDULE = timedelta(seconds=0.2)


class Action(Enum):
    ADVANCE = "advance"  # the step is done (queued now or before): plan the next one
    RESCHEDULE = "reschedule"  # the cart changed since: same step, later
    RETRY = "retry"  # a concurrent call or an outage: ask again soon
    DROP = "drop"  # the cart left the flow (confirmed, emptied, opted out, no consent...)


@dataclass(frozen=True, slots=True)
class FlowStep:
    id: int
    delay_seconds: int


@dataclass(frozen=True, slots=True)
class Flow:
    id: int
    steps: tuple[FlowStep, ...]  # in sending order

    @classmethod
    def from_odoo(cls, payload: Mapping[str, Any]) -> Flow:
        return cls(
            id=int(payload["id"]),
            steps=tuple(FlowStep(int(s["id"]), int(s["delay_seconds"])) for s in payload.get("steps", [])),
        )

    def step(self, step_id: int) -> FlowStep | None:
        return next((step for step in self.steps if step.id == step_id), None)


@dataclass(frozen=True, slots=True, order=True)
class Cursor:
    write_date: datetime
    id: int

    def to_json(self) -> dict[str, Any]:
        return {"write_date": self.write_date.isoformat(), "id": self.id}

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> Cursor:
        return cls(datetime.fromisoformat(str(payload["write_date"])), int(payload["id"]))

    def odoo_write_date(self) -> str:
        """Naive UTC with microseconds, as Odoo's poll expects it."""
        return self.write_date.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


@dataclass(frozen=True, slots=True)
class CartChange:
    """One row of ``poll_carts``: a website order whose ``write_date`` moved."""

    order_id: int
    write_date: datetime
    open: bool  # draft website cart with lines and a known contact
    flow_id: int | None
    done_step_ids: frozenset[int] = frozenset()
    reason: str | None = None

    @classmethod
    def from_odoo(cls, row: Mapping[str, Any]) -> CartChange:
        return cls(
            order_id=int(row["id"]),
            write_date=parse_odoo_datetime(row["write_date"]),
            open=bool(row.get("open")),
            flow_id=int(row["flow_id"]) if row.get("flow_id") else None,
            done_step_ids=frozenset(int(i) for i in row.get("done_step_ids") or ()),
            reason=row.get("reason") or None,
        )

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.write_date, self.order_id)


@dataclass(frozen=True, slots=True)
class Timer:
    """The next step of one cart."""

    order_id: int
    flow_id: int
    step_id: int
    activity_at: datetime  # the cart's write_date the delays count from
    due_at: datetime
    done_step_ids: frozenset[int] = frozenset()
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class Outcome:
    """Odoo's answer for one (cart, step)."""

    result: str  # 'queued' | 'skipped' | 'retry'
    reason: str | None = None
    write_date: datetime | None = None
    due_at: datetime | None = None
    message_id: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_odoo(cls, payload: Mapping[str, Any]) -> Outcome:
        return cls(
            result=str(payload.get("result") or "skipped"),
            reason=payload.get("reason") or None,
            write_date=parse_odoo_datetime(payload["write_date"]) if payload.get("write_date") else None,
            due_at=parse_odoo_datetime(payload["due_at"]) if payload.get("due_at") else None,
            message_id=int(payload["message_id"]) if payload.get("message_id") else None,
        )


def parse_odoo_datetime(value: str | datetime) -> datetime:
    """Odoo's naive UTC datetimes ('YYYY-MM-DD HH:MM:SS[.ffffff]') as aware UTC datetimes."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip())
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def next_step(flow: Flow, done: Iterable[int]) -> FlowStep | None:
    """The first step of the flow not done yet."""
    done_ids = set(done)
    return next((step for step in flow.steps if step.id not in done_ids), None)


def schedule(
    flow: Flow, order_id: int, activity_at: datetime, done: frozenset[int], attempts: int = 0
) -> Timer | None:
    """The timer of the cart's next step, counted from its last activity; None when every step is done."""
    step = next_step(flow, done)
    if step is None:
        return None
    return Timer(order_id, flow.id, step.id, activity_at, activity_at + timedelta(seconds=step.delay_seconds),
                 done, attempts)


def plan(change: CartChange, flows: Mapping[int, Flow], previous: Timer | None = None) -> Timer | None:
    """The timer after Odoo reported a change of the cart; None drops it (closed cart, no flow)."""
    if not change.open or change.flow_id is None or change.flow_id not in flows:
        return None
    done = change.done_step_ids
    if previous is not None and previous.flow_id == change.flow_id:
        done = done | previous.done_step_ids
    activity = change.write_date
    if previous is not None and previous.flow_id == change.flow_id and previous.activity_at > activity:
        activity = previous.activity_at  # a stale re-read never moves the activity back
    timer = schedule(flows[change.flow_id], change.order_id, activity, done)
    if timer is not None and previous is not None and _same_plan(previous, timer):
        return previous  # unchanged: keep attempts and any retry delay
    return timer


def _same_plan(a: Timer, b: Timer) -> bool:
    return (a.flow_id, a.step_id, a.activity_at, a.done_step_ids) == (b.flow_id, b.step_id, b.activity_at,
                                                                       b.done_step_ids)


def replan(timer: Timer, flows: Mapping[int, Flow]) -> Timer | None:
    """The timer after the flows changed (delays edited, steps added or removed, flow archived)."""
    flow = flows.get(timer.flow_id)
    if flow is None:
        return None
    new = schedule(flow, timer.order_id, timer.activity_at, timer.done_step_ids, timer.attempts)
    if new is not None and new.step_id == timer.step_id and timer.attempts:
        return replace(new, due_at=max(new.due_at, timer.due_at))  # keep a pending retry delay
    return new


def classify(outcome: Outcome) -> Action:
    if outcome.result == "queued":
        return Action.ADVANCE
    if outcome.result == "retry":
        return Action.RETRY
    if outcome.reason in ADVANCE_REASONS:
        return Action.ADVANCE
    if outcome.reason in RESCHEDULE_REASONS:
        return Action.RESCHEDULE
    return Action.DROP


def retry_delay(attempts: int, base: float = 1.0, cap: float = 60.0) -> float:
    """Seconds before asking again after `attempts` failed tries (doubling, capped)."""
    return min(cap, base * 2 ** max(0, attempts - 1))


def after_enqueue(
    timer: Timer,
    outcome: Outcome,
    flows: Mapping[int, Flow],
    now: datetime,
    *,
    retry_base: float = 1.0,
    retry_cap: float = 60.0,
) -> Timer | None:
    """The cart's timer once Odoo answered for its step; None drops it."""
    action = classify(outcome)
    if action is Action.DROP:
        return None
    if action is Action.RETRY:
        attempts = timer.attempts + 1
        return replace(timer, attempts=attempts,
                       due_at=now + timedelta(seconds=retry_delay(attempts, retry_base, retry_cap)))
    flow = flows.get(timer.flow_id)
    if flow is None:
        return None
    if action is Action.ADVANCE:
        return schedule(flow, timer.order_id, timer.activity_at, timer.done_step_ids | {timer.step_id})
    # RESCHEDULE: the cart moved since (or Odoo's clock is behind ours): same step, from the new activity.
    activity = max(timer.activity_at, outcome.write_date or timer.activity_at)
    new = schedule(flow, timer.order_id, activity, timer.done_step_ids)
    if new is not None and outcome.due_at is not None and new.step_id == timer.step_id:
        new = replace(new, due_at=max(outcome.due_at, now + MIN_RESCHEDULE))
    return new


def advance_cursor(
    current: Cursor | None, last_read: Cursor | None, server_now: datetime, settle_seconds: float
) -> Cursor:
    """The cursor to store after reading rows up to `last_read` (None: nothing read).

    Never beyond ``server_now - settle_seconds`` (a transaction still open may commit older rows),
    never backwards.
    """
    horizon = Cursor(server_now - timedelta(seconds=settle_seconds), 0)
    target = horizon if last_read is None else min(last_read, horizon)
    return target if current is None else max(current, target)
