"""Issue 16's acceptance, service side: every flow trigger from the event to the SMS in the provider simulator
(or the e-mail in Odoo's outgoing mail), and every trigger's exit condition stopping an SMS already queued.

Real parts only: a real Odoo server over JSON-RPC (fixture ``odoo_server``), the user's actions done over RPC
as the screens do them (opt in a contact, confirm or cancel an order, a visitor's product view, an old order,
a contact's birthday), the flows' scheduled action run over RPC as Odoo's scheduler runs it, the cart watcher
for carts, the service's real dispatcher and the Twilio simulator on loopback. What the simulator received is
asserted byte for byte: brand, rendered names and tracked links, France's opt-out footer, segments."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from outbox_helpers import (
    RUN,
    cancel_queued,
    deactivate_accounts,
    drain,
    fresh_number,
    make_account,
    odoo_dispatcher,
)

from odoo_server import OdooServer
from sync_service.carts.watcher import CartWatcher
from sync_service.shell.odoo_client import OdooClient
from sync_service.simulator import ProviderSimulator
from sync_service.store import Store

BRAND = "Maison Flowsim"
FOOTER = "Reply STOP SMS to opt out"  # France's rule (AF2M), for an English-speaking contact
# Plain GSM-7 characters (one septet each): what these bodies are made of.
GSM_PLAIN = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
                "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
BIRTHDAY = ("Happy birthday {{ object.name }}! To celebrate, your next order ships free all week, and a "
            "small gift waits for you in the shop: {{ object.sms_flow_link }}")
POLICY_FIELDS = ["hour_start", "hour_end", "cap_count", "day_mon", "day_tue", "day_wed", "day_thu", "day_fri",
                 "day_sat", "day_sun"]
_names = iter(range(1, 10_000))


def segments_by_hand(body: str) -> int:
    """GSM-7 plain text: one SMS up to 160 characters, else 153 per concatenated part."""
    assert set(body) <= GSM_PLAIN, f"not plain GSM-7: {set(body) - GSM_PLAIN}"
    return 1 if len(body) <= 160 else math.ceil(len(body) / 153)


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


# ------------------------------------------------------------------------ Odoo, the simulator, the dispatcher


@pytest.fixture(scope="module", autouse=True)
def shop_settings(client: OdooClient) -> Iterator[None]:
    """Marketing SMS may go at any hour and day without frequency cap (the tests ignore the wall clock); the
    company's SMS brand is known."""
    policies = client.call("sms.compliance.policy", "search_read", [], POLICY_FIELDS)
    days = {name: True for name in POLICY_FIELDS if name.startswith("day_")}
    client.call("sms.compliance.policy", "write", [p["id"] for p in policies],
                {"hour_start": 0, "hour_end": 24, "cap_count": 0, **days})
    [company] = client.call("res.company", "search_read", [], ["sms_brand_name"], limit=1)
    client.call("res.company", "write", [company["id"]], {"sms_brand_name": BRAND})
    yield
    client.call("res.company", "write", [company["id"]], {"sms_brand_name": company["sms_brand_name"]})
    for policy in policies:
        client.call("sms.compliance.policy", "write", [policy["id"]], {f: policy[f] for f in POLICY_FIELDS})


@pytest.fixture(scope="module")
def simulator() -> Iterator[ProviderSimulator]:
    sim = ProviderSimulator(seed=16).start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module", autouse=True)
def account(client: OdooClient, simulator: ProviderSimulator) -> Iterator[int]:
    """The gateway of this run's numbers (longest prefix: whatever accounts other tests left)."""
    account_id = make_account(client, simulator, prefixes=f"3367{RUN:03d}")
    yield account_id
    deactivate_accounts(client)


