"""The group-committed sent log keeps `Store.begin_send` semantics: one winner per key, durable at once."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from sync_service.dispatch.send_journal import SendJournal
from sync_service.store import Store, StoreUnavailable
from sync_service.store.store import WRITE_OPTION


def test_one_winner_per_key_across_threads_and_restarts(store_url: str) -> None:
    url = store_url
    store = Store.from_url(url)
    journal = SendJournal(store)
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def begin() -> None:
        barrier.wait()
        results.append(journal.begin("key-1", "twilio"))

    threads = [threading.Thread(target=begin) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    assert store.get_send("key-1").state == "sending"  # durable before begin() returned

    journal.finish("key-1", "SM1", "sent", error='{"segments":2}')
    assert journal.flush(timeout=5)
    journal.close()
    store.close()

    reopened = Store.from_url(url)
    again = SendJournal(reopened)
    assert again.begin("key-1") is False
    [record] = reopened.unreported(10)
    assert (record.key, record.state, record.provider_message_id) == ("key-1", "sent", "SM1")
    assert again.begin("key-2") is True
    far_future = datetime.max.replace(tzinfo=UTC)
    assert [r.key for r in reopened.stuck_sending(far_future, 10)] == ["key-2"]
    again.close()
    reopened.close()


def test_many_keys_in_few_transactions(store_url: str) -> None:
    store = Store.from_url(store_url)
    journal = SendJournal(store)
    keys = [f"k{i}" for i in range(300)]
    won: list[bool] = []
    lock = threading.Lock()

    def work(chunk: list[str]) -> None:
        for key in chunk:
            ok = journal.begin(key, "plivo")
            journal.finish(key, f"id-{key}", "sent")
            with lock:
                won.append(ok)

    threads = [threading.Thread(target=work, args=(keys[i::10],)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert journal.flush(timeout=10)
    assert all(won) and len(won) == 300
    unreported = store.unreported(1000)
    assert len(unreported) == 300
    assert {(r.key, r.state, r.provider, r.provider_message_id) for r in unreported} == {
        (key, "sent", "plivo", f"id-{key}") for key in keys}
    journal.close()
    store.close()


def test_an_outcome_written_again_is_reported_again_the_last_one_kept(store_url: str) -> None:
    """A key finished twice in one group (a retried write and a new outcome): the last one is kept; a
    reported outcome written again is to be reported again."""
    store = Store.from_url(store_url)
    journal = SendJournal(store)
    for key in ("k1", "k2", "blocker"):
        assert journal.begin(key, "twilio")
    journal.finish("k1", "SM1", "sent")
    assert journal.flush(timeout=5)
    store.mark_reported(["k1"])
    assert [r.key for r in store.unreported(10)] == []
    with store.engine.connect() as holder:  # holds the sent log: the committer waits in its next group
        holder.execution_options(**{WRITE_OPTION: True})
        with holder.begin():
            holder.execute(text("UPDATE sent_log SET error = 'held' WHERE key = 'blocker'"))
            journal.finish("blocker", "SM0", "sent")
            time.sleep(0.3)  # the committer is in that group, waiting: the next three make one group
            journal.finish("k2", None, "failed", error="first")
            journal.finish("k2", "SM2", "sent")
            journal.finish("k1", "SM1", "failed", error="written again")
    assert journal.flush(timeout=10)
    records = {r.key: r for r in store.unreported(10)}
    assert (records["k2"].state, records["k2"].provider_message_id, records["k2"].error) == (
        "sent", "SM2", None)
    assert (records["k1"].state, records["k1"].error) == ("failed", "written again")
    journal.close()
    store.close()


def test_event_loop_begins_and_times_read_back_like_the_store_writes_them(tmp_path: Path) -> None:
    """begin_async from coroutines: one winner per key; the times it writes are the store's own format."""
    store = Store.from_url(f"sqlite:///{tmp_path / 'sync.db'}")
    assert store.begin_send("old-key", "twilio")  # written by the store itself
    journal = SendJournal(store)
    before = datetime.now(UTC)

    async def begin_all() -> list[bool]:
        keys = ["old-key", *(f"k{i}" for i in range(50)), "k7"]
        return list(await asyncio.gather(*(journal.begin_async(key, "vonage") for key in keys)))

    results = asyncio.run(begin_all())
    assert results[0] is False  # begun before, by the store
    assert results[1:51] == [True] * 50
    assert results[51] is False  # the same key twice: only the first request wins
    record = store.get_send("k3")
    assert record is not None and record.state == "sending" and record.provider == "vonage"
    assert before <= record.updated_at <= datetime.now(UTC)  # aware UTC, read back exactly
    with store.engine.connect() as conn:
        stored = dict(conn.exec_driver_sql("SELECT key, updated_at FROM sent_log").all())
    # Same text layout as the store's own rows (microseconds always there): times compare as text.
    assert len(stored["k3"]) == len(stored["old-key"]) == len("2026-01-01 00:00:00.000000")
    stuck = {r.key for r in store.stuck_sending(datetime.now(UTC), 100)}
    assert stuck == {"old-key", *(f"k{i}" for i in range(50))}
    assert store.stuck_sending(before, 100)[0].key == "old-key"  # only the store's own row is older
    assert len(store.stuck_sending(before, 100)) == 1
    journal.close()
    store.close()


def test_a_write_failure_reaches_the_awaiting_coroutine_and_the_journal_recovers(store_url: str) -> None:
    store = Store.from_url(store_url)
    journal = SendJournal(store)
    assert journal.begin("warm-up")  # the committer holds its connection now
    with store.engine.connect() as conn:
        conn.exec_driver_sql("ALTER TABLE sent_log RENAME TO sent_log_away")
        conn.commit()

    async def begin(key: str) -> bool:
        return await journal.begin_async(key)

    missing = 'no such table: sent_log|relation "sent_log" does not exist'
    with pytest.raises(StoreUnavailable, match=f"send journal write failed: ({missing})"):
        asyncio.run(begin("k1"))
    with store.engine.connect() as conn:
        conn.exec_driver_sql("ALTER TABLE sent_log_away RENAME TO sent_log")
        conn.commit()
    assert asyncio.run(begin("k1")) is True  # a new connection, nothing lost
    assert store.get_send("k1") is not None and store.get_send("warm-up") is not None
    journal.close()
    store.close()
