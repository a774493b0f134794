"""The dispatcher end to end: a real Odoo (fixture ``odoo_server``), the real provider simulator on loopback,
a SQLite store; delivery receipts come back through the webhook role (uvicorn) and the inbox applier.
No mocks: faults are the simulator's, opt-outs are Odoo's."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from outbox_helpers import (
    INVALID,
    NOT_MOBILE,
    RUN,
    TWILIO_SID,
    TWILIO_TOKEN,
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
from prometheus_client import CollectorRegistry

from live_server import LiveServer
from odoo_server import OdooServer
from sync_service.dispatch.accounts import AccountCache
from sync_service.dispatch.dispatcher import BatchSummary, Dispatcher, DispatchOptions
from sync_service.dispatch.metrics import DispatcherMetrics
from sync_service.dispatch.outbox import OdooOutbox
from sync_service.dispatch.outcomes import UNKNOWN_OUTCOME_CODE
from sync_service.dispatch.rate_limit import RateLimiter
from sync_service.dispatch.send_journal import SendJournal
from sync_service.shell.config import load_settings
from sync_service.shell.odoo_client import OdooClient, OdooError
from sync_service.simulator import FaultKind, ProviderSimulator
from sync_service.store import Store
from sync_service.webhooks.applier import InboxApplier
from sync_service.webhooks.role import build_webhook_app

# --------------------------------------------------------------------------- servers and Odoo


_workers = itertools.count(1)
POLICY_FIELDS = ["hour_start", "hour_end", "cap_count", "day_mon", "day_tue", "day_wed", "day_thu", "day_fri",
                 "day_sat", "day_sun"]


@pytest.fixture(scope="module", autouse=True)
def open_policies(client: OdooClient) -> Iterator[None]:
    """Marketing SMS may go at any hour, any day, without frequency cap (the tests ignore the wall clock)."""
    policies = client.call("sms.compliance.policy", "search_read", [], POLICY_FIELDS)
    days = {name: True for name in POLICY_FIELDS if name.startswith("day_")}
    wide = {"hour_start": 0, "hour_end": 24, "cap_count": 0, **days}
    client.call("sms.compliance.policy", "write", [p["id"] for p in policies], wide)
    yield
    for policy in policies:
        client.call("sms.compliance.policy", "write", [policy["id"]], {f: policy[f] for f in POLICY_FIELDS})


@pytest.fixture(scope="module", autouse=True)
def archive_accounts(client: OdooClient) -> Iterator[None]:
    yield
    deactivate_accounts(client)


@pytest.fixture(scope="module")
def simulator() -> Iterator[ProviderSimulator]:
    sim = ProviderSimulator(seed=7, not_mobile_numbers=[NOT_MOBILE], callback_workers=8).start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def twilio_account(client: OdooClient, simulator: ProviderSimulator) -> int:
    """A Twilio account at the simulator, created before the webhook role reads the secrets."""
    return make_account(client, simulator, signs_webhooks=True)


@pytest.fixture(scope="module")
def receipts(
    client: OdooClient, odoo_server: OdooServer, tmp_path_factory: pytest.TempPathFactory, twilio_account: int
) -> Iterator[str]:
    """The webhook role and the inbox applier, as `sms-sync run --role webhooks` runs them; its public URL."""
    live = LiveServer()
    store = Store.from_url(f"sqlite:///{tmp_path_factory.mktemp('inbox') / 'inbox.db'}")
    settings = load_settings(odoo_url=odoo_server.url, odoo_db=odoo_server.database, odoo_login="admin",
                             odoo_password="admin", public_base_url=live.url)
    applier_client = OdooClient.connect(settings)
    applier = InboxApplier(store, applier_client, worker_id="test-applier", backoff_base=0.2, backoff_cap=2.0)
    lock = threading.Lock()

    def accounts() -> list[dict[str, Any]]:
        with lock:
            return list(client.call("sms.marketing.api", "get_provider_accounts"))

    app = build_webhook_app(settings, store, accounts, lambda: True, on_event=applier.on_event,
                            refresh_seconds=5)
    live.serve(app)
    stop = threading.Event()
    thread = threading.Thread(target=applier.run, args=(stop, 0.2), daemon=True)
    thread.start()
    yield live.url
    stop.set()
    thread.join(10)
    live.stop()
    store.close()


@pytest.fixture(autouse=True)
def clean(client: OdooClient, simulator: ProviderSimulator) -> None:
    cancel_queued(client)
    simulator.reset()
    simulator.configure_callbacks(enabled=True, duplicate=False, out_of_order=False, delay=0.0, retries=0)


@pytest.fixture
def make_dispatcher(client: OdooClient, tmp_path: Path) -> Iterator[Callable[..., Dispatcher]]:
    made: list[tuple[Dispatcher, SendJournal, AccountCache, Store]] = []

    def factory(callback_base_url: str | None = None, **options: Any) -> Dispatcher:
        store = Store.from_url(f"sqlite:///{tmp_path / 'sync.db'}")
        outbox = OdooOutbox(client)
        accounts = AccountCache(outbox.provider_accounts, refresh_seconds=60)
        journal = SendJournal(store)
        defaults = {"batch_size": 250, "concurrency": 16, "retry_base": 0.05, "retry_cap": 1.0,
                    "max_attempts": 8, "poll_interval": 0.2}
        dispatcher = Dispatcher(outbox, accounts, journal, worker_id=f"test-{next(_workers)}",
                                options=DispatchOptions(**{**defaults, **options}),
                                metrics=DispatcherMetrics.create(CollectorRegistry()),
                                callback_base_url=callback_base_url)
        made.append((dispatcher, journal, accounts, store))
        return dispatcher

    yield factory
    for dispatcher, journal, accounts, store in made:
        dispatcher.close()
        journal.close()
        accounts.close()
        store.close()


def drain(dispatcher: Dispatcher, timeout: float = 90.0) -> list[BatchSummary]:
    """Dispatch until Odoo has nothing claimable left."""
    dispatcher.maintain(force=True)
    summaries = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        summary = dispatcher.run_once()
        if summary.claimed == 0:
            return summaries
        summaries.append(summary)
    raise AssertionError(f"the queue did not drain within {timeout} s")


# --------------------------------------------------------------------------- acceptance


def test_a_thousand_sms_go_out_once_each_and_end_delivered(
    client: OdooClient,
    simulator: ProviderSimulator,
    receipts: str,
    make_dispatcher: Callable[..., Dispatcher],
    twilio_account: int,
) -> None:
    keys = queue_sms(client, twilio_account, [fresh_number() for _ in range(1000)])
    dispatcher = make_dispatcher(callback_base_url=receipts)

    summaries = drain(dispatcher)

    assert sum(s.sent for s in summaries) == 1000
    assert sum(s.reported for s in summaries) == 1000
    assert counts_for(simulator, keys) == [1] * 1000
    assert max(simulator.count_by_key().values()) == 1
    assert set(provider_states(client, keys)) == set(keys)
    assert {row["state"] for row in sms_rows(client, keys, ["state"]).values()} == {"pending"}
    wait_for(lambda: set(provider_states(client, keys).values()) == {"delivered"}, 90,
             "1,000 delivery receipts applied in Odoo")


def test_transient_faults_are_retried_and_bad_numbers_fail_with_the_number_flagged(
    client: OdooClient, simulator: ProviderSimulator, make_dispatcher: Callable[..., Dispatcher]
) -> None:
    account = make_account(client, simulator)
    good = queue_sms(client, account, [fresh_number() for _ in range(400)])
    invalid = queue_sms(client, account, [INVALID])
    partner = client.call("res.partner", "create", {"name": "Landline Lou", "mobile": NOT_MOBILE})
    not_mobile = queue_sms(client, account, [NOT_MOBILE], partner_id=partner)
    # ~21% of requests fail transiently: 500, 429 with Retry-After, and a slow 504 (the "timeout" fault).
    simulator.inject(FaultKind.HTTP_500, ratio=0.07)
    simulator.inject(FaultKind.HTTP_429, ratio=0.075, retry_after=0.2)
    simulator.inject(FaultKind.TIMEOUT, ratio=0.08, delay=0.3)
    dispatcher = make_dispatcher()

    summaries = drain(dispatcher)

    assert counts_for(simulator, good) == [1] * 400
    assert max(simulator.count_by_key().values()) == 1
    assert set(provider_states(client, good)) == set(good)
    assert sum(s.sent for s in summaries) == 400 and sum(s.retry for s in summaries) == 0
    assert len(simulator.received()) == 400  # faults record nothing
    assert dispatcher.metrics is not None
    retries = dispatcher.metrics.retries.labels("twilio")._value.get()
    assert retries >= 60  # about a fifth of ~500 calls
    bad = sms_rows(client, invalid + not_mobile, ["state", "failure_type", "sms_last_error"])
    assert {row["state"] for row in bad.values()} == {"error"}
    assert {row["failure_type"] for row in bad.values()} == {"sms_rejected_number"}
    assert "21211" in bad[invalid[0]]["sms_last_error"] and "not a valid phone number" in bad[invalid[0]][
        "sms_last_error"]
    assert "21614" in bad[not_mobile[0]]["sms_last_error"]
    [flagged] = client.call("res.partner", "read", [partner], ["sms_number_rejected"])
    assert flagged["sms_number_rejected"] and "21614" in flagged["sms_number_rejected"]


def test_a_provider_outage_leaves_messages_queued_then_they_go_once(
    client: OdooClient, simulator: ProviderSimulator, make_dispatcher: Callable[..., Dispatcher]
) -> None:
    account = make_account(client, simulator)
    keys = queue_sms(client, account, [fresh_number() for _ in range(5)])
    simulator.inject(FaultKind.HTTP_500)  # every request
    dispatcher = make_dispatcher(max_attempts=2, final_retry_after=1.0)

    [summary] = drain(dispatcher)

    assert summary.retry == 5 and summary.sent == 0
    rows = sms_rows(client, keys, ["state", "sms_attempts", "sms_defer_until", "sms_claim_worker"])
    assert {row["state"] for row in rows.values()} == {"outgoing"}
    assert all(row["sms_attempts"] == 1 and row["sms_defer_until"] and not row["sms_claim_worker"]
               for row in rows.values())
    simulator.clear_faults()
    time.sleep(1.5)  # Odoo's deferral

    summaries = drain(dispatcher)

    assert sum(s.sent for s in summaries) == 5
    assert counts_for(simulator, keys) == [1] * 5
    assert set(provider_states(client, keys)) == set(keys)


def test_a_stop_received_after_the_claim_is_honoured(
    client: OdooClient, simulator: ProviderSimulator, make_dispatcher: Callable[..., Dispatcher]
) -> None:
    account = make_account(client, simulator)
    france = client.call("res.country", "search", [("code", "=", "FR")])[0]
    stopper, keeper = fresh_number(), fresh_number()
    partners = [client.call("res.partner", "create", {
        "name": f"Client {number}", "mobile": number, "country_id": france,
        "sms_consent_state": "opted_in", "sms_consent_note": "test"}) for number in (stopper, keeper)]
    keys = [
        queue_sms(client, account, [number], body="Spring sale: -20% today", sms_kind="marketing",
                  partner_id=partner)[0]
        for number, partner in zip((stopper, keeper), partners, strict=True)
    ]
    dispatcher = make_dispatcher()
    claim = dispatcher.outbox.claim(dispatcher.worker_id, 10, 60)
    assert sorted(m.key for m in claim.messages) == sorted(keys)

    client.call("sms.marketing.api", "apply_inbound_keyword", stopper, "opt_out", f"SM-stop-{RUN}", "STOP")
    summary = dispatcher.process(claim)

    assert summary.sent == 1 and summary.opted_out == 1
    assert counts_for(simulator, keys) == [0, 1]
    rows = sms_rows(client, keys[:1], ["state", "sms_last_error"])
    assert rows[keys[0]]["state"] == "error" and "opted out" in rows[keys[0]]["sms_last_error"]
    assert set(provider_states(client, keys)) == {keys[1]}


def test_each_account_stays_under_its_rate_in_every_second(
    client: OdooClient,
    simulator: ProviderSimulator,
    make_dispatcher: Callable[..., Dispatcher],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account = make_account(client, simulator, rate=20)
    long_body = "Your parcel is on its way. " * 7  # 189 GSM-7 characters: 2 segments
    keys = queue_sms(client, account, [fresh_number() for _ in range(40)])
    keys += queue_sms(client, account, [fresh_number() for _ in range(10)], body=long_body)
    # The limiter's own decisions on its own clock, (admitted at, segments): exact whatever the load.
    admitted: list[tuple[float, int]] = []
    real_try_acquire = RateLimiter.try_acquire

    def recording_try_acquire(limiter: RateLimiter, units: int = 1) -> float:
        wait = real_try_acquire(limiter, units)
        if wait == 0.0 and limiter.rate == 20:
            admitted.append(limiter._log[-1])
        return wait

    monkeypatch.setattr(RateLimiter, "try_acquire", recording_try_acquire)
    dispatcher = make_dispatcher(concurrency=32)

    started = time.monotonic()
    drain(dispatcher)
    elapsed = time.monotonic() - started

    received = sorted((m.received_at, m.segments) for m in simulator.received())
    assert sum(segments for _, segments in received) == 60 and counts_for(simulator, keys) == [1] * 50
    assert sum(units for _, units in admitted) == 60
    # What the service controls: no second (plus the limiter's 0.1 s margin for the network) ever admits
    # more than the rate. Exact: these are the limiter's own times, no scheduling noise in them.
    window = 1.1
    busiest_sent = max(sum(u for t, u in admitted if start <= t < start + window) for start, _ in admitted)
    assert busiest_sent <= 20
    # What the provider sees, stamped on arrival: the same, give or take the delivery's jitter; the margin
    # absorbs 0.1 s of it, and under a loaded machine (other jobs, 2 cores) jitter can pass that: a second
    # at the provider may then hold one message (2 segments) more, never a burst.
    busiest = max(sum(s for t, s in received if start <= t < start + 1.0) for start, _ in received)
    assert busiest <= 20 + 2
    assert elapsed >= 2.0  # 60 segments at 20/s: the first 20 at once, then two more windows


# --------------------------------------------------------------------------- crashes and store failures


def test_a_receipt_settles_the_unknown_outcome_of_a_worker_that_died_after_the_send(
    client: OdooClient,
    simulator: ProviderSimulator,
    receipts: str,
    make_dispatcher: Callable[..., Dispatcher],
    twilio_account: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker dies right after the provider took the SMS (nothing recorded, nothing reported): the send
    is 'unknown outcome' once stuck, but the receipt names the SMS in its callback URL, so Odoo ends up
    showing it delivered, and nothing is sent twice."""
    [key] = queue_sms(client, twilio_account, [fresh_number()])
    dying = make_dispatcher(callback_base_url=receipts, stuck_after=1.0)
    # The crash point: the provider answered, the worker never records nor reports it.
    monkeypatch.setattr(dying, "_record", lambda *args, **kwargs: None)
    monkeypatch.setattr(dying, "_settle", lambda *args, **kwargs: None)
    assert dying.run_once().claimed == 1
    [received] = [m for m in simulator.received() if m.key == key]
    assert received.callback_url == f"{receipts}/webhooks/twilio/status?key={key}"
    assert key not in provider_states(client, [key]), "Odoo has not heard of the send"

    time.sleep(1.2)
    survivor = make_dispatcher(callback_base_url=receipts, stuck_after=1.0)
    survivor.maintain(force=True)  # reports the stuck send: failed, unknown outcome
    wait_for(lambda: provider_states(client, [key]).get(key) == "delivered", 60,
             "the receipt settles the unknown outcome")
    assert sms_rows(client, [key], ["state"])[key]["state"] == "pending"
    assert drain(survivor) == []
    assert counts_for(simulator, [key]) == [1]


