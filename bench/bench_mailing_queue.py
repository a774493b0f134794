"""Benchmark: queue an SMS mailing (link tracking on) to N consented contacts, the suite's path beside Odoo's
native path on the same data, in the same run. One command:

    .venv/bin/python bench/bench_mailing_queue.py [--sizes 20000 100000] [--skip-native-above N]
    .venv/bin/python bench/bench_mailing_queue.py --sizes 1000000 --skip-native-above 0

Needs the test template database (`make test` once). Prints recipients per second for both paths, their
ratio, the peak memory (RSS) of each run's process, the CPU time of that process and of its PostgreSQL
backends, and the load average at the end of each run (the machine may be shared: wall time follows the
load). Target (issue 4): >= 5x native at 20,000 and
< 500 MB at 100,000; (issue 17) 1,000,000 in <= 2 minutes with <= 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from _odoo_env import ROOT, VENV_PYTHON, fresh_database

HERE = Path(__file__).resolve().parent


def seed(database: str, size: int) -> None:
    """`size` opted-in French contacts with valid mobiles, written in SQL (setup, not measured)."""
    sql = f"""
        INSERT INTO res_partner (name, mobile, country_id, sms_number, sms_number_valid, sms_consent_state,
                                 active, type, autopost_bills, create_date, write_date)
        SELECT 'Bench{size} ' || n, '+336' || lpad(n::text, 8, '0'),
               (SELECT id FROM res_country WHERE code = 'FR'), '+336' || lpad(n::text, 8, '0'),
               TRUE, 'opted_in', TRUE, 'contact', 'ask', now(), now()
          FROM generate_series(1, {size}) AS n"""
    subprocess.run(["psql", "-q", "-d", database, "-c", sql], check=True)


def run(database: str, mode: str, size: int) -> dict[str, float]:
    out = subprocess.run([str(VENV_PYTHON), str(HERE / "_queue_worker.py"), database, mode, str(size)],
                         check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20000, 100000])
    parser.add_argument("--skip-native-above", type=int, default=10**9,
                        help="do not run Odoo's native path above this size (it is slow)")
    parser.add_argument("--database", default="smsm_bench_queue")
    args = parser.parse_args()
    print(f"building {args.database} (template + addon)...", file=sys.stderr)
    database = fresh_database(args.database)
    print(f"{'recipients':>10} {'path':>7} {'seconds':>8} {'rcpt/s':>8} {'queued':>8} {'peak RSS':>9} "
          f"{'CPU s':>7} {'DB CPU s':>8} {'load':>5}")
    for size in args.sizes:
        seed(database, size)
        results = {}
        modes = ["suite"] + (["native"] if size <= args.skip_native_above else [])
        for mode in modes:
            result = run(database, mode, size)
            results[mode] = result
            rate = result["queued"] / result["seconds"] if result["seconds"] else float("inf")
            print(f"{size:>10} {mode:>7} {result['seconds']:>8.2f} {rate:>8.0f} {result['queued']:>8} "
                  f"{result['peak_rss_mb']:>7.0f}MB {result['cpu_seconds']:>7.1f} "
                  f"{result['db_cpu_seconds']:>8.1f} {os.getloadavg()[0]:>5.1f}", flush=True)
            if mode == "suite" and size >= 1_000_000:
                met = result["seconds"] <= 120 and result["peak_rss_mb"] <= 300
                print(f"{size:>10}   target <= 120 s and <= 300 MB (issue 17): {'met' if met else 'NOT met'}",
                      flush=True)
        if "native" in results:
            ratio = results["native"]["seconds"] / results["suite"]["seconds"]
            print(f"{size:>10}   ratio suite/native speed: {ratio:.1f}x", flush=True)


if __name__ == "__main__":
    main()
