"""One measured run of the mailing benchmark, in its own process (so its peak memory is its own).

usage: _queue_worker.py DATABASE MODE(native|suite) SIZE
Prints one JSON line: {"mode", "size", "seconds", "queued", "peak_rss_mb"}.
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
    database, mode, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
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
        started = time.perf_counter()
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
        cr.execute("SELECT count(*) FROM sms_sms WHERE mailing_id = %s AND state = 'outgoing'", [mailing.id])
        queued = cr.fetchone()[0]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"mode": mode, "size": size, "seconds": round(seconds, 2), "queued": queued,
                      "peak_rss_mb": round(peak, 1)}))


if __name__ == "__main__":
    main()
