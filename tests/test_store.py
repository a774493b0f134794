"""The durable store on real SQLite files, and on PostgreSQL when the local server answers."""

from __future__ import annotations

import subprocess
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, func, select, text

from sync_service.carts.timers import CartTimers, timers_metadata
from sync_service.store import Store, StoreError, StoreUnavailable
from sync_service.store.models import kv, metadata
from sync_service.store.store import WRITE_PROBE_KEY

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class SteppedClock:
    """A deterministic time source for lease and retry tests."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock()


@pytest.fixture
def store(store_url: str, clock: SteppedClock) -> Iterator[Store]:
    opened = Store.from_url(store_url, clock=clock)
    yield opened
    opened.close()


def _add(store: Store, n: int, kind: str = "status") -> None:
    for i in range(n):
        assert store.add_event("twilio", kind, f"SM{i}:delivered", {"i": i})  # type: ignore[arg-type]


# --------------------------------------------------------------------------- inbox


def test_add_event_dedups_per_provider_and_kind(store: Store) -> None:
    payload = {"provider_message_id": "SM1", "status": "delivered", "error_code": None}
    assert store.add_event("twilio", "status", "SM1:delivered", payload) is True
    assert store.add_event("twilio", "status", "SM1:delivered", {"other": 1}) is False
    assert store.add_event("plivo", "status", "SM1:delivered", payload) is True
    assert store.add_event("twilio", "inbound", "SM1:delivered", payload) is True
    assert store.backlog() == 3
    [first, *_] = store.claim_pending("w", 10, 30)
    assert first.payload == payload  # the duplicate did not overwrite it
    assert first.received_at == T0


def test_add_event_rejects_bad_arguments(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown event kind"):
        store.add_event("twilio", "receipt", "k", {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dedup_key"):
        store.add_event("twilio", "status", "", {})
    with pytest.raises(ValueError, match="timezone-aware"):
        store.add_event("twilio", "status", "k", {}, received_at=datetime(2025, 1, 1))
    assert store.backlog() == 0


def test_two_workers_claim_disjoint_sets_oldest_first(store: Store) -> None:
    _add(store, 5)
    first = store.claim_pending("worker-a", 3, 30)
    second = store.claim_pending("worker-b", 3, 30)
    assert [e.dedup_key for e in first] == ["SM0:delivered", "SM1:delivered", "SM2:delivered"]
    assert [e.dedup_key for e in second] == ["SM3:delivered", "SM4:delivered"]
    assert all(e.attempts == 1 for e in first + second)
    assert store.claim_pending("worker-c", 3, 30) == []
    assert store.backlog() == 5  # claimed is not applied


def test_expired_lease_makes_events_claimable_again(store: Store, clock: SteppedClock) -> None:
    _add(store, 2)
    claimed = store.claim_pending("worker-a", 10, lease_seconds=60)
    assert len(claimed) == 2
    clock.advance(59)
    assert store.claim_pending("worker-b", 10, 60) == []
    clock.advance(1)  # worker-a died: its lease ran out
    reclaimed = store.claim_pending("worker-b", 10, 60)
    assert [e.id for e in reclaimed] == [e.id for e in claimed]
    assert all(e.attempts == 2 for e in reclaimed)


def test_mark_applied_and_mark_failed(store: Store, clock: SteppedClock) -> None:
    _add(store, 3)
    a, b, c = store.claim_pending("w", 10, 30)
    assert store.mark_applied([a.id]) == 1
    assert store.mark_applied([a.id]) == 0
    assert (
        store.mark_failed([b.id, c.id], "odoo down: connection refused", clock.now + timedelta(minutes=5))
        == 2
    )
    assert store.backlog() == 2
    clock.advance(60)  # leases long gone, but the retry time is not reached
    assert store.claim_pending("w", 10, 30) == []
    clock.advance(240)
    retried = store.claim_pending("w", 10, 30)
    assert [e.id for e in retried] == [b.id, c.id]
    assert retried[0].last_error == "odoo down: connection refused"
    assert retried[0].attempts == 2
    with pytest.raises(ValueError, match="timezone-aware"):
        store.mark_failed([b.id], "x", datetime(2025, 1, 1))


def test_oldest_pending_age(store: Store, clock: SteppedClock) -> None:
    assert store.oldest_pending_age() is None
    _add(store, 1)
    clock.advance(30)
    assert store.add_event("twilio", "status", "late", {})
    clock.advance(15)
    assert store.oldest_pending_age() == pytest.approx(45)
    assert store.oldest_pending_age(T0 + timedelta(seconds=100)) == pytest.approx(100)
    [first] = store.claim_pending("w", 1, 30)
    store.mark_applied([first.id])
    assert store.oldest_pending_age() == pytest.approx(15)


def test_concurrent_claimers_never_share_an_event(store_url: str) -> None:
    seed = Store.from_url(store_url)
    for i in range(120):
        seed.add_event("vonage", "inbound", f"in-{i}", {"i": i})
    workers = [Store.from_url(store_url) for _ in range(3)]  # separate engines, like separate processes
    taken: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def drain(name: str, worker_store: Store) -> None:
        try:
            mine = taken.setdefault(name, [])
            while batch := worker_store.claim_pending(name, 7, 60):
                mine.extend(e.id for e in batch)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(f"w{i}", s)) for i, s in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for s in [seed, *workers]:
        s.close()
    assert errors == []
    everything = [event_id for ids in taken.values() for event_id in ids]
    assert len(everything) == 120
    assert len(set(everything)) == 120


# --------------------------------------------------------------------------- sent log


def test_begin_send_is_idempotent_across_restarts(store: Store, store_url: str, clock: SteppedClock) -> None:
    assert store.begin_send("sms-42", "twilio") is True
    assert store.begin_send("sms-42", "twilio") is False
    restarted = Store.from_url(store_url, clock=clock)  # a new worker process after a crash
    try:
        assert restarted.begin_send("sms-42") is False
        record = restarted.get_send("sms-42")
        assert record is not None
        assert (record.state, record.provider) == ("sending", "twilio")
    finally:
        restarted.close()


def test_finish_report_and_release(store: Store, clock: SteppedClock) -> None:
    for key in ("a", "b", "c"):
        assert store.begin_send(key, "plivo")
    clock.advance(1)
    store.finish_send("a", "uuid-a", "sent")
    clock.advance(1)
    store.finish_send("b", None, "failed", error="21211 invalid number")
    assert [(r.key, r.state, r.provider_message_id) for r in store.unreported(10)] == [
        ("a", "sent", "uuid-a"),
        ("b", "failed", None),
    ]
    assert store.unreported(1)[0].key == "a"
    assert store.mark_reported(["a", "c"]) == 1  # "c" is still sending: nothing to report
    assert [r.key for r in store.unreported(10)] == ["b"]
    assert store.unreported(10)[0].error == "21211 invalid number"

    assert store.release_send("a") is False  # sent: never again
    assert store.release_send("c") is False  # sending: may have gone out
    assert store.release_send("b") is True  # the provider refused it: may be retried
    assert store.begin_send("b") is True

    with pytest.raises(StoreError, match="no send was begun"):
        store.finish_send("never-begun", "x", "sent")
    with pytest.raises(ValueError, match="sent, failed"):
        store.finish_send("a", "x", "sending")  # type: ignore[arg-type]


def test_stuck_sending(store: Store, clock: SteppedClock) -> None:
    store.begin_send("old")
    clock.advance(600)
    store.begin_send("new")
    store.finish_send("new", "id", "sent")
    assert [r.key for r in store.stuck_sending(clock.now - timedelta(seconds=300), 10)] == ["old"]


# --------------------------------------------------------------------------- kv, durability, health


def test_kv_get_set_persist(store: Store, store_url: str) -> None:
    assert store.get("cart_watcher.cursor") is None
    store.set("cart_watcher.cursor", "2025-03-01 12:00:00")
    store.set("cart_watcher.cursor", "2025-03-01 12:05:00")
    reopened = Store.from_url(store_url)
    try:
        assert reopened.get("cart_watcher.cursor") == "2025-03-01 12:05:00"
    finally:
        reopened.close()


def test_sqlite_is_durable_and_shareable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'durable.db'}"
    store = Store.from_url(url, busy_timeout_ms=4321)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 4321
    assert store.add_event("twilio", "inbound", "SMin", {"body": "STOP"})
    store.close()
    reopened = Store.from_url(url)
    assert reopened.backlog() == 1
    assert reopened.claim_pending("w", 1, 30)[0].payload == {"body": "STOP"}
    reopened.close()


def test_check_writable(store: Store, store_url: str, clock: SteppedClock) -> None:
    # The probe is written and committed: another connection (a second Store) reads it back, stamped with
    # the store's clock; a second probe replaces it (one row, the new time) and queues no event.
    other = Store.from_url(store_url)
    try:
        assert other.get(WRITE_PROBE_KEY) is None
        store.check_writable()
        assert other.get(WRITE_PROBE_KEY) == T0.isoformat()
        clock.advance(90)
        store.check_writable()
        assert other.get(WRITE_PROBE_KEY) == (T0 + timedelta(seconds=90)).isoformat()
        with store.engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(kv).where(kv.c.name == WRITE_PROBE_KEY)) == 1
        assert store.backlog() == 0
    finally:
        other.close()


def test_read_only_sqlite_store_reports_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    writer = Store.from_url(f"sqlite:///{path}")
    reader = Store.from_url(f"sqlite:///file:{path}?mode=ro&uri=true")  # what a read-only mount gives
    try:
        assert reader.backlog() == 0
        with pytest.raises(StoreUnavailable, match="read-only"):
            reader.check_writable()
        with pytest.raises(StoreUnavailable, match="add_event failed"):
            reader.add_event("twilio", "status", "k", {})
        assert writer.backlog() == 0
    finally:
        reader.close()
        writer.close()


def test_full_disk_reports_unavailable(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'full.db'}")
    with store.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()

    @event.listens_for(store.engine, "connect")
    def _cap_size(dbapi_connection: object, _record: object) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")  # type: ignore[attr-defined]

    store.engine.dispose()
    with pytest.raises(StoreUnavailable, match="disk is full"):
        store.add_event("twilio", "inbound", "big", {"body": "x" * 20_000})
    store.close()


def test_unopenable_store_fails_clearly(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    with pytest.raises(StoreUnavailable, match="cannot open or create tables") as raised:
        Store.from_url(f"sqlite:///{blocker / 'store.db'}")
    assert "not-a-dir does not exist (or is not a directory)" in str(raised.value)


def test_store_on_a_read_only_mount_says_so_at_start(tmp_path: Path) -> None:
    """A cleanly closed store (no WAL left) on a mount remounted read-only: the start-up error names it."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                      capture_output=True, check=False).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    try:
        url = f"sqlite:///{mount / 'store.db'}"
        store = Store.from_url(url)
        store.add_event("twilio", "status", "kept", {"status": "delivered"})
        store.close()
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        with pytest.raises(StoreUnavailable, match="is on a read-only file system: remount it"):
            Store.from_url(url)
        subprocess.run(["mount", "-o", "remount,rw", str(mount)], check=True)
        reopened = Store.from_url(url)
        assert [event.dedup_key for event in reopened.claim_pending("w", 10, 60)] == ["kept"]
        reopened.close()
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_postgresql_claims_use_skip_locked(pg_url: str) -> None:
    store = Store.from_url(pg_url)
    try:
        store.add_event("twilio", "status", "locked", {})
        store.add_event("twilio", "status", "free", {})
        other = create_engine(pg_url)
        with other.connect() as conn, conn.begin():
            # Another replica holds the first row mid-claim: we skip it instead of waiting.
            conn.execute(text("SELECT id FROM inbox_events WHERE dedup_key = 'locked' FOR UPDATE"))
            claimed = store.claim_pending("w", 10, 30)
        other.dispose()
        assert [e.dedup_key for e in claimed] == ["free"]
    finally:
        metadata.drop_all(store.engine)
        store.close()


