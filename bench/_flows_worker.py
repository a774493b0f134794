"""The measured part of bench_flows.py, in its own process (so its CPU time and peak memory are its own).

usage: _flows_worker.py DATABASE setup
       _flows_worker.py DATABASE enter T0 PHASE [SETUP_JSON]
         (PHASE: welcome, post_purchase, win_back, browse, date, cart)
       _flows_worker.py DATABASE advance T0
       _flows_worker.py DATABASE idle REPEAT
Prints one JSON line. T0 is the seeding time (UTC, ISO): the scheduled triggers look at it as "now", and the
due steps are taken at T0 + 61 minutes (every contact flow's steps are 1 hour after the entry).
"""

from __future__ import annotations

import cProfile
import json
import os
import resource
import statistics
import sys
import time
from datetime import datetime, timedelta

import odoo
from odoo import SUPERUSER_ID, api

from _odoo_env import CONF

BATCH = 500
CONTACT_TRIGGERS = ("consent_confirmed", "order_confirmed", "win_back", "browse_abandoned",
                    "date_anniversary")


def queries() -> int:
    return odoo.sql_db.sql_counter


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as handle:  # resets VmHWM (peak RSS) to the current RSS
        handle.write("5")


def peak_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Measure:
    def __enter__(self) -> Measure:
        reset_peak()
        self.q0, self.t0 = queries(), time.perf_counter()
        self.r0 = resource.getrusage(resource.RUSAGE_SELF)
        return self

    def __exit__(self, *exc: object) -> None:
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        self.seconds = time.perf_counter() - self.t0
        self.cpu = (r1.ru_utime - self.r0.ru_utime) + (r1.ru_stime - self.r0.ru_stime)
        self.queries = queries() - self.q0
        self.peak = peak_mb()

    def figures(self) -> dict:
        return {"seconds": round(self.seconds, 2), "cpu_seconds": round(self.cpu, 2), "queries": self.queries,
                "peak_rss_mb": round(self.peak, 1)}


def setup(env: api.Environment) -> dict:
    """A product, and one flow per contact trigger: SMS -> condition (has not ordered) -> A/B split with a
    10 % holdout -> an SMS per branch, every step 1 hour after the entry. Carts use the default cart flow."""
    product = env["product.product"].create({"name": "Bench flow lamp", "list_price": 50.0, "type": "consu",
                                             "sale_ok": True, "website_published": True})
    date_field = env["ir.model.fields"]._get("res.partner", "sms_consent_date")
    ref = env.ref
    templates = {
        "res.partner": (ref("sms_marketing_addon.sms_template_welcome"),
                        ref("sms_marketing_addon.sms_template_win_back")),
        "sale.order": (ref("sms_marketing_addon.sms_template_post_purchase_thanks"),
                       ref("sms_marketing_addon.sms_template_post_purchase_review")),
    }
    extra = {"win_back": {"entry_delay": 60, "entry_delay_unit": "days", "reentry_days": 0},
             "browse_abandoned": {"entry_delay": 1, "entry_delay_unit": "hours"},
             "date_anniversary": {"entry_delay": 0, "date_field_id": date_field.id},
             "order_confirmed": {"reentry_days": 0}}
    flows = {}
    for code in CONTACT_TRIGGERS:
        model = "sale.order" if code == "order_confirmed" else "res.partner"
        first, second = templates[model]
        hour = {"delay": 1, "delay_unit": "hours"}
        flows[code] = env["sms.flow"].create(dict({
            "name": f"Bench {code}", "sequence": 0, "trigger": code,
            "step_ids": [
                (0, 0, dict(hour, sequence=1, step_type="sms", template_id=first.id)),
                (0, 0, dict(hour, sequence=2, step_type="condition", condition_type="ordered",
                            condition_negate=True)),
                (0, 0, dict(hour, sequence=3, step_type="split", split_holdout_percent=10,
                            split_a_percent=50)),
                (0, 0, dict(hour, sequence=4, step_type="sms", branch="a", template_id=second.id)),
                (0, 0, dict(hour, sequence=5, step_type="sms", branch="b", template_id=first.id)),
            ],
        }, **extra.get(code, {}))).id
    cart_flow = ref("sms_marketing_addon.sms_flow_cart_default")
    env.cr.commit()
    return {"product": product.id, "uom": product.uom_id.id, "website": env["website"].search([], limit=1).id,
            "flows": flows, "cart_step": cart_flow._sms_flow_steps()[0].id}


def ids_of(env: api.Environment, sql: str) -> list[int]:
    env.cr.execute(sql)
    return [row[0] for row in env.cr.fetchall()]


