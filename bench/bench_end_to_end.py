"""End to end as production runs it: Odoo with workers, one to three ``sms-sync run`` replicas sharing a
PostgreSQL store, transactional and marketing SMS, and where the time goes in ``claim_batch`` and
``report_results``.

    .venv/bin/python bench/bench_end_to_end.py [--replicas 2] [--odoo-workers 2] [--messages 6000]
        [--profile-batches 6] [--db NAME] [--skip-dispatcher] [--skip-webhooks]

One run prints, on the same machine at the same time (ratios are what to compare; absolute figures move
with whatever else runs):

1. end to end: SMS queued in Odoo (transactional, then a real SMS mailing of the suite to opted-in contacts
   in France and the United States, sending hours open: "any hour" copies of the compliance policies, as the
   demo's), ``--replicas`` ``sms-sync run`` processes (every role) on a PostgreSQL store of the bench's own
   (resilience/store_pg.py), Odoo ``--workers``; msg/s from the first to the last message the provider
   simulator accepted, and no key twice; the simulator posts two status callbacks per SMS (sent, delivered)
   with ``--callback-workers`` threads, most of them during the run by default, as a provider does, and
   the CPU each part of the machine used while sending; each kind's callbacks are all posted and applied
   before the next run;
2. the dispatcher's own send path (in-memory outbox, same simulator, same store server, same replica
   count): the ratio end to end / dispatcher;
3. webhook ingestion of status callbacks (bench/bench_webhooks.py on a database of the same store server):
   requests/s and p99, and the ratio ingestion / end-to-end marketing send rate (target >= 3x: each message
   brings one to three receipts);
4. the profile: ``--profile-batches`` marketing batches of 500 claimed and reported in this process, after
   one that warms the registry's caches up, not counted (the
   same methods the RPC calls, on the same database), time per phase: SQL, the gate's look-ups (consent,
   opt-out register, frequency caps, flow exits), destinations and sending hours, decoration, routing,
   writes (ORM), the rest.

Targets (issue 17): marketing end to end >= 1,000 msg/s with Odoo workers and two replicas, and >= 50 % of
the dispatcher's own send rate. Needs the test template database (``make test`` once).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import multiprocessing as mp
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_dispatcher import _dispatcher_worker  # noqa: E402

from resilience.odoo import (  # noqa: E402
    ODOO_SRC,
    PG_ENV,
    OdooProcess,
    Rpc,
    create_database,
    database_exists,
    free_port,
    write_config,
)
from resilience.run import Service  # noqa: E402
from resilience.store_pg import StoreServer  # noqa: E402
from sync_service.simulator import DEFAULT_ACCOUNTS, ProviderSimulator  # noqa: E402
from sync_service.store import Store  # noqa: E402

SID = "AC00000000000000000000000000000001"
TOKEN = DEFAULT_ACCOUNTS[SID]
SENDER = "+14155550100"
TARGET_RATE = 1000
TARGET_SHARE = 0.5
TARGET_WEBHOOKS = 3.0
TARGET_WEBHOOK_P99_MS = 100.0
SERVICE_SETTINGS = {
    "batch_size": 500, "lease_seconds": 120, "concurrency": 16, "poll_interval": 0.2, "odoo_timeout": 120,
    "log_level": "WARNING",
}


# --------------------------------------------------------------------------- the simulator, its own process


def _simulator_main(conn: Connection, callback_workers: int) -> None:
    sim = ProviderSimulator(callback_workers=callback_workers).start()
    conn.send(sim.url)
    while True:
        command, *_ = conn.recv()
        if command == "stats":
            counts = sim.count_by_key()
            conn.send((len(sim.received()), max(counts.values(), default=0)))
        elif command == "span":
            times = sorted(m.received_at for m in sim.received())
            conn.send((len(times), times[0] if times else 0.0, times[-1] if times else 0.0))
        elif command == "callbacks":
            deliveries = sim.callbacks()
            conn.send((len(deliveries), sum(d.status_code == 200 for d in deliveries)))
        elif command == "drain":
            conn.send(sim.wait_callbacks(timeout=300.0))
        elif command == "reset":
            sim.reset()
            conn.send(True)
        else:
            sim.stop()
            conn.send(True)
            return


class SimulatorProcess:
    def __init__(self, callback_workers: int) -> None:
        self._conn, child = mp.Pipe()
        self._process = mp.get_context("spawn").Process(
            target=_simulator_main, args=(child, callback_workers), daemon=True)
        self._process.start()
        self.url: str = self._conn.recv()

    def ask(self, command: str) -> Any:
        self._conn.send((command,))
        return self._conn.recv()

    @property
    def pid(self) -> int:
        return int(self._process.pid or 0)

    def stop(self) -> None:
        self.ask("stop")
        self._process.join(10)


# --------------------------------------------------------------------------- Odoo with workers


class BenchOdoo(OdooProcess):
    """Odoo with workers (and their longpolling process), on a fixed loopback port."""

    def start(self, timeout: float = 180.0) -> None:
        cmd = [
            sys.executable, str(ODOO_SRC / "odoo-bin"), "-c", str(self.config), "-d", self.database,
            f"--http-port={self.port}", "--http-interface=127.0.0.1",
            f"--workers={self.workers}", "--max-cron-threads=0", "--log-level=warn",
            f"--gevent-port={self.gevent_port}", "--limit-time-real=600", "--limit-time-cpu=600",
        ]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=PG_ENV)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"odoo-bin exited with {self.process.returncode}; see {self.log}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/web/health",
                                                                      timeout=2) as resp:
                if resp.status == 200:
                    return
            time.sleep(0.3)
        self.stop()
        raise SystemExit(f"odoo-bin did not answer on {self.url} within {timeout:.0f} s; see {self.log}")


# --------------------------------------------------------------------------- where the CPU goes


class CpuShares:
    """CPU seconds (user + system) each part of the run used between two snapshots, read from /proc through
    psutil: Odoo (its workers), the replicas, the simulator, PostgreSQL for Odoo's database, the store's
    PostgreSQL, this process (it polls), and the rest of the machine. A process counts with the children it
    reaped meanwhile (backends that connected and left, recycled workers). On 2 cores every part takes from
    the same budget: what one saves, another can use."""

    def __init__(self, roots: dict[str, list[int]]) -> None:
        self.roots = roots
        self._start: dict[tuple[int, float], tuple[str, float]] = {}
        self._machine = 0.0

    @staticmethod
    def _busy() -> float:
        times = psutil.cpu_times()
        return sum(times) - times.idle - getattr(times, "iowait", 0.0)

    def _role_of(self, pid: int, parents: dict[int, int], names: dict[int, str]) -> str | None:
        seen = pid
        while seen:
            for role, pids in self.roots.items():
                if seen in pids:
                    return role
            seen = parents.get(seen, 0)
        if names.get(pid) == "postgres":
            return "PostgreSQL, Odoo's database"
        return None

    def _snapshot(self) -> dict[tuple[int, float], tuple[str, float]]:
        procs = list(psutil.process_iter(["pid", "ppid", "name", "cpu_times", "create_time"]))
        parents = {p.info["pid"]: p.info["ppid"] for p in procs}
        names = {p.info["pid"]: p.info["name"] for p in procs}
        found: dict[tuple[int, float], tuple[str, float]] = {}
        for proc in procs:
            times = proc.info["cpu_times"]
            role = self._role_of(proc.info["pid"], parents, names)
            if role and times is not None:
                # With the children it reaped (PostgreSQL's backends that came and went, recycled workers).
                spent = times.user + times.system + times.children_user + times.children_system
                found[proc.info["pid"], proc.info["create_time"]] = (role, spent)
        return found

    def start(self) -> None:
        self._start, self._machine = self._snapshot(), self._busy()

    def stop(self) -> dict[str, float]:
        end, machine = self._snapshot(), self._busy() - self._machine
        used: dict[str, float] = defaultdict(float)
        for key, (role, seconds) in end.items():
            used[role] += seconds - self._start.get(key, (role, 0.0))[1]
        for key, (role, seconds) in self._start.items():
            if key not in end:  # ended: its whole time is now in its parent's children (counted above)
                used[role] -= seconds
        used["the rest of the machine"] = max(0.0, machine - sum(used.values()))
        return dict(used)


def print_cpu(used: dict[str, float], count: int, seconds: float) -> None:
    total = sum(used.values())
    cores = os.cpu_count() or 1
    print(f"  CPU ({seconds:.1f} s, {cores} cores = {seconds * cores:.1f} core-seconds;"
          f" {total:.1f} used, {total / count * 1000:.2f} ms per SMS):", flush=True)
    for role, spent in sorted(used.items(), key=lambda item: -item[1]):
        print(f"    {role:<32} {spent:7.1f} s  {spent / count * 1000:6.3f} ms/SMS  {spent / total:5.1%}",
              flush=True)


# --------------------------------------------------------------------------- 2. the dispatcher's own rate


def dispatcher_rate(sim: SimulatorProcess, store_url: str, messages: int, processes: int,
                    concurrency: int, cpu: CpuShares) -> tuple[float, int]:
    """bench_dispatcher's send path in `processes` processes sharing `store_url`; (msg/s, sent). Prints the
    CPU used from the moment they all start sending (`cpu` for the simulator and the store, each process's
    own for the dispatchers: their start-up is not counted)."""
    Store.from_url(store_url).close()  # the tables first, not by every replica at once
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 3.0
    share = messages // processes
    procs = [ctx.Process(target=_dispatcher_worker,
                         args=(sim.url, store_url, share, i * share, concurrency, start_at, out))
             for i in range(processes)]
    for proc in procs:
        proc.start()
    time.sleep(max(0.0, start_at - time.time()))
    cpu.start()
    results = [out.get(timeout=600) for _ in procs]
    used = cpu.stop()
    used["dispatcher processes"] = sum(r[3] for r in results)
    used.pop("the rest of the machine", None)  # it holds the dispatchers' own time here
    for proc in procs:
        proc.join()
    print_cpu(used, share * processes, max(r[1] for r in results))
    return share * processes / max(r[1] for r in results), sum(r[2] for r in results)


# --------------------------------------------------------------------------- the database


def psql(database: str, sql: str) -> str:
    env = dict(os.environ, PGOPTIONS="-c client_min_messages=warning")
    return subprocess.run(["psql", "-q", "-tA", "-d", database, "-c", sql], check=True, capture_output=True,
                          text=True, env=env).stdout.strip()


def seed_contacts(database: str, size: int, tag: str) -> None:
    """`size` opted-in contacts with valid mobiles, half in France, half in the United States (New York
    numbers), written in SQL (set-up, not measured). Numbers never used before in this database: a contact
    who received an SMS of an earlier run would be held by the frequency cap."""
    half = size // 2
    base = int(psql(database, "SELECT COALESCE(max(id), 0) FROM res_partner"))
    psql(database, f"""
        INSERT INTO res_partner (name, mobile, country_id, sms_number, sms_number_valid, sms_consent_state,
                                 active, type, autopost_bills, create_date, write_date)
        SELECT '{tag} FR ' || n, '+336' || lpad((n + {base})::text, 8, '0'),
               (SELECT id FROM res_country WHERE code = 'FR'), '+336' || lpad((n + {base})::text, 8, '0'),
               TRUE, 'opted_in', TRUE, 'contact', 'ask', now(), now()
          FROM generate_series(1, {half}) AS n;
        INSERT INTO res_partner (name, mobile, country_id, sms_number, sms_number_valid, sms_consent_state,
                                 active, type, autopost_bills, create_date, write_date)
        SELECT '{tag} US ' || n, '+1212' || lpad((n + {base + 2000000})::text, 7, '0'),
               (SELECT id FROM res_country WHERE code = 'US'),
               '+1212' || lpad((n + {base + 2000000})::text, 7, '0'),
               TRUE, 'opted_in', TRUE, 'contact', 'ask', now(), now()
          FROM generate_series(1, {size - half}) AS n;""")


CHURNED = ("sms_sms", "mailing_trace", "sms_tracker", "sms_provider_message", "res_partner",
           "mailing_mailing")


def vacuum(database: str) -> None:
    """VACUUM ANALYZE the tables the runs churn, as set-up: production PostgreSQL runs autovacuum, a shared
    development server may not (``autovacuum = off`` here): without it every run leaves its claimed, reported
    and deleted rows as dead index entries that the next run's claim and frequency-cap look-ups walk over."""
    psql(database, f"VACUUM ANALYZE {', '.join(CHURNED)}")