def test_a_key_begun_by_a_dead_worker_is_never_sent_by_the_next_one(
    client: OdooClient,
    simulator: ProviderSimulator,
    make_dispatcher: Callable[..., Dispatcher],
    twilio_account: int,
) -> None:
    """The at-most-once check itself, without a SIGKILL's timing: a worker recorded the send of an SMS in the
    shared store and died before (or while) calling the provider; Odoo hands the SMS to the next worker. The
    journal says the key was begun, so the next worker never calls the provider for it: first it holds it
    (the first worker may still be on it), then, once stuck, reports it as an unknown outcome for a person."""
    [key] = queue_sms(client, twilio_account, [fresh_number()])
    dead = make_dispatcher(stuck_after=1.0)
    assert dead.journal.begin(key, "twilio") is True  # recorded, then the worker died: nothing else happened
    survivor = make_dispatcher(stuck_after=1.0)
    survivor.run_once()
    assert counts_for(simulator, [key]) == [0], "a begun key is held, not sent"
    time.sleep(1.2)
    drain(survivor)
    assert counts_for(simulator, [key]) == [0], "nor sent once the first worker's send is stuck"
    row = sms_rows(client, [key], ["state", "sms_last_error"])[key]
    assert row["state"] == "error" and row["sms_last_error"].startswith(UNKNOWN_OUTCOME_CODE)


