"""Group commit of the store's sent log, so that recording every send does not cap the throughput.

:meth:`Store.begin_send` and :meth:`Store.finish_send` commit one row each: about 1.4 ms apiece on
SQLite with ``synchronous=FULL``, i.e. ~350 messages/s for the whole process. The journal keeps
their exact meaning but lets one committer thread write whatever the sending threads queued
meanwhile in ONE transaction:

* :meth:`begin` blocks until the 'sending' row is committed (True) or found already there (False:
  never send that key), exactly like ``Store.begin_send``: the row is durable before the provider
  call;
* :meth:`finish` queues the provider's answer and returns at once; :meth:`flush` waits until every
  queued answer is committed. Report to Odoo only after a flush: an outcome Odoo knows must never
  be missing from the store.

Same table, same rows: ``Store.unreported``, ``stuck_sending``, ``mark_reported`` and
``release_send`` work unchanged on what the journal wrote. On SQLite a group is one ``BEGIN
IMMEDIATE`` transaction (the write lock first, so the keys found already there are exactly the keys
begun before), one ``SELECT`` of those keys and two DB-API ``executemany`` calls (insert the new
keys, update the finished ones) on the committer's own connection, times converted once per group:
through SQLAlchemy's connection and transaction machinery the committer spent ~0.58 ms of Python
per group, ~0.2 ms this way (measured with the dispatcher benchmark, groups of ~7-9 operations).
PostgreSQL (psycopg2) writes a group in two statements with psycopg2's ``execute_values``: a bulk
``INSERT ... ON CONFLICT DO NOTHING RETURNING`` and one ``UPDATE ... FROM (VALUES ...)``; other
PostgreSQL drivers go through SQLAlchemy, other databases fall back to the store's per-row methods.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import SQLAlchemyError

from sync_service.store import SendState, Store, StoreUnavailable, utcnow
from sync_service.store.models import FINAL_SEND_STATES, sent_log
from sync_service.store.store import explain_error

logger = logging.getLogger("sync_service.dispatch.send_journal")

MAX_GROUP = 500
SQLITE_MAX_PARAMS = 500  # keys per SELECT ... IN (older SQLite builds allow 999 parameters)
FINISH_RETRY_SECONDS = 1.0
MAX_ERROR_CHARS = 2000


@dataclass(slots=True)
class _Begin:
    key: str
    provider: str | None
    done: Future[bool] | None = None  # begin()
    waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[bool]] | None = None  # begin_async()


@dataclass(slots=True)
class _Finish:
    key: str
    provider_message_id: str | None
    state: SendState
    error: str | None


def _settle_waiters(outcomes: list[tuple[asyncio.Future[bool], bool | BaseException]]) -> None:
    """On an event loop: hand the begin results of one group to the coroutines awaiting them."""
    for future, outcome in outcomes:
        if future.done():  # cancelled meanwhile
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


class SendJournal:
    """The dispatcher's door to the sent log; one committer thread per journal."""

    def __init__(self, store: Store, *, max_group: int = MAX_GROUP) -> None:
        self.store = store
        self._max_group = max_group
        self._queue: queue.SimpleQueue[_Begin | _Finish | None] = queue.SimpleQueue()
        self._pending_finishes: list[_Finish] = []  # failed to commit: retried before anything else
        self._unflushed = 0
        self._cond = threading.Condition()
        self._closed = False
        dialect = store.engine.dialect
        self._sqlite = dialect.name == "sqlite"
        # The store's own conversion of a time to what the database holds (applied once per group).
        time_type = sent_log.c.updated_at.type.dialect_impl(dialect)
        self._db_time = time_type.bind_processor(dialect) or (lambda value: value)
        # PostgreSQL, built once: SQLAlchemy then reuses the compiled form (a multi-row VALUES would compile
        # every time). SQLite has its own path (_write_sqlite); other databases go row by row.
        self._insert: Any = None if dialect.name != "postgresql" else (
            postgresql.insert(sent_log).on_conflict_do_nothing(index_elements=[sent_log.c.key])
            .returning(sent_log.c.key)
        )
        self._update = update(sent_log).where(sent_log.c.key == bindparam("b_key")).values(
            provider_message_id=bindparam("b_pmid"), state=bindparam("b_state"), error=bindparam("b_error"),
            updated_at=bindparam("b_now"), reported_at=None,
        )
        self._psycopg2 = dialect.name == "postgresql" and dialect.driver == "psycopg2"
        self._raw: Any = None  # SQLite: the committer thread's own DB-API connection
        self._thread = threading.Thread(target=self._run, name="send-journal", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ API

    def begin(self, key: str, provider: str | None = None) -> bool:
        """Durably mark ``key`` as being sent; False when it was begun before (do not send it)."""
        done: Future[bool] = Future()
        self._submit(_Begin(key, provider, done=done))
        return done.result()

    def begin_async(self, key: str, provider: str | None = None) -> asyncio.Future[bool]:
        """:meth:`begin` for a coroutine of the running event loop: await the returned future.

        The committer wakes the loop once per group (one ``call_soon_threadsafe`` for all the
        begins of that loop), not once per key.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._submit(_Begin(key, provider, waiter=(loop, future)))
        return future

    def _submit(self, op: _Begin) -> None:
        if not op.key:
            raise ValueError("key must not be empty")
        if self._closed:
            raise StoreUnavailable("send journal is closed")
        self._queue.put(op)

    def finish(
        self, key: str, provider_message_id: str | None, state: SendState, *, error: str | None = None
    ) -> None:
        """Queue the outcome of ``key`` ('sent' or 'failed'); durable after the next :meth:`flush`."""
        if state not in FINAL_SEND_STATES:
            raise ValueError(f"finish state must be one of {', '.join(FINAL_SEND_STATES)}, not {state!r}")
        with self._cond:
            self._unflushed += 1
        error = None if error is None else error[:MAX_ERROR_CHARS]
        self._queue.put(_Finish(key, provider_message_id, state, error))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued outcome is committed; False when ``timeout`` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._unflushed == 0, timeout)

    @property
    def unflushed(self) -> int:
        with self._cond:
            return self._unflushed

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued (waiting up to ``timeout``), then stop the committer."""
        if self._closed:
            return
        if not self.flush(timeout):
            logger.error(
                "send journal closed with %d outcome(s) not recorded: those keys stay 'sending' and will "
                "be reported as 'unknown outcome' after the restart", self.unflushed)
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout=timeout)

    # ------------------------------------------------------------------ committer

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                if self._raw is not None:
                    self._raw.close()  # back to the engine's pool
                    self._raw = None
                return
            group: list[_Begin | _Finish] = [first]
            while len(group) < self._max_group:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this group
                    break
                group.append(item)
            self._commit(group)

    def _commit(self, group: Sequence[_Begin | _Finish]) -> None:
        begins = [op for op in group if isinstance(op, _Begin)]
        finishes = self._pending_finishes + [op for op in group if isinstance(op, _Finish) and op.key]
        wake_ups = sum(1 for op in group if isinstance(op, _Finish) and not op.key)
        self._pending_finishes = []
        try:
            won = self._write(begins, finishes)
        except Exception as exc:  # SQLAlchemyError mostly; nothing may kill the committer
            reason = exc if isinstance(exc, StoreUnavailable) else StoreUnavailable(
                f"store {self.store.safe_url}: send journal write failed: {exc}")
            self._answer(begins, lambda op: reason)
            with self._cond:
                self._unflushed -= wake_ups
            if finishes:
                logger.error("%d send outcome(s) not recorded yet, retrying: %s", len(finishes), reason)
                self._pending_finishes = finishes
                time.sleep(FINISH_RETRY_SECONDS)
                with self._cond:
                    self._unflushed += 1
                self._queue.put(_Finish("", None, "failed", None))  # wakes the loop up to retry them
            return
        self._answer(begins, lambda op: id(op) in won)
        with self._cond:
            self._unflushed -= len(finishes) + wake_ups
            self._cond.notify_all()

    @staticmethod
    def _answer(begins: Sequence[_Begin], outcome: Callable[[_Begin], bool | BaseException]) -> None:
        """Resolve the begin requests of a group: threads' futures at once, each event loop once."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[bool], bool | BaseException]]] = {}
        for op in begins:
            result = outcome(op)
            if op.done is not None:
                if isinstance(result, BaseException):
                    op.done.set_exception(result)
                else:
                    op.done.set_result(result)
            elif op.waiter is not None:
                loop, future = op.waiter
                by_loop.setdefault(loop, []).append((future, result))
        for loop, results in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle_waiters, results)
            except RuntimeError:  # that loop is closed: nobody is waiting any more
                logger.debug("send journal: %d begin result(s) for a closed event loop", len(results))

    def _write(self, begins: Sequence[_Begin], finishes: Sequence[_Finish]) -> set[int]:
        """Commit the group in one transaction; the ids of the begin requests that won their key."""
        if self._insert is None and not self._sqlite:
            return self._write_one_by_one(begins, finishes)
        now = utcnow()
        first: dict[str, _Begin] = {}
        for op in begins:  # the same key twice in one group: the first request wins, if anyone does
            first.setdefault(op.key, op)
        if self._sqlite:
            return self._write_sqlite(first, finishes, now)
        if self._psycopg2:
            return self._write_psycopg2(first, finishes, now)
        try:
            with self.store.engine.begin() as conn:
                inserted: set[str] = set()
                if first:
                    rows = [{"key": key, "provider": op.provider, "state": "sending", "created_at": now,
                             "updated_at": now} for key, op in first.items()]
                    inserted = set(conn.execute(self._insert, rows).scalars())
                if finishes:
                    conn.execute(self._update, [
                        {"b_key": op.key, "b_pmid": op.provider_message_id, "b_state": op.state,
                         "b_error": op.error, "b_now": now} for op in finishes
                    ])
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"store {self.store.safe_url}: send journal write failed: {exc}") from exc
        return {id(first[key]) for key in inserted}

    def _write_sqlite(self, first: dict[str, _Begin], finishes: Sequence[_Finish], now: datetime) -> set[int]:
        """One group on the committer's own DB-API connection (taken from the engine's pool, kept)."""
        stamp = self._db_time(now)
        try:
            if self._raw is None:
                self._raw = self.store.engine.raw_connection()  # the store's pragmas are set on connect
            cursor = self._raw.cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE")  # the write lock first: keys found now were begun before
                won: list[str] = []
                if first:
                    keys = list(first)
                    there: set[str] = set()
                    for start in range(0, len(keys), SQLITE_MAX_PARAMS):
                        chunk = keys[start:start + SQLITE_MAX_PARAMS]
                        marks = ",".join("?" * len(chunk))
                        cursor.execute(f"SELECT key FROM sent_log WHERE key IN ({marks})", chunk)
                        there.update(key for (key,) in cursor.fetchall())
                    won = [key for key in keys if key not in there]
                    if won:
                        cursor.executemany(
                            "INSERT INTO sent_log (key, provider, state, created_at, updated_at) "
                            "VALUES (?, ?, 'sending', ?, ?)",
                            [(key, first[key].provider, stamp, stamp) for key in won])
                if finishes:
                    cursor.executemany(
                        "UPDATE sent_log SET provider_message_id = ?, state = ?, error = ?, updated_at = ?, "
                        "reported_at = NULL WHERE key = ?",
                        [(op.provider_message_id, op.state, op.error, stamp, op.key) for op in finishes])
                cursor.execute("COMMIT")
            finally:
                cursor.close()
        except Exception as exc:  # sqlite3.Error mostly: roll back, start again on a new connection
            self._drop_raw()
            raise StoreUnavailable(
                f"store {self.store.safe_url}: send journal write failed: {explain_error(exc)}") from exc
        return {id(first[key]) for key in won}

    def _write_psycopg2(self, first: dict[str, _Begin], finishes: Sequence[_Finish],
                        now: datetime) -> set[int]:
        """PostgreSQL (psycopg2): one group in one transaction of two statements written with psycopg2's
        ``execute_values``: the new keys in one ``INSERT ... ON CONFLICT DO NOTHING RETURNING``, the outcomes
        in one ``UPDATE ... FROM (VALUES ...)``. Through SQLAlchemy, psycopg2's ``executemany`` sent the
        update row by row: a fifth of a replica's Python and a round trip per outcome while a campaign went
        out (profiled with bench_end_to_end.py)."""
        from psycopg2.extras import execute_values  # only with a psycopg2 store (an optional extra)

        stamp = self._db_time(now)
        won: list[str] = []
        try:
            with self.store.raw_transaction() as raw, raw.cursor() as cursor:
                if first:
                    rows = [(key, op.provider, stamp, stamp) for key, op in first.items()]
                    won = [row[0] for row in execute_values(
                        cursor,
                        "INSERT INTO sent_log (key, provider, state, created_at, updated_at) VALUES %s "
                        "ON CONFLICT (key) DO NOTHING RETURNING key",
                        rows, template="(%s, %s, 'sending', %s, %s)", page_size=len(rows), fetch=True)]
                if finishes:
                    last = {op.key: op for op in finishes}  # one row per key in the VALUES: the last wins
                    execute_values(
                        cursor,
                        "UPDATE sent_log AS s SET provider_message_id = v.pmid, state = v.state, "
                        "error = v.error, updated_at = v.now, reported_at = NULL "
                        "FROM (VALUES %s) AS v(key, pmid, state, error, now) WHERE s.key = v.key",
                        [(op.key, op.provider_message_id, op.state, op.error, stamp) for op in last.values()],
                        template="(%s, %s, %s, %s, %s::timestamp)", page_size=len(last))
        except Exception as exc:  # psycopg2.Error mostly
            raise StoreUnavailable(
                f"store {self.store.safe_url}: send journal write failed: {explain_error(exc)}") from exc
        return {id(first[key]) for key in won}

    def _drop_raw(self) -> None:
        raw, self._raw = self._raw, None
        if raw is None:
            return
        try:
            raw.rollback()
            raw.invalidate()  # not back into the pool: its transaction state is unknown
        except Exception as exc:
            logger.debug("send journal: dropping the connection failed: %s", exc)

    def _write_one_by_one(self, begins: Sequence[_Begin], finishes: Sequence[_Finish]) -> set[int]:
        won = {id(op) for op in begins if self.store.begin_send(op.key, op.provider)}
        for op in finishes:
            self.store.finish_send(op.key, op.provider_message_id, op.state, error=op.error)
        return won
