"""The stock bridges from the event to the SMS in the simulator: a real Odoo with sms_marketing_stock and
sms_marketing_website_sale_stock (the `${DB}_stock` database of `make test`'s second run), the dispatcher
and the provider simulator. An order delivered, a product back in stock: the SMS reaches the simulator once;
a return, a product sold out again before the dispatcher claims: nothing reaches it, and Odoo says why."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from outbox_helpers import cancel_queued, drain, fresh_number, make_account, odoo_dispatcher, sms_rows

from sync_service.dispatch.dispatcher import Dispatcher
from sync_service.shell.odoo_client import OdooClient
from sync_service.simulator import ProviderSimulator

pytestmark = pytest.mark.skipif(
    not os.environ.get("SMSM_STOCK_BRIDGES"),
    reason="needs the stock bridges' database (the second run of `make test`, SMSM_STOCK_BRIDGES=1)",
)
POLICY_FIELDS = ["hour_start", "hour_end", "cap_count", "day_mon", "day_tue", "day_wed", "day_thu", "day_fri",
                 "day_sat", "day_sun"]
_workers = itertools.count(1)


@pytest.fixture(scope="module")
def simulator() -> Iterator[ProviderSimulator]:
    sim = ProviderSimulator(seed=11).start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module", autouse=True)
def shop(client: OdooClient, simulator: ProviderSimulator) -> Iterator[None]:
    """Marketing SMS at any hour (the tests ignore the wall clock), a simulator account for French numbers,
    and the two preset flows active with their step due at once."""
    policies = client.call("sms.compliance.policy", "search_read", [], POLICY_FIELDS)
    days = {name: True for name in POLICY_FIELDS if name.startswith("day_")}
    wide = {"hour_start": 0, "hour_end": 24, "cap_count": 0, **days}
    client.call("sms.compliance.policy", "write", [p["id"] for p in policies], wide)
    account = make_account(client, simulator, prefixes="33")
    flows = [ref(client, "sms_marketing_stock.sms_flow_order_delivered"),
             ref(client, "sms_marketing_website_sale_stock.sms_flow_back_in_stock")]
    client.call("sms.flow", "write", flows, {"active": True})
    steps = client.call("sms.flow.step", "search", [("flow_id", "in", flows)])
    client.call("sms.flow.step", "write", steps, {"delay": 0, "at_time_of_day": False})
    yield
    client.call("sms.flow", "write", flows, {"active": False})
    client.call("sms.provider.account", "write", [account], {"active": False})
    for policy in policies:
        client.call("sms.compliance.policy", "write", [policy["id"]], {f: policy[f] for f in POLICY_FIELDS})


@pytest.fixture
def dispatcher(client: OdooClient, simulator: ProviderSimulator, tmp_path: Path) -> Iterator[Dispatcher]:
    cancel_queued(client)
    simulator.reset()
    options = {"batch_size": 50, "concurrency": 4, "retry_base": 0.05, "retry_cap": 1.0, "max_attempts": 4,
               "poll_interval": 0.2}
    with odoo_dispatcher(client, tmp_path / "sync.db", f"bridges-{next(_workers)}", **options) as made:
        yield made


def ref(client: OdooClient, xmlid: str) -> int:
    module, name = xmlid.split(".")
    [row] = client.call("ir.model.data", "search_read", [("module", "=", module), ("name", "=", name)],
                        ["res_id"])
    return int(row["res_id"])


def customer(client: OdooClient) -> tuple[int, str]:
    number = fresh_number()
    [france] = client.call("res.country", "search", [("code", "=", "FR")])
    partner = client.call("res.partner", "create", {
        "name": f"Client {number}", "mobile": number, "country_id": france,
        "email": f"{number[1:]}@example.com",
        "sms_consent_state": "opted_in", "sms_consent_note": "test: consent at checkout"})
    return int(partner), number


def flow_sms(client: OdooClient, partner: int) -> list[dict[str, Any]]:
    return list(client.call("sms.sms", "search_read", [("partner_id", "=", partner)],
                            ["uuid", "state", "body", "sms_cancel_reason"]))


def validate(client: OdooClient, picking: int) -> None:
    moves = client.call("stock.move", "search_read", [("picking_id", "=", picking)], ["product_uom_qty"])
    for move in moves:
        client.call("stock.move", "write", [move["id"]],
                    {"quantity": move["product_uom_qty"], "picked": True})
    # skip_sms: without Odoo's own shipping SMS (stock_sms), a transactional one that would be claimed too.
    assert client.call("stock.picking", "button_validate", [picking], context={"skip_sms": True}) is True


def delivered_order(client: OdooClient, partner: int) -> tuple[int, int]:
    product = client.call("product.product", "create",
                          {"name": "Lampe livrée", "type": "consu", "list_price": 30})
    order = client.call("sale.order", "create", {
        "partner_id": partner, "order_line": [(0, 0, {"product_id": product, "product_uom_qty": 1})]})
    client.call("sale.order", "action_confirm", [order])
    [picking] = client.call("stock.picking", "search", [("sale_id", "=", order)])
    return int(order), int(picking)


def set_stock(client: OdooClient, product: int, quantity: float) -> None:
    [warehouse] = client.call("stock.warehouse", "search_read", [], ["lot_stock_id"], limit=1)
    context = {"inventory_mode": True}
    quants = client.call("stock.quant", "search", [("product_id", "=", product),
                                                   ("location_id", "=", warehouse["lot_stock_id"][0])])
    if quants:
        client.call("stock.quant", "write", quants, {"inventory_quantity": quantity}, context=context)
    else:
        quants = [client.call("stock.quant", "create", {
            "product_id": product, "location_id": warehouse["lot_stock_id"][0],
            "inventory_quantity": quantity,
        }, context=context)]
    client.call("stock.quant", "action_apply_inventory", quants, context=context)


def availability_run(client: OdooClient) -> None:
    """Odoo's hourly "send email regarding products availability" action, now."""
    cron = ref(client, "website_sale_stock.ir_cron_send_availability_email")
    client.call("ir.cron", "method_direct_trigger", [cron])