def open_hours(rpc: Rpc) -> None:
    """Sending hours 00:00-24:00 every day: an "any hour" copy of every policy, first (as the demo's)."""
    if rpc.call("sms.compliance.policy", "search_count", [("name", "=like", "Bench, any hour:%")]):
        return
    days = dict.fromkeys(("day_mon", "day_tue", "day_wed", "day_thu", "day_fri", "day_sat", "day_sun"), True)
    for policy in rpc.call("sms.compliance.policy", "search_read", [], ["name"]):
        rpc.call("sms.compliance.policy", "copy", [policy["id"]], default={
            "name": f"Bench, any hour: {policy['name']}", "sequence": 0, "hour_start": 0.0, "hour_end": 24.0,
            "sunday_hours": False, **days})


def queue_transactional(rpc: Rpc, count: int, account: int) -> None:
    for start in range(0, count, 1000):
        rpc.call("sms.sms", "create", [
            {"number": f"+3367{i:07d}", "body": f"Your order {i} has shipped and arrives tomorrow.",
             "state": "outgoing", "sms_kind": "transactional", "sms_account_id": account}
            for i in range(start, min(count, start + 1000))])


def queue_mailing(rpc: Rpc, tag: str) -> float:
    """The suite's SMS mailing to the contacts tagged `tag` (link tracking, unsubscribe link); seconds."""
    model = rpc.call("ir.model", "search", [("model", "=", "res.partner")])[0]
    mailing = rpc.call("mailing.mailing", "create", {
        "subject": f"bench {tag}", "mailing_type": "sms", "keep_archives": True,
        "body_plaintext": "Bonjour, -20% ce week-end : https://shop.example.com/soldes",
        "mailing_model_id": model, "sms_allow_unsubscribe": True,
        "mailing_domain": repr([("name", "=like", f"{tag} %")]),
    })
    started = time.perf_counter()
    rpc.call("mailing.mailing", "action_send_sms", [mailing])
    return time.perf_counter() - started