class Shop:
    """What the merchant and the shoppers do over RPC, the service's parts, and what Odoo then shows."""

    def __init__(self, server: OdooServer, client: OdooClient, simulator: ProviderSimulator, tmp_path: Path,
                 ) -> None:
        self.server, self.client, self.simulator, self.tmp_path = server, client, simulator, tmp_path
        self.flows: list[int] = []
        self.orders: list[int] = []
        self.numbers: set[str] = set()
        self._closers: list[Callable[[], None]] = []
        [self.france] = client.call("res.country", "search", [("code", "=", "FR")])
        self.website_id = client.call("website", "search", [], limit=1)[0]
        # This test's contacts carry its tag, and its flows take only them (the flow's contact filter): the
        # contacts of earlier tests and runs, still in the database, stay out of this test's flows.
        self.tag = client.call("res.partner.category", "create", {"name": f"E2E {uuid.uuid4().hex[:8]}"})
        self.product_id = client.call("product.product", "create", {
            "name": f"Storm lamp {RUN}-{next(_names)}", "list_price": 80.0, "type": "consu", "sale_ok": True,
            "website_published": True})

    # ---------------------------------------------------------------- the merchant
    def ref(self, xmlid: str) -> int:
        module, name = xmlid.split(".")
        [row] = self.client.call("ir.model.data", "search_read",
                                 [("module", "=", module), ("name", "=", name)], ["res_id"])
        return int(row["res_id"])

    def flow(self, trigger: str, steps: list[dict[str, Any]], **values: Any) -> int:
        """A flow of `trigger`, first of its trigger (sequence 0); archived after the test."""
        flow_id = int(self.client.call("sms.flow", "create", {
            "name": f"E2E {trigger} {uuid.uuid4().hex[:6]}", "sequence": 0, "trigger": trigger,
            "reentry_days": 0, "partner_domain": f"[('category_id', 'in', [{self.tag}])]",
            "step_ids": [(0, 0, step) for step in steps], **values}))
        self.flows.append(flow_id)
        return flow_id

    def run_flows_cron(self) -> None:
        """The flows' scheduled action, as Odoo's scheduler runs it."""
        cron = self.ref("sms_marketing_addon.ir_cron_sms_flow_welcome")
        self.client.call("ir.cron", "method_direct_trigger", [cron])

    # ---------------------------------------------------------------- contacts and shoppers
    def contact(self, consent: bool = True, **values: Any) -> tuple[int, str, str]:
        """A French contact with this run's mobile number: (id, number, name)."""
        number, name = fresh_number(), f"Camille Flowsim {next(_names)}"
        self.numbers.add(number)
        partner_id = int(self.client.call("res.partner", "create", {
            "name": name, "mobile": number, "country_id": self.france, "category_id": [(6, 0, [self.tag])],
            **values}))
        if consent:
            self.opt_in(partner_id)
        return partner_id, number, name

    def opt_in(self, partner_id: int) -> None:
        self.client.call("res.partner", "write", [partner_id], {
            "sms_consent_state": "opted_in", "sms_consent_note": "Signed up at the shop counter (test)"})

    def opt_out(self, partner_id: int) -> None:
        self.client.call("res.partner", "write", [partner_id], {
            "sms_consent_state": "opted_out", "sms_consent_note": "Asked by phone (test)"})

    def order(self, partner_id: int, website: bool = False) -> int:
        """A quotation (a website cart with `website`) of one lamp."""
        order_id = int(self.client.call("sale.order", "create", {
            "partner_id": partner_id, "website_id": self.website_id if website else False,
            "order_line": [(0, 0, {"product_id": self.product_id, "product_uom_qty": 1})]}))
        self.orders.append(order_id)
        return order_id

    def confirm(self, order_id: int) -> None:
        self.client.call("sale.order", "action_confirm", [order_id])

    def cancel_confirmed(self, order_id: int) -> None:
        """The Cancel button of a confirmed order: its wizard, cancelled without sending the e-mail."""
        wizard = self.client.call("sale.order.cancel", "create", {"order_id": order_id})
        self.client.call("sale.order.cancel", "action_cancel", [wizard])

    def old_customer(self, days: float, consent: bool = True, **values: Any) -> tuple[int, str, str]:
        """A contact whose last confirmed order is `days` old (its date moved back, as set-up)."""
        partner_id, number, name = self.contact(consent=consent, **values)
        order_id = self.order(partner_id)
        self.confirm(order_id)
        self.client.call("sale.order", "write", [order_id], {
            "date_order": utc(datetime.now(UTC) - timedelta(days=days))})
        return partner_id, number, name

    def view_product(self, partner_id: int, minutes_ago: float) -> None:
        """The contact, logged in on the website (a portal user), views the lamp: the product page's call that
        records the view on the contact's visitor; the view's time is then moved back (set-up)."""
        login, password = f"flowsim.{RUN}.{partner_id}@example.com", f"portal-{uuid.uuid4().hex}"
        self.client.call("res.users", "create", {
            "partner_id": partner_id, "login": login, "password": password,
            "groups_id": [(6, 0, [self.ref("base.group_portal")])]})
        with requests.Session() as browser:
            credentials = {"db": self.server.database, "login": login, "password": password}
            answer = browser.post(f"{self.server.url}/web/session/authenticate", timeout=30,
                                  json={"jsonrpc": "2.0", "params": credentials})
            assert answer.ok and "error" not in answer.json(), answer.text
            answer = browser.post(f"{self.server.url}/shop/products/recently_viewed_update", timeout=30,
                                  json={"jsonrpc": "2.0", "params": {"product_id": self.product_id}})
            assert answer.ok and "error" not in answer.json(), answer.text
        [track] = self.client.call("website.track", "search", [
            ("visitor_id.partner_id", "=", partner_id), ("product_id", "=", self.product_id)])
        self.client.call("website.track", "write", [track], {
            "visit_datetime": utc(datetime.now(UTC) - timedelta(minutes=minutes_ago))})

    # ---------------------------------------------------------------- what Odoo shows
    def messages(self, partner_id: int) -> list[dict[str, Any]]:
        return list(self.client.call(
            "sms.flow.message", "search_read", [("partner_id", "=", partner_id)],
            ["state", "channel", "exit_reason", "sms_uuid", "short_url", "link_tracker_id", "mail_id"]))

    def queued(self, partner_id: int) -> dict[str, Any]:
        """The contact's one flow SMS, queued in Odoo and not claimed yet."""
        [message] = self.messages(partner_id)
        assert (message["state"], message["channel"]) == ("queued", "sms")
        [sms] = self.sms(message["sms_uuid"])
        assert (sms["state"], sms["sms_claim_worker"]) == ("outgoing", False)
        return message

    def sms(self, key: str) -> list[dict[str, Any]]:
        return list(self.client.call("sms.sms", "search_read", [("uuid", "=", key)],
                                     ["state", "failure_type", "sms_cancel_reason", "sms_claim_worker"]))

    def link_target(self, message: dict[str, Any]) -> str:
        [tracker] = self.client.call("link.tracker", "read", [message["link_tracker_id"][0]], ["url"])
        return str(tracker["url"])

    # ---------------------------------------------------------------- the service
    def dispatch(self) -> int:
        """The service's dispatcher, until Odoo has nothing left to claim; how many SMS it claimed."""
        with odoo_dispatcher(self.client, self.tmp_path / "sync.db", f"flowsim-{next(_names)}", batch_size=50,
                             concurrency=4, retry_base=0.05, retry_cap=1.0, poll_interval=0.2) as dispatcher:
            return drain(dispatcher)

    def cart_watcher(self) -> CartWatcher:
        watcher = CartWatcher(Store.from_url(f"sqlite:///{self.tmp_path / 'carts.db'}"), self.client,
                              poll_interval=0.2, settle_seconds=1)
        self._closers.append(watcher.store.close)
        return watcher

    # ---------------------------------------------------------------- assertions
    def received(self) -> list[Any]:
        """What the simulator received for this test's contacts (the cart watcher may also remind carts that
        other tests of the session left open)."""
        return [message for message in self.simulator.received() if message.to in self.numbers]

    def assert_sent(self, partner_id: int, number: str, expected_body: str) -> None:
        """The simulator received exactly this SMS, byte for byte, in the segments counted by hand; Odoo shows
        it sent (the flow message, the SMS, the gateway's record)."""
        [received] = self.received()
        [message] = self.messages(partner_id)
        assert (received.to, received.key) == (number, message["sms_uuid"])
        assert received.body == expected_body
        assert received.segments == segments_by_hand(expected_body)
        assert message["state"] == "sent"
        assert [row["state"] for row in self.sms(message["sms_uuid"])] == ["pending"]
        [record] = self.client.call("sms.provider.message", "search_read",
                                    [("sms_uuid", "=", message["sms_uuid"])], ["state", "number", "segments"])
        assert (record["number"], record["segments"]) == (number, received.segments)

    def assert_not_sent(self, partner_id: int, reason_label: str, exit_reason: str) -> None:
        """The dispatcher ran: nothing reached the simulator; Odoo shows the SMS not sent, with the reason."""
        self.dispatch()
        assert self.received() == []
        [message] = self.messages(partner_id)
        [sms] = self.sms(message["sms_uuid"])
        assert (sms["state"], sms["failure_type"], sms["sms_cancel_reason"]) == (
            "canceled", "sms_flow_exit", reason_label)
        assert (message["state"], message["exit_reason"]) == ("canceled", exit_reason)
        assert not self.client.call("sms.provider.message", "search_count",
                                    [("sms_uuid", "=", message["sms_uuid"])])

    def close(self) -> None:
        if self.flows:
            self.client.call("sms.flow", "write", self.flows, {"active": False})
        drafts = self.client.call("sale.order", "search",
                                  [("id", "in", self.orders), ("state", "=", "draft")])
        if drafts:
            self.client.call("sale.order", "action_cancel", drafts)
        for close in self._closers:
            close()


