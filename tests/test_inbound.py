"""Webhooks to Odoo end to end: a real Odoo, the webhook role served by uvicorn on a loopback port, the
provider simulator posting signed webhooks, a SQLite inbox and the applier. No mocks."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from live_server import LiveServer
from odoo_server import OdooServer
from sync_service.core.signatures import twilio_signature
from sync_service.gateways.base import OutboundMessage, ProviderAccount
from sync_service.gateways.twilio import TwilioGateway
from sync_service.shell.config import ConfigError, Settings, load_settings
from sync_service.shell.odoo_client import OdooClient, OdooUnreachable
from sync_service.simulator import ProviderSimulator
from sync_service.simulator.server import WebhookDelivery
from sync_service.store import Store
from sync_service.webhooks.applier import API, PARKED_PREFIX, InboxApplier, replay
from sync_service.webhooks.role import build_webhook_app

TWILIO_SID, TWILIO_TOKEN = "AC00000000000000000000000000000001", "twilio-sim-token"
VONAGE_KEY, VONAGE_SECRET, VONAGE_SIG = "vonagesimkey", "vonage-sim-secret", "vonage-signature-secret-1"
SHORT_CODE = "+33757000001"  # the shop's sending number (a valid French mobile range)
_SESSION = random.Random().randrange(100, 1000)  # reruns on the same database get new numbers
_numbers = itertools.count(1)


def fresh_number() -> str:
    """A new French mobile number (E.164), unique to this run."""
    return f"+3366{_SESSION:03d}{next(_numbers):04d}"


# --------------------------------------------------------------------------- servers


@pytest.fixture(scope="module")
def sim() -> Iterator[ProviderSimulator]:
    with ProviderSimulator(
        accounts={TWILIO_SID: TWILIO_TOKEN, VONAGE_KEY: VONAGE_SECRET},
        signature_secrets={VONAGE_KEY: VONAGE_SIG},
    ) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def account_ids(client: OdooClient, sim: ProviderSimulator) -> Iterator[list[int]]:
    """Twilio and Vonage accounts in Odoo holding the simulator's secrets, routed to no real number."""
    common = {"base_url": sim.url, "sequence": 1000, "country_prefixes": "999", "is_default": False}
    ids = [
        client.call("sms.provider.account", "create", {
            **common, "name": "Twilio (inbound tests)", "provider": "twilio",
            "account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN, "sender": SHORT_CODE}),
        client.call("sms.provider.account", "create", {
            **common, "name": "Vonage (inbound tests)", "provider": "vonage",
            "account_sid": VONAGE_KEY, "auth_token": VONAGE_SECRET, "webhook_secret": VONAGE_SIG}),
    ]
    yield ids
    client.call("sms.provider.account", "write", ids, {"active": False})
    client.call("sms.sms", "write", client.call("sms.sms", "search", [
        ("number", "=like", f"+3366{_SESSION:03d}%"), ("state", "=", "outgoing")]), {"state": "canceled"})


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    opened = Store.from_url(f"sqlite:///{tmp_path_factory.mktemp('inbox') / 'inbox.db'}")
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def server(
    client: OdooClient, odoo_server: OdooServer, store: Store, account_ids: list[int]
) -> Iterator[LiveServer]:
    live = LiveServer()
    settings = load_settings(odoo_url=odoo_server.url, odoo_db=odoo_server.database, public_base_url=live.url)

    def accounts() -> list[dict[str, Any]]:
        return [a for a in client.call(API, "get_provider_accounts") if a["id"] in account_ids]

    def odoo_up() -> bool:
        try:
            client.call("res.users", "context_get")
            return True
        except OdooUnreachable:
            return False

    live.serve(build_webhook_app(settings, store, accounts, odoo_up))
    yield live
    live.stop()


@pytest.fixture
def applier(store: Store, client: OdooClient) -> InboxApplier:
    return InboxApplier(store, client, worker_id="test-inbound", keywords_refresh_seconds=0)


def drain(applier: InboxApplier, store: Store, timeout: float = 60.0) -> None:
    """Run the applier until the inbox is empty."""
    deadline = time.monotonic() + timeout
    while store.backlog():
        assert time.monotonic() < deadline, f"inbox not drained: {store.backlog()} left"
        if not applier.run_once():
            time.sleep(0.1)


# --------------------------------------------------------------------------- Odoo helpers


def make_contact(client: OdooClient, number: str, state: str = "opted_in") -> int:
    france = client.call("res.country", "search", [("code", "=", "FR")])[0]
    return int(client.call("res.partner", "create", {
        "name": f"Inbound {number}", "mobile": number, "country_id": france,
        "sms_consent_state": state, "sms_consent_note": "paper form in the shop"}))


def consent_state(client: OdooClient, partner_id: int) -> str:
    [row] = client.call("res.partner", "read", [partner_id], ["sms_consent_state"])
    return str(row["sms_consent_state"])


def blacklisted(client: OdooClient, number: str) -> bool:
    return bool(client.call("phone.blacklist", "search_count", [("number", "=", number)]))


def log_events(client: OdooClient, partner_id: int) -> list[str]:
    rows = client.call("sms.consent.log", "search_read", [("partner_id", "=", partner_id)],
                       fields=["event", "source"], order="id")
    return [f"{row['event']}:{row['source']}" for row in rows]


def claim_only(client: OdooClient, key_or_id: str | int, worker: str = "test-inbound") -> dict[str, Any]:
    """Claim queued SMS, keep the one asked for (by uuid or id) and give every other claim back."""
    if isinstance(key_or_id, int):
        [row] = client.call("sms.sms", "read", [key_or_id], ["uuid"])
        key_or_id = str(row["uuid"])
    batch = client.call(API, "claim_batch", worker, 1000, 60)
    others = [m["key"] for m in batch["messages"] if m["key"] != key_or_id]
    if others:
        client.call(API, "release_claims", worker, others)
    return {"batch": batch, "mine": [m for m in batch["messages"] if m["key"] == key_or_id]}


def pending_errors(store: Store) -> list[str | None]:
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT last_error FROM inbox_events WHERE applied_at IS NULL")
        return [row[0] for row in rows]


def discard_pending(store: Store) -> None:
    """Take what a test deliberately left unapplicable (parked) out of the shared inbox."""
    with store.engine.connect() as conn:
        ids = [row[0] for row in conn.exec_driver_sql("SELECT id FROM inbox_events WHERE applied_at IS NULL")]
    store.mark_applied(ids)


def inbound_url(server: LiveServer, provider: str) -> str:
    return f"{server.url}/webhooks/{provider}/inbound"


def reply(
    sim: ProviderSimulator, server: LiveServer, provider: str, number: str, body: str
) -> WebhookDelivery:
    """The simulator posts a signed inbound SMS from ``number`` to the webhook server."""
    account = {"twilio": TWILIO_SID, "vonage": VONAGE_KEY}[provider]
    url = inbound_url(server, provider)
    return sim.send_inbound(provider, number, SHORT_CODE, body, url, account_id=account)


# --------------------------------------------------------------------------- inbound keywords


@pytest.mark.parametrize(
    ("provider", "body"),
    [("twilio", "STOP"), ("vonage", "arrêt"), ("twilio", " Arrêt! "), ("vonage", "Stop")],
)
def test_stop_opts_out_replies_and_blocks_the_next_marketing_sms(
    client: OdooClient, sim: ProviderSimulator, server: LiveServer, store: Store, applier: InboxApplier,
    provider: str, body: str,
) -> None:
    number = fresh_number()
    partner_id = make_contact(client, number)

    delivery = reply(sim, server, provider, number, body)
    assert delivery.status_code == 200
    assert store.backlog() == 1
    drain(applier, store)

    assert consent_state(client, partner_id) == "opted_out"
    assert blacklisted(client, number)
    assert log_events(client, partner_id) == ["opt_in:agent", "opt_out:keyword"]
    replies = client.call("sms.sms", "search_read", [("number", "=", number), ("sms_kind", "=", "consent")],
                          fields=["body", "state"])
    assert len(replies) == 1 and replies[0]["state"] == "outgoing"

    marketing = client.call("sms.sms", "create", {
        "number": number, "partner_id": partner_id, "body": "Sale starts now", "sms_kind": "marketing"})
    claimed = claim_only(client, marketing)
    assert claimed["mine"] == []
    [row] = client.call("sms.sms", "read", [marketing], ["state", "failure_type"])
    assert (row["state"], row["failure_type"]) == ("canceled", "sms_blacklist")


def test_start_resubscribes(
    client: OdooClient, sim: ProviderSimulator, server: LiveServer, store: Store, applier: InboxApplier
) -> None:
    number = fresh_number()
    partner_id = make_contact(client, number)
    reply(sim, server, "twilio", number, "STOP")
    drain(applier, store)
    assert consent_state(client, partner_id) == "opted_out"

    delivery = reply(sim, server, "twilio", number, "start")
    assert delivery.status_code == 200
    drain(applier, store)
    assert consent_state(client, partner_id) == "opted_in"
    assert not blacklisted(client, number)
    assert log_events(client, partner_id)[-1] == "re_subscribe:keyword"


def test_yes_confirms_a_pending_double_opt_in(
    client: OdooClient, sim: ProviderSimulator, server: LiveServer, store: Store, applier: InboxApplier
) -> None:
    number = fresh_number()
    partner_id = make_contact(client, number, state="pending")
    assert consent_state(client, partner_id) == "pending"

    reply(sim, server, "vonage", number, "Yes")
    drain(applier, store)
    assert consent_state(client, partner_id) == "opted_in"
    assert log_events(client, partner_id) == ["opt_in_request:agent", "confirmation:keyword"]
    sent = client.call("sms.sms", "search_read", [("number", "=", number), ("sms_kind", "=", "consent")],
                       fields=["body"], order="id")
    assert len(sent) == 2, "the confirmation request, then the 'you are subscribed' reply"
    assert "reply YES" in sent[0]["body"] and "you are subscribed" in sent[1]["body"]


def test_free_text_reply_lands_on_the_chatter(
    client: OdooClient, sim: ProviderSimulator, server: LiveServer, store: Store, applier: InboxApplier
) -> None:
    number = fresh_number()
    partner_id = make_contact(client, number)
    text = "Do you deliver on Sundays? Stop by the shop maybe"
    reply(sim, server, "twilio", number, text)
    drain(applier, store)

    assert consent_state(client, partner_id) == "opted_in"
    messages = client.call("mail.message", "search_read",
                           [("model", "=", "res.partner"), ("res_id", "=", partner_id)], fields=["body"])
    assert any("Do you deliver on Sundays?" in m["body"] for m in messages)
    [inbound] = client.call("sms.inbound.message", "search_read", [("number", "=", number)],
                            fields=["action", "result"])
    assert (inbound["action"], inbound["result"]) == ("none", "received")


@pytest.mark.parametrize(
    ("provider", "body", "lang", "confirmation"),
    [
        ("twilio", "stop all", "en_US", "you are unsubscribed"),
        ("vonage", "arrêtez", "fr_FR", "vous avez été désinscrit(e)"),
        ("twilio", "Arrêtez les SMS svp", "fr_FR", "vous avez été désinscrit(e)"),
        ("vonage", "please stop texting me", "en_US", "you are unsubscribed"),
        ("twilio", "Unsubscribe me", "fr_FR", "vous avez été désinscrit(e)"),
    ],
)
def test_an_opt_out_in_plain_words_opts_out_with_the_confirmation_in_the_contact_language(
    client: OdooClient, sim: ProviderSimulator, server: LiveServer, store: Store, applier: InboxApplier,
    french: None, provider: str, body: str, lang: str, confirmation: str,
) -> None:
    number = fresh_number()
    partner_id = make_contact(client, number)
    client.call("res.partner", "write", [partner_id], {"lang": lang})

    assert reply(sim, server, provider, number, body).status_code == 200
    drain(applier, store)

    assert consent_state(client, partner_id) == "opted_out"
    assert blacklisted(client, number)
    assert log_events(client, partner_id) == ["opt_in:agent", "opt_out:keyword"]
    [inbound] = client.call("sms.inbound.message", "search_read", [("number", "=", number)],
                            fields=["action", "result", "body"])
    assert (inbound["action"], inbound["result"], inbound["body"]) == ("opt_out", "opted_out", body)
    [confirmation_sms] = client.call("sms.sms", "search_read",
                                     [("number", "=", number), ("sms_kind", "=", "consent")], fields=["body"])
    assert confirmation in confirmation_sms["body"]


def test_a_possible_opt_out_waits_in_the_review_list(
    client: OdooClient, sim: ProviderSimulator, server: LiveServer, store: Store, applier: InboxApplier
) -> None:
    number = fresh_number()
    partner_id = make_contact(client, number)
    reply(sim, server, "vonage", number, "I want to cancel my order")
    drain(applier, store)

    assert consent_state(client, partner_id) == "opted_in"
    [inbound] = client.call("sms.inbound.message", "search_read", [("number", "=", number)],
                            fields=["action", "result", "review_state"])
    assert (inbound["action"], inbound["review_state"]) == ("review", "to_review")
    replies = [("number", "=", number), ("sms_kind", "=", "consent")]
    assert client.call("sms.sms", "search_count", replies) == 0


def test_forged_signature_is_refused_and_nothing_reaches_odoo(
    client: OdooClient, server: LiveServer, store: Store, applier: InboxApplier
) -> None:
    number = fresh_number()
    partner_id = make_contact(client, number)
    before = store.backlog()
    with ProviderSimulator(accounts={TWILIO_SID: "not-the-auth-token"}) as forger:
        delivery = forger.send_inbound("twilio", number, SHORT_CODE, "STOP", inbound_url(server, "twilio"))
    assert delivery.status_code == 403
    assert store.backlog() == before
    drain(applier, store)
    assert consent_state(client, partner_id) == "opted_in"
    assert not client.call("sms.inbound.message", "search_count",
                           [("inbound_message_id", "=", delivery.params["MessageSid"])])


def test_refused_event_is_parked_without_blocking_the_others(
    client: OdooClient, sim: ProviderSimulator, server: LiveServer, store: Store, applier: InboxApplier
) -> None:
    number = fresh_number()
    partner_id = make_contact(client, number)
    bad = reply(sim, server, "twilio", "+12", "STOP")  # no number
    good = reply(sim, server, "twilio", number, "STOP")
    assert (bad.status_code, good.status_code) == (200, 200)

    applier.run_once()
    assert applier.last_report.parked == 1 and applier.last_report.applied == 1
    assert consent_state(client, partner_id) == "opted_out"
    assert store.backlog() == 1
    assert applier.run_once() == 0  # parked: not retried right away

    assert replay(store, parked_only=True) == 1
    applier.run_once()
    assert applier.last_report.parked == 1  # still refused, still kept
    [error] = pending_errors(store)
    assert error and error.startswith(PARKED_PREFIX) and "+12" in error
    discard_pending(store)


def test_odoo_refusing_every_call_is_an_outage_not_a_reason_to_park(
    client: OdooClient, odoo_server: OdooServer, sim: ProviderSimulator, server: LiveServer, store: Store,
    applier: InboxApplier,
) -> None:
    login = f"no-sms-rights-{_SESSION}-{next(_numbers)}"
    client.call("res.users", "create", {"name": "No SMS rights", "login": login, "password": "pw-" + login})
    weak = OdooClient.connect(load_settings(odoo_url=odoo_server.url, odoo_db=odoo_server.database,
                                            odoo_login=login, odoo_password="pw-" + login))
    number = fresh_number()
    partner_id = make_contact(client, number)
    reply(sim, server, "twilio", number, "STOP")

    refused = InboxApplier(store, weak, worker_id="test-weak")
    refused.run_once()
    assert (refused.last_report.parked, refused.last_report.retried) == (0, 1)
    [error] = pending_errors(store)
    assert error and error.startswith("Odoo refuses calls")

    drain(applier, store)  # a service user with the rights applies it
    assert consent_state(client, partner_id) == "opted_out"


def test_run_loop_applies_and_stops_promptly(
    client: OdooClient, sim: ProviderSimulator, server: LiveServer, store: Store, applier: InboxApplier
) -> None:
    number = fresh_number()
    partner_id = make_contact(client, number)
    stop = threading.Event()
    loop = threading.Thread(target=applier.run, args=(stop,), kwargs={"interval": 30.0})
    loop.start()
    try:
        reply(sim, server, "vonage", number, "STOP")
        applier.wake()  # what the webhook role's on_event does
        deadline = time.monotonic() + 30
        while store.backlog() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.backlog() == 0
    finally:
        stop.set()
        started = time.monotonic()
        loop.join(10)
    assert not loop.is_alive() and time.monotonic() - started < 2
    assert consent_state(client, partner_id) == "opted_out"


def test_odoo_down_while_100_stops_arrive_all_applied_once_back(
    client: OdooClient, odoo_server: OdooServer, sim: ProviderSimulator, server: LiveServer, store: Store,
    applier: InboxApplier,
) -> None:
    numbers = [fresh_number() for _ in range(100)]
    france = client.call("res.country", "search", [("code", "=", "FR")])[0]
    partner_ids = client.call("res.partner", "create", [
        {"name": f"Outage {n}", "mobile": n, "country_id": france, "sms_consent_state": "opted_in",
         "sms_consent_note": "checkout box"} for n in numbers])
    assert store.backlog() == 0

    odoo_server.stop()
    try:
        with pytest.raises(OdooUnreachable):
            client.call("res.users", "context_get")
        codes = [reply(sim, server, "twilio", n, "STOP").status_code
                 for n in numbers]
        assert codes == [200] * 100
        assert store.backlog() == 100
        health = requests.get(f"{server.url}/healthz", timeout=10).json()
        assert (health["odoo"], health["backlog"]) == ("error", 100)

        assert applier.run_once() == 0
        assert applier.last_report.retried == 100
        assert store.backlog() == 100
    finally:
        odoo_server.start()

    drain(applier, store, timeout=120)
    states = client.call("res.partner", "read", partner_ids, ["sms_consent_state"])
    assert {row["sms_consent_state"] for row in states} == {"opted_out"}
    groups = client.call("sms.consent.log", "read_group",
                         [("partner_id", "in", partner_ids), ("event", "=", "opt_out")],
                         ["partner_id"], ["partner_id"], lazy=False)
    assert len(groups) == 100 and {g["__count"] for g in groups} == {1}
    assert client.call("phone.blacklist", "search_count", [("number", "in", numbers)]) == 100
    assert replay(store) == 0


# --------------------------------------------------------------------------- delivery receipts


def post_twilio_status(server: LiveServer, sid: str, status: str, error_code: str = "") -> requests.Response:
    url = f"{server.url}/webhooks/twilio/status"
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": TWILIO_SID, "ErrorCode": error_code}
    headers = {"X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, url, params)}
    return requests.post(url, data=params, headers=headers, timeout=10)


def sent_sms(client: OdooClient, number: str, sid: str) -> str:
    """Queue a transactional SMS, claim it and report it sent under provider id ``sid``; its uuid."""
    sms_id = client.call("sms.sms", "create", {"number": number, "body": "Your order has shipped"})
    [mine] = claim_only(client, sms_id)["mine"]
    result = client.call(API, "report_results", "test-inbound", [
        {"key": mine["key"], "outcome": "sent", "provider_message_id": sid, "segments": 1}])
    assert result["updated"] == 1
    return str(mine["key"])


def provider_state(client: OdooClient, sid: str) -> str:
    [row] = client.call("sms.provider.message", "search_read", [("provider_message_id", "=", sid)],
                        fields=["state"])
    return str(row["state"])


def test_delivered_receipt_is_applied_never_downgraded_and_stored_once(
    client: OdooClient, server: LiveServer, store: Store, applier: InboxApplier
) -> None:
    sid = f"SM{random.Random().getrandbits(128):032x}"
    sent_sms(client, fresh_number(), sid)
    assert provider_state(client, sid) == "sent"

    assert post_twilio_status(server, sid, "delivered").json() == {"status": "stored"}
    drain(applier, store)
    assert provider_state(client, sid) == "delivered"

    assert post_twilio_status(server, sid, "sent").json() == {"status": "stored"}  # late, out of order
    assert post_twilio_status(server, sid, "queued").status_code == 200
    drain(applier, store)
    assert provider_state(client, sid) == "delivered"

    assert post_twilio_status(server, sid, "delivered").json() == {"status": "duplicate"}
    with store.engine.connect() as conn:
        keys = [row[0] for row in conn.exec_driver_sql(
            "SELECT dedup_key FROM inbox_events WHERE dedup_key LIKE ?", (f"{sid}:%",))]
    assert sorted(keys) == [f"{sid}:delivered", f"{sid}:queued", f"{sid}:sent"]


def test_receipts_are_applied_in_batches_and_a_stop_does_not_wait_for_them(
    client: OdooClient, odoo_server: OdooServer, sim: ProviderSimulator, store: Store, account_ids: list[int]
) -> None:
    """The webhook role wired as the service wires it (``on_event=applier.on_event``), the applier's loop
    running: receipts arriving together are applied in one pass (before, each one woke the applier: a pass
    and an Odoo request per receipt at a campaign's pace), and a STOP arriving while receipts are being
    gathered is applied at once, not after the gathering."""
    applier = InboxApplier(store, client, worker_id="test-gather", keywords_refresh_seconds=0,
                           gather_seconds=8.0)
    passes: list[float] = []
    run_once = applier.run_once

    def counted() -> int:
        passes.append(time.monotonic())
        return run_once()

    applier.run_once = counted  # type: ignore[method-assign]
    live = LiveServer()
    settings = load_settings(odoo_url=odoo_server.url, odoo_db=odoo_server.database, public_base_url=live.url)
    live.serve(build_webhook_app(
        settings, store,
        lambda: [a for a in client.call(API, "get_provider_accounts") if a["id"] in account_ids],
        lambda: True, on_event=applier.on_event))
    sids = [f"SM{random.Random().getrandbits(128):032x}" for _ in range(8)]
    for sid in sids:
        sent_sms(client, fresh_number(), sid)
    stop = threading.Event()
    loop = threading.Thread(target=applier.run, args=(stop,), kwargs={"interval": 60.0})
    loop.start()
    try:
        deadline = time.monotonic() + 10
        while not passes and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # the first pass (at start) is over: the loop waits
        first = len(passes)
        for sid in sids:
            assert post_twilio_status(server=live, sid=sid, status="delivered").json() == {"status": "stored"}
        deadline = time.monotonic() + 30
        while store.backlog() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [provider_state(client, sid) for sid in sids] == ["delivered"] * 8
        assert len(passes) - first == 1, "8 receipts arriving together: one pass"

        late = f"SM{random.Random().getrandbits(128):032x}"
        sent_sms(client, fresh_number(), late)
        number = fresh_number()
        make_contact(client, number)
        assert post_twilio_status(server=live, sid=late, status="delivered").json() == {"status": "stored"}
        posted = time.monotonic()  # the receipt is gathered for 8 s...
        reply(sim, live, "twilio", number, "STOP")  # ...the STOP is not
        while not blacklisted(client, number) and time.monotonic() - posted < 10:
            time.sleep(0.05)
        assert blacklisted(client, number)
        assert time.monotonic() - posted < 4.0, "a STOP waited for the receipts' gathering"
        assert provider_state(client, late) == "delivered"  # applied in the STOP's pass
    finally:
        stop.set()
        loop.join(10)
        live.stop()


def test_receipt_before_the_send_report_waits_for_it_then_unknown_ids_are_dropped(
    client: OdooClient, server: LiveServer, store: Store, applier: InboxApplier
) -> None:
    sid = f"SM{random.Random().getrandbits(128):032x}"
    number = fresh_number()
    partner_id = make_contact(client, number)
    assert post_twilio_status(server, sid, "undelivered", "30005").status_code == 200
    applier.run_once()
    assert (applier.last_report.retried, store.backlog()) == (1, 1)  # Odoo does not know the id yet

    sent_sms(client, number, sid)
    drain(applier, store)
    assert provider_state(client, sid) == "undelivered"
    [row] = client.call("res.partner", "read", [partner_id], ["sms_number_rejected"])
    assert row["sms_number_rejected"]  # 30005: unknown handset, the number is flagged

    stray = f"SM{random.Random().getrandbits(128):032x}"
    assert post_twilio_status(server, stray, "delivered").status_code == 200
    impatient = InboxApplier(store, client, worker_id="test-drop", unknown_retry_seconds=0)
    impatient.run_once()
    assert (impatient.last_report.dropped, store.backlog()) == (1, 0)


def test_gateway_send_with_status_callbacks_out_of_order_and_duplicated(
    client: OdooClient, sim: ProviderSimulator, server: LiveServer, store: Store, applier: InboxApplier
) -> None:
    """The dispatcher's path: claim, send through the Twilio adapter to the simulator, report, and the
    simulator's signed callbacks (delivered before sent, each twice) reach Odoo through the inbox."""
    sim.configure_callbacks(out_of_order=True, duplicate=True)
    try:
        number = fresh_number()
        sms_id = client.call("sms.sms", "create", {"number": number, "body": "Your parcel is on its way"})
        [mine] = claim_only(client, sms_id)["mine"]
        account = ProviderAccount("twilio", sim.url, TWILIO_SID, TWILIO_TOKEN, SHORT_CODE)
        with TwilioGateway(account) as gateway:
            result = gateway.send(OutboundMessage(
                mine["key"], number, mine["body"], status_callback=f"{server.url}/webhooks/twilio/status"))
        assert result.provider_message_id
        client.call(API, "report_results", "test-inbound", [{
            "key": mine["key"], "outcome": "sent", "provider_message_id": result.provider_message_id}])
        assert sim.wait_callbacks(10)
        statuses = [d.params["MessageStatus"] for d in sim.callbacks()
                    if d.params.get("MessageSid") == result.provider_message_id]
        assert statuses == ["delivered", "delivered", "sent", "sent"]
        drain(applier, store)
        assert provider_state(client, result.provider_message_id) == "delivered"
    finally:
        sim.configure_callbacks(out_of_order=False, duplicate=False)


def test_webhook_role_needs_a_public_base_url(store: Store) -> None:
    settings = Settings(public_base_url=None)
    with pytest.raises(ConfigError, match="SMS_SYNC_PUBLIC_BASE_URL"):
        build_webhook_app(settings, store, lambda: [], lambda: True)


def test_secrets_rotated_in_odoo_are_picked_up(
    client: OdooClient, odoo_server: OdooServer, store: Store, account_ids: list[int], applier: InboxApplier
) -> None:
    live = LiveServer()
    settings = load_settings(odoo_url=odoo_server.url, odoo_db=odoo_server.database, public_base_url=live.url)
    twilio_id = account_ids[0]

    def accounts() -> list[dict[str, Any]]:
        return [a for a in client.call(API, "get_provider_accounts") if a["id"] == twilio_id]

    app = build_webhook_app(settings, store, accounts, lambda: True)
    live.serve(app)
    try:
        rotated = "twilio-rotated-token-42"
        client.call("sms.provider.account", "write", [twilio_id], {"auth_token": rotated})
        with ProviderSimulator(accounts={TWILIO_SID: rotated}) as other:
            url = inbound_url(live, "twilio")
            assert other.send_inbound("twilio", fresh_number(), SHORT_CODE, "HELP", url).status_code == 403
            app.refresh_signing()  # also started in the background by the 403, at most every 5 s
            assert other.send_inbound("twilio", fresh_number(), SHORT_CODE, "HELP", url).status_code == 200
    finally:
        client.call("sms.provider.account", "write", [twilio_id], {"auth_token": TWILIO_TOKEN})
        live.stop()
    drain(applier, store)