def outgoing(rpc: Rpc) -> int:
    return int(rpc.call("sms.sms", "search_count", [("state", "=", "outgoing")]))


# --------------------------------------------------------------------------- 1. end to end


def wait_all(sim: SimulatorProcess, rpc: Rpc, count: int, timeout: float) -> tuple[float, int]:
    """Until the simulator accepted `count` messages and Odoo has none outgoing; (msg/s first to last
    accepted, most times one key was seen)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        received, _ = sim.ask("stats")
        if received >= count and outgoing(rpc) == 0:
            break
        time.sleep(0.5)
    received, most = sim.ask("stats")
    if received < count:
        raise SystemExit(f"only {received:,} of {count:,} messages reached the provider in {timeout:.0f} s")
    total, first, last = sim.ask("span")
    return total / max(last - first, 1e-9), most


def end_to_end(ctx: dict[str, Any], kind: str, count: int) -> float:
    sim, rpc = ctx["sim"], ctx["rpc"]
    sim.ask("reset")
    vacuum(ctx["database"])
    if kind == "transactional":
        queue_transactional(rpc, count, ctx["account"])
    else:
        tag = f"E2E{uuid.uuid4().hex[:6]}"
        seed_contacts(ctx["database"], count, tag)
        seconds = queue_mailing(rpc, tag)
        print(f"  mailing of {count:,} queued over RPC in {seconds:.1f} s", flush=True)
    cpu = CpuShares(ctx["roots"])
    cpu.start()
    started = time.perf_counter()
    rate, most = wait_all(sim, rpc, count, timeout=max(300.0, count / 20))
    print_cpu(cpu.stop(), count, time.perf_counter() - started)
    assert most == 1, f"a key reached the provider {most} times"
    during, answered = sim.ask("callbacks")
    drain(ctx)
    total, _ = sim.ask("callbacks")
    print(f"  status callbacks: {during:,} posted by the simulator during the run ({answered:,} answered "
          f"200), {total:,} in all once drained (the receipts' work in the run: see --callback-workers)",
          flush=True)
    return rate


def drain(ctx: dict[str, Any]) -> None:
    """The simulator's status callbacks all posted and the replicas' inbox applied to Odoo, so that one
    kind's receipts are not counted in the next kind's run (the simulator posts them behind the sends)."""
    started = time.perf_counter()
    if not ctx["sim"].ask("drain"):
        raise SystemExit("the simulator's status callbacks were still being posted after 300 s")
    store = Store.from_url(ctx["store_url"])
    try:
        deadline = time.monotonic() + 300
        while (left := store.backlog()) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        store.close()
    if left:
        raise SystemExit(f"{left:,} status callbacks not applied to Odoo after 300 s")
    print(f"  then every status callback posted and applied to Odoo ({time.perf_counter() - started:.1f} s)",
          flush=True)


# --------------------------------------------------------------------------- 4. profile (in process)


class PhaseClock:
    """Self time per phase, wall-clock and CPU of this process: a timed function's time minus that of the
    timed functions it calls (SQL included), so that the phases add up to the whole. On a busy machine the
    CPU column is the steadier one (wall time includes waiting for a core); SQL's wall time includes
    PostgreSQL's work, its CPU only the driver's."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self._stack: list[list[float]] = []  # [start, start CPU, child time, child CPU]

    def wrap(self, phase: str, func: Callable[..., Any]) -> Callable[..., Any]:
        clock = self

        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            frame = [time.perf_counter(), time.thread_time(), 0.0, 0.0]
            clock._stack.append(frame)
            try:
                return func(*args, **kwargs)
            finally:
                clock._stack.pop()
                elapsed = time.perf_counter() - frame[0]
                cpu = time.thread_time() - frame[1]
                clock.spent[phase] += elapsed - frame[2]
                clock.cpu[phase] += cpu - frame[3]
                if clock._stack:
                    clock._stack[-1][2] += elapsed
                    clock._stack[-1][3] += cpu
        return timed