def test_a_slow_answer_holds_one_slot_not_the_next_batches(
    client: OdooClient, simulator: ProviderSimulator, make_dispatcher: Callable[..., Dispatcher]
) -> None:
    """The provider takes 8 s to answer one call (within the 10 s read timeout): the batches after the
    one that holds it go on meanwhile, instead of waiting for the slowest message of the batch."""
    account = make_account(client, simulator)
    keys = queue_sms(client, account, [fresh_number() for _ in range(40)])
    simulator.inject(FaultKind.SLOW, count=1, delay=8.0)  # recorded at once, accepted 8 s later
    dispatcher = make_dispatcher(batch_size=10, concurrency=4)
    stop = threading.Event()
    thread = threading.Thread(target=dispatcher.run, args=(stop,), daemon=True)
    thread.start()
    try:
        def all_sent() -> bool:
            return set(provider_states(client, keys)) == set(keys)

        deadline = time.monotonic() + 60
        while not all_sent() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(30)
    arrivals = sorted(m.received_at for m in simulator.received() if m.key in set(keys))
    assert len(arrivals) == 40 and counts_for(simulator, keys) == [1] * 40
    slow_answered_at = arrivals[0] + 8.0  # the first call was the slow one
    # Everything else reached the provider while the slow call was still waiting for its answer (one
    # batch at a time, the three batches after the first would have waited for it).
    assert arrivals[-1] < slow_answered_at - 1.0, [round(t - arrivals[0], 2) for t in arrivals]


