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
``release_send`` work unchanged on what the journal wrote. SQLite and PostgreSQL use a bulk
``INSERT ... ON CONFLICT DO NOTHING RETURNING``; other databases fall back to the store's per-row
methods.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from .store import SendState, Store, StoreUnavailable, utcnow
from .store.models import FINAL_SEND_STATES, sent_log

logger = logging.getLogger("sync_service.send_journal")

MAX_GROUP = 500
FINISH_RETRY_SECONDS = 1.0
MAX_ERROR_CHARS = 2000


@dataclass
class _Begin:
    key: str
    provider: str | None
    done: Future[bool] = field(default_factory=Future)


@dataclass
class _Finish:
    key: str
    provider_message_id: str | None
    state: SendState
    error: str | None
    done: Future[None] = field(default_factory=Future)


class SendJournal:
    """The dispatcher's door to the sent log; one committer thread per journal."""

    def __init__(self, store: Store, *, max_group: int = MAX_GROUP) -> None:
        self.store = store
        self._max_group = max_group
        self._queue: queue.Queue[_Begin | _Finish | None] = queue.Queue()
        self._pending_finishes: list[_Finish] = []  # failed to commit: retried before anything else
        self._unflushed = 0
        self._cond = threading.Condition()
        self._closed = False
        insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(store.engine.dialect.name)
        # Built once: SQLAlchemy then reuses the compiled form (a multi-row VALUES would compile every time).
        self._insert: Any = None if insert is None else (
            insert(sent_log).on_conflict_do_nothing(index_elements=[sent_log.c.key]).returning(sent_log.c.key)
        )
        self._update = update(sent_log).where(sent_log.c.key == bindparam("b_key")).values(
            provider_message_id=bindparam("b_pmid"), state=bindparam("b_state"), error=bindparam("b_error"),
            updated_at=bindparam("b_now"), reported_at=None,
        )
        self._thread = threading.Thread(target=self._run, name="send-journal", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ API

    def begin(self, key: str, provider: str | None = None) -> bool:
        """Durably mark ``key`` as being sent; False when it was begun before (do not send it)."""
        return self.begin_future(key, provider).result()

    def begin_future(self, key: str, provider: str | None = None) -> Future[bool]:
        """:meth:`begin` without blocking: the future's result is what ``begin`` returns (or raises)."""
        if not key:
            raise ValueError("key must not be empty")
        if self._closed:
            raise StoreUnavailable("send journal is closed")
        op = _Begin(key, provider)
        self._queue.put(op)
        return op.done

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
            for op in begins:
                op.done.set_exception(reason)
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
        for op in begins:
            op.done.set_result(id(op) in won)
        with self._cond:
            self._unflushed -= len(finishes) + wake_ups
            self._cond.notify_all()
        for op in finishes:
            op.done.set_result(None)

    def _write(self, begins: Sequence[_Begin], finishes: Sequence[_Finish]) -> set[int]:
        """Commit the group in one transaction; the ids of the begin requests that won their key."""
        if self._insert is None:
            return self._write_one_by_one(begins, finishes)
        now = utcnow()
        first: dict[str, _Begin] = {}
        for op in begins:  # the same key twice in one group: the first request wins, if anyone does
            first.setdefault(op.key, op)
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

    def _write_one_by_one(self, begins: Sequence[_Begin], finishes: Sequence[_Finish]) -> set[int]:
        won = {id(op) for op in begins if self.store.begin_send(op.key, op.provider)}
        for op in finishes:
            self.store.finish_send(op.key, op.provider_message_id, op.state, error=op.error)
        return won
