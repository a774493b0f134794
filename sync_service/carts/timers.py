"""The cart watcher's durable timers: one row per open cart, in the service's store (SQLite or PostgreSQL).

Several watchers may share the store: a due timer is *claimed* for a lease before Odoo is asked to
queue its step, so two replicas rarely ask for the same step at once (and Odoo's unique constraint
refuses the second SMS when they do).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from sync_service.core.cart_schedule import Timer
from sync_service.store import Store, StoreUnavailable
from sync_service.store.models import UTCDateTime
from sync_service.store.store import WRITE_OPTION

P = ParamSpec("P")
R = TypeVar("R")

Decide = Callable[[dict[int, Timer]], dict[int, "Timer | None"]]

timers_metadata = MetaData()

cart_timers = Table(
    "cart_timers",
    timers_metadata,
    Column("order_id", Integer, primary_key=True, autoincrement=False),
    Column("flow_id", Integer, nullable=False),
    Column("step_id", Integer, nullable=False),
    Column("activity_at", UTCDateTime, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("done_step_ids", JSON, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("claimed_by", String(128), nullable=True),
    Column("claim_expires_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_cart_timers_due", "due_at"),
)


@dataclass(frozen=True, slots=True)
class Finished:
    """What became of one claimed timer: `new` replaces it (None deletes it); `done_step` is the step Odoo
    reported as queued (kept even when the cart was re-planned meanwhile)."""

    claimed: Timer
    new: Timer | None
    done_step: int | None = None


def _guard(operation: str) -> Callable[[Callable[Concatenate[CartTimers, P], R]],
                                       Callable[Concatenate[CartTimers, P], R]]:
    def decorate(method: Callable[Concatenate[CartTimers, P], R]) -> Callable[Concatenate[CartTimers, P], R]:
        @functools.wraps(method)
        def wrapper(self: CartTimers, *args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return method(self, *args, **kwargs)
            except SQLAlchemyError as exc:
                original = getattr(exc, "orig", None) or exc
                reason = (str(original).strip().splitlines() or [type(original).__name__])[0]
                raise StoreUnavailable(f"store {self.store.safe_url}: {operation} failed: {reason}") from exc

        return wrapper

    return decorate


def _timer(row: Any) -> Timer:
    return Timer(
        order_id=row.order_id,
        flow_id=row.flow_id,
        step_id=row.step_id,
        activity_at=row.activity_at,
        due_at=row.due_at,
        done_step_ids=frozenset(int(i) for i in row.done_step_ids or ()),
        attempts=row.attempts,
    )


def _values(timer: Timer, now: datetime) -> dict[str, Any]:
    return {
        "flow_id": timer.flow_id,
        "step_id": timer.step_id,
        "activity_at": timer.activity_at,
        "due_at": timer.due_at,
        "done_step_ids": sorted(timer.done_step_ids),
        "attempts": timer.attempts,
        "updated_at": now,
    }


class CartTimers:
    """Timers of open carts in the store's database (table ``cart_timers``, created on first use)."""

    def __init__(self, store: Store, *, clock: Callable[[], datetime]) -> None:
        self.store = store
        self._clock = clock
        try:
            store.create_tables(timers_metadata)
        except SQLAlchemyError as exc:
            raise StoreUnavailable(
                f"store {store.safe_url}: cannot create the cart timers table: {exc}"
            ) from exc

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.store.engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})  # SQLite: BEGIN IMMEDIATE
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.store.engine.connect() as conn, conn.begin():
            yield conn

    @_guard("cart timers: merge")
    def merge(self, order_ids: Collection[int], decide: Decide) -> tuple[int, int]:
        """Read the timers of `order_ids` (locked), let `decide` return the new ones (None deletes), write the
        ones that changed. One transaction. Returns (written, deleted)."""
        if not order_ids:
            return 0, 0
        now = self._clock()
        for _attempt in range(3):
            try:
                with self._write() as conn:
                    rows = conn.execute(
                        select(cart_timers).where(cart_timers.c.order_id.in_(list(order_ids)))
                        .with_for_update()
                    )
                    current = {row.order_id: _timer(row) for row in rows}
                    wanted = decide(dict(current))
                    written = deleted = 0
                    gone = [oid for oid, timer in wanted.items() if timer is None and oid in current]
                    if gone:
                        conn.execute(delete(cart_timers).where(cart_timers.c.order_id.in_(gone)))
                        deleted = len(gone)
                    for order_id, timer in wanted.items():
                        if timer is None or current.get(order_id) == timer:
                            continue
                        if order_id in current:
                            conn.execute(update(cart_timers).where(cart_timers.c.order_id == order_id)
                                         .values(**_values(timer, now)))
                        else:
                            conn.execute(insert(cart_timers).values(order_id=order_id, **_values(timer, now)))
                        written += 1
                    return written, deleted
            except IntegrityError:
                continue  # a concurrent replica inserted the same cart: read again
        raise StoreUnavailable(f"store {self.store.safe_url}: cart timers kept conflicting")

    @_guard("cart timers: claim")
    def claim_due(self, worker: str, now: datetime, limit: int, lease_seconds: float) -> list[Timer]:
        """Lease up to `limit` due timers (most overdue first) to `worker`."""
        expires = now + timedelta(seconds=lease_seconds)
        claimable = and_(
            cart_timers.c.due_at <= now,
            or_(cart_timers.c.claim_expires_at.is_(None), cart_timers.c.claim_expires_at <= now),
        )
        with self._write() as conn:
            ids = list(conn.scalars(
                select(cart_timers.c.order_id).where(claimable).order_by(cart_timers.c.due_at)
                .limit(limit).with_for_update(skip_locked=True)
            ))
            if not ids:
                return []
            conn.execute(update(cart_timers).where(cart_timers.c.order_id.in_(ids), claimable)
                         .values(claimed_by=worker, claim_expires_at=expires))
            rows = conn.execute(select(cart_timers).where(
                cart_timers.c.order_id.in_(ids), cart_timers.c.claimed_by == worker,
                cart_timers.c.claim_expires_at == expires,
            ).order_by(cart_timers.c.due_at))
            return [_timer(row) for row in rows]

    @_guard("cart timers: finish")
    def finish(self, worker: str, finished: Sequence[Finished]) -> None:
        """Write what became of claimed timers. A timer re-planned while it was claimed (the cart changed)
        keeps its new plan; only the step Odoo queued is added to its done steps."""
        if not finished:
            return
        now = self._clock()
        by_id = {f.claimed.order_id: f for f in finished}
        with self._write() as conn:
            rows = {row.order_id: row for row in conn.execute(
                select(cart_timers).where(cart_timers.c.order_id.in_(list(by_id))).with_for_update())}
            gone = []
            for order_id, item in by_id.items():
                row = rows.get(order_id)
                if row is None:
                    continue
                current = _timer(row)
                unchanged = (current.flow_id, current.step_id, current.activity_at) == (
                    item.claimed.flow_id, item.claimed.step_id, item.claimed.activity_at)
                if unchanged:
                    if item.new is None:
                        gone.append(order_id)
                        continue
                    values = _values(item.new, now)
                else:
                    done = current.done_step_ids | ({item.done_step} if item.done_step else set())
                    values = {"done_step_ids": sorted(done), "updated_at": now}
                    if item.done_step and current.step_id == item.done_step:
                        values["due_at"] = now  # ask again at once: Odoo answers 'already_sent', we move on
                conn.execute(update(cart_timers).where(cart_timers.c.order_id == order_id).values(
                    **values, claimed_by=None, claim_expires_at=None))
            if gone:
                conn.execute(delete(cart_timers).where(cart_timers.c.order_id.in_(gone)))

    @_guard("cart timers: next due")
    def next_due_at(self, now: datetime) -> datetime | None:
        """When the next timer falls due (claimed ones count from their lease's end)."""
        with self._read() as conn:
            unclaimed = conn.scalar(select(func.min(cart_timers.c.due_at)).where(or_(
                cart_timers.c.claim_expires_at.is_(None), cart_timers.c.claim_expires_at <= now)))
            leased = conn.scalar(select(func.min(cart_timers.c.claim_expires_at)).where(
                cart_timers.c.claim_expires_at > now))
        # func.min() may bypass the column type (SQLite hands back naive datetimes): stored values are UTC.
        values = [v if v.tzinfo else v.replace(tzinfo=UTC) for v in (unclaimed, leased) if v is not None]
        return min(values) if values else None

    @_guard("cart timers: read")
    def all_order_ids(self) -> list[int]:
        with self._read() as conn:
            return list(conn.scalars(select(cart_timers.c.order_id).order_by(cart_timers.c.order_id)))

    @_guard("cart timers: read")
    def get(self, order_id: int) -> Timer | None:
        with self._read() as conn:
            row = conn.execute(select(cart_timers).where(cart_timers.c.order_id == order_id)).first()
        return None if row is None else _timer(row)

    @_guard("cart timers: count")
    def count(self) -> int:
        with self._read() as conn:
            return int(conn.scalar(select(func.count()).select_from(cart_timers)) or 0)
