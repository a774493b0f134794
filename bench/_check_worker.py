"""One measured "Check recipients", in its own process (so its CPU time and peak memory are its own).

usage: _check_worker.py DATABASE SIZE
Prints one JSON line: {"size", "seconds", "cpu_seconds", "peak_rss_mb", "reasons"}.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import odoo
from odoo import SUPERUSER_ID, api

from _odoo_env import CONF


def main() -> None:
    database, size = sys.argv[1], int(sys.argv[2])
    odoo.tools.config.parse_config(["-c", str(CONF), "-d", database, "--log-level=warn"])
    registry = odoo.modules.registry.Registry(database)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        admin = env.ref("base.user_admin")  # a person with Odoo's mass mailing rights, as from the screen
        mailing = env["mailing.mailing"].create({
            "subject": f"bench check {size}", "mailing_type": "sms",
            "body_plaintext": "Bonjour {{ object.name }}, -20% ce week-end : https://shop.example.com/soldes",
            "mailing_model_id": env["ir.model"]._get_id("res.partner"), "sms_allow_unsubscribe": True,
            "mailing_domain": repr([("name", "=like", f"Check{size} %")]),
        })
        cr.commit()
        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        mailing.with_user(admin).action_sms_check_recipients()
        cr.commit()
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        cr.execute("SELECT reason, count(*) FROM sms_mailing_recipient WHERE mailing_ref = %s "
                   "GROUP BY reason", [mailing.id])
        reasons = dict(cr.fetchall())
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({"size": size, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
                      "peak_rss_mb": round(after.ru_maxrss / 1024, 1), "reasons": reasons}))


if __name__ == "__main__":
    main()
