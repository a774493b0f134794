"""The cart watcher against a real Odoo (JSON-RPC) and a real store: carts created over RPC, flow steps a few
seconds apart, exactly one SMS per (cart, step) across restarts and concurrent watchers."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from odoo_server import OdooServer
from sync_service.carts.watcher import CartWatcher
from sync_service.shell.config import load_settings
from sync_service.shell.odoo_client import OdooClient
from sync_service.store import Store

# Seconds after the cart's last activity. Step 2 comes 9 s after step 1: the time a test has to see step 1
# and confirm the cart, with room for a loaded machine (it was 3 s, too tight under load).
DELAYS = (1, 10, 13)
POLL = 0.2


def connect(server: OdooServer) -> OdooClient:
    return OdooClient.connect(
        load_settings(odoo_url=server.url, odoo_db=server.database, odoo_login="admin", odoo_password="admin")
    )


@dataclass
class Shop:
    client: OdooClient
    flow_id: int
    step_ids: list[int]
    website_id: int
    product_id: int
    orders: list[int]

    def cart(self, *, consent: bool = True, mobile: str | None = None) -> int:
        number = mobile or f"+3361{uuid.uuid4().int % 10**7:07d}"
        [france] = self.client.call("res.country", "search", [("code", "=", "FR")])
        values: dict[str, object] = {"name": f"Cart {number}", "mobile": number, "country_id": france}
        if consent:
            values.update(sms_consent_state="opted_in", sms_consent_note="test: consent at checkout")
        partner_id = self.client.call("res.partner", "create", values)
        order_id = self.client.call("sale.order", "create", {
            "partner_id": partner_id, "website_id": self.website_id,
            "order_line": [(0, 0, {"product_id": self.product_id, "product_uom_qty": 1})],
        })
        self.orders.append(order_id)
        return int(order_id)

    def touch(self, order_ids: list[int]) -> None:
        """One write on every cart, in one transaction: their activity starts now (the same write_date for
        all: the cursor's id tie-break is exercised), whatever time creating them took."""
        self.client.call("sale.order", "write", order_ids, {"client_order_ref": uuid.uuid4().hex[:8]})

    def messages(self, order_ids: list[int]) -> list[dict[str, object]]:
        return list(self.client.call("sms.flow.message", "search_read", [("order_id", "in", order_ids)],
                                     ["order_id", "step_id", "sms_uuid"]))

    def sent_per_cart_and_step(self, order_ids: list[int]) -> Counter[tuple[int, int]]:
        return Counter((m["order_id"][0], m["step_id"][0]) for m in self.messages(order_ids))  # type: ignore[index]


@pytest.fixture
def shop(odoo_server: OdooServer) -> Iterator[Shop]:
    client = connect(odoo_server)
    [template] = client.call("ir.model.data", "search_read", [
        ("module", "=", "sms_marketing_addon"), ("name", "=", "sms_template_cart_step1")], ["res_id"])
    flow_id = client.call("sms.flow", "create", {
        "name": f"Test flow {uuid.uuid4().hex[:6]}", "sequence": 0, "trigger": "cart_abandoned",
        "step_ids": [(0, 0, {"delay": delay, "delay_unit": "seconds", "template_id": template["res_id"]})
                     for delay in DELAYS],
    })
    [flow] = client.call("sms.flow", "read", [flow_id], ["step_ids"])
    website_id = client.call("website", "search", [], limit=1)[0]
    product_id = client.call("product.product", "create", {"name": "Watcher lamp", "list_price": 50.0,
                                                           "type": "consu", "sale_ok": True})
    shop = Shop(client, flow_id, sorted(flow["step_ids"]), website_id, product_id, [])
    yield shop
    # Leave nothing open for the next test: cancel the carts, archive the flow.
    open_orders = client.call("sale.order", "search", [("id", "in", shop.orders), ("state", "=", "draft")])
    if open_orders:
        client.call("sale.order", "action_cancel", open_orders)
    client.call("sms.flow", "write", [flow_id], {"active": False})


def store_at(path: Path) -> Store:
    return Store.from_url(f"sqlite:///{path}")


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Running:
    """Watchers running in threads until stopped."""

    def __init__(self, *watchers: CartWatcher) -> None:
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=w.run, args=(self.stop,), daemon=True) for w in watchers]
        for thread in self.threads:
            thread.start()

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)
        assert not any(thread.is_alive() for thread in self.threads)


