"""One measured run of the mailing benchmark, in its own process (so its peak memory is its own).

usage: _queue_worker.py DATABASE MODE(native|suite) SIZE [PROFILE_FILE]
Prints one JSON line: {"mode", "size", "seconds", "queued", "peak_rss_mb", "cpu_seconds", "db_cpu_seconds"}
(the CPU time of this process and of its PostgreSQL backends during the measured part: on a machine shared
with other jobs, wall time follows the load, CPU time much less). With PROFILE_FILE, the measured part
runs under cProfile and its statistics are written there (read them with `python -m pstats PROFILE_FILE`).
"""

from __future__ import annotations

import cProfile
import json
import os
import resource
import sys
import time

import odoo
from odoo import SUPERUSER_ID, api

from _odoo_env import CONF


def backends_cpu_seconds(cr) -> dict[int, float]:
    """{pid: CPU time (user + system)} of this process's PostgreSQL backends (this database, this machine):
    the queueing's own cursor and the one of its writer thread (Odoo names its connections after its
    process)."""
    cr.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
               "AND application_name = %s", [f"odoo-{os.getpid()}"])
    result = {}
    for (pid,) in cr.fetchall():
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        result[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return result


def main() -> None:
    database, mode, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    profile_file = sys.argv[4] if len(sys.argv) > 4 else None
    profiler = cProfile.Profile() if profile_file else None
    odoo.tools.config.parse_config(["-c", str(CONF), "-d", database, "--log-level=warn"])
    registry = odoo.modules.registry.Registry(database)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        mailing = env["mailing.mailing"].create({
            "subject": f"bench {mode} {size}", "mailing_type": "sms", "keep_archives": True,
            "body_plaintext": "Bonjour {{ object.name }}, -20% ce week-end : https://shop.example.com/soldes",
            "mailing_model_id": env["ir.model"]._get_id("res.partner"), "sms_allow_unsubscribe": True,
            "mailing_domain": repr([("name", "=like", f"Bench{size} %")]),
        })
        cr.commit()
        db_cpu_before = backends_cpu_seconds(cr)
        cpu_before = time.process_time()
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        res_ids = mailing._get_remaining_recipients()
        if mode == "native":
            # Odoo's own path (composer, per-record ORM writes, chatter logs), fed in chunks of 10,000
            # because as shipped it fails above ~12-15k recipients (literal_eval limit).
            from odoo.addons.mass_mailing_sms.models.mailing_mailing import Mailing

            native = mailing.with_context(sms_marketing_odoo_composer=True)
            for start in range(0, len(res_ids), 10000):
                Mailing.action_send_sms(native, res_ids=res_ids[start:start + 10000])
                cr.commit()
                env.invalidate_all()
        else:
            mailing.action_send_sms(res_ids=res_ids)
            cr.commit()
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
        db_cpu = sum(cpu - db_cpu_before.get(pid, 0.0) for pid, cpu in backends_cpu_seconds(cr).items())
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile_file)
        cr.execute("SELECT count(*) FROM sms_sms WHERE mailing_id = %s AND state = 'outgoing'", [mailing.id])
        queued = cr.fetchone()[0]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"mode": mode, "size": size, "seconds": round(seconds, 2), "queued": queued,
                      "peak_rss_mb": round(peak, 1),
                      "cpu_seconds": round(cpu, 2), "db_cpu_seconds": round(db_cpu, 2)}))


if __name__ == "__main__":
    main()
