"""The outbox API over JSON-RPC, as concurrent sync-service workers use it."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from odoo_server import OdooServer
from sync_service.shell.config import load_settings
from sync_service.shell.odoo_client import OdooClient


def connect(server: OdooServer) -> OdooClient:
    return OdooClient.connect(
        load_settings(odoo_url=server.url, odoo_db=server.database, odoo_login="admin", odoo_password="admin")
    )


@pytest.fixture
def client(odoo_server: OdooServer) -> Iterator[OdooClient]:
    yield connect(odoo_server)


def drain(client: OdooClient) -> None:
    """Claim whatever an earlier test left queued, so each test sees only its own SMS."""
    while client.call("sms.marketing.api", "claim_batch", "drain", 1000, 3600)["scanned"]:
        pass


def queue_transactional(client: OdooClient, count: int) -> set[str]:
    tag = uuid.uuid4().hex[:6]
    ids = client.call(
        "sms.sms",
        "create",
        [
            {"number": f"+1415555{n:04d}", "body": f"order {tag} #{n}", "sms_kind": "transactional"}
            for n in range(count)
        ],
    )
    return {row["uuid"] for row in client.call("sms.sms", "read", ids, ["uuid"])}


def test_concurrent_workers_get_disjoint_batches(odoo_server: OdooServer, client: OdooClient) -> None:
    drain(client)
    keys = queue_transactional(client, 300)
    claimed: dict[str, list[str]] = {}
    start = threading.Barrier(3)

    def worker(name: str) -> None:
        own = connect(odoo_server)
        start.wait()
        got: list[str] = []
        while True:
            batch = own.call("sms.marketing.api", "claim_batch", name, 25, 600)["messages"]
            if not batch:
                break
            got += [m["key"] for m in batch]
        claimed[name] = got

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    everything = [key for got in claimed.values() for key in got]
    assert len(everything) == len(set(everything)), "a message was handed out twice"
    assert set(everything) == keys
    assert all(claimed[name] for name in claimed), (
        f"each worker got a share: { {k: len(v) for k, v in claimed.items()} }"
    )


def test_expired_claim_comes_back_and_release_returns_at_once(client: OdooClient) -> None:
    drain(client)
    keys = queue_transactional(client, 4)
    first = client.call("sms.marketing.api", "claim_batch", "crashed", 2, 5)["messages"]
    second = client.call("sms.marketing.api", "claim_batch", "polite", 2, 600)["messages"]
    assert {m["key"] for m in first}.isdisjoint({m["key"] for m in second})
    assert client.call("sms.marketing.api", "claim_batch", "other", 10, 600)["messages"] == []
    released = client.call("sms.marketing.api", "release_claims", "polite", [m["key"] for m in second])
    assert released == 2
    back = client.call("sms.marketing.api", "claim_batch", "other", 10, 600)["messages"]
    assert {m["key"] for m in back} == {m["key"] for m in second}
    time.sleep(5.5)  # the crashed worker's lease runs out
    again = client.call("sms.marketing.api", "claim_batch", "other", 10, 600)["messages"]
    assert {m["key"] for m in again} == {m["key"] for m in first}
    assert {m["key"] for m in first + second} == keys
