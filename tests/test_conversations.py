"""Two-way SMS conversations end to end (issue 15's acceptance): a real Odoo, the provider simulator posting
a signed inbound reply to the webhook role (uvicorn), the real applier in its loop, Odoo's Discuss; then the
agent's reply leaves through the dispatcher to the simulator and its signed delivery receipt comes back on
the message."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from outbox_helpers import SENDER, cancel_queued, deactivate_accounts, fresh_number, make_account, wait_for
from prometheus_client import CollectorRegistry

from live_server import LiveServer
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
from sync_service.webhooks.applier import InboxApplier
from sync_service.webhooks.role import build_webhook_app

AGENT_LOGIN, AGENT_PASSWORD = "conv-agent", "conv-agent-password-1"


@pytest.fixture(scope="module")
def simulator() -> Iterator[ProviderSimulator]:
    sim = ProviderSimulator(seed=15).start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def account(client: OdooClient, simulator: ProviderSimulator) -> Iterator[int]:
    """A Twilio account at the simulator for French numbers, first in Odoo's order."""
    account_id = make_account(client, simulator, prefixes="33", signs_webhooks=True)
    yield account_id
    deactivate_accounts(client)


@pytest.fixture(scope="module")
def service(
    client: OdooClient, odoo_server: OdooServer, tmp_path_factory: pytest.TempPathFactory, account: int
) -> Iterator[str]:
    """The webhook role and the inbox applier running as `sms-sync run --role webhooks` runs them; its URL."""
    live = LiveServer()
    store = Store.from_url(f"sqlite:///{tmp_path_factory.mktemp('conv') / 'inbox.db'}")
    settings = load_settings(odoo_url=odoo_server.url, odoo_db=odoo_server.database, odoo_login="admin",
                             odoo_password="admin", public_base_url=live.url)
    applier = InboxApplier(store, OdooClient.connect(settings), worker_id="conv-applier", backoff_base=0.2,
                           backoff_cap=2.0)
    lock = threading.Lock()

    def accounts() -> list[dict[str, Any]]:
        with lock:
            return list(client.call("sms.marketing.api", "get_provider_accounts"))

    live.serve(build_webhook_app(settings, store, accounts, lambda: True, on_event=applier.on_event,
                                 refresh_seconds=5))
    stop = threading.Event()
    thread = threading.Thread(target=applier.run, args=(stop, 0.2), daemon=True)
    thread.start()
    yield live.url
    stop.set()
    thread.join(10)
    live.stop()
    store.close()


@pytest.fixture
def dispatcher(client: OdooClient, tmp_path: Path, service: str) -> Iterator[Dispatcher]:
    store = Store.from_url(f"sqlite:///{tmp_path / 'sync.db'}")
    outbox = OdooOutbox(client)
    accounts = AccountCache(outbox.provider_accounts, refresh_seconds=60)
    journal = SendJournal(store)
    made = Dispatcher(outbox, accounts, journal, worker_id="conv-dispatcher",
                      options=DispatchOptions(batch_size=50, concurrency=4, poll_interval=0.2),
                      metrics=DispatcherMetrics.create(CollectorRegistry()), callback_base_url=service)
    yield made
    made.close()
    journal.close()
    accounts.close()
    store.close()


@pytest.fixture(scope="module")
def agent(client: OdooClient, odoo_server: OdooServer) -> tuple[int, OdooClient]:
    """A salesperson (internal user without any SMS group) and an RPC session as them."""
    found = client.call("res.users", "search", [("login", "=", AGENT_LOGIN)])
    user_id = found[0] if found else client.call("res.users", "create", {
        "name": "Agent Camille", "login": AGENT_LOGIN, "password": AGENT_PASSWORD})
    settings = load_settings(odoo_url=odoo_server.url, odoo_db=odoo_server.database, odoo_login=AGENT_LOGIN,
                             odoo_password=AGENT_PASSWORD)
    return int(user_id), OdooClient.connect(settings)