def test_order_delivered_sms_reaches_the_simulator_once(
    client: OdooClient, simulator: ProviderSimulator, dispatcher: Dispatcher
) -> None:
    partner, number = customer(client)
    order, picking = delivered_order(client, partner)
    assert flow_sms(client, partner) == [], "confirmed, not delivered: nothing yet"
    validate(client, picking)
    [sms] = flow_sms(client, partner)
    [name] = [row["name"] for row in client.call("sale.order", "read", [order], ["name"])]

    assert drain(dispatcher) == 1

    [received] = [m for m in simulator.received() if m.to == number]
    assert received.key == sms["uuid"]
    assert f"Your order {name} has been delivered. How do you like it? Tell us: http" in received.body
    assert drain(dispatcher) == 0 and simulator.count_by_key()[sms["uuid"]] == 1


def test_a_return_before_the_claim_stops_the_order_delivered_sms(
    client: OdooClient, simulator: ProviderSimulator, dispatcher: Dispatcher
) -> None:
    partner, number = customer(client)
    _order, picking = delivered_order(client, partner)
    validate(client, picking)
    [queued] = flow_sms(client, partner)
    assert queued["state"] == "outgoing"
    wizard = client.call("stock.return.picking", "create", {"picking_id": picking},
                         context={"active_id": picking, "active_ids": [picking],
                                  "active_model": "stock.picking"})
    lines = client.call("stock.return.picking.line", "search", [("wizard_id", "=", wizard)])
    client.call("stock.return.picking.line", "write", lines, {"quantity": 1})
    action = client.call("stock.return.picking", "action_create_returns", [wizard])
    validate(client, action["res_id"])

    drain(dispatcher)

    assert [m for m in simulator.received() if m.to == number] == []
    row = sms_rows(client, [queued["uuid"]], ["state", "failure_type", "sms_cancel_reason"])[queued["uuid"]]
    assert (row["state"], row["failure_type"], row["sms_cancel_reason"]) == (
        "canceled", "sms_flow_exit", "Delivery returned")


def test_back_in_stock_sms_reaches_the_simulator_and_sold_out_again_stops_it(
    client: OdooClient, simulator: ProviderSimulator, dispatcher: Dispatcher
) -> None:
    product = client.call("product.product", "create", {
        "name": "Lampe Berger", "type": "consu", "is_storable": True, "list_price": 45,
        "website_published": True})
    first, first_number = customer(client)
    client.call("product.product", "write", [product], {"stock_notification_partner_ids": [(4, first)]})
    availability_run(client)
    assert flow_sms(client, first) == [], "still sold out"
    set_stock(client, product, 3)
    availability_run(client)

    assert drain(dispatcher) == 1

    [received] = [m for m in simulator.received() if m.to == first_number]
    assert "Good news: Lampe Berger is back in stock! Order it here: http" in received.body
    [row] = client.call("product.product", "read", [product], ["stock_notification_partner_ids"])
    assert row["stock_notification_partner_ids"] == [], "off the notify-me list"
    email = f"{first_number[1:]}@example.com"
    mails = client.call("mail.mail", "search_count", [("email_to", "ilike", email)])
    assert mails == 0, "told once: no e-mail from Odoo too"

    # Sold out again before the dispatcher claims the next contact's SMS: nothing leaves, the contact waits.
    set_stock(client, product, 0)
    second, second_number = customer(client)
    client.call("product.product", "write", [product], {"stock_notification_partner_ids": [(4, second)]})
    set_stock(client, product, 2)
    availability_run(client)
    [queued] = flow_sms(client, second)
    set_stock(client, product, 0)

    drain(dispatcher)

    assert [m for m in simulator.received() if m.to == second_number] == []
    row = sms_rows(client, [queued["uuid"]], ["state", "sms_cancel_reason"])[queued["uuid"]]
    assert (row["state"], row["sms_cancel_reason"]) == ("canceled", "Product out of stock again")
    [row] = client.call("product.product", "read", [product], ["stock_notification_partner_ids"])
    assert row["stock_notification_partner_ids"] == [second], "back on the notify-me list"