def enter(env: api.Environment, phase: str, t0: datetime) -> dict:
    """Enrollments of one trigger enter through that trigger's entry point; committed per batch as the
    event hooks' and the service's requests are (the scheduled triggers: one scan, one transaction, as the
    flows' scheduled action does)."""
    Enrollment = env["sms.flow.enrollment"].sudo()
    Flow = env["sms.flow"].sudo()
    if phase == "welcome":  # res.partner._sms_opt_in's hook, for contacts who just opted in
        ids = ids_of(env, "SELECT id FROM res_partner WHERE name LIKE 'FB welcome %' ORDER BY id")
        batches = [ids[i:i + BATCH] for i in range(0, len(ids), BATCH)]
        with Measure() as m:
            for batch in batches:
                Enrollment._sms_flow_enroll_contacts(env["res.partner"].browse(batch))
                env.cr.commit()
                env.invalidate_all()
    elif phase == "post_purchase":  # sale.order._action_confirm's hook
        ids = ids_of(env, "SELECT id FROM sale_order WHERE name LIKE 'FBP%' ORDER BY id")
        batches = [ids[i:i + BATCH] for i in range(0, len(ids), BATCH)]
        with Measure() as m:
            for batch in batches:
                env["sale.order"].browse(batch)._sms_flow_on_confirm()
                env.cr.commit()
                env.invalidate_all()
    elif phase == "cart":  # the sync service's cart watcher: enqueue_flow_steps, 500 (order, step) per call
        setup_data = json.loads(sys.argv[5])
        ids = ids_of(env, "SELECT id FROM sale_order WHERE name LIKE 'FBC%' ORDER BY id")
        batches = [ids[i:i + BATCH] for i in range(0, len(ids), BATCH)]
        api_model = env["sms.marketing.api"].sudo()
        with Measure() as m:
            for batch in batches:
                api_model.enqueue_flow_steps([{"order_id": oid, "step_id": setup_data["cart_step"]}
                                              for oid in batch])
                env.cr.commit()
                env.invalidate_all()
    else:  # the flows' scheduled action's entry scans
        code = {"win_back": "win_back", "browse": "browse_abandoned", "date": "date_anniversary"}[phase]
        flows = Flow.search([("trigger", "=", code)])
        with Measure() as m:
            env.flush_all()
            getattr(Enrollment, f"_sms_flow_enter_{code}")(flows, t0)
            env.cr.commit()
    return m.figures()


def advance(env: api.Environment, t0: datetime) -> dict:
    """The due steps, as the flows' scheduled action takes them: 500 due enrollments per run, most overdue
    first, committed per run, until none is due."""
    Enrollment = env["sms.flow.enrollment"].sudo()
    now = max(t0, env.cr.now()) + timedelta(minutes=61)
    runs = 0
    with Measure() as m:
        while True:
            due = Enrollment._sms_flow_due_contacts(now, limit=BATCH)
            if not due:
                break
            due._sms_flow_run_due(now=now)
            env.cr.commit()
            env.invalidate_all()
            runs += 1
    return dict(m.figures(), runs=runs)


def idle(env: api.Environment, repeat: int) -> dict:
    """The flows' scheduled action when nothing new enters and nothing is due: each entry scan, the due
    steps' query, and the whole action, `repeat` times (after one run that takes whatever became due)."""
    Flow = env["sms.flow"].sudo()
    Enrollment = env["sms.flow.enrollment"].sudo()
    Flow._cron_sms_flow_welcome()  # whatever the growth made enter or due
    env.cr.commit()
    now = env.cr.now()
    parts = {"win_back": [], "browse_abandoned": [], "date_anniversary": [], "due_steps": [], "cron": []}
    counts = {name: 0 for name in parts}
    entered = 0
    for _ in range(repeat):
        env.invalidate_all()
        for code in ("win_back", "browse_abandoned", "date_anniversary"):
            flows = Flow.search([("trigger", "=", code)])
            q0, t = queries(), time.perf_counter()
            entered += len(getattr(Enrollment, f"_sms_flow_enter_{code}")(flows, now))
            parts[code].append(time.perf_counter() - t)
            counts[code] = queries() - q0
        q0, t = queries(), time.perf_counter()
        Enrollment._sms_flow_due_contacts(now, limit=BATCH)
        parts["due_steps"].append(time.perf_counter() - t)
        counts["due_steps"] = queries() - q0
        env.invalidate_all()
        q0, t = queries(), time.perf_counter()
        sent = Flow._cron_sms_flow_welcome()
        parts["cron"].append(time.perf_counter() - t)
        counts["cron"] = queries() - q0
        env.cr.rollback()
    return {"entered": entered, "sent": sent,
            "ms": {name: round(statistics.median(values) * 1000, 1) for name, values in parts.items()},
            "queries": counts, "peak_rss_mb": round(peak_mb(), 1)}


def main() -> None:
    database, mode = sys.argv[1], sys.argv[2]
    odoo.tools.config.parse_config(["-c", str(CONF), "-d", database, "--log-level=warn"])
    registry = odoo.modules.registry.Registry(database)
    profiler = None
    if os.environ.get("BENCH_PROFILE"):  # a cProfile dump of the measured phase, to see where the time goes
        profiler = cProfile.Profile()
        profiler.enable()
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        if mode == "setup":
            result = setup(env)
        elif mode == "enter":
            result = enter(env, sys.argv[4], datetime.fromisoformat(sys.argv[3]))
        elif mode == "advance":
            result = advance(env, datetime.fromisoformat(sys.argv[3]))
        else:
            result = idle(env, int(sys.argv[3]))
        cr.commit()
    if profiler:
        profiler.disable()
        profiler.dump_stats(f"{os.environ['BENCH_PROFILE']}.{mode}.{sys.argv[4] if mode == 'enter' else ''}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
