"""The group-committed webhook inbox keeps `Store.add_event` semantics, on SQLite and PostgreSQL:
one created event per (provider, kind, key), durable when the handler gets its answer."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sync_service.store import Store, StoreUnavailable
from sync_service.webhooks.inbox_journal import InboxJournal


def _status(index: int) -> dict[str, object]:
    return {"provider_message_id": f"SM{index}", "status": "delivered", "error_code": None,
            "segment": index % 3}


def test_concurrent_webhooks_each_event_once_with_its_payload(store_url: str) -> None:
    store = Store.from_url(store_url)
    journal = InboxJournal(store)

    async def post_all() -> list[bool]:
        adds = []
        for index in range(400):  # every fourth webhook is a provider retry of the one before
            key = index - 1 if index % 4 == 3 else index
            adds.append(journal.add("twilio", "status", f"SM{key}:delivered", _status(key)))
        adds.append(journal.add("plivo", "status", "SM0:delivered", _status(0)))  # same key, other provider
        adds.append(journal.add("twilio", "inbound", "SM0:delivered", {"body": "STOP"}))  # other kind
        return list(await asyncio.gather(*adds))

    results = asyncio.run(post_all())
    assert results.count(True) == 300 + 2
    assert [results[i] for i in range(3, 400, 4)] == [False] * 100  # the retries are duplicates
    assert store.backlog() == 302  # durable: the answers came after the commit
    events = {(e.provider, e.kind, e.dedup_key): e for e in store.claim_pending("w", 1000, 30)}
    assert events[("twilio", "status", "SM6:delivered")].payload == _status(6)
    assert events[("twilio", "inbound", "SM0:delivered")].payload == {"body": "STOP"}
    assert all(e.received_at.tzinfo is not None for e in events.values())

    async def again() -> bool:
        return await journal.add("twilio", "status", "SM6:delivered", {"other": 1})

    assert asyncio.run(again()) is False  # a later retry: a duplicate, the first payload kept
    assert store.claim_pending("w2", 10, 30) == []
    journal.close()
    store.close()


def test_bad_arguments_are_refused_before_queueing(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'store.db'}")
    journal = InboxJournal(store)

    async def bad(kind: str, key: str) -> None:
        await journal.add("twilio", kind, key, {})  # type: ignore[arg-type]

    with pytest.raises(ValueError, match="unknown event kind"):
        asyncio.run(bad("receipt", "k"))
    with pytest.raises(ValueError, match="dedup_key"):
        asyncio.run(bad("status", ""))
    journal.close()
    with pytest.raises(StoreUnavailable, match="closed"):
        asyncio.run(bad("status", "k"))
    assert store.backlog() == 0
    store.close()


def test_a_failed_write_answers_unavailable_and_the_journal_recovers(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    Store.from_url(f"sqlite:///{path}").close()
    reader = Store.from_url(f"sqlite:///file:{path}?mode=ro&uri=true")  # what a read-only mount gives
    journal = InboxJournal(reader)

    async def add(key: str) -> bool:
        return await journal.add("twilio", "status", key, {"status": "delivered"})

    with pytest.raises(StoreUnavailable, match="webhook inbox write failed"):
        asyncio.run(add("k1"))
    journal.close()
    reader.close()

    writer = Store.from_url(f"sqlite:///{path}")
    journal = InboxJournal(writer)
    assert asyncio.run(add("k1")) is True  # nothing of the failed group was stored
    assert writer.backlog() == 1
    journal.close()
    writer.close()


def test_close_commits_what_is_queued(store_url: str) -> None:
    store = Store.from_url(store_url)
    journal = InboxJournal(store)

    async def queue_then_close() -> list[bool]:
        futures = [journal.add("vonage", "inbound", f"m{i}", {"text": "hello"}) for i in range(50)]
        await asyncio.get_running_loop().run_in_executor(None, journal.close)
        return list(await asyncio.gather(*futures))

    assert asyncio.run(queue_then_close()) == [True] * 50
    assert store.backlog() == 50
    store.close()


def test_an_answered_event_survives_sigkill(tmp_path: Path) -> None:
    """A child process adds events, prints each answer, and is SIGKILLed mid-stream: every event it
    reported as stored is in the store afterwards."""
    db = tmp_path / "store.db"
    script = textwrap.dedent(f"""
        import asyncio, sys
        from sync_service.store import Store
        from sync_service.webhooks.inbox_journal import InboxJournal
        store = Store.from_url("sqlite:///{db}")
        journal = InboxJournal(store)
        async def main():
            index = 0
            while True:
                batch = [journal.add("twilio", "status", f"k{{index + i}}", {{"i": index + i}})
                         for i in range(20)]
                for i, created in enumerate(await asyncio.gather(*batch)):
                    print(f"k{{index + i}}", created, flush=True)
                index += 20
        asyncio.run(main())
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    acknowledged = []
    for line in child.stdout:
        key, created = line.split()
        assert created == "True"
        acknowledged.append(key)
        if len(acknowledged) >= 500:
            break
    child.send_signal(signal.SIGKILL)
    child.wait()
    store = Store.from_url(f"sqlite:///{db}")
    stored = {event.dedup_key for event in store.claim_pending("after", 100_000, 30)}
    assert set(acknowledged) <= stored
    store.close()