def test_replicas_starting_together_on_a_new_postgresql_store_all_start() -> None:
    """Several replicas open a brand-new PostgreSQL store at the same moment, their cart watcher's table too:
    one creates the tables, the others wait for it (before, two CREATE TABLE raced and a replica failed to
    start: the store's tables first, then the cart timers' (seen in the end-to-end benchmark))."""
    name = f"smsm_store_race_{uuid.uuid4().hex[:10]}"
    admin = create_engine("postgresql+psycopg2:///postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL not available over the local socket: {exc}")
    url = f"postgresql+psycopg2:///{name}"
    errors: list[BaseException] = []
    stores: list[Store] = []
    barrier = threading.Barrier(6)

    def open_store() -> None:
        barrier.wait()
        try:
            store = Store.from_url(url)
            stores.append(store)
            CartTimers(store, clock=lambda: datetime(2026, 11, 30, tzinfo=UTC))
        except BaseException as exc:
            errors.append(exc)

    try:
        for _attempt in range(3):  # a race: several rounds on new databases make a lucky pass unlikely
            threads = [threading.Thread(target=open_store) for _ in range(6)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert errors == []
            assert stores[0].add_event("twilio", "status", f"k{_attempt}", {}) is True
            for store in stores:
                store.close()
            stores.clear()
            engine = create_engine(url)
            metadata.drop_all(engine)
            timers_metadata.drop_all(engine)
            engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
