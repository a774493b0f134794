"""`sms-sync run --role dispatcher`, `send-test` and `replay-inbox` as processes, against the real Odoo and
the simulator: a SIGKILL mid-batch never makes the provider count a message twice; SIGTERM finishes what is in
flight, reports it and gives the rest back to Odoo."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from outbox_helpers import (
    cancel_queued,
    counts_for,
    deactivate_accounts,
    fresh_number,
    make_account,
    provider_states,
    queue_sms,
    sms_rows,
    wait_for,
)

from odoo_server import free_port
from sync_service.dispatch.outcomes import UNKNOWN_OUTCOME_CODE
from sync_service.shell import runner
from sync_service.shell.odoo_client import OdooClient
from sync_service.simulator import FaultKind, ProviderSimulator

SMS_SYNC = [sys.executable, "-m", "sync_service.shell.cli"]


@pytest.fixture(scope="module", autouse=True)
def archive_accounts(client: OdooClient) -> Iterator[None]:
    yield
    deactivate_accounts(client)


@pytest.fixture(scope="module")
def simulator() -> Iterator[ProviderSimulator]:
    sim = ProviderSimulator(seed=11).start()
    yield sim
    sim.stop()


@pytest.fixture(autouse=True)
def clean(client: OdooClient, simulator: ProviderSimulator) -> None:
    cancel_queued(client)
    simulator.reset()


def service_env(sync_env: dict[str, str], tmp_path: Path, **settings: object) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMS_SYNC_")} | sync_env
    env["SMS_SYNC_STORE_URL"] = f"sqlite:///{tmp_path / 'sync.db'}"
    env.update({f"SMS_SYNC_{name.upper()}": str(value) for name, value in settings.items()})
    return env


def start(
    env: dict[str, str], log: Path, roles: tuple[str, ...] = ("dispatcher",)
) -> subprocess.Popen[bytes]:
    options = [arg for role in roles for arg in ("--role", role)]
    with log.open("ab") as out:
        return subprocess.Popen([*SMS_SYNC, "run", *options], env=env, stdout=out, stderr=out)


def test_sigkill_in_the_middle_of_a_batch_never_sends_a_key_twice(
    client: OdooClient, simulator: ProviderSimulator, sync_env: dict[str, str], tmp_path: Path
) -> None:
    account = make_account(client, simulator, rate=20)
    keys = queue_sms(client, account, [fresh_number() for _ in range(40)])
    # The first two calls are accepted by the provider, whose answer then never comes before the kill.
    simulator.inject(FaultKind.ACCEPTED_TIMEOUT, count=2, delay=20)
    env = service_env(sync_env, tmp_path, batch_size=40, concurrency=4, lease_seconds=5,
                      stuck_after_seconds=4, poll_interval=0.2, retry_base_seconds=0.05)
    log = tmp_path / "service.log"
    first = start(env, log)
    try:
        wait_for(lambda: len(simulator.received()) >= 12, 30, "a dozen messages at the provider")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    second = start(env, log)
    try:
        def settled() -> bool:
            rows = sms_rows(client, keys, ["state"])
            return not any(row["state"] == "outgoing" for row in rows.values())

        wait_for(settled, 60, "every message sent or settled after the restart")
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, log.read_text()[-3000:]

    assert max(simulator.count_by_key().values()) == 1
    sent = set(provider_states(client, keys))
    rows = sms_rows(client, keys, ["state", "sms_last_error"])
    unknown = {key for key, row in rows.items() if row["state"] == "error"}
    assert all(UNKNOWN_OUTCOME_CODE in rows[key]["sms_last_error"] for key in unknown)
    assert sent | unknown == set(keys) and not sent & unknown
    assert 2 <= len(unknown) <= 4  # the hanging calls, and at most the other calls in flight at the kill
    assert all(count == 1 for count in counts_for(simulator, sorted(sent)))


def test_sigterm_finishes_the_calls_in_flight_reports_them_and_releases_the_rest(
    client: OdooClient, simulator: ProviderSimulator, sync_env: dict[str, str], tmp_path: Path
) -> None:
    account = make_account(client, simulator, rate=5)
    keys = queue_sms(client, account, [fresh_number() for _ in range(30)])
    env = service_env(sync_env, tmp_path, batch_size=30, concurrency=4, poll_interval=0.2)
    log = tmp_path / "service.log"
    process = start(env, log)
    try:
        wait_for(lambda: len(simulator.received()) >= 5, 30, "the first messages at the provider")
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(30)
    assert code == 0, log.read_text()[-3000:]

    at_provider = {m.key for m in simulator.received()}
    assert max(simulator.count_by_key().values()) == 1
    assert set(provider_states(client, keys)) == at_provider  # everything sent was reported
    rows = sms_rows(client, [k for k in keys if k not in at_provider], ["state", "sms_claim_worker"])
    assert len(rows) >= 15
    assert {row["state"] for row in rows.values()} == {"outgoing"}
    assert not any(row["sms_claim_worker"] for row in rows.values())  # released: claimable at once
    assert '"dispatcher stopped"' in log.read_text()


def test_run_with_every_role_sends_and_applies_the_delivery_receipts(
    client: OdooClient, simulator: ProviderSimulator, sync_env: dict[str, str], tmp_path: Path
) -> None:
    account = make_account(client, simulator, signs_webhooks=True)
    keys = queue_sms(client, account, [fresh_number() for _ in range(5)])
    port, metrics_port = free_port(), free_port()
    env = service_env(sync_env, tmp_path, public_base_url=f"http://127.0.0.1:{port}", listen_port=port,
                      metrics_port=metrics_port, poll_interval=0.2)
    log = tmp_path / "service.log"
    process = start(env, log, roles=())
    try:
        wait_for(lambda: set(provider_states(client, keys).values()) == {"delivered"}, 60,
                 "5 SMS sent, their receipts received by the webhooks and applied to Odoo")
        health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()
        metrics = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(30)
    assert code == 0, log.read_text()[-3000:]
    assert health["store"] == "ok" and health["odoo"] == "ok"
    assert 'sms_dispatch_sent_total{provider="twilio"} 5.0' in metrics
    assert counts_for(simulator, keys) == [1] * 5
    assert all(f'"{role} started"' in log.read_text() for role in ("dispatcher", "cart watcher"))


def service_user(client: OdooClient) -> tuple[str, str]:
    """A new Odoo user with only the sync service's group, as the README documents it: (login, password)."""
    password = f"svc-Pa55-{time.time_ns()}"
    group = client.call("ir.model.data", "check_object_reference", "sms_marketing_addon",
                        "group_sms_marketing_service")[1]
    login = f"sms-sync-{time.time_ns()}"
    client.call("res.users", "create", {"name": "sms-sync (test)", "login": login, "password": password,
                                        "groups_id": [(6, 0, [group])]})
    return login, password


