"""Benchmark: the cart watcher's poll against 100,000 then 1,000,000 historical orders with 2,000 open carts,
beside a trivial RPC call and Odoo's own `is_abandoned_cart` search, in the same run. One command:

    .venv/bin/python bench/bench_cart_watcher.py [--orders 100000 1000000] [--carts 2000] [--due 100]
                                                 [--all-triggers]

Needs the test template database (`make test` once). Builds a scratch database like the other benchmarks
(template copied, addon installed), starts a real Odoo server on it, inserts the orders with SQL (setup, not
measured), then prints per size:

* a poll when nothing changed: RPC calls and time, against a trivial RPC call (target: at most 2 calls and
  1.5x the trivial call's time), and the server-side cost of the cursor query (EXPLAIN ANALYZE);
* Odoo's `search_count([('is_abandoned_cart', '=', True)])` on the same data;
* with `--all-triggers`, a flow of every other trigger is active too (welcome, post-purchase, browse
  abandonment, win-back, a date of the contact): the watcher's poll must not change;
* the delay between a step's due time and its enqueueing (target: within the poll interval plus 1 s): `--due`
  carts get a product over RPC, one after the other, and their first step is due 15 s later.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from _odoo_env import CONF, ROOT, fresh_database

sys.path.insert(0, str(ROOT / "tests"))

from odoo_server import OdooServer
from sync_service.carts.watcher import CartWatcher
from sync_service.shell.config import load_settings
from sync_service.shell.odoo_client import OdooClient
from sync_service.store import Store

STEP_SECONDS = 15  # first step of the measured flow: 15 s after the cart's last activity
REPEAT = 40


def psql(database: str, sql: str) -> str:
    out = subprocess.run(["psql", "-X", "-q", "-tA", "-d", database, "-c", sql], check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


def timed(fn: Callable[[], object], repeat: int = REPEAT) -> list[float]:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def ms(values: list[float]) -> str:
    p90 = sorted(values)[int(len(values) * 0.9)]
    return f"median {statistics.median(values) * 1000:6.1f} ms, p90 {p90 * 1000:6.1f} ms"


class Bench:
    def __init__(self, database: str, carts: int, due: int, poll: float, port: int = 0) -> None:
        self.database, self.carts, self.due, self.poll = database, carts, due, poll
        self.server = OdooServer(str(CONF), database, Path(tempfile.gettempdir()) / f"{database}.log",
                                 **({"port": port} if port else {}))
        self.client: OdooClient
        self.orders = 0

    # ------------------------------------------------------------------ setup (not measured)
    def start(self) -> None:
        self.server.start()
        self.client = OdooClient.connect(load_settings(
            odoo_url=self.server.url, odoo_db=self.database, odoo_login="admin", odoo_password="admin"))
        call = self.client.call
        self.product = call("product.product", "create", {"name": "Bench lamp", "list_price": 50.0,
                                                           "type": "consu", "sale_ok": True})
        self.website1 = call("website", "search", [], limit=1)[0]
        self.website2 = call("website", "create", {"name": "Bench shop 2"})
        [template] = call("ir.model.data", "search_read", [
            ("module", "=", "sms_marketing_addon"), ("name", "=", "sms_template_cart_step1")], ["res_id"])
        # The measured flow (website 2): step 1 after 15 s; carts of website 1 follow the default flow (1 h).
        self.flow = call("sms.flow", "create", {
            "name": "Bench flow", "sequence": 0, "website_ids": [(6, 0, [self.website2])],
            "step_ids": [
                (0, 0, {"delay": STEP_SECONDS, "delay_unit": "seconds", "template_id": template["res_id"]}),
                (0, 0, {"delay": 24, "delay_unit": "hours", "template_id": template["res_id"]}),
            ],
        })
        self.seed_carts()

    def activate_all_triggers(self) -> None:
        """A flow of every trigger active: the presets (welcome, post-purchase, browse, win-back), and a flow
        on the anniversary of the contacts' SMS consent."""
        call = self.client.call
        presets = [row["res_id"] for row in call("ir.model.data", "search_read", [
            ("module", "=", "sms_marketing_addon"),
            ("name", "in", ["sms_flow_welcome", "sms_flow_post_purchase", "sms_flow_browse",
                            "sms_flow_win_back"]),
        ], ["res_id"])]
        call("sms.flow", "write", presets, {"active": True})
        [field] = call("ir.model.fields", "search", [("model", "=", "res.partner"),
                                                      ("name", "=", "sms_consent_date")])
        [template] = call("ir.model.data", "search_read", [
            ("module", "=", "sms_marketing_addon"), ("name", "=", "sms_template_welcome")], ["res_id"])
        call("sms.flow", "create", {"name": "Bench anniversary", "trigger": "date_anniversary",
                                    "date_field_id": field,
                                    "step_ids": [(0, 0, {"delay": 0, "template_id": template["res_id"]})]})
        triggers = call("sms.flow", "read_group", [], ["trigger"], ["trigger"])
        print("active flows per trigger: "
              + ", ".join(f"{row['trigger']} {row['trigger_count']}" for row in triggers), flush=True)

    def seed_carts(self) -> None:
        quiet = self.carts - self.due
        measured = 2 * self.due  # one batch per size
        fr = psql(self.database, "SELECT id FROM res_country WHERE code = 'FR'")
        cur = psql(self.database, "SELECT currency_id FROM res_company WHERE id = 1")
        uom = psql(self.database, "SELECT uom_id FROM product_template t JOIN product_product p "
                                  f"ON p.product_tmpl_id = t.id WHERE p.id = {self.product}")
        psql(self.database, f"""
            INSERT INTO res_partner (name, mobile, country_id, sms_number, sms_number_valid,
                                     sms_consent_state, active, type, autopost_bills, lang, create_date,
                                     write_date)
            SELECT 'Bench cart ' || n, '+3360' || lpad(n::text, 7, '0'), {fr},
                   '+3360' || lpad(n::text, 7, '0'), TRUE, 'opted_in', TRUE, 'contact', 'ask', 'en_US',
                   now(), now()
              FROM generate_series(1, {quiet + measured}) AS n;
            WITH p AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM res_partner
                        WHERE name LIKE 'Bench cart %'),
                 c AS (SELECT p.id AS pid, p.n,
                              (now() AT TIME ZONE 'UTC') - random() * interval '20 minutes' AS ts FROM p)
            INSERT INTO sale_order (name, partner_id, partner_invoice_id, partner_shipping_id, company_id,
                                    date_order, state, website_id, currency_id, amount_untaxed, amount_tax,
                                    amount_total, create_date, write_date, create_uid, write_uid)
            SELECT 'CART' || c.n, c.pid, c.pid, c.pid, 1, c.ts, 'draft',
                   CASE WHEN c.n <= {quiet} THEN {self.website1} ELSE {self.website2} END,
                   {cur}, 50, 0, 50, c.ts, c.ts, 1, 1
              FROM c;
            INSERT INTO sale_order_line (order_id, name, product_id, product_uom_qty, product_uom, price_unit,
                                         customer_lead, company_id, currency_id, order_partner_id,
                                         price_subtotal, price_total, price_tax, sequence, state, create_date,
                                         write_date, create_uid, write_uid)
            SELECT o.id, 'Bench lamp', {self.product}, 1, {uom}, 50, 0, 1, {cur}, o.partner_id, 50, 50, 0, 10,
                   'draft', o.create_date, o.write_date, 1, 1
              FROM sale_order o WHERE o.name LIKE 'CART%' AND o.website_id = {self.website1};
        """)
        ids = psql(self.database, f"SELECT id FROM sale_order WHERE website_id = {self.website2} ORDER BY id")
        self.measured_carts = [int(i) for i in ids.split()]

    def grow_to(self, total: int) -> float:
        """Insert confirmed orders up to `total`, half of them from the website; returns seconds taken."""
        start = time.perf_counter()
        partner = psql(self.database, "SELECT partner_id FROM res_users WHERE id = 2")
        cur = psql(self.database, "SELECT currency_id FROM res_company WHERE id = 1")
        chunk = 250_000
        for first in range(self.orders + 1, total + 1, chunk):
            last = min(total, first + chunk - 1)
            psql(self.database, f"""
                INSERT INTO sale_order (name, partner_id, partner_invoice_id, partner_shipping_id, company_id,
                                        date_order, state, website_id, currency_id, amount_untaxed,
                                        amount_tax, amount_total, create_date, write_date, create_uid,
                                        write_uid)
                SELECT 'H' || s.n, {partner}, {partner}, {partner}, 1, s.ts, 'sale',
                       CASE WHEN s.n % 2 = 0 THEN {self.website1} END, {cur}, 50, 0, 50, s.ts, s.ts, 1, 1
                  FROM (SELECT n, (now() AT TIME ZONE 'UTC') - interval '1 day'
                                  - random() * interval '730 days' AS ts
                          FROM generate_series({first}, {last}) AS n) AS s""")
            print(f"  ... {last:,} historical orders", file=sys.stderr, flush=True)
        # Setup I/O must not leak into the measures: statistics now, dirty pages flushed now.
        psql(self.database, "ANALYZE sale_order; ANALYZE sale_order_line")
        psql(self.database, "CHECKPOINT")
        self.orders = total
        return time.perf_counter() - start

    # ------------------------------------------------------------------ measures
    def measure(self, watcher: CartWatcher) -> None:
        uid = self.client.uid
        call = self.client.call
        trivial = timed(lambda: call("res.users", "search_count", [("id", "=", uid)]))
        rpc_calls: list[int] = []

        def idle_poll() -> None:
            result = watcher.poll_once()
            rpc_calls.append(result.rpc_calls)
            if result.read or result.enqueued:
                raise RuntimeError(f"the poll was not idle: {result}")

        time.sleep(watcher.settle_seconds + 0.5)
        for _ in range(10):  # rows of the settle window are read once more, then polls are idle
            if not watcher.poll_once().read:
                break
        polls = timed(idle_poll)
        abandoned_count = call("sale.order", "search_count", [("is_abandoned_cart", "=", True)])
        abandoned = timed(lambda: call("sale.order", "search_count", [("is_abandoned_cart", "=", True)]),
                          repeat=10)
        cursor = json.loads(watcher.store.get("cart_watcher.cursor") or "{}")
        plan_sql = f"""EXPLAIN (ANALYZE, FORMAT JSON)
            SELECT id, write_date FROM sale_order
             WHERE (write_date, id) > ('{cursor.get('write_date', '2000-01-01')}'::timestamptz
                                       AT TIME ZONE 'UTC', {cursor.get('id', 0)})
               AND website_id IS NOT NULL ORDER BY write_date, id LIMIT 500"""
        plan = psql(self.database, plan_sql)
        sql_ms = json.loads(plan)[0]["Execution Time"]
        index_used = "sale_order_write_date_id_index" in plan
        # The same query as it runs without the index (the planner forbidden to use one): a table scan.
        scan = psql(self.database, "SET enable_indexscan = off; SET enable_bitmapscan = off; " + plan_sql)
        scan_ms = json.loads(scan)[0]["Execution Time"]
        ratio = statistics.median(polls) / statistics.median(trivial)
        print(f"  trivial RPC call (res.users.search_count):   {ms(trivial)}")
        print(f"  idle watcher poll:                           {ms(polls)}, RPC calls per poll: "
              f"{max(rpc_calls)}, ratio to trivial call: {ratio:.2f}x (target <= 1.5x, <= 2 calls)")
        print(f"  cursor query in PostgreSQL:                  {sql_ms:.3f} ms "
              f"({'index sale_order_write_date_id_index' if index_used else 'NO INDEX USED'}); "
              f"without the index: {scan_ms:.1f} ms")
        print(f"  Odoo is_abandoned_cart search_count (={abandoned_count}): {ms(abandoned)}")

    def latency(self, watcher: CartWatcher, carts: list[int]) -> None:
        """Open `carts` one after the other (a product added over RPC) while the watcher runs; compare the
        enqueueing time of their first step with its due time (last activity + 15 s)."""
        stop = threading.Event()
        thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
        thread.start()
        spacing = 20.0 / len(carts)
        for order_id in carts:
            self.client.call("sale.order.line", "create", {"order_id": order_id, "product_id": self.product,
                                                           "product_uom_qty": 1})
            time.sleep(spacing)
        deadline = time.monotonic() + STEP_SECONDS + self.poll + 20
        ids = ",".join(map(str, carts))
        while time.monotonic() < deadline:
            done = int(psql(self.database,
                            f"SELECT count(*) FROM sms_flow_message WHERE order_id IN ({ids})"))
            if done >= len(carts):
                break
            time.sleep(0.5)
        stop.set()
        thread.join(30)
        rows = psql(self.database, f"""
            SELECT extract(epoch FROM m.date_queued - (o.write_date + interval '{STEP_SECONDS} seconds'))
              FROM sms_flow_message m JOIN sale_order o ON o.id = m.order_id
             WHERE m.order_id IN ({ids})""")
        lags = sorted(float(v) for v in rows.split())
        if not lags:
            print("  due -> enqueued: NOTHING ENQUEUED")
            return
        print(f"  due -> enqueued ({len(lags)}/{len(carts)} carts, poll interval {self.poll:.1f} s): "
              f"median {statistics.median(lags):.2f} s, p95 {lags[int(len(lags) * 0.95) - 1]:.2f} s, "
              f"max {lags[-1]:.2f} s (target <= {self.poll + 1:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--carts", type=int, default=2000, help="open carts")
    parser.add_argument("--due", type=int, default=100, help="carts opened during each latency measure")
    parser.add_argument("--poll", type=float, default=1.0, help="watcher poll interval (seconds)")
    parser.add_argument("--port", type=int, default=0, help="Odoo's HTTP port (default: a free one)")
    parser.add_argument("--all-triggers", action="store_true", help="a flow of every trigger active")
    parser.add_argument("--database", default="smsm_bench_carts")
    args = parser.parse_args()
    print(f"building {args.database} (template + addon)...", file=sys.stderr)
    bench = Bench(fresh_database(args.database), args.carts, args.due, args.poll, args.port)
    bench.start()
    if args.all_triggers:
        bench.activate_all_triggers()
    try:
        store_dir = Path(tempfile.mkdtemp(prefix="bench-carts-"))
        store = Store.from_url(f"sqlite:///{store_dir / 'store.db'}")
        watcher = CartWatcher(store, bench.client, poll_interval=args.poll, settle_seconds=5)
        for index, size in enumerate(args.orders):
            seconds = bench.grow_to(size)
            print(f"\n{size:,} historical orders ({seconds:.0f} s to insert), {args.carts:,} open carts")
            if index == 0:
                start = time.perf_counter()
                result = watcher.poll_once()
                while result.more:
                    result = watcher.poll_once()
                took = time.perf_counter() - start
                print(f"  first sync: {took:.1f} s, {watcher.timers.count()} cart timers")
            bench.measure(watcher)
            batch = bench.measured_carts[index * args.due:(index + 1) * args.due]
            if batch:
                bench.latency(watcher, batch)
        store.close()
    finally:
        bench.server.stop()


if __name__ == "__main__":
    main()