def test_a_store_that_cannot_record_makes_the_dispatcher_back_off(
    client: OdooClient, simulator: ProviderSimulator, tmp_path: Path, twilio_account: int
) -> None:
    """Disk full or read-only store: nothing leaves (a send is recorded first), the batch goes back to Odoo,
    and the dispatcher waits longer and longer instead of claiming the same batch in a tight loop."""
    path = tmp_path / "ro.db"
    Store.from_url(f"sqlite:///{path}").close()
    store = Store.from_url(f"sqlite:///file:{path}?mode=ro&uri=true")
    keys = queue_sms(client, twilio_account, [fresh_number() for _ in range(5)])
    outbox = OdooOutbox(client)
    claims: list[int] = []
    claim = outbox.claim

    def counting_claim(*args: Any, **kwargs: Any) -> Any:
        result = claim(*args, **kwargs)
        claims.append(len(result.messages))
        return result

    outbox.claim = counting_claim  # type: ignore[method-assign]
    accounts = AccountCache(outbox.provider_accounts, refresh_seconds=60)
    journal = SendJournal(store)
    dispatcher = Dispatcher(outbox, accounts, journal, worker_id="test-read-only",
                            options=DispatchOptions(batch_size=50, poll_interval=0.2))
    stop = threading.Event()
    thread = threading.Thread(target=dispatcher.run, args=(stop,), daemon=True)
    thread.start()
    time.sleep(4.0)
    stop.set()
    thread.join(30)
    dispatcher.close()
    journal.close()
    accounts.close()
    store.close()
    assert claims and claims[0] == 5
    # Backing off 0.4, 0.8, 1.6 s ... after each failed batch: a handful of claims in 4 s, not hundreds.
    assert len([n for n in claims if n]) <= 5, claims
    assert counts_for(simulator, keys) == [0] * 5
    assert {row["state"] for row in sms_rows(client, keys, ["state"]).values()} == {"outgoing"}