def send_all(dispatcher: Dispatcher, timeout: float = 30.0) -> None:
    dispatcher.maintain(force=True)
    deadline = time.monotonic() + timeout
    while dispatcher.run_once().claimed:
        assert time.monotonic() < deadline, "the queue did not drain"


def test_a_signed_reply_reaches_the_assignee_in_discuss_and_the_agent_reply_comes_back_delivered(
    client: OdooClient, simulator: ProviderSimulator, service: str, dispatcher: Dispatcher,
    agent: tuple[int, OdooClient],
) -> None:
    cancel_queued(client)
    agent_id, as_agent = agent
    number = fresh_number()
    france = client.call("res.country", "search", [("code", "=", "FR")])[0]
    partner_id = client.call("res.partner", "create", {
        "name": f"Customer {number}", "mobile": number, "country_id": france, "user_id": agent_id,
        "sms_consent_state": "opted_in", "sms_consent_note": "paper form in the shop"})
    # A campaign SMS went out to the customer (transactional kind: no sending-hours rule, any hour).
    mailing_id = client.call("mailing.mailing", "create", {
        "subject": "Winter sale", "mailing_type": "sms", "body_plaintext": "Winter sale: -30% on coats"})
    client.call("sms.sms", "create", {
        "number": number, "partner_id": partner_id, "body": "Winter sale: -30%", "state": "outgoing",
        "mailing_id": mailing_id, "sms_kind": "transactional"})
    send_all(dispatcher)

    delivery = simulator.send_inbound("twilio", number, SENDER, "Do you have the coat in blue?",
                                      f"{service}/webhooks/twilio/inbound")
    assert delivery.status_code == 200
    posted = time.monotonic()
    channel: list[dict[str, Any]] = []

    def conversation_seen_by_agent() -> bool:
        channel[:] = as_agent.call("discuss.channel", "search_read", [("channel_type", "=", "sms"),
                                   ("sms_number", "=", number)], ["id", "sms_partner_id", "message_ids"])
        return bool(channel) and len(channel[0]["message_ids"]) >= 2

    wait_for(conversation_seen_by_agent, 10, "the conversation in the agent's Discuss")
    print(f"reply visible to the assignee {time.monotonic() - posted:.2f} s after the webhook's 200")
    channel_id = channel[0]["id"]
    assert channel[0]["sms_partner_id"][0] == partner_id
    messages = as_agent.call("mail.message", "search_read", [("model", "=", "discuss.channel"),
                             ("res_id", "=", channel_id)], ["body", "author_id"], order="id")
    context, customer = messages[0], messages[1]
    assert "campaign “Winter sale”" in context["body"] and "Winter sale: -30% on coats" in context["body"]
    assert "Do you have the coat in blue?" in customer["body"] and customer["author_id"][0] == partner_id
    [member] = as_agent.call("discuss.channel.member", "search_read", [("channel_id", "=", channel_id),
                             ("partner_id.user_ids", "=", agent_id)], ["message_unread_counter"])
    assert member["message_unread_counter"] == 1

    reply_id = as_agent.call("discuss.channel", "message_post", [channel_id], body="Yes, sizes S to L.",
                             message_type="comment", subtype_xmlid="mail.mt_comment")
    send_all(dispatcher)
    sent = [m for m in simulator.received() if m.to == number and m.body == "Yes, sizes S to L."]
    assert len(sent) == 1, "the reply reached the provider once, without marketing footer"

    def delivered() -> bool:
        rows = as_agent.call("mail.message", "read", [reply_id], ["notification_ids"])
        notes = client.call("mail.notification", "read", rows[0]["notification_ids"], ["notification_status"])
        return [n["notification_status"] for n in notes] == ["sent"]

    wait_for(delivered, 15, "the delivery receipt on the agent's message")


def log_rows(client: OdooClient, partner_id: int) -> list[tuple[str, str, str | bool]]:
    rows = client.call("sms.consent.log", "search_read", [("partner_id", "=", partner_id)],
                       ["event", "source", "inbound_message_id"], order="id")
    return [(row["event"], row["source"], row["inbound_message_id"]) for row in rows]


