"""Benchmark: lifecycle flows entering and advancing N enrollments (mixed triggers), then the flows' idle
scheduled action at 100,000 and 1,000,000 orders. One command:

    .venv/bin/python bench/bench_flows.py [--enrollments 100000] [--idle-orders 100000 1000000]
    .venv/bin/python bench/bench_flows.py --enrollments 10000          # a quick look

Needs the test template database (`make test` once). Builds a scratch database (template copied, addon
installed), creates one flow per contact trigger (SMS, then a condition "has not ordered", then an A/B
split with a 10 % holdout, then one SMS per branch, every step 1 hour after the entry; carts: the default
cart flow), seeds with SQL (setup, not measured) N contacts with SMS consent, a sixth per trigger: welcome
(just opted in), post-purchase (an order confirmed now), win-back (last order 60 days ago), browse
abandonment (a product viewed an hour ago, no cart), date (the contact's date field falls today), abandoned
cart (a website cart idle for 2 hours). Then, each phase in its own Odoo process (wall time, CPU time,
peak RSS and SQL queries of that process):

* enter, per trigger, through its real entry point: the opt-in hook (`_sms_flow_enroll_contacts`, 500
  contacts per call), the order confirmation hook (`_sms_flow_on_confirm`, 500 orders per call), the flows'
  scheduled entry scans (`_sms_flow_enter_win_back`, `_browse_abandoned`, `_date_anniversary`), the cart
  watcher's `enqueue_flow_steps` (500 carts per call; the cart's first step is queued there);
* advance: the due steps at entry + 61 minutes, 500 enrollments per run as the scheduled action takes them
  (`_sms_flow_due_contacts` + `_sms_flow_run_due`): SMS, condition, split, the branch's SMS, all queued;
* idle: orders (and as many contacts, a birthday each) grown to each `--idle-orders` size, then the flows'
  scheduled action when nothing is due and nobody new enters: each entry scan, the due-steps query and the
  whole action (median of `--repeat`), with the queries it sends. It must stay flat from 100k to 1M.

The load average is printed beside each figure (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _odoo_env import ROOT, VENV_PYTHON, fresh_database

HERE = Path(__file__).resolve().parent
GROUPS = ("welcome", "post_purchase", "win_back", "browse", "date", "cart")


def psql(database: str, sql: str) -> str:
    out = subprocess.run(["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql],
                         capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"psql failed: {out.stderr}")
    return out.stdout.strip()


def load() -> str:
    return "/".join(f"{value:.1f}" for value in os.getloadavg())


def worker(database: str, *args: str) -> dict:
    out = subprocess.run([str(VENV_PYTHON), str(HERE / "_flows_worker.py"), database, *args],
                         capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        sys.exit(f"worker {args[0]} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def seed(database: str, size: int, data: dict) -> str:
    """N contacts, a sixth per trigger, and what each trigger needs; returns T0 (UTC) of the seeding."""
    t0 = psql(database, "SELECT (now() AT TIME ZONE 'UTC')::timestamp(0)")
    fr = psql(database, "SELECT id FROM res_country WHERE code = 'FR'")
    cur = psql(database, "SELECT currency_id FROM res_company WHERE id = 1")
    website, product, uom = data["website"], data["product"], data["uom"]
    groups = "ARRAY[" + ",".join(f"'{g}'" for g in GROUPS) + "]"
    psql(database, f"""
        INSERT INTO res_partner (id, commercial_partner_id, name, mobile, country_id, sms_number,
                                 sms_number_valid, sms_consent_state, active, type, autopost_bills, lang,
                                 sms_consent_date, create_date, write_date)
        SELECT s.id, s.id, 'FB ' || ({groups})[1 + n % 6] || ' ' || n, '+336' || lpad(n::text, 8, '0'), {fr},
               '+336' || lpad(n::text, 8, '0'), TRUE, 'opted_in', TRUE, 'contact', 'ask', 'en_US',
               CASE WHEN n % 6 = 4
                    THEN make_timestamp(2015 + n % 10, extract(month FROM '{t0}'::timestamp)::int,
                                        extract(day FROM '{t0}'::timestamp)::int, 9, 0, 0) END,
               '{t0}', '{t0}'
          FROM (SELECT n, nextval('res_partner_id_seq') AS id FROM generate_series(1, {size}) AS n) AS s;
        -- post-purchase: an order confirmed now; win-back: the last order 60 days ago (in the day's window)
        INSERT INTO sale_order (name, partner_id, partner_invoice_id, partner_shipping_id, company_id,
                                date_order, state, currency_id, amount_untaxed, amount_tax, amount_total,
                                create_date, write_date, create_uid, write_uid)
        SELECT CASE WHEN p.name LIKE 'FB post_purchase %' THEN 'FBP' ELSE 'FBW' END || p.id,
               p.id, p.id, p.id, 1,
               CASE WHEN p.name LIKE 'FB post_purchase %' THEN '{t0}'::timestamp
                    ELSE '{t0}'::timestamp - interval '60 days' - interval '5 minutes'
                         - random() * interval '20 hours' END,
               'sale', {cur}, 50, 0, 50, '{t0}', '{t0}', 1, 1
          FROM res_partner p WHERE p.name LIKE 'FB post_purchase %' OR p.name LIKE 'FB win_back %';
        -- abandoned carts: a website cart with a product, idle for 2 hours
        INSERT INTO sale_order (name, partner_id, partner_invoice_id, partner_shipping_id, company_id,
                                date_order, state, website_id, currency_id, amount_untaxed, amount_tax,
                                amount_total, create_date, write_date, create_uid, write_uid)
        SELECT 'FBC' || p.id, p.id, p.id, p.id, 1, ts, 'draft', {website}, {cur}, 50, 0, 50, ts, ts, 1, 1
          FROM (SELECT id, '{t0}'::timestamp - interval '2 hours' AS ts FROM res_partner
                 WHERE name LIKE 'FB cart %') AS p;
        INSERT INTO sale_order_line (order_id, name, product_id, product_uom_qty, product_uom, price_unit,
                                     customer_lead, company_id, currency_id, order_partner_id, price_subtotal,
                                     price_total, price_tax, sequence, state, create_date, write_date,
                                     create_uid, write_uid)
        SELECT o.id, 'Bench flow lamp', {product}, 1, {uom}, 50, 0, 1, {cur}, o.partner_id, 50, 50, 0, 10,
               'draft', o.create_date, o.write_date, 1, 1
          FROM sale_order o WHERE o.name LIKE 'FBC%';
        -- browse abandonment: an identified visitor viewed the product 61 to 100 minutes ago
        INSERT INTO website_visitor (access_token, partner_id, website_id, create_date, write_date,
                                     last_connection_datetime)
        SELECT md5('fb-' || id), id, {website}, '{t0}', '{t0}', '{t0}' FROM res_partner
         WHERE name LIKE 'FB browse %';
        INSERT INTO website_track (visitor_id, product_id, url, visit_datetime)
        SELECT v.id, {product}, '/shop/bench-flow-lamp',
               '{t0}'::timestamp - interval '61 minutes' - random() * interval '39 minutes'
          FROM website_visitor v JOIN res_partner p ON p.id = v.partner_id WHERE p.name LIKE 'FB browse %';
        ANALYZE res_partner; ANALYZE sale_order; ANALYZE sale_order_line; ANALYZE website_visitor;
        ANALYZE website_track; CHECKPOINT;""")
    return t0


def grow(database: str, total: int, done: int) -> None:
    """Historical orders up to `total` (confirmed, over the last two years, the day before T0 at the latest),
    as many contacts, each with SMS consent (one in two) and a date of birth; each order to one of them."""
    chunk = 250_000
    cur = psql(database, "SELECT currency_id FROM res_company WHERE id = 1")
    for first in range(done + 1, total + 1, chunk):
        last = min(total, first + chunk - 1)
        psql(database, f"""
            WITH s AS (SELECT n, nextval('res_partner_id_seq') AS id,
                              (now() AT TIME ZONE 'UTC') - interval '1 day'
                              - random() * interval '730 days' AS ts
                         FROM generate_series({first}, {last}) AS n),
                 p AS (INSERT INTO res_partner (id, commercial_partner_id, name, sms_number,
                                                sms_number_valid, sms_consent_state, active, type,
                                                autopost_bills, lang, sms_consent_date, create_date,
                                                write_date)
                       SELECT id, id, 'FBG ' || n, '+337' || lpad(n::text, 8, '0'), TRUE,
                              CASE WHEN n % 2 = 0 THEN 'opted_in' ELSE 'none' END, TRUE, 'contact', 'ask',
                              'en_US',
                              TIMESTAMP '2016-01-01 10:00' + ((n::bigint * 7919) % 3650) * interval '1 day',
                              now(), now()
                         FROM s RETURNING id)
            INSERT INTO sale_order (name, partner_id, partner_invoice_id, partner_shipping_id, company_id,
                                    date_order, state, currency_id, amount_untaxed, amount_tax, amount_total,
                                    create_date, write_date, create_uid, write_uid)
            SELECT 'FBH' || s.n, s.id, s.id, s.id, 1, s.ts, 'sale', {cur}, 50, 0, 50, s.ts, s.ts, 1, 1
              FROM s JOIN p ON p.id = s.id""")
        print(f"  ... {last:,} historical orders and contacts", file=sys.stderr, flush=True)
    # Statistics now (autovacuum would take them later): the scans' plans depend on them.
    psql(database, "ANALYZE res_partner; ANALYZE sale_order; ANALYZE sms_flow_enrollment; "
                   "ANALYZE sms_flow_message; ANALYZE link_tracker; ANALYZE website_visitor; "
                   "ANALYZE website_track; CHECKPOINT")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--enrollments", type=int, default=100_000)
    parser.add_argument("--idle-orders", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=5, help="idle runs measured per size")
    parser.add_argument("--database", default="smsm_flowbench_bench")
    parser.add_argument("--idle-only", action="store_true",
                        help="the idle measures only, on the database of an earlier run (grown further)")
    args = parser.parse_args()
    if args.idle_only:
        idle(args.database, args.idle_orders, args.repeat)
        return
    print(f"building {args.database} (template + addon)...", file=sys.stderr, flush=True)
    database = fresh_database(args.database)
    data = worker(database, "setup")
    start = time.perf_counter()
    t0 = seed(database, args.enrollments, data)
    print(f"{args.enrollments:,} contacts seeded in {time.perf_counter() - start:.0f} s (T0 {t0} UTC)\n")
    print(f"{'phase':<15} {'enrollments':>11} {'wall s':>7} {'cpu s':>6} {'per s':>7} {'peak RSS':>9} "
          f"{'queries':>9} {'q/enr':>6}  load 1/5/15 min")

    def row(name: str, count: int, figures: dict, note: str = "") -> None:
        rate = count / figures["seconds"] if figures["seconds"] else 0
        per = figures["queries"] / max(count, 1)
        print(f"{name:<15} {count:>11,} {figures['seconds']:>7.1f} {figures['cpu_seconds']:>6.1f} "
              f"{rate:>7.0f} {figures['peak_rss_mb']:>7.0f}MB {figures['queries']:>9,} {per:>6.1f}"
              f"  {load()}{note}", flush=True)

    total = {"seconds": 0.0, "cpu_seconds": 0.0, "queries": 0, "peak_rss_mb": 0.0}
    for group in GROUPS:
        before = int(psql(database, "SELECT count(*) FROM sms_flow_enrollment"))
        figures = worker(database, "enter", t0, group, json.dumps(data))
        count = int(psql(database, "SELECT count(*) FROM sms_flow_enrollment")) - before
        row(f"enter {group}", count, figures)
        for key in ("seconds", "cpu_seconds", "queries"):
            total[key] += figures[key]
        total["peak_rss_mb"] = max(total["peak_rss_mb"], figures["peak_rss_mb"])
    entered = int(psql(database, "SELECT count(*) FROM sms_flow_enrollment"))
    row("enter (all)", entered, total)
    figures = worker(database, "advance", t0)
    running = int(psql(database, "SELECT count(*) FROM sms_flow_enrollment WHERE order_id IS NULL"))
    row("advance", running, figures, f"  ({figures['runs']} runs of 500)")
    print("\nper trigger: enrollments by state; flow messages queued (SMS in Odoo's outbox)")
    for line in psql(database, """
            SELECT e.trigger, count(*) AS n,
                   string_agg(DISTINCT e.state || ':' || (
                       SELECT count(*) FROM sms_flow_enrollment x
                        WHERE x.flow_id = e.flow_id AND x.state = e.state), ' '),
                   (SELECT count(*) FROM sms_flow_message m
                     WHERE m.flow_id = e.flow_id AND m.state = 'queued'),
                   (SELECT count(*) FROM sms_flow_message m WHERE m.flow_id = e.flow_id)
              FROM sms_flow_enrollment e GROUP BY e.trigger, e.flow_id ORDER BY 1""").splitlines():
        trigger, count, states, queued, messages = line.split("|")
        print(f"  {trigger:<18} {int(count):>7,} enrollments ({states}), {int(queued):,} queued of "
              f"{int(messages):,} messages")
    outbox = psql(database, "SELECT count(*) FROM sms_sms WHERE state = 'outgoing'")
    dupes = psql(database, "SELECT count(*) FROM (SELECT 1 FROM sms_flow_message "
                           "GROUP BY enrollment_id, step_id HAVING count(*) > 1) d")
    print(f"  sms.sms outgoing: {int(outbox):,}; (enrollment, step) with more than one message: {dupes}")

    idle(database, args.idle_orders, args.repeat)


def idle(database: str, sizes: list[int], repeat: int) -> None:
    if sizes:
        print("\nidle scheduled action (nothing due, nobody new), median ms (queries) per part")
        done = int(psql(database, "SELECT count(*) FROM sale_order WHERE name LIKE 'FBH%'"))
        for size in sizes:
            grow(database, size, done)
            done = size
            result = worker(database, "idle", str(repeat))
            parts = " ".join(f"{name} {result['ms'][name]:.1f} ({result['queries'][name]})"
                             for name in ("win_back", "browse_abandoned", "date_anniversary", "due_steps",
                                          "cron"))
            print(f"  {size:>9,} orders: {parts}; entered {result['entered']}, peak RSS "
                  f"{result['peak_rss_mb']:.0f}MB  load {load()}", flush=True)


if __name__ == "__main__":
    main()
