"""The durable store: webhook inbox, sent log and small key/value state.

SQLite by default (WAL, ``synchronous=FULL`` so a committed event survives a crash or power loss,
``busy_timeout`` so several processes can share the file), PostgreSQL when several replicas share
the work. The same statements run on both; the only dialect-specific line is the SQLite ``BEGIN
IMMEDIATE`` that serialises writers up front (PostgreSQL gets ``FOR UPDATE SKIP LOCKED`` from the
same ``with_for_update`` call, which SQLite's compiler leaves out).

Every database failure leaves a public method as :class:`StoreUnavailable` with a readable reason.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

from sqlalchemy import (
    Connection,
    Engine,
    MetaData,
    and_,
    create_engine,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from sync_service.store.models import (
    EVENT_KINDS,
    FINAL_SEND_STATES,
    Event,
    EventKind,
    SendState,
    SentRecord,
    inbox_events,
    kv,
    metadata,
    sent_log,
)

Clock = Callable[[], datetime]
P = ParamSpec("P")
R = TypeVar("R")

WRITE_PROBE_KEY = "_store.write_probe"
MAX_ERROR_CHARS = 2000
WRITE_OPTION = "sms_sync_write"


SCHEMA_LOCK_KEY = 0x534D5353  # PostgreSQL advisory lock held while the tables are created ("SMSS")


class StoreError(Exception):
    """Base class of the store's errors."""


class StoreUnavailable(StoreError):
    """The database cannot be read or written (disk full, read-only, unreachable, locked too long)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def explain_error(exc: BaseException) -> str:
    """What went wrong with the store, in one line, with the likely cause when the error names one."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    text = lines[0] if lines else type(original).__name__
    lowered = text.lower()
    if "readonly" in lowered or "read-only" in lowered or "read only" in lowered:
        return f"{text} (the database or its directory is read-only: check permissions and the mount)"
    if "disk is full" in lowered or "no space" in lowered or "disk full" in lowered:
        return f"{text} (the disk is full: free space, then the service resumes by itself)"
    if "unable to open database file" in lowered:
        return (f"{text} (the file or its directory cannot be opened for writing: check that the directory "
                "exists, its permissions, and that its mount is not read-only or full)")
    if "locked" in lowered:
        return f"{text} (another process held the write lock longer than busy_timeout)"
    return text