@pytest.fixture
def shop(odoo_server: OdooServer, client: OdooClient, simulator: ProviderSimulator, tmp_path: Path,
         ) -> Iterator[Shop]:
    cancel_queued(client)  # nothing from other tests in the queue
    simulator.reset()
    shop = Shop(odoo_server, client, simulator, tmp_path)
    yield shop
    shop.close()


def body(text: str, short_url: str) -> str:
    """A marketing SMS as it leaves: the brand, the text with its tracked link, the opt-out footer."""
    return f"{BRAND}: {text}{short_url}\n{FOOTER}"


# --------------------------------------------------------------------------- welcome (consent confirmed)


def welcome_flow(shop: Shop) -> int:
    template = shop.ref("sms_marketing_addon.sms_template_welcome")
    return shop.flow("consent_confirmed", [{"delay": 0, "delay_unit": "minutes", "template_id": template}])


def test_welcome_when_a_contact_opts_in(shop: Shop) -> None:
    welcome_flow(shop)
    partner, number, _name = shop.contact(consent=False)
    assert shop.messages(partner) == []
    shop.opt_in(partner)  # the event: the welcome step (no delay) is queued at once
    message = shop.queued(partner)
    assert shop.link_target(message).endswith("/shop")
    shop.dispatch()
    shop.assert_sent(partner, number, body(
        "Welcome! You are now subscribed to our SMS offers. Visit our shop: ", message["short_url"]))