# --------------------------------------------------------------------------- accounts the provider refuses


def account_health(client: OdooClient, account_id: int) -> dict[str, Any]:
    [row] = client.call("sms.provider.account", "read", [account_id], [
        "health_state", "health_failing_reason", "health_failing_since", "health_last_success",
        "health_last_error", "health_errors_last_hour"])
    return dict(row)


def test_invalid_credentials_hold_a_thousand_sms_until_the_token_is_fixed_in_odoo(
    client: OdooClient,
    simulator: ProviderSimulator,
    receipts: str,
    make_dispatcher: Callable[..., Dispatcher],
) -> None:
    """Issue 19's acceptance: the provider answers "invalid credentials" for an account: a 1,000-SMS send
    ends with 0 failed and all held, the account form says why; once the token is fixed in Odoo, all 1,000
    are delivered, none twice."""
    simulator.configure_callbacks(retries=5)  # a receipt the inbox could not store (busy disk) comes again
    account = make_account(client, simulator)
    client.call("sms.provider.account", "write", [account], {"auth_token": "a-token-with-a-typo"})
    keys = queue_sms(client, account, [fresh_number() for _ in range(1000)], body="Spring sale: -20% today")
    dispatcher = make_dispatcher(callback_base_url=receipts)

    held = drain(dispatcher)

    assert sum(s.failed for s in held) == 0 and sum(s.sent for s in held) == 0
    # The new token is tested as soon as it is saved (drain's maintain makes the test call Odoo asked for):
    # the account is failing before the first claim, or at the latest after one batch; Odoo holds the rest.
    assert sum(s.held_by_account for s in held) <= 250
    rows = sms_rows(client, keys, ["state", "failure_type", "sms_defer_reason", "sms_claim_worker"])
    assert {row["state"] for row in rows.values()} == {"outgoing"}
    assert not any(row["failure_type"] or row["sms_claim_worker"] for row in rows.values())
    reasons = {row["sms_defer_reason"] for row in rows.values()}
    assert len(reasons) == 1 and "is failing" in reasons.pop()
    health = account_health(client, account)
    assert health["health_state"] == "failing" and "20003" in health["health_failing_reason"]
    assert health["health_failing_since"] and health["health_errors_last_hour"] >= 1
    assert counts_for(simulator, keys) == [0] * 1000
    assert drain(dispatcher) == []  # held: not even offered

    client.call("sms.provider.account", "write", [account], {"auth_token": TWILIO_TOKEN})
    sent = drain(dispatcher)

    assert sum(s.sent for s in sent) == 1000 and sum(s.failed for s in sent) == 0
    assert counts_for(simulator, keys) == [1] * 1000
    assert max(simulator.count_by_key().values()) == 1
    wait_for(lambda: set(provider_states(client, keys).values()) == {"delivered"}, 120,
             "1,000 delivery receipts applied in Odoo")
    health = account_health(client, account)
    assert health["health_state"] == "ok" and health["health_last_success"]


