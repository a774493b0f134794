"""Group commit of webhook events, so that storing receipts keeps up with sending.

:meth:`Store.add_event` commits one row per webhook: on SQLite with ``synchronous=FULL`` one fsync
each, about 640 webhooks/s for the whole process. Delivery receipts come one to three per message
(sent, delivered, per segment) and Twilio does not retry a status callback that timed out, so the
store must take them faster than the dispatcher sends. The journal keeps ``add_event``'s exact
meaning and lets one committer thread write whatever the request handlers queued meanwhile in ONE
transaction:

* :meth:`add` resolves once the event is committed (True) or found already stored (False: a
  duplicate, still a success); the webhook answers 200 only then, so nothing acknowledged is lost
  on SIGKILL; a failed write raises :class:`StoreUnavailable` (the webhook answers 503 and the
  provider retries);
* the same event twice in one group: the first is created, the second is a duplicate.

SQLite: one ``BEGIN IMMEDIATE`` transaction per group (the write lock first, so the events found
already there are exactly those stored before), one ``SELECT`` of the group's keys and one
``executemany`` insert, on the committer's own DB-API connection. PostgreSQL: one bulk ``INSERT ...
ON CONFLICT DO NOTHING RETURNING`` (with psycopg2's ``execute_values``), so several replicas may share
the store. Other databases fall back to :meth:`Store.add_event` row by row.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import SQLAlchemyError

from sync_service.dispatch.send_journal import _settle_waiters  # the same hand-over as the send journal
from sync_service.store import EventKind, Store, StoreUnavailable, utcnow
from sync_service.store.models import EVENT_KINDS, inbox_events
from sync_service.store.store import explain_error

logger = logging.getLogger("sync_service.webhooks.inbox_journal")

MAX_GROUP = 500
SQLITE_MAX_PARAMS = 500

Key = tuple[str, str, str]  # provider, kind, dedup_key


@dataclass(slots=True)
class _Add:
    provider: str
    kind: EventKind
    dedup_key: str
    payload: dict[str, Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[bool]

    @property
    def key(self) -> Key:
        return (self.provider, self.kind, self.dedup_key)


class InboxJournal:
    """The webhook handlers' door to the inbox; one committer thread per journal."""

    def __init__(self, store: Store, *, max_group: int = MAX_GROUP) -> None:
        self.store = store
        self._max_group = max_group
        self._queue: queue.SimpleQueue[_Add | None] = queue.SimpleQueue()
        self._closed = False
        dialect = store.engine.dialect
        self._sqlite = dialect.name == "sqlite"
        self._psycopg2 = dialect.name == "postgresql" and dialect.driver == "psycopg2"
        self._db_time = inbox_events.c.received_at.type.dialect_impl(dialect).bind_processor(dialect) or (
            lambda value: value)
        self._db_json = inbox_events.c.payload.type.dialect_impl(dialect).bind_processor(dialect) or (
            lambda value: value)
        self._insert: Any = None if dialect.name != "postgresql" else (
            postgresql.insert(inbox_events)
            .on_conflict_do_nothing(constraint="uq_inbox_events_dedup")
            .returning(inbox_events.c.provider, inbox_events.c.kind, inbox_events.c.dedup_key)
        )
        self._raw: Any = None  # SQLite: the committer's own DB-API connection
        self._thread = threading.Thread(target=self._run, name="inbox-journal", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ API

    def add(
        self, provider: str, kind: EventKind, dedup_key: str, payload: Mapping[str, Any]
    ) -> asyncio.Future[bool]:
        """Store one event durably; await the result (False: already stored). From a coroutine only."""
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}; expected one of {', '.join(EVENT_KINDS)}")
        if not dedup_key:
            raise ValueError("dedup_key must not be empty")
        if self._closed:
            raise StoreUnavailable("the webhook inbox is closed (the service is stopping)")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._queue.put(_Add(provider, kind, dedup_key, dict(payload), loop, future))
        return future

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then stop the committer."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout=timeout)

    # ------------------------------------------------------------------ committer

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                self._drop_raw(invalidate=False)
                return
            group = [first]
            while len(group) < self._max_group:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this group
                    break
                group.append(item)
            try:
                created = self._write(group)
            except Exception as exc:  # nothing may kill the committer
                reason = exc if isinstance(exc, StoreUnavailable) else StoreUnavailable(
                    f"store {self.store.safe_url}: webhook inbox write failed: {explain_error(exc)}")
                logger.error("%d webhook event(s) not stored: %s", len(group), reason)
                self._answer(group, [reason] * len(group))
                continue
            self._answer(group, [id(op) in created for op in group])

    @staticmethod
    def _answer(group: Sequence[_Add], outcomes: Sequence[bool | BaseException]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[bool], bool | BaseException]]] = {}
        for op, outcome in zip(group, outcomes, strict=True):
            by_loop.setdefault(op.loop, []).append((op.future, outcome))
        for loop, results in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle_waiters, results)
            except RuntimeError:  # that loop is closed: nobody is waiting any more
                logger.debug("inbox journal: %d result(s) for a closed event loop", len(results))

    def _write(self, group: Sequence[_Add]) -> set[int]:
        """Commit the group in one transaction; the ids of the requests that created their event."""
        first: dict[Key, _Add] = {}
        for op in group:  # the same event twice in one group: the first one creates it
            first.setdefault(op.key, op)
        now = utcnow()
        if self._sqlite:
            return self._write_sqlite(first, now)
        if self._psycopg2:
            return self._write_psycopg2(first, now)
        if self._insert is None:
            return {id(op) for op in first.values()
                    if self.store.add_event(op.provider, op.kind, op.dedup_key, op.payload, received_at=now)}
        rows = [{"provider": op.provider, "kind": op.kind, "dedup_key": op.dedup_key, "payload": op.payload,
                 "received_at": now, "attempts": 0} for op in first.values()]
        try:
            with self.store.engine.begin() as conn:
                inserted = {tuple(row) for row in conn.execute(self._insert, rows)}
        except SQLAlchemyError as exc:
            raise StoreUnavailable(
                f"store {self.store.safe_url}: webhook inbox write failed: {explain_error(exc)}") from exc
        return {id(first[key]) for key in inserted}  # type: ignore[index]

    def _write_sqlite(self, first: dict[Key, _Add], now: Any) -> set[int]:
        stamp = self._db_time(now)
        try:
            if self._raw is None:
                self._raw = self.store.engine.raw_connection()  # the store's pragmas are set on connect
            cursor = self._raw.cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE")  # the write lock first: what is found was stored before
                keys = list(first)
                there: set[Key] = set()
                for start in range(0, len(keys), SQLITE_MAX_PARAMS):
                    chunk = [key[2] for key in keys[start:start + SQLITE_MAX_PARAMS]]
                    marks = ",".join("?" * len(chunk))
                    cursor.execute("SELECT provider, kind, dedup_key FROM inbox_events "
                                   f"WHERE dedup_key IN ({marks})", chunk)
                    there.update((p, k, d) for p, k, d in cursor.fetchall())
                new = [key for key in keys if key not in there]
                if new:
                    cursor.executemany(
                        "INSERT INTO inbox_events (provider, kind, dedup_key, payload, received_at, "
                        "attempts) VALUES (?, ?, ?, ?, ?, 0)",
                        [(*key, self._db_json(first[key].payload), stamp) for key in new])
                cursor.execute("COMMIT")
            finally:
                cursor.close()
        except Exception as exc:  # sqlite3.Error mostly: roll back, start again on a new connection
            self._drop_raw(invalidate=True)
            raise StoreUnavailable(
                f"store {self.store.safe_url}: webhook inbox write failed: {explain_error(exc)}") from exc
        return {id(first[key]) for key in new}

    def _write_psycopg2(self, first: dict[Key, _Add], now: Any) -> set[int]:
        """PostgreSQL (psycopg2): the group in one ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` written
        with psycopg2's ``execute_values`` (no SQLAlchemy statement machinery per group)."""
        from psycopg2.extras import execute_values  # only with a psycopg2 store (an optional extra)

        stamp = self._db_time(now)
        try:
            with self.store.raw_transaction() as raw, raw.cursor() as cursor:
                created = execute_values(
                    cursor,
                    "INSERT INTO inbox_events (provider, kind, dedup_key, payload, received_at, attempts) "
                    "VALUES %s ON CONFLICT ON CONSTRAINT uq_inbox_events_dedup DO NOTHING "
                    "RETURNING provider, kind, dedup_key",
                    [(*key, json.dumps(op.payload), stamp) for key, op in first.items()],
                    template="(%s, %s, %s, %s, %s, 0)", page_size=len(first), fetch=True)
        except Exception as exc:  # psycopg2.Error mostly
            raise StoreUnavailable(
                f"store {self.store.safe_url}: webhook inbox write failed: {explain_error(exc)}") from exc
        return {id(first[(p, k, d)]) for p, k, d in created}

    def _drop_raw(self, *, invalidate: bool) -> None:
        raw, self._raw = self._raw, None
        if raw is None:
            return
        try:
            if invalidate:
                raw.rollback()
                raw.invalidate()  # not back into the pool: its transaction state is unknown
            else:
                raw.close()
        except Exception as exc:
            logger.debug("inbox journal: dropping the connection failed: %s", exc)


__all__ = ["InboxJournal"]