def test_welcome_queued_then_the_contact_opts_out(shop: Shop) -> None:
    welcome_flow(shop)
    partner, _number, _name = shop.contact()
    shop.queued(partner)
    shop.opt_out(partner)
    shop.assert_not_sent(partner, "Contact opted out of SMS", "opted_out")


# --------------------------------------------------------------------------- post-purchase (order confirmed)


def test_post_purchase_thank_you_after_the_order_is_confirmed(shop: Shop) -> None:
    shop.flow("order_confirmed", [{
        "delay": 4, "delay_unit": "seconds",
        "template_id": shop.ref("sms_marketing_addon.sms_template_post_purchase_thanks")}])
    partner, number, _name = shop.contact()
    order = shop.order(partner, website=True)
    shop.confirm(order)
    assert shop.messages(partner) == [], "the thank-you waits for its delay"
    [message] = wait_for(lambda: (shop.run_flows_cron(), shop.messages(partner))[1], 30, "the thank-you")
    assert message["state"] == "queued"
    shop.dispatch()
    [name] = [row["name"] for row in shop.client.call("sale.order", "read", [order], ["name"])]
    shop.assert_sent(partner, number, body(
        f"Thank you for your order {name}! Discover what goes with it: ", message["short_url"]))


def test_post_purchase_queued_then_the_order_is_cancelled(shop: Shop) -> None:
    shop.flow("order_confirmed", [{
        "delay": 0, "delay_unit": "seconds",
        "template_id": shop.ref("sms_marketing_addon.sms_template_post_purchase_thanks")}])
    partner, _number, _name = shop.contact()
    order = shop.order(partner)
    shop.confirm(order)
    shop.queued(partner)
    shop.cancel_confirmed(order)
    shop.assert_not_sent(partner, "Order cancelled", "cancelled")