def test_a_suspended_account_resumes_after_a_successful_test_call(
    client: OdooClient, simulator: ProviderSimulator, make_dispatcher: Callable[..., Dispatcher]
) -> None:
    account = make_account(client, simulator)
    dispatcher = make_dispatcher(probe_interval=0.3)
    dispatcher.maintain(force=True)  # the new account's test call: it works (then the provider suspends it)
    keys = queue_sms(client, account, [fresh_number() for _ in range(20)])
    simulator.set_account_state(TWILIO_SID, "suspended")

    summaries = drain(dispatcher)

    assert sum(s.held_by_account for s in summaries) >= 1 and sum(s.failed for s in summaries) == 0
    health = account_health(client, account)
    assert health["health_state"] == "failing" and "20005" in health["health_failing_reason"]
    checks = simulator.checks[TWILIO_SID]
    wait_for(lambda: (dispatcher.maintain(), simulator.checks[TWILIO_SID] > checks)[1], 10,
             "a test call while the account is still suspended")
    assert account_health(client, account)["health_state"] == "failing"
    assert drain(dispatcher) == []
    assert counts_for(simulator, keys) == [0] * 20

    simulator.set_account_state(TWILIO_SID, None)  # the provider lifts the suspension
    wait_for(lambda: (dispatcher.maintain(), account_health(client, account)["health_state"] == "ok")[1], 10,
             "a successful test call ends the failing state")
    summaries = drain(dispatcher)

    assert sum(s.sent for s in summaries) == 20
    assert counts_for(simulator, keys) == [1] * 20
    assert {row["state"] for row in sms_rows(client, keys, ["state"]).values()} == {"pending"}


@pytest.mark.parametrize("state", ["no_credit", "sender_not_allowed"])
def test_no_credit_or_a_forbidden_sender_holds_instead_of_failing(
    client: OdooClient, simulator: ProviderSimulator, make_dispatcher: Callable[..., Dispatcher], state: str
) -> None:
    account = make_account(client, simulator)
    keys = queue_sms(client, account, [fresh_number() for _ in range(5)])
    simulator.set_account_state(TWILIO_SID, state)

    summaries = drain(make_dispatcher())

    assert sum(s.failed for s in summaries) == 0
    assert {row["state"] for row in sms_rows(client, keys, ["state"]).values()} == {"outgoing"}
    assert account_health(client, account)["health_state"] == "failing"
    simulator.set_account_state(TWILIO_SID, None)
    client.call("sms.provider.account", "write", [account], {"sender": "+14155550101"})  # settings changed
    assert sum(s.sent for s in drain(make_dispatcher())) == 5