def test_each_step_once_in_order_and_a_confirmed_cart_stops(
    odoo_server: OdooServer, shop: Shop, tmp_path: Path
) -> None:
    carts = [shop.cart() for _ in range(3)]
    confirmed = shop.cart()
    no_consent = shop.cart(consent=False)
    shop.touch([*carts, confirmed, no_consent])
    store = store_at(tmp_path / "store.db")
    watcher = CartWatcher(store, connect(odoo_server), poll_interval=POLL, settle_seconds=2)
    running = Running(watcher)
    try:
        wait_for(lambda: len(shop.messages([confirmed])) == 1, 30, "step 1 of the cart to confirm")
        shop.client.call("sale.order", "action_confirm", [confirmed])
        wait_for(lambda: len(shop.messages(carts)) == 3 * len(DELAYS), 60, "every step of the open carts")
        # Nothing left to send: no timer left, the confirmed cart's included (an event, not a pause).
        wait_for(lambda: watcher.timers.count() == 0, 60, "no step left to send")
    finally:
        running.close()
    sent = shop.sent_per_cart_and_step([*carts, confirmed, no_consent])
    assert all(count == 1 for count in sent.values()), sent
    expected = {(cart, step) for cart in carts for step in shop.step_ids} | {(confirmed, shop.step_ids[0])}
    assert set(sent) == expected
    [order] = shop.client.call("sale.order", "read", [no_consent], ["sms_flow_no_sms_reason"])
    assert order["sms_flow_no_sms_reason"] == "No SMS marketing consent"
    # Steps went out in order, each after its delay from the cart's last activity.
    rows = shop.client.call("sms.flow.message", "search_read", [("order_id", "in", carts)],
                            ["order_id", "step_id", "date_queued"], order="id")
    for cart in carts:
        assert [r["step_id"][0] for r in rows if r["order_id"][0] == cart] == shop.step_ids
    assert watcher.timers.count() == 0
    store.close()


def test_restart_mid_flow_resends_nothing(odoo_server: OdooServer, shop: Shop, tmp_path: Path) -> None:
    cart = shop.cart()
    shop.touch([cart])
    path = tmp_path / "store.db"
    first = CartWatcher(store_at(path), connect(odoo_server), poll_interval=POLL, settle_seconds=2)
    running = Running(first)
    try:
        wait_for(lambda: len(shop.messages([cart])) == 1, 30, "step 1")
    finally:
        running.close()
        first.store.close()
    # A new watcher on the same store carries on with step 2: it never asks for step 1 again.
    second = CartWatcher(store_at(path), connect(odoo_server), poll_interval=POLL, settle_seconds=2)
    asked: list[int] = []
    real_call = second.client.call

    def spy(model: str, method: str, *args: object, **kwargs: object) -> object:
        if method == "enqueue_flow_steps":
            asked.extend(int(item["step_id"]) for item in args[0])  # type: ignore[attr-defined, index]
        return real_call(model, method, *args, **kwargs)

    second.client.call = spy  # type: ignore[method-assign]
    running = Running(second)
    try:
        wait_for(lambda: len(shop.messages([cart])) == len(DELAYS), 60, "steps 2 and 3")
    finally:
        running.close()
        second.store.close()
    assert shop.step_ids[0] not in asked
    # Even a watcher that lost its store sends nothing twice (Odoo reports the steps done).
    fresh = CartWatcher(store_at(tmp_path / "empty.db"), connect(odoo_server), poll_interval=POLL)
    result = fresh.poll_once()
    assert result.enqueued == 0 and fresh.timers.get(cart) is None
    assert shop.sent_per_cart_and_step([cart]) == Counter({(cart, step): 1 for step in shop.step_ids})
    fresh.store.close()


def test_concurrent_watchers_never_double_enqueue(
    odoo_server: OdooServer, shop: Shop, tmp_path: Path
) -> None:
    carts = [shop.cart() for _ in range(6)]
    shop.touch(carts)
    shared = tmp_path / "shared.db"
    # Two replicas sharing one store, and a third with a store of its own (only Odoo's constraint guards it).
    watchers = [
        CartWatcher(store_at(path), connect(odoo_server), poll_interval=0.05, settle_seconds=2)
        for path in (shared, shared, tmp_path / "own.db")
    ]
    running = Running(*watchers)
    try:
        total = len(carts) * len(DELAYS)
        wait_for(lambda: len(shop.messages(carts)) >= total, 60, "every step of every cart")
        wait_for(lambda: all(w.timers.count() == 0 for w in watchers), 60, "no step left to send")
    finally:
        running.close()
        for watcher in watchers:
            watcher.store.close()
    sent = shop.sent_per_cart_and_step(carts)
    assert sent == Counter({(cart, step): 1 for cart in carts for step in shop.step_ids})
    uuids = [m["sms_uuid"] for m in shop.messages(carts)]
    sms = shop.client.call("sms.sms", "search_count", [("uuid", "in", uuids)])
    assert sms == len(carts) * len(DELAYS)


def test_idle_poll_is_one_rpc_call(odoo_server: OdooServer, shop: Shop, tmp_path: Path) -> None:
    watcher = CartWatcher(store_at(tmp_path / "store.db"), connect(odoo_server), poll_interval=POLL,
                          settle_seconds=0)
    first = watcher.poll_once()
    assert first.flows_refreshed and first.rpc_calls == 2
    idle = watcher.poll_once()
    assert (idle.rpc_calls, idle.read, idle.enqueued) == (1, 0, 0)
    watcher.store.close()