# --------------------------------------------------------------------------- browse abandonment


def browse_flow(shop: Shop) -> int:
    """Entry one minute without a cart after the last product view (the preset: one hour)."""
    template = shop.ref("sms_marketing_addon.sms_template_browse")
    return shop.flow("browse_abandoned", [{"delay": 0, "delay_unit": "minutes", "template_id": template}],
                     entry_delay=1, entry_delay_unit="minutes", reentry_days=14)


def test_browse_abandonment_links_the_product_viewed(shop: Shop) -> None:
    browse_flow(shop)
    partner, number, _name = shop.contact()
    shop.view_product(partner, minutes_ago=2)
    shop.run_flows_cron()
    message = shop.queued(partner)
    [product] = shop.client.call("product.product", "read", [shop.product_id], ["website_url"])
    assert shop.link_target(message).endswith(product["website_url"]), "the tracked link leads to the lamp"
    shop.dispatch()
    shop.assert_sent(partner, number, body(
        "Still thinking about it? The product you viewed is waiting for you: ", message["short_url"]))


def test_browse_abandonment_queued_then_the_contact_starts_a_cart(shop: Shop) -> None:
    """No event closes this enrollment: the claim-time check alone stops the SMS."""
    browse_flow(shop)
    partner, _number, _name = shop.contact()
    shop.view_product(partner, minutes_ago=2)
    shop.run_flows_cron()
    shop.queued(partner)
    shop.order(partner, website=True)
    shop.assert_not_sent(partner, "Contact started a cart since entering", "cart_started")


# --------------------------------------------------------------------------- win-back


WIN_BACK_DAYS = 400  # no other order of the test database is that old


def win_back_flow(shop: Shop) -> int:
    return shop.flow("win_back", [{
        "delay": 0, "delay_unit": "minutes",
        "template_id": shop.ref("sms_marketing_addon.sms_template_win_back"),
        "email_template_id": shop.ref("sms_marketing_addon.mail_template_win_back")}],
        entry_delay=WIN_BACK_DAYS, entry_delay_unit="days")


def test_win_back_when_the_last_order_gets_old(shop: Shop) -> None:
    win_back_flow(shop)
    partner, number, _name = shop.old_customer(WIN_BACK_DAYS + 0.01)
    recent, _number, _name = shop.old_customer(WIN_BACK_DAYS - 1)
    shop.run_flows_cron()
    assert shop.messages(recent) == [], "ordered a day too recently"
    message = shop.queued(partner)
    shop.dispatch()
    shop.assert_sent(partner, number, body("We miss you! Come and see what is new: ", message["short_url"]))


def test_win_back_queued_then_the_contact_orders_again(shop: Shop) -> None:
    win_back_flow(shop)
    partner, _number, _name = shop.old_customer(WIN_BACK_DAYS + 0.01)
    shop.run_flows_cron()
    shop.queued(partner)
    shop.confirm(shop.order(partner))
    shop.assert_not_sent(partner, "Contact ordered since entering", "ordered")


def test_win_back_e_mail_to_a_contact_without_sms_consent(shop: Shop) -> None:
    """The e-mail fallback: Odoo's outgoing mail gets the e-mail, the simulator nothing."""
    win_back_flow(shop)
    email = f"flowsim.{RUN}.{next(_names)}@example.com"
    partner, _number, _name = shop.old_customer(WIN_BACK_DAYS + 0.01, consent=False, email=email)
    shop.run_flows_cron()
    [message] = shop.messages(partner)
    assert (message["state"], message["channel"], message["sms_uuid"]) == ("queued", "email", False)
    [mail] = shop.client.call("mail.mail", "read", [message["mail_id"][0]],
                              ["state", "subject", "recipient_ids", "body_html", "sms_flow_fallback"])
    assert (mail["state"], mail["subject"], mail["recipient_ids"], mail["sms_flow_fallback"]) == (
        "outgoing", "We miss you", [partner], True)
    assert message["short_url"] in mail["body_html"], "the tracked link"
    shop.dispatch()
    assert shop.received() == []
    assert shop.client.call("sms.sms", "search_count", [("partner_id", "=", partner)]) == 0