def test_a_test_mode_account_never_calls_the_provider(
    client: OdooClient, simulator: ProviderSimulator, make_dispatcher: Callable[..., Dispatcher]
) -> None:
    """Issue 21: an account in test mode must not bill through the real API, whatever its base URL."""
    account = make_account(client, simulator)
    client.call("sms.provider.account", "write", [account], {"test_mode": True})
    keys = queue_sms(client, account, [fresh_number() for _ in range(3)])

    summaries = drain(make_dispatcher())

    assert sum(s.sent for s in summaries) == 3
    assert simulator.received() == [] and sum(simulator.checks.values()) == 0
    rows = client.call("sms.provider.message", "search_read", [("sms_uuid", "in", keys)],
                       ["provider_message_id"])
    assert sorted(row["provider_message_id"] for row in rows) == sorted(f"console-{key}" for key in keys)


def test_health_is_not_writable_by_a_marketing_manager(client: OdooClient, odoo_server: OdooServer) -> None:
    account = client.call("sms.provider.account", "create", {"name": f"Health {RUN}", "provider": "console",
                                                            "country_prefixes": "999"})
    client.call("sms.marketing.api", "report_account_health", [
        {"account_id": account, "ok": False, "account_wide": True, "error_code": "20003", "reason": "bad"}])
    login = f"sms-manager-{RUN}-{next(_workers)}"
    group = client.call("ir.model.data", "check_object_reference", "sms_marketing_addon",
                        "group_sms_marketing_manager")[1]
    client.call("res.users", "create", {"name": "SMS manager", "login": login, "password": "pw-" + login,
                                        "groups_id": [(4, group)]})
    manager = OdooClient.connect(load_settings(odoo_url=odoo_server.url, odoo_db=odoo_server.database,
                                               odoo_login=login, odoo_password="pw-" + login))
    assert account_health(manager, account)["health_state"] == "failing"  # managers see it
    [health] = manager.call("sms.provider.account.health", "search", [("account_id", "=", account)])
    with pytest.raises(OdooError):
        manager.call("sms.provider.account.health", "write", [health], {"failing_since": False})
    with pytest.raises(OdooError):
        manager.call("sms.marketing.api", "report_account_health", [{"account_id": account, "ok": True}])
    with contextlib.suppress(OdooError):  # refused (not a field a manager may write) or ignored (computed)
        manager.call("sms.provider.account", "write", [account], {"health_state": "ok"})
    assert account_health(client, account)["health_state"] == "failing"
    client.call("sms.provider.account", "write", [account], {"active": False})


def test_an_archived_accounts_queued_sms_leave_through_the_default_account_in_one_claim(
    client: OdooClient, simulator: ProviderSimulator, make_dispatcher: Callable[..., Dispatcher]
) -> None:
    """Issue 13's acceptance (routing): SMS pinned to an account that gets archived are not deferred for ever
    ('no usable gateway account'): the next claim moves them to the default account, which sends them."""
    previous = client.call("sms.provider.account", "search", [("is_default", "=", True)])
    account = make_account(client, simulator)
    default = make_account(client, simulator, prefixes="")
    client.call("sms.provider.account", "write", [default], {"is_default": True})
    try:
        numbers = [f"+4179{RUN:03d}{index:04d}" for index in range(3)]  # Swiss: only the default serves
        keys = queue_sms(client, account, numbers)
        client.call("sms.provider.account", "write", [account], {"active": False})

        [summary] = drain(make_dispatcher())
    finally:
        if previous:
            client.call("sms.provider.account", "write", previous[:1], {"is_default": True})

    assert (summary.claimed, summary.sent, summary.retry) == (3, 3, 0)
    assert counts_for(simulator, keys) == [1, 1, 1]
    rows = client.call("sms.provider.message", "search_read", [("sms_uuid", "in", keys)], ["account_id"])
    assert {row["account_id"][0] for row in rows} == {default} and len(rows) == 3
    notes = {row["sms_last_error"] for row in sms_rows(client, keys, ["sms_last_error"]).values()}
    assert len(notes) == 1 and "(archived)" in notes.pop()