def test_join_from_a_new_number_then_yes_opts_in_with_both_inbound_messages_as_proof(
    client: OdooClient, simulator: ProviderSimulator, service: str,
) -> None:
    number = fresh_number()
    url = f"{service}/webhooks/twilio/inbound"
    join = simulator.send_inbound("twilio", number, SENDER, "Join", url)
    assert join.status_code == 200
    found: list[int] = []

    def contact_pending() -> bool:
        found[:] = client.call("res.partner", "search", [("sms_number", "=", number),
                                                         ("sms_consent_state", "=", "pending")])
        return bool(found)

    wait_for(contact_pending, 10, "a pending contact for the new number")
    [request] = client.call("sms.sms", "search_read", [("number", "=", number), ("sms_kind", "=", "consent")],
                            ["body"])
    assert "YES" in request["body"], "the double opt-in asks for YES"

    yes = simulator.send_inbound("twilio", number, SENDER, "YES", url)
    assert yes.status_code == 200
    wait_for(lambda: client.call("res.partner", "read", found, ["sms_consent_state"])[0]["sms_consent_state"]
             == "opted_in", 10, "the contact opted in after YES")
    inbound = {row["body"]: row["inbound_message_id"] for row in client.call(
        "sms.inbound.message", "search_read", [("number", "=", number)], ["body", "inbound_message_id"])}
    assert log_rows(client, found[0]) == [
        ("opt_in_request", "keyword", inbound["Join"]), ("confirmation", "keyword", inbound["YES"])]
    assert not client.call("discuss.channel", "search", [("sms_number", "=", number)]), "keywords open none"


def test_a_rating_reply_counts_in_the_campaign_results_and_stop_in_the_same_thread_opts_out(
    client: OdooClient, simulator: ProviderSimulator, service: str, dispatcher: Dispatcher,
) -> None:
    cancel_queued(client)
    number = fresh_number()
    france = client.call("res.country", "search", [("code", "=", "FR")])[0]
    partner_id = client.call("res.partner", "create", {
        "name": f"Rater {number}", "mobile": number, "country_id": france,
        "sms_consent_state": "opted_in", "sms_consent_note": "paper form in the shop"})
    mailing_id = client.call("mailing.mailing", "create", {
        "subject": "Delivery survey", "mailing_type": "sms", "body_plaintext": "Your delivery? 1 to 5"})
    survey_id = client.call("sms.survey", "create", {"name": "Delivery rating", "kind": "rating",
                                                     "mailing_id": mailing_id})
    client.call("sms.sms", "create", {
        "number": number, "partner_id": partner_id, "body": "How was your delivery? Reply 1 to 5",
        "state": "outgoing", "mailing_id": mailing_id, "sms_kind": "transactional"})
    send_all(dispatcher)
    url = f"{service}/webhooks/twilio/inbound"

    assert simulator.send_inbound("twilio", number, SENDER, "4", url).status_code == 200

    def results() -> dict[str, Any]:
        return dict(client.call("sms.survey", "read", [survey_id],
                                ["answer_count", "sent_count", "response_rate", "average"])[0])

    wait_for(lambda: results()["answer_count"] == 1, 10, "the rating in the campaign's results")
    assert {k: results()[k] for k in ("sent_count", "response_rate", "average")} == {
        "sent_count": 1, "response_rate": 100.0, "average": 4.0}

    assert simulator.send_inbound("twilio", number, SENDER, "STOP", url).status_code == 200
    wait_for(lambda: client.call("res.partner", "read", [partner_id], ["sms_consent_state"])[0][
        "sms_consent_state"] == "opted_out", 10, "the opt-out")
    [channel_id] = client.call("discuss.channel", "search", [("sms_number", "=", number)])
    bodies = [m["body"] for m in client.call("mail.message", "search_read", [
        ("model", "=", "discuss.channel"), ("res_id", "=", channel_id)], ["body"], order="id")]
    assert "Survey answer" in bodies[-3] and "STOP" in bodies[-2] and "Opted out by keyword" in bodies[-1]
