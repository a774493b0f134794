"""Issue 14's acceptance for gateway accounts, through the real path: a real Odoo, the dispatcher's loop in
a thread (as `sms-sync run` runs it), the provider simulator answering Twilio's account endpoint as Twilio
documents it. A wrong Twilio token shows a clear error on the account and in the Outbox within a minute, and
"Test connection" says so too; "Send a test SMS" reaches the provider through that account."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from outbox_helpers import (
    RUN,
    TWILIO_SID,
    TWILIO_TOKEN,
    cancel_queued,
    counts_for,
    deactivate_accounts,
    fresh_number,
    make_account,
    queue_sms,
    sms_rows,
    wait_for,
)
from prometheus_client import CollectorRegistry

from odoo_server import OdooServer
from sync_service.dispatch.accounts import AccountCache
from sync_service.dispatch.dispatcher import Dispatcher, DispatchOptions
from sync_service.dispatch.metrics import DispatcherMetrics
from sync_service.dispatch.outbox import OdooOutbox
from sync_service.dispatch.send_journal import SendJournal
from sync_service.shell.config import load_settings
from sync_service.shell.odoo_client import OdooClient
from sync_service.simulator import ProviderSimulator
from sync_service.store import Store

CREDENTIALS = "Twilio refused the credentials: check the Account SID and the Auth Token (20003)"
ACCOUNT_FIELDS = ["test_state", "test_result", "health_state", "health_failing_reason", "health_last_error"]
_users = itertools.count(1)


@pytest.fixture(scope="module")
def simulator() -> Iterator[ProviderSimulator]:
    sim = ProviderSimulator(seed=3).start()
    yield sim
    sim.stop()


@pytest.fixture(autouse=True)
def clean(client: OdooClient, simulator: ProviderSimulator) -> Iterator[None]:
    cancel_queued(client)
    simulator.reset()
    yield
    deactivate_accounts(client)


@pytest.fixture
def running(client: OdooClient, tmp_path: Path) -> Iterator[Callable[[], Dispatcher]]:
    """Start the dispatcher's loop (`Dispatcher.run`) in a thread, with the default poll intervals."""
    started: list[tuple[Dispatcher, threading.Event, threading.Thread, Any]] = []

    def start() -> Dispatcher:
        store = Store.from_url(f"sqlite:///{tmp_path / 'sync.db'}")
        outbox = OdooOutbox(client)
        accounts = AccountCache(outbox.provider_accounts, refresh_seconds=60)
        journal = SendJournal(store)
        dispatcher = Dispatcher(outbox, accounts, journal, worker_id=f"acct-test-{RUN}",
                                options=DispatchOptions(poll_interval=1.0),
                                metrics=DispatcherMetrics.create(CollectorRegistry()))
        stop = threading.Event()
        thread = threading.Thread(target=dispatcher.run, args=(stop,), daemon=True)
        thread.start()
        started.append((dispatcher, stop, thread, (journal, accounts, store)))
        return dispatcher

    yield start
    for dispatcher, stop, thread, (journal, accounts, store) in started:
        stop.set()
        thread.join(30)
        dispatcher.close()
        journal.close()
        accounts.close()
        store.close()


def account(client: OdooClient, account_id: int) -> dict[str, Any]:
    [row] = client.call("sms.provider.account", "read", [account_id], ACCOUNT_FIELDS)
    return dict(row)


def user(client: OdooClient, odoo_server: OdooServer, group: str) -> OdooClient:
    login = f"acct-{group}-{RUN}-{next(_users)}"
    group_id = client.call("ir.model.data", "check_object_reference", *group.split("."))[1]
    client.call("res.users", "create", {"name": login, "login": login, "password": "pw-" + login,
                                        "groups_id": [(4, group_id)]})
    return OdooClient.connect(load_settings(odoo_url=odoo_server.url, odoo_db=odoo_server.database,
                                            odoo_login=login, odoo_password="pw-" + login))


