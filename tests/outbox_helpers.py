"""Shared by the dispatcher's tests: a simulator account in the test Odoo, queued SMS, what became of them."""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from sync_service.dispatch.accounts import AccountCache
from sync_service.dispatch.dispatcher import Dispatcher, DispatchOptions
from sync_service.dispatch.metrics import DispatcherMetrics
from sync_service.dispatch.outbox import OdooOutbox
from sync_service.dispatch.send_journal import SendJournal
from sync_service.shell.odoo_client import OdooClient
from sync_service.simulator import ProviderSimulator
from sync_service.store import Store

TWILIO_SID, TWILIO_TOKEN = "AC00000000000000000000000000000001", "twilio-sim-token"
SENDER = "+14155550100"
NOT_MOBILE = "+33612340999"  # valid for Odoo, refused by the simulator as 'not a mobile number' (21614)
INVALID = "+33100"  # not a phone number at all: the simulator answers 21211
RUN = random.Random().randrange(100, 1000)  # reruns on the same database get new numbers
_serial = itertools.count(1)
_created_accounts: list[int] = []


def fresh_number() -> str:
    """A new French mobile number, unique to this run."""
    return f"+3367{RUN:03d}{next(_serial):04d}"


def cancel_queued(client: OdooClient) -> None:
    """Nothing else queued in Odoo (other tests leave keyword replies behind)."""
    queued = client.call("sms.sms", "search", [("state", "=", "outgoing")])
    if queued:
        client.call("sms.sms", "write", queued, {"state": "canceled"})


def deactivate_accounts(client: OdooClient) -> None:
    """Archive the accounts :func:`make_account` created (their simulator is gone after the module)."""
    if _created_accounts:
        client.call("sms.provider.account", "write", list(_created_accounts), {"active": False})
        _created_accounts.clear()


def make_account(
    client: OdooClient, simulator: ProviderSimulator, *, rate: float = 5000.0, prefixes: str = "999",
    signs_webhooks: bool = False,
) -> int:
    """A Twilio account at the simulator. ``signs_webhooks``: first in Odoo's order, so that the webhook
    role checks Twilio signatures with its token (whatever other accounts other tests left behind)."""
    account_id: int = client.call("sms.provider.account", "create", {
        "name": f"Simulator {next(_serial)}", "provider": "twilio", "base_url": simulator.url,
        "account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN, "sender": SENDER,
        "messages_per_second": rate, "country_prefixes": prefixes, "sequence": 0 if signs_webhooks else 10,
    })
    _created_accounts.append(account_id)
    return account_id


def queue_sms(client: OdooClient, account_id: int, numbers: list[str], body: str = "Your order has shipped",
              **extra: Any) -> list[str]:
    """Queue transactional SMS (one per number) routed to ``account_id``; their keys, in order."""
    ids = client.call("sms.sms", "create", [
        {"number": number, "body": body, "state": "outgoing", "sms_kind": "transactional",
         "sms_account_id": account_id, **extra} for number in numbers
    ])
    rows = {row["id"]: row["uuid"] for row in client.call("sms.sms", "read", ids, ["uuid"])}
    return [rows[i] for i in ids]


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def provider_states(client: OdooClient, keys: list[str]) -> dict[str, str]:
    rows = client.call(
        "sms.provider.message", "search_read", [("sms_uuid", "in", keys)], ["sms_uuid", "state"]
    )
    return {row["sms_uuid"]: row["state"] for row in rows}


def sms_rows(client: OdooClient, keys: list[str], fields: list[str]) -> dict[str, dict[str, Any]]:
    rows = client.call("sms.sms", "search_read", [("uuid", "in", keys)], ["uuid", *fields])
    return {row["uuid"]: row for row in rows}


def counts_for(simulator: ProviderSimulator, keys: list[str]) -> list[int]:
    counts = simulator.count_by_key()
    return [counts.get(key, 0) for key in keys]


@contextmanager
def odoo_dispatcher(client: OdooClient, store_path: Path, worker_id: str,
                    **options: Any) -> Iterator[Dispatcher]:
    """The service's dispatcher against the test Odoo (its outbox and gateway accounts over RPC), its send
    journal in a SQLite store at ``store_path``; ``options`` as :class:`DispatchOptions`. Closed, with what it
    holds, on leaving."""
    store = Store.from_url(f"sqlite:///{store_path}")
    outbox = OdooOutbox(client)
    accounts = AccountCache(outbox.provider_accounts, refresh_seconds=60)
    journal = SendJournal(store)
    dispatcher = Dispatcher(outbox, accounts, journal, worker_id=worker_id,
                            options=DispatchOptions(**options),
                            metrics=DispatcherMetrics.create(CollectorRegistry()))
    try:
        yield dispatcher
    finally:
        dispatcher.close()
        journal.close()
        accounts.close()
        store.close()


def drain(dispatcher: Dispatcher, timeout: float = 60.0) -> int:
    """Dispatch until Odoo has nothing claimable left; how many SMS were claimed."""
    dispatcher.maintain(force=True)
    claimed, deadline = 0, time.monotonic() + timeout
    while time.monotonic() < deadline:
        summary = dispatcher.run_once()
        if summary.claimed == 0:
            return claimed
        claimed += summary.claimed
    raise AssertionError(f"the queue did not drain within {timeout} s")
