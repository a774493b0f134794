"""Benchmark: "Check recipients" on an SMS mailing of N contacts, at 100,000 and 1,000,000. One command:

    .venv/bin/python bench/bench_check_recipients.py [--sizes 100000 1000000]

Needs the test template database (`make test` once; or SMSM_ODOO_CONF=<an Odoo config> for a
worktree's addon). Prints, per size, the wall time, the Odoo process's CPU time and peak memory (RSS) of
one check, run in its own process as one request would, and the recipients per reason. Odoo's default
worker limits: 120 s of CPU (limit_time_cpu), 120 s real (limit_time_real), 2.5 GiB of memory
(limit_memory_hard).

The recipients (set up in SQL, not measured): French mobiles, 1 in 20 an American number on one of 20 area
codes, 1 in 10 without consent, 1 in 50 without a valid number, 1 in 100 in the opt-out register, 1 in 200 a
duplicate of another recipient's number, 1 in 25 texted within the last hour (frequency cap).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from _odoo_env import ROOT, VENV_PYTHON, fresh_database

HERE = Path(__file__).resolve().parent
AREA_CODES = ("201", "212", "213", "305", "312", "415", "503", "512", "602", "617",
              "702", "713", "720", "801", "808", "907", "916", "937", "954", "971")


def seed(database: str, size: int) -> None:
    area_codes = "ARRAY[" + ",".join(f"'{code}'" for code in AREA_CODES) + "]"
    sql = f"""
        CREATE TEMP TABLE seed AS
        SELECT n,
               CASE WHEN n % 50 = 1 THEN NULL
                    WHEN n % 20 = 3
                    THEN '+1' || ({area_codes})[1 + (n / 20) % 20] || '2'
                         || lpad(((n / 400) % 1000000)::text, 6, '0')
                    WHEN n % 200 = 4 THEN '+336' || lpad((n - 10)::text, 8, '0')
                    ELSE '+336' || lpad(n::text, 8, '0') END AS number,
               CASE WHEN n % 20 = 3 THEN 'US' ELSE 'FR' END AS country
          FROM generate_series(1, {size}) AS n;
        INSERT INTO res_partner (name, mobile, country_id, sms_number, sms_number_valid, sms_consent_state,
                                 active, type, autopost_bills, create_date, write_date)
        SELECT 'Check{size} ' || s.n, COALESCE(s.number, 'abcd'), c.id, s.number, s.number IS NOT NULL,
               CASE WHEN s.n % 10 = 0 THEN 'none' ELSE 'opted_in' END, TRUE, 'contact', 'ask', now(), now()
          FROM seed s JOIN res_country c ON c.code = s.country;
        INSERT INTO phone_blacklist (number, active, create_date, write_date)
        SELECT number, TRUE, now(), now() FROM seed WHERE n % 100 = 2 AND number IS NOT NULL
        ON CONFLICT DO NOTHING;
        INSERT INTO sms_provider_message (sms_uuid, number, is_marketing, segments, state, date_sent,
                                          create_date, write_date)
        SELECT md5('{size}-' || n), number, TRUE, 1, 'sent', now() at time zone 'UTC' - interval '1 hour',
               now(), now()
          FROM seed WHERE n % 25 = 5 AND number IS NOT NULL;
        ANALYZE res_partner; ANALYZE phone_blacklist; ANALYZE sms_provider_message;"""
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql], check=True)


def run(database: str, size: int) -> dict:
    out = subprocess.run([str(VENV_PYTHON), str(HERE / "_check_worker.py"), database, str(size)],
                         check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100000, 1000000])
    parser.add_argument("--database", default="smsm_bench_check")
    args = parser.parse_args()
    print(f"building {args.database} (template + addon)...", file=sys.stderr)
    database = fresh_database(args.database)
    print(f"{'recipients':>10} {'wall s':>7} {'cpu s':>6} {'peak RSS':>9}  per reason")
    for size in args.sizes:
        seed(database, size)
        result = run(database, size)
        reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(result["reasons"].items()))
        print(f"{size:>10} {result['seconds']:>7.1f} {result['cpu_seconds']:>6.1f} "
              f"{result['peak_rss_mb']:>7.0f}MB  {reasons}", flush=True)


if __name__ == "__main__":
    main()