def _sqlite_file_problem(database: str | None) -> str | None:
    """Why an SQLite file cannot be opened for writing, when the file system says (None otherwise)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    directory = os.path.dirname(os.path.abspath(database))
    if not os.path.isdir(directory):
        return f"the directory {directory} does not exist (or is not a directory)"
    if os.statvfs(directory).f_flag & os.ST_RDONLY:
        return f"{directory} is on a read-only file system: remount it read-write, or move the store"
    if not os.access(directory, os.W_OK):
        return f"{directory} is not writable by this user"
    return None


def _guard(
    operation: str,
) -> Callable[[Callable[Concatenate[Store, P], R]], Callable[Concatenate[Store, P], R]]:
    """Turn SQLAlchemy/driver errors of one store operation into StoreUnavailable."""

    def decorate(method: Callable[Concatenate[Store, P], R]) -> Callable[Concatenate[Store, P], R]:
        @functools.wraps(method)
        def wrapper(self: Store, *args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return method(self, *args, **kwargs)
            except SQLAlchemyError as exc:
                raise StoreUnavailable(
                    f"store {self.safe_url}: {operation} failed: {explain_error(exc)}") from exc

        return wrapper

    return decorate


def _install_sqlite_pragmas(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN, instead of pysqlite's legacy implicit one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Writers take the write lock at BEGIN: no read-then-upgrade deadlock between processes.
        immediate = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _event(row: Any) -> Event:
    return Event(
        id=row.id,
        provider=row.provider,
        kind=row.kind,
        dedup_key=row.dedup_key,
        payload=dict(row.payload),
        received_at=row.received_at,
        attempts=row.attempts,
        last_error=row.last_error,
    )


def _sent(row: Any) -> SentRecord:
    return SentRecord(
        key=row.key,
        provider=row.provider,
        provider_message_id=row.provider_message_id,
        state=row.state,
        error=row.error,
        updated_at=row.updated_at,
    )


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value!r}")
    return value


def _truncate(error: str | None) -> str | None:
    return None if error is None else error[:MAX_ERROR_CHARS]


class Store:
    """Durable state of one sync service (or of several replicas sharing a PostgreSQL database)."""

    def __init__(self, engine: Engine, *, clock: Clock = utcnow) -> None:
        self._engine = engine
        self._clock = clock
        self.safe_url = engine.url.render_as_string(hide_password=True)

    @classmethod
    def from_url(cls, url: str, *, busy_timeout_ms: int = 5000, clock: Clock = utcnow) -> Store:
        """Open (and create the tables of) the store at a SQLAlchemy URL.

        ``sqlite:///path/to/file.db`` or ``postgresql+psycopg2://user@host/db``. Raises
        :class:`StoreUnavailable` when the database cannot be opened or the tables created.
        """
        parsed = make_url(url)
        engine = create_engine(parsed, future=True)
        if parsed.get_backend_name() == "sqlite":
            _install_sqlite_pragmas(engine, busy_timeout_ms)
        store = cls(engine, clock=clock)
        try:
            store.create_tables(metadata)
        except SQLAlchemyError as exc:
            engine.dispose()
            problem = _sqlite_file_problem(parsed.database) if store.is_sqlite else None
            raise StoreUnavailable(
                f"store {store.safe_url}: cannot open or create tables: {problem or explain_error(exc)}"
            ) from exc
        return store

    @contextmanager
    def raw_transaction(self) -> Iterator[Any]:
        """One transaction on a DB-API connection of the engine's pool (the journals' bulk writes with the
        driver's own helpers): committed at the end; on an error rolled back and dropped from the pool; back
        in the pool either way (so that :meth:`close` closes it)."""
        raw = self.engine.raw_connection()
        try:
            yield raw
            raw.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                raw.rollback()
                raw.invalidate()
            raise
        finally:
            raw.close()

    def create_tables(self, tables: MetaData) -> None:
        """``tables.create_all``, those missing only. On PostgreSQL, replicas start together: one creates the
        tables, the others wait for it (without the lock, two CREATE TABLE race and one replica fails to start
        on PostgreSQL's catalog)."""
        if self.is_sqlite:
            tables.create_all(self.engine)
            return
        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            tables.create_all(conn)

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def is_sqlite(self) -> bool:
        return self._engine.dialect.name == "sqlite"

    def close(self) -> None:
        """Close the pooled connections."""
        self._engine.dispose()

    # ------------------------------------------------------------------ transactions

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._engine.connect() as conn, conn.begin():
            yield conn

    # ------------------------------------------------------------------ health

    @_guard("write check")
    def check_writable(self) -> None:
        """Write and commit one small row; raise StoreUnavailable (disk full, read-only ...) otherwise."""
        self._set(WRITE_PROBE_KEY, self._clock().isoformat())

    # ------------------------------------------------------------------ inbox

    @_guard("add_event")
    def add_event(
        self,
        provider: str,
        kind: EventKind,
        dedup_key: str,
        payload: Mapping[str, Any],
        *,
        received_at: datetime | None = None,
    ) -> bool:
        """Store one webhook event durably. False when the same event is already stored (still a success)."""
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}; expected one of {', '.join(EVENT_KINDS)}")
        if not dedup_key:
            raise ValueError("dedup_key must not be empty")
        if received_at is not None:
            _aware(received_at, "received_at")
        values = {
            "provider": provider,
            "kind": kind,
            "dedup_key": dedup_key,
            "payload": dict(payload),
            "received_at": received_at or self._clock(),
            "attempts": 0,
        }
        try:
            with self._write() as conn:
                conn.execute(insert(inbox_events).values(**values))
            return True
        except IntegrityError:
            with self._read() as conn:
                exists = conn.scalar(
                    select(inbox_events.c.id).where(
                        inbox_events.c.provider == provider,
                        inbox_events.c.kind == kind,
                        inbox_events.c.dedup_key == dedup_key,
                    )
                )
            if exists is None:
                raise
            return False

    def _claimable(self, now: datetime) -> Any:
        return and_(
            inbox_events.c.applied_at.is_(None),
            or_(inbox_events.c.next_attempt_at.is_(None), inbox_events.c.next_attempt_at <= now),
            or_(inbox_events.c.claim_expires_at.is_(None), inbox_events.c.claim_expires_at <= now),
        )

    @_guard("claim_pending")
    def claim_pending(self, worker: str, limit: int, lease_seconds: float) -> list[Event]:
        """Lease up to ``limit`` pending events, oldest first, to ``worker`` for ``lease_seconds``.

        Leased events are invisible to other workers until the lease expires or the worker calls
        :meth:`mark_applied` / :meth:`mark_failed`; an expired lease makes them claimable again.
        Each claim counts one attempt.
        """
        if not worker:
            raise ValueError("worker must not be empty")
        if limit <= 0:
            return []
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        now = self._clock()
        expires = now + timedelta(seconds=lease_seconds)
        oldest = (
            select(inbox_events.c.id)
            .where(self._claimable(now))
            .order_by(inbox_events.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # PostgreSQL: rows another replica is claiming are skipped
            .cte("oldest")  # evaluated once (as `id IN (SELECT ...)` PostgreSQL may scan it again: > limit)
        )
        with self._write() as conn:  # one statement: WITH oldest AS (SELECT ...) UPDATE ... RETURNING
            rows = conn.execute(
                update(inbox_events)
                .where(inbox_events.c.id == oldest.c.id, self._claimable(now))
                .values(claimed_by=worker, claim_expires_at=expires, attempts=inbox_events.c.attempts + 1)
                .returning(*inbox_events.c)
            )
            return sorted((_event(row) for row in rows), key=lambda event: event.id)

    @_guard("mark_applied")
    def mark_applied(self, ids: Collection[int]) -> int:
        """Record that Odoo acknowledged these events; returns how many were pending."""
        if not ids:
            return 0
        with self._write() as conn:
            result = conn.execute(
                update(inbox_events)
                .where(inbox_events.c.id.in_(list(ids)), inbox_events.c.applied_at.is_(None))
                .values(applied_at=self._clock(), claimed_by=None, claim_expires_at=None, last_error=None)
            )
            return result.rowcount

    @_guard("mark_failed")
    def mark_failed(self, ids: Collection[int], error: str, retry_at: datetime) -> int:
        """Release these events with an error; they become claimable again at ``retry_at``."""
        _aware(retry_at, "retry_at")
        if not ids:
            return 0
        with self._write() as conn:
            result = conn.execute(
                update(inbox_events)
                .where(inbox_events.c.id.in_(list(ids)), inbox_events.c.applied_at.is_(None))
                .values(
                    last_error=_truncate(error),
                    next_attempt_at=retry_at,
                    claimed_by=None,
                    claim_expires_at=None,
                )
            )
            return result.rowcount

    @_guard("backlog")
    def backlog(self) -> int:
        """Events stored but not yet acknowledged by Odoo."""
        with self._read() as conn:
            return int(conn.scalar(select(func.count()).where(inbox_events.c.applied_at.is_(None))) or 0)

    @_guard("oldest_pending_age")
    def oldest_pending_age(self, now: datetime | None = None) -> float | None:
        """Seconds since the oldest unacknowledged event arrived, None when there is none."""
        if now is not None:
            _aware(now, "now")
        with self._read() as conn:
            oldest = conn.scalar(
                select(func.min(inbox_events.c.received_at)).where(inbox_events.c.applied_at.is_(None))
            )
        if oldest is None:
            return None
        if oldest.tzinfo is None:  # func.min() bypasses the column type on some backends
            oldest = oldest.replace(tzinfo=UTC)
        return ((now or self._clock()) - oldest).total_seconds()

    # ------------------------------------------------------------------ sent log

    @_guard("begin_send")
    def begin_send(self, key: str, provider: str | None = None) -> bool:
        """Record that the message ``key`` is about to be handed to a provider.

        False when this key was already begun (by this or another worker, before a restart too):
        the caller must not send it again.
        """
        if not key:
            raise ValueError("key must not be empty")
        now = self._clock()
        try:
            with self._write() as conn:
                conn.execute(
                    insert(sent_log).values(
                        key=key, provider=provider, state="sending", created_at=now, updated_at=now
                    )
                )
            return True
        except IntegrityError:
            if self.get_send(key) is None:
                raise
            return False

    @_guard("finish_send")
    def finish_send(
        self, key: str, provider_message_id: str | None, state: SendState, *, error: str | None = None
    ) -> None:
        """Record the provider's answer for ``key`` ('sent' with its message id, or 'failed')."""
        if state not in FINAL_SEND_STATES:
            allowed = ", ".join(FINAL_SEND_STATES)
            raise ValueError(f"finish_send state must be one of {allowed}, not {state!r}")
        with self._write() as conn:
            result = conn.execute(
                update(sent_log)
                .where(sent_log.c.key == key)
                .values(
                    provider_message_id=provider_message_id,
                    state=state,
                    error=_truncate(error),
                    updated_at=self._clock(),
                    reported_at=None,
                )
            )
        if result.rowcount == 0:
            raise StoreError(f"finish_send: no send was begun for key {key!r} (call begin_send first)")

    @_guard("get_send")
    def get_send(self, key: str) -> SentRecord | None:
        with self._read() as conn:
            row = conn.execute(select(sent_log).where(sent_log.c.key == key)).first()
        return None if row is None else _sent(row)

    @_guard("release_send")
    def release_send(self, key: str) -> bool:
        """Forget a 'failed' send so the key may be begun again (the provider refused it: nothing went out).

        Never releases 'sent' or 'sending' (the latter may have gone out before a crash).
        """
        with self._write() as conn:
            result = conn.execute(
                sent_log.delete().where(sent_log.c.key == key, sent_log.c.state == "failed")
            )
            return result.rowcount > 0

    @_guard("unreported")
    def unreported(self, limit: int) -> list[SentRecord]:
        """Finished sends ('sent' or 'failed') whose outcome Odoo has not been told yet, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                select(sent_log)
                .where(sent_log.c.reported_at.is_(None), sent_log.c.state.in_(FINAL_SEND_STATES))
                .order_by(sent_log.c.updated_at, sent_log.c.key)
                .limit(limit)
            )
            return [_sent(row) for row in rows]

    @_guard("stuck_sending")
    def stuck_sending(self, older_than: datetime, limit: int) -> list[SentRecord]:
        """Sends begun before ``older_than`` and never finished (a worker died mid-send): to reconcile."""
        _aware(older_than, "older_than")
        with self._read() as conn:
            rows = conn.execute(
                select(sent_log)
                .where(sent_log.c.state == "sending", sent_log.c.updated_at < older_than)
                .order_by(sent_log.c.updated_at, sent_log.c.key)
                .limit(limit)
            )
            return [_sent(row) for row in rows]

    @_guard("mark_reported")
    def mark_reported(self, keys: Collection[str]) -> int:
        if not keys:
            return 0
        with self._write() as conn:
            result = conn.execute(
                update(sent_log)
                .where(sent_log.c.key.in_(list(keys)), sent_log.c.state.in_(FINAL_SEND_STATES))
                .values(reported_at=self._clock())
            )
            return result.rowcount

    # ------------------------------------------------------------------ key/value

    @_guard("kv get")
    def get(self, name: str) -> str | None:
        with self._read() as conn:
            return cast(str | None, conn.scalar(select(kv.c.value).where(kv.c.name == name)))

    @_guard("kv set")
    def set(self, name: str, value: str) -> None:
        self._set(name, value)

    def _set(self, name: str, value: str) -> None:
        # Portable upsert: update, else insert; a concurrent insert (PostgreSQL) makes us update again.
        for _ in range(2):
            try:
                with self._write() as conn:
                    result = conn.execute(update(kv).where(kv.c.name == name).values(value=value))
                    if result.rowcount == 0:
                        conn.execute(insert(kv).values(name=name, value=value))
                return
            except IntegrityError:
                continue
        raise StoreError(f"kv set {name!r}: concurrent writers kept conflicting")


__all__ = ["Clock", "Store", "StoreError", "StoreUnavailable", "utcnow"]