def test_a_wrong_twilio_token_shows_on_the_account_and_in_the_outbox_within_a_minute(
    client: OdooClient, simulator: ProviderSimulator, running: Callable[[], Dispatcher]
) -> None:
    account_id = make_account(client, simulator)
    keys = queue_sms(client, account_id, [fresh_number() for _ in range(3)])
    running()
    wait_for(lambda: account(client, account_id)["test_state"] == "ok", 60, "the new account tested")
    wait_for(lambda: set(counts_for(simulator, keys)) == {1}, 60, "the 3 SMS sent")
    checks = simulator.checks[TWILIO_SID]

    started = time.monotonic()
    client.call("sms.provider.account", "write", [account_id], {"auth_token": "a-token-with-a-typo"})
    wait_for(lambda: account(client, account_id)["health_state"] == "failing", 60, "the account failing")
    elapsed = time.monotonic() - started
    keys = queue_sms(client, account_id, [fresh_number() for _ in range(3)])  # e.g. a campaign sent now

    shown = account(client, account_id)
    assert shown["health_failing_reason"] == CREDENTIALS
    assert shown["test_state"] == "failed"
    assert shown["test_result"] == f"The connection test failed: {CREDENTIALS}."
    wait_for(lambda: all(CREDENTIALS in (row["sms_defer_reason"] or "")
                         for row in sms_rows(client, keys, ["sms_defer_reason"]).values()), 60,
             "the Outbox saying why the SMS wait")
    outbox = sms_rows(client, keys, ["state", "sms_outbox_status", "sms_defer_reason"])
    assert {(row["state"], row["sms_outbox_status"]) for row in outbox.values()} == {("outgoing", "held")}
    assert all(row["sms_defer_reason"].startswith("Held: gateway account") for row in outbox.values())
    assert counts_for(simulator, keys) == [0, 0, 0]
    assert simulator.checks[TWILIO_SID] > checks
    print(f"wrong token shown on the account {elapsed:.1f} s after it was saved")

    # "Test connection" pressed by a manager says so too, and once the token is fixed the SMS leave.
    client.call("sms.provider.account", "action_test_connection", [account_id])
    wait_for(lambda: account(client, account_id)["test_state"] == "failed", 60, "the test pressed")
    client.call("sms.provider.account", "write", [account_id], {"auth_token": TWILIO_TOKEN})
    wait_for(lambda: account(client, account_id)["test_state"] == "ok", 60, "the fixed token tested")
    assert account(client, account_id)["health_state"] == "ok"
    assert account(client, account_id)["test_result"] == (
        "The connection works: Twilio accepts the credentials and the account can send.")
    wait_for(lambda: counts_for(simulator, keys) == [1, 1, 1], 60, "the held SMS sent once the token works")


def test_test_connection_and_a_test_sms_as_each_kind_of_user(
    client: OdooClient, odoo_server: OdooServer, simulator: ProviderSimulator,
    running: Callable[[], Dispatcher],
) -> None:
    account_id = make_account(client, simulator)
    manager = user(client, odoo_server, "sms_marketing_addon.group_sms_marketing_manager")
    sms_user = user(client, odoo_server, "sms_marketing_addon.group_sms_marketing_user")
    service = user(client, odoo_server, "sms_marketing_addon.group_sms_marketing_service")
    for who in (sms_user, service):
        with pytest.raises(Exception, match="Only SMS Marketing managers and system administrators"):
            who.call("sms.provider.account", "action_test_connection", [account_id])
    for who in (manager, sms_user, service):
        with pytest.raises(Exception, match="Only system administrators may send a test SMS"):
            who.call("sms.provider.account", "action_open_test_sms", [account_id])
    manager.call("sms.provider.account", "action_test_connection", [account_id])
    running()
    wait_for(lambda: account(manager, account_id)["test_state"] == "ok", 60, "the manager's test made")

    number = fresh_number()
    wizard = client.call("sms.provider.account.test.sms", "create",
                         {"account_id": account_id, "number": number, "body": f"Test {RUN}"})
    client.call("sms.provider.account.test.sms", "action_send", [wizard])
    wait_for(lambda: "accepted the test SMS" in (account(client, account_id)["test_result"] or ""), 60,
             "the test SMS sent")
    [received] = [m for m in simulator.received() if m.to == number]
    assert received.body.endswith(f"Test {RUN}") or f"Test {RUN}" in received.body
    assert account(client, account_id)["test_result"] == (
        f"Twilio accepted the test SMS to {number} (message id {received.message_id}).")


def test_a_provider_out_of_reach_is_named_without_holding_the_account(
    client: OdooClient, simulator: ProviderSimulator, running: Callable[[], Dispatcher], french: None
) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    account_id = make_account(client, simulator)
    client.call("sms.provider.account", "write", [account_id], {"base_url": f"http://127.0.0.1:{port}"})
    running()
    wait_for(lambda: account(client, account_id)["test_state"] == "failed", 60, "the test made")
    shown = account(client, account_id)
    assert shown["test_result"] == (
        f"The connection test failed: Could not reach Twilio at http://127.0.0.1:{port} (connection error): "
        "check the API base URL and the sync service's network access.")
    [french] = client.call("sms.provider.account", "read", [account_id], ["test_result"],
                           context={"lang": "fr_FR"})
    assert french["test_result"] == (
        f"Le test de connexion a échoué : Impossible de joindre Twilio à http://127.0.0.1:{port} (connection "
        "error) : vérifiez l'URL de base de l'API et l'accès réseau du service de synchronisation."), \
        "the service's sentence said again by Odoo in the reader's language"
    assert shown["health_state"] != "failing"