@contextlib.contextmanager
def patched(target: Any, name: str,
            wrapper: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Iterator[None]:
    original = target.__dict__.get(name)
    setattr(target, name, wrapper(getattr(target, name)))
    try:
        yield
    finally:
        if original is None:
            delattr(target, name)
        else:
            setattr(target, name, original)


PHASES = {  # (model, method): phase; methods of the final registry class, wrapped for the profile only
    ("sms.marketing.api", "claim_batch"): "claim_batch (rest)",
    ("sms.marketing.api", "report_results"): "report_results (rest)",
    ("sms.sms", "_sms_gate"): "gate loop (rest)",
    ("sms.sms", "_sms_flow_exit_reasons"): "look-up: flow exits",
    ("phone.blacklist", "search"): "look-up: opt-out register",
    ("phone.blacklist", "_sms_blacklisted"): "look-up: opt-out register",
    ("res.partner", "search"): "look-up: consent",
    ("res.partner", "_sms_consenting"): "look-up: consent",
    ("sms.sms", "_sms_recent_marketing_counts"): "look-up: frequency caps",
    ("sms.sms", "_sms_destination"): "destination + hours",
    ("sms.compliance.policy", "_for_destination"): "destination + hours",
    ("sms.compliance.policy", "_next_allowed"): "destination + hours",
    ("sms.sms", "_sms_decorate"): "decoration",
    ("sms.sms", "_sms_decorate_batch"): "decoration",
    ("sms.provider.account", "_route"): "routing",
    ("sms.provider.account", "_serving"): "routing",
    ("sms.sms", "write"): "writes: SMS (ORM)",
    ("sms.sms", "_sms_write_bodies"): "writes: SMS (ORM)",
    ("sms.provider.message", "create"): "writes: sent register (ORM)",
    ("sms.provider.message", "_sms_create_sent"): "writes: sent register (SQL)",
    ("sms.provider.message", "_sms_accepted"): "writes: sent register (SQL)",
    ("sms.sms", "_sms_write_columns"): "writes: SMS (SQL)",
    ("sms.tracker", "_sms_update_pending"): "writes: traces (SQL)",
    ("sms.marketing.api", "_provider_message_vals"): "report: register rows",
    ("sms.tracker", "_action_update_from_sms_state"): "writes: traces (ORM)",
    ("mailing.trace", "write"): "writes: traces (ORM)",
    ("mail.message", "_notify_message_notification_update"): "writes: notifications (ORM)",
    ("sms.sms", "_flush"): "writes: flush (ORM)",
    ("sms.provider.message", "_flush"): "writes: flush (ORM)",
    ("mailing.trace", "_flush"): "writes: flush (ORM)",
}


def profile(database: str, config: Path, batches: int, batch_size: int,
            verbose: bool = False) -> tuple[PhaseClock, float, float, int]:
    """Claim and report `batches` batches of queued marketing SMS in this process, with a clock per phase;
    ({phase: seconds}, total seconds, SMS)."""
    import odoo
    from odoo import SUPERUSER_ID, api

    odoo.tools.config.parse_config(["-c", str(config), "-d", database, "--log-level=warn"])
    registry = odoo.modules.registry.Registry(database)
    clock = PhaseClock()
    stack = contextlib.ExitStack()
    stack.enter_context(patched(odoo.sql_db.Cursor, "execute",
                                lambda f: clock.wrap("SQL (PostgreSQL + driver)", f)))
    statements: dict[str, float] = defaultdict(float)

    def by_statement(execute: Callable[..., Any]) -> Callable[..., Any]:
        def timed(cursor: Any, query: Any, params: Any = None, log_exceptions: bool = True) -> Any:
            started = time.perf_counter()
            try:
                return execute(cursor, query, params, log_exceptions)
            finally:
                text = " ".join(str(getattr(query, "code", query)).split())
                statements[re.sub(r"%s(, %s)*", "?", text)[:90]] += time.perf_counter() - started
        return timed

    if verbose:
        stack.enter_context(patched(odoo.sql_db.Cursor, "execute", by_statement))
    for (model, method), phase in PHASES.items():
        cls = registry[model]
        if hasattr(cls, method):
            stack.enter_context(patched(cls, method, lambda f, p=phase: clock.wrap(p, f)))
    total, total_cpu, count = 0.0, 0.0, 0
    with stack:
        for index in range(-1, batches):  # batch -1 warms up: what a running Odoo worker did long before
            if index == 0:
                clock.spent.clear()
                clock.cpu.clear()
                statements.clear()
            with registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                api_model = env["sms.marketing.api"]
                started, started_cpu = time.perf_counter(), time.thread_time()
                claim = api_model.claim_batch(f"bench-profile-{index}", batch_size, 120)
                cr.commit()
                results = [{"key": m["key"], "outcome": "sent", "segments": 1,
                            "provider_message_id": f"SM{uuid.uuid4().hex}"} for m in claim["messages"]]
                api_model.report_results(f"bench-profile-{index}", results)
                cr.commit()
                if index >= 0:
                    total += time.perf_counter() - started
                    total_cpu += time.thread_time() - started_cpu
                    count += len(claim["messages"])
    if verbose:
        for text, seconds in sorted(statements.items(), key=lambda item: -item[1])[:15]:
            print(f"  SQL {seconds * 1000 / max(count, 1):6.3f} ms/SMS  {text}")
    return clock, total, total_cpu, count


def print_profile(clock: PhaseClock, total: float, total_cpu: float, count: int) -> None:
    per = 1000 / max(count, 1)
    print(f"where the time goes in claim_batch + report_results ({count:,} marketing SMS, in process): "
          f"{total * per:.3f} ms per SMS wall-clock, {total_cpu * per:.3f} ms of CPU")
    print(f"  {'phase':<28} {'wall ms/SMS':>11} {'share':>6} {'CPU ms/SMS':>11} {'share':>6}")
    rows = sorted(clock.spent.items(), key=lambda item: -clock.cpu[item[0]])
    rows.append(("(commits, outside)", total - sum(clock.spent.values())))
    cpu = dict(clock.cpu, **{"(commits, outside)": total_cpu - sum(clock.cpu.values())})
    for phase, seconds in rows:
        print(f"  {phase:<28} {seconds * per:11.3f} {seconds / total:6.1%} {cpu[phase] * per:11.3f} "
              f"{cpu[phase] / max(total_cpu, 1e-9):6.1%}")


# --------------------------------------------------------------------------- 3. webhooks


def webhook_ingestion(store_url: str | None, requests: int) -> tuple[float, float]:
    """bench_webhooks.py on `store_url`, else on a new SQLite file."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_webhooks.py"), "--requests", str(requests),
         *(["--store-url", store_url] if store_url else [])], capture_output=True, text=True, cwd=ROOT,
        check=False)
    throughput = re.search(r"throughput: ([\d,]+) req/s", out.stdout)
    p99 = re.search(r"latency p99: ([\d.]+) ms", out.stdout)
    if not throughput or not p99:
        raise SystemExit(f"bench_webhooks failed:\n{out.stdout}\n{out.stderr}")
    return float(throughput.group(1).replace(",", "")), float(p99.group(1))


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, default=2, help="sms-sync run processes (1 to 3)")
    parser.add_argument("--odoo-workers", type=int, default=2, help="Odoo's --workers")
    parser.add_argument("--messages", type=int, default=6000, help="SMS of each kind, end to end")
    parser.add_argument("--profile-batches", type=int, default=6, help="batches of 500 in the profile")
    parser.add_argument("--webhook-requests", type=int, default=20000)
    parser.add_argument("--callback-workers", type=int, default=32,
                        help="simulator threads posting status callbacks to the replicas (default 32: most "
                             "receipts arrive while the campaign is sent, as a provider posts them; with 4, "
                             "about five in six trail behind the run)")
    parser.add_argument("--db", help="an existing database with the addon (default: a new one)")
    parser.add_argument("--skip-dispatcher", action="store_true")
    parser.add_argument("--only-profile", action="store_true",
                        help="only the in-process profile (on --db, as an earlier run left it)")
    parser.add_argument("--sql", action="store_true", help="the profile's 15 costliest SQL statements")
    parser.add_argument("--skip-webhooks", action="store_true")
    parser.add_argument("--kinds", nargs="+", default=["transactional", "marketing"],
                        choices=["transactional", "marketing"])
    args = parser.parse_args()

    run_dir = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    config = write_config(run_dir / "odoo.conf", run_dir / "odoo-data")
    database = args.db or "smsm_bench_e2e"
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at start; "
          f"Odoo --workers {args.odoo_workers}, {args.replicas} sms-sync replica(s), PostgreSQL store; "
          f"run directory {run_dir}", flush=True)
    if args.only_profile:
        return profile_run(database, config, args)
    if not args.db or not database_exists(database):
        print(f"creating {database} from the test template (a minute or two)...", flush=True)
        create_database(database, config, run_dir / "odoo-data", run_dir / "install.log")
    store = StoreServer().start()
    sim = SimulatorProcess(args.callback_workers)
    odoo_proc = BenchOdoo(config, database, run_dir / "odoo.log", workers=args.odoo_workers)
    services: list[Service] = []
    rates: dict[str, float] = {}
    try:
        odoo_proc.start()
        rpc = Rpc(odoo_proc.url, database)
        queued = rpc.call("sms.sms", "search", [("state", "=", "outgoing")])
        if queued:
            rpc.call("sms.sms", "write", queued, {"state": "canceled"})
        old = rpc.call("sms.provider.account", "search", [])
        if old:
            rpc.call("sms.provider.account", "write", old, {"active": False})
        account = rpc.call("sms.provider.account", "create", {
            "name": "bench e2e", "provider": "twilio", "base_url": sim.url, "account_sid": SID,
            "auth_token": TOKEN, "sender": SENDER, "messages_per_second": 100000, "sequence": 0})
        open_hours(rpc)
        store_url = store.create_database(f"sync_e2e_{uuid.uuid4().hex[:6]}")
        for index in range(args.replicas):
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("SMS_SYNC_")}
            env.update({f"SMS_SYNC_{key.upper()}": str(value) for key, value in SERVICE_SETTINGS.items()})
            env.update({
                "SMS_SYNC_ODOO_URL": odoo_proc.url, "SMS_SYNC_ODOO_DB": database,
                "SMS_SYNC_ODOO_LOGIN": "admin",
                "SMS_SYNC_ODOO_PASSWORD": "admin", "SMS_SYNC_STORE_URL": store_url,
                "SMS_SYNC_WORKER_ID": f"bench-replica-{index + 1}",
                "SMS_SYNC_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "SMS_SYNC_LISTEN_PORT": str(port),
                "PYTHONPATH": str(ROOT),
            })
            services.append(Service(env, run_dir / f"service-{index + 1}.log"))
        for service in services:
            service.start()
        roots = {
            "Odoo (workers)": [odoo_proc.process.pid], "replicas": [s.process.pid for s in services],
            "simulator": [sim.pid], "store's PostgreSQL": [store.postmaster_pid()],
            "bench (polls)": [os.getpid()],
        }
        ctx = {"sim": sim, "rpc": rpc, "account": account, "database": database, "roots": roots,
               "store_url": store_url}
        for kind in args.kinds:
            rates[kind] = end_to_end(ctx, kind, args.messages)
            print(f"end to end, {kind}: {args.messages:,} SMS, {rates[kind]:,.0f} msg/s (first to last "
                  f"accepted by the provider), none twice", flush=True)
        for service in services:
            service.terminate()
        e2e = rates.get("marketing") or rates.get("transactional") or 0.0
        if not args.skip_dispatcher:
            sim.ask("reset")
            dispatcher_store = store.create_database(f"sync_disp_{uuid.uuid4().hex[:6]}")
            cpu = CpuShares({"simulator": [sim.pid], "store's PostgreSQL": [store.postmaster_pid()]})
            own, _reports = dispatcher_rate(sim, dispatcher_store, args.messages, args.replicas,
                                            int(SERVICE_SETTINGS["concurrency"]), cpu)
            received, most = sim.ask("stats")
            print(f"dispatcher's own send path ({args.replicas} process(es), in-memory outbox, same store "
                  f"server): {own:,.0f} msg/s ({received:,} keys at the simulator, at most {most}x each)",
                  flush=True)
            for kind, rate in rates.items():
                share = rate / own
                met = rate >= TARGET_RATE and share >= TARGET_SHARE
                print(f"  {kind}: end to end = {share:.0%} of the dispatcher's own rate; target >= "
                      f"{TARGET_RATE:,} msg/s and >= {TARGET_SHARE:.0%}: {'met' if met else 'NOT met'}")
        if not args.skip_webhooks:
            # Both stores (the target names both): PostgreSQL (replicas) and SQLite (one process's default).
            for label, url in (("PostgreSQL", store.create_database(f"sync_hooks_{uuid.uuid4().hex[:6]}")),
                               ("SQLite", None)):
                ingest, p99 = webhook_ingestion(url, args.webhook_requests)
                ratio = ingest / e2e if e2e else float("inf")
                met = ratio >= TARGET_WEBHOOKS and p99 <= TARGET_WEBHOOK_P99_MS
                print(f"webhook ingestion (status callbacks, {label} store, bench_webhooks.py): "
                      f"{ingest:,.0f} req/s, p99 {p99:.1f} ms = {ratio:.1f}x the end-to-end send rate; "
                      f"target >= {TARGET_WEBHOOKS:.0f}x and p99 <= {TARGET_WEBHOOK_P99_MS:.0f} ms: "
                      f"{'met' if met else 'NOT met'}", flush=True)
    finally:
        for service in services:
            service.terminate()
        odoo_proc.stop()
        sim.stop()
        store.destroy()
    return profile_run(database, config, args)


def profile_run(database: str, config: Path, args: argparse.Namespace) -> int:
    if args.profile_batches:
        tag = f"Prof{uuid.uuid4().hex[:6]}"
        size = (args.profile_batches + 1) * 500  # and a batch to warm up (not counted)
        seed_contacts(database, size, tag)
        rpc_free = _queue_in_process(database, config, tag)
        vacuum(database)
        clock, total, total_cpu, count = profile(database, config, args.profile_batches, 500, args.sql)
        print(f"(profile mailing of {size:,} queued in {rpc_free:.1f} s)")
        print_profile(clock, total, total_cpu, count)
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    return 0


def _queue_in_process(database: str, config: Path, tag: str) -> float:
    """Queue the suite's mailing to `tag` in a subprocess (this process imports Odoo only for the profile)."""
    code = (
        "import sys, time, odoo\n"
        "from odoo import SUPERUSER_ID, api\n"
        f"odoo.tools.config.parse_config(['-c', {str(config)!r}, '-d', {database!r}, '--log-level=warn'])\n"
        f"registry = odoo.modules.registry.Registry({database!r})\n"
        "with registry.cursor() as cr:\n"
        "    env = api.Environment(cr, SUPERUSER_ID, {})\n"
        "    env['sms.sms'].search([('state', '=', 'outgoing')]).write({'state': 'canceled'})\n"
        "    mailing = env['mailing.mailing'].create({'subject': 'bench profile', 'mailing_type': 'sms',\n"
        "        'body_plaintext': 'Bonjour, -20% ce week-end : https://shop.example.com/soldes',\n"
        "        'mailing_model_id': env['ir.model']._get_id('res.partner'), 'sms_allow_unsubscribe': True,\n"
        f"        'mailing_domain': repr([('name', '=like', {tag + ' %'!r})])}})\n"
        "    t = time.perf_counter(); mailing.action_send_sms(); cr.commit()\n"
        "    print(time.perf_counter() - t)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    return float(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    raise SystemExit(main())
