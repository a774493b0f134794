"""The group-committed sent log keeps `Store.begin_send` semantics: one winner per key, durable at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from sync_service.send_journal import SendJournal
from sync_service.store import Store


def test_one_winner_per_key_across_threads_and_restarts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sync.db'}"
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


def test_many_keys_in_few_transactions(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'sync.db'}")
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
    assert len(store.unreported(1000)) == 300
    journal.close()
    store.close()