# --------------------------------------------------------------------------- a date of the contact (birthday)


@pytest.fixture(scope="module")
def birthday_field(client: OdooClient) -> int:
    """Odoo's contacts have no birthday: this database adds one, as a merchant does in Settings, Technical."""
    found = client.call("ir.model.fields", "search",
                        [("model", "=", "res.partner"), ("name", "=", "x_birthday")])
    if found:
        return int(found[0])
    [model] = client.call("ir.model", "search", [("model", "=", "res.partner")])
    return int(client.call("ir.model.fields", "create", {
        "name": "x_birthday", "field_description": "Birthday", "model_id": model, "ttype": "date",
        "state": "manual"}))


def birthday_flow(shop: Shop, field_id: int) -> int:
    [model] = shop.client.call("ir.model", "search", [("model", "=", "res.partner")])
    template = shop.client.call("sms.template", "create", {"name": "Birthday (test)", "model_id": model,
                                                           "body": BIRTHDAY})
    return shop.flow("date_anniversary", [{"delay": 0, "delay_unit": "minutes", "template_id": template}],
                     date_field_id=field_id, entry_delay=0, entry_delay_unit="days")


def born_today(years: int) -> str:
    today = datetime.now(UTC).date()
    return today.replace(year=today.year - years).isoformat()


def test_birthday_sms_on_the_day(shop: Shop, birthday_field: int) -> None:
    birthday_flow(shop, birthday_field)
    partner, number, name = shop.contact(x_birthday=born_today(30))
    other, _number, _name = shop.contact(x_birthday=(datetime.now(UTC).date() + timedelta(days=1)).replace(
        year=1990).isoformat())
    shop.run_flows_cron()
    assert shop.messages(other) == [], "a birthday tomorrow"
    message = shop.queued(partner)
    shop.dispatch()
    expected = body(f"Happy birthday {name}! To celebrate, your next order ships free all week, and a small "
                    "gift waits for you in the shop: ", message["short_url"])
    assert segments_by_hand(expected) == 2
    shop.assert_sent(partner, number, expected)


def test_birthday_queued_then_the_contact_opts_out(shop: Shop, birthday_field: int) -> None:
    birthday_flow(shop, birthday_field)
    partner, _number, _name = shop.contact(x_birthday=born_today(41))
    shop.run_flows_cron()
    shop.queued(partner)
    shop.opt_out(partner)
    shop.assert_not_sent(partner, "Contact opted out of SMS", "opted_out")


# --------------------------------------------------------------------------- abandoned cart (the watcher)


def cart_flow(shop: Shop) -> int:
    template = shop.ref("sms_marketing_addon.sms_template_cart_step1")
    return shop.flow("cart_abandoned", [{"delay": 1, "delay_unit": "seconds", "template_id": template}])


def watch_until_queued(shop: Shop, partner_id: int) -> dict[str, Any]:
    watcher = shop.cart_watcher()
    wait_for(lambda: (watcher.poll_once(), shop.messages(partner_id))[1], 30, "the cart reminder")
    return shop.queued(partner_id)


def test_abandoned_cart_reminder_from_the_watcher(shop: Shop) -> None:
    cart_flow(shop)
    partner, number, _name = shop.contact()
    order = shop.order(partner, website=True)
    message = watch_until_queued(shop, partner)
    [row] = shop.client.call("sale.order", "read", [order], ["access_token"])
    assert shop.link_target(message).endswith(f"/shop/cart?access_token={row['access_token']}")
    shop.dispatch()
    shop.assert_sent(partner, number, body(
        "You left something in your cart. Complete your order here: ", message["short_url"]))


def test_abandoned_cart_queued_then_the_order_is_confirmed(shop: Shop) -> None:
    cart_flow(shop)
    partner, _number, _name = shop.contact()
    order = shop.order(partner, website=True)
    watch_until_queued(shop, partner)
    shop.confirm(order)
    shop.assert_not_sent(partner, "Order confirmed", "confirmed")