def test_a_debug_run_logs_no_secret(
    client: OdooClient, simulator: ProviderSimulator, sync_env: dict[str, str], tmp_path: Path
) -> None:
    """At DEBUG, from the first RPC call on: a send, its receipts and an inbound message leave no provider
    token, no Odoo password and no Basic credential in the service's log."""
    import base64

    from outbox_helpers import TWILIO_SID, TWILIO_TOKEN

    from sync_service.core.signatures import twilio_signature

    login, password = service_user(client)
    account = make_account(client, simulator, signs_webhooks=True)
    keys = queue_sms(client, account, [fresh_number() for _ in range(2)])
    port, metrics_port = free_port(), free_port()
    env = service_env(sync_env, tmp_path, public_base_url=f"http://127.0.0.1:{port}", listen_port=port,
                      metrics_port=metrics_port, poll_interval=0.2, log_level="DEBUG", odoo_login=login,
                      odoo_password=password)
    log = tmp_path / "service.log"
    process = start(env, log, roles=())
    try:
        wait_for(lambda: set(provider_states(client, keys).values()) == {"delivered"}, 60,
                 "2 SMS sent, their receipts received and applied")
        url = f"http://127.0.0.1:{port}/webhooks/twilio/inbound"
        params = {"MessageSid": f"SMdebug{time.time_ns()}", "From": fresh_number(), "To": "+14155550100",
                  "Body": "Hello, is the shop open?", "AccountSid": TWILIO_SID}
        answer = requests.post(url, data=params, timeout=10,
                               headers={"X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, url, params)})
        assert answer.status_code == 200
        wait_for(lambda: "inbound" in log.read_text() and "applied" in log.read_text(), 30,
                 "the reply applied")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    text = log.read_text()
    assert '"level": "DEBUG"' in text and "odoorpc" in text, "logged at DEBUG, the RPC library included"
    basic = base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
    for secret in (TWILIO_TOKEN, password, basic):
        assert secret not in text, f"{secret[:6]}… found in the log"


def test_a_role_whose_module_is_missing_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(runner.ROLE_MODULES, "carts", "no_such_module")
    assert runner.runnable_roles(None) == ["dispatcher", "webhooks"]
    with pytest.raises(runner.RoleUnavailable, match="role 'carts' is not available: its module no_such"):
        runner.runnable_roles(["carts"])


def test_run_carts_role_alone_starts_and_stops(sync_env: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "carts.log"
    process = start(service_env(sync_env, tmp_path), log, roles=("carts",))
    try:
        wait_for(lambda: '"cart watcher started"' in log.read_text(), 30, "the cart watcher to start")
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(30)
    assert code == 0, log.read_text()[-3000:]
    assert '"cart watcher stopped"' in log.read_text()


def test_send_test_queues_dispatches_and_prints_the_outcome(
    client: OdooClient, simulator: ProviderSimulator, sync_env: dict[str, str], tmp_path: Path
) -> None:
    make_account(client, simulator, prefixes="3367")  # the longest prefix: fresh numbers route here
    login, password = service_user(client)  # as the documented service user, not an administrator
    env = service_env(sync_env, tmp_path, odoo_login=login, odoo_password=password)
    number = fresh_number()
    result = subprocess.run([*SMS_SYNC, "send-test", number, "--body", "Hello from the test"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sent: provider message id SM" in result.stdout
    [message] = [m for m in simulator.received() if m.to == number]
    assert message.body == "Hello from the test"

    refused = subprocess.run([*SMS_SYNC, "send-test", "+3367100"], env=env, capture_output=True, text=True,
                             timeout=120)
    assert refused.returncode == 1
    assert "failed: 21211" in refused.stdout


def test_replay_inbox_on_an_empty_inbox(sync_env: dict[str, str], tmp_path: Path) -> None:
    env = service_env(sync_env, tmp_path)
    result = subprocess.run([*SMS_SYNC, "replay-inbox"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "0 inbox event(s) made claimable again" in result.stdout
    assert "applied 0" in result.stdout


def test_graceful_stop_is_quick_when_idle(sync_env: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "idle.log"
    process = start(service_env(sync_env, tmp_path, poll_interval=0.2), log)
    wait_for(lambda: '"sms-sync started"' in log.read_text(), 60, "the service started (its signals handled)")
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(20) == 0
    assert time.monotonic() - started < 5
