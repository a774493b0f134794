"""The resilience suite: ``make resilience`` (``.venv/bin/python -m resilience``).

Each scenario queues a campaign of transactional SMS in a real Odoo (its own database, copied from the
test template), runs the real service (``sms-sync run``, every role, as a subprocess) against the real
provider simulator on loopback, disturbs it, lets it drain, and counts from the simulator's and Odoo's
records: sent (keys the simulator accepted), delivered (Odoo shows the receipt applied), failed (Odoo shows
a failure with its reason), duplicates (keys the simulator accepted more than once), lost (queued, then
neither delivered nor failed with a reason). Exit 0 only when every scenario shows 0 duplicates and 0 lost.

1. ``sigkill``: the service SIGKILLed ten times at random moments spread over the campaign (one in each tenth
   of it, when the provider has accepted a random count of messages), restarted at once each time.
2. ``odoo-restart``: Odoo killed (SIGKILL), then stopped (SIGTERM), each time down for 10 s, mid-campaign.
3. ``provider-faults``: 20 % of the provider's answers are transient faults (500, 429 with Retry-After,
   a 504 after 0.5 s, and no answer within the client's 10 s read timeout).
4. ``store-disk``: the service's SQLite store on its own tmpfs: the disk filled up for 15 s while the service
   runs, then (service crashed) the mount made read-only for 15 s while it is restarted every 3 s.

Status callbacks the service did not take (down, 503) are posted again by the suite, as a provider that
retries callbacks would (:mod:`resilience.callbacks`).

Replicas mode (``--replicas 3 --odoo-workers 2``, ``make resilience-replicas``): the production set-up the
README recommends: several ``sms-sync`` processes sharing one PostgreSQL store (a PostgreSQL server of the
suite's own, :mod:`resilience.store_pg`), Odoo with ``--workers``. ``sigkill`` then kills a random replica
each time; two more scenarios: ``odoo-workers`` (ten Odoo HTTP workers SIGKILLed mid-campaign, Odoo's master
starting new ones) and ``store-restart`` (the store's PostgreSQL crashed (``pg_ctl -m immediate``), then
stopped cleanly, each time down 10 s). ``store-disk`` is about the SQLite file and does not apply.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from sync_service.simulator import FaultKind, ProviderSimulator

from . import figures
from .callbacks import CallbackRetrier
from .odoo import (
    OdooProcess,
    Rpc,
    SetupError,
    create_database,
    database_exists,
    drop_database,
    free_port,
    write_config,
)
from .store_pg import StoreServer

TWILIO_SID, TWILIO_TOKEN = "AC00000000000000000000000000000001", "twilio-sim-token"
SENDER = "+14155550100"
SCENARIOS = ("sigkill", "odoo-restart", "provider-faults", "store-disk", "odoo-workers", "store-restart")
SINGLE_SCENARIOS = ("sigkill", "odoo-restart", "provider-faults", "store-disk")
REPLICA_SCENARIOS = ("sigkill", "odoo-restart", "odoo-workers", "provider-faults", "store-restart")
DEFAULT_SIZES = {"sigkill": 10_000, "odoo-restart": 3_000, "provider-faults": 2_000, "store-disk": 2_000,
                 "odoo-workers": 3_000, "store-restart": 3_000}
SERVICE_SETTINGS = {  # SMS_SYNC_* of the service under test
    "batch_size": 200, "lease_seconds": 30, "concurrency": 16, "poll_interval": 0.5, "max_attempts": 6,
    "retry_base_seconds": 0.2, "retry_cap_seconds": 2.0, "stuck_after_seconds": 30, "odoo_timeout": 20,
    "log_level": "INFO",
}


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the service under test


class Service:
    """``sms-sync run`` (every role) as a subprocess; its log appended to one file across restarts."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with self.log.open("ab") as out:
            cmd = [sys.executable, "-m", "sync_service.shell.cli", "run"]
            self.process = subprocess.Popen(cmd, env=self.env,
                                            stdout=out, stderr=subprocess.STDOUT)
        self.starts += 1

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self.process = None

    def terminate(self, timeout: float = 90.0) -> int | None:
        """SIGTERM (the service finishes what is in flight); its exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code, self.process = self.process.returncode, None
        return code


class Replicas:
    """Several ``sms-sync run`` processes sharing one store, driven like one :class:`Service`: ``kill``
    SIGKILLs one of them at random, ``start`` starts those not running, ``terminate`` stops them all."""

    def __init__(self, services: list[Service], rng: random.Random) -> None:
        self.services, self.rng = services, rng
        self.env, self.log = services[0].env, services[0].log
        self.killed: list[int] = []

    @property
    def starts(self) -> int:
        return sum(service.starts for service in self.services)

    def start(self) -> None:
        for service in self.services:
            if service.process is None or service.process.poll() is not None:
                service.start()

    def kill(self) -> None:
        running = [i for i, s in enumerate(self.services) if s.process and s.process.poll() is None]
        if running:
            index = self.rng.choice(running)
            self.services[index].kill()
            self.killed.append(index)

    def terminate(self, timeout: float = 90.0) -> int | None:
        codes = [service.terminate(timeout) for service in self.services]
        return next((code for code in codes if code not in (0, None)), codes[0])


# --------------------------------------------------------------------------- one scenario's set-up


@dataclass
class Campaign:
    name: str
    account_id: int
    keys: list[str]


@dataclass
class Context:
    rpc: Rpc
    odoo: OdooProcess
    run_dir: Path
    rng: random.Random
    replicas: int = 1
    store_server: StoreServer | None = None
    services: list[Service] = field(default_factory=list)
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def service(self, name: str, simulator: ProviderSimulator, store_dir: Path) -> tuple[Any, str]:
        """The service under test: one process on a SQLite store in ``store_dir``, or (replicas mode)
        ``replicas`` processes on a new database of the suite's PostgreSQL store server."""
        store_url = f"sqlite:///{store_dir / 'sync.db'}"
        if self.store_server is not None:
            store_url = self.store_server.create_database("sync_" + name.replace("-", "_"))
        group = []
        for index in range(self.replicas):
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("SMS_SYNC_")}
            env.update({f"SMS_SYNC_{key.upper()}": str(value) for key, value in SERVICE_SETTINGS.items()})
            env.update({
                "SMS_SYNC_ODOO_URL": self.odoo.url, "SMS_SYNC_ODOO_DB": self.odoo.database,
                "SMS_SYNC_ODOO_LOGIN": "admin", "SMS_SYNC_ODOO_PASSWORD": "admin",
                "SMS_SYNC_STORE_URL": store_url, "SMS_SYNC_WORKER_ID": f"{name}-replica-{index + 1}",
                "SMS_SYNC_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "SMS_SYNC_LISTEN_PORT": str(port),
            })
            suffix = f"-replica-{index + 1}" if self.replicas > 1 else ""
            service = Service(env, self.run_dir / f"{name}-service{suffix}.log")
            self.services.append(service)
            group.append(service)
        first_url = group[0].env["SMS_SYNC_PUBLIC_BASE_URL"]
        return (group[0] if self.replicas == 1 else Replicas(group, self.rng)), first_url


def queue_campaign(ctx: Context, name: str, simulator: ProviderSimulator, size: int, series: int) -> Campaign:
    """A Twilio account at this scenario's simulator (the others archived) and ``size`` queued SMS."""
    rpc = ctx.rpc
    old = rpc.call("sms.provider.account", "search", [])
    if old:
        rpc.call("sms.provider.account", "write", old, {"active": False})
    account = rpc.call("sms.provider.account", "create", {
        "name": f"Resilience {name}", "provider": "twilio", "base_url": simulator.url,
        "account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN, "sender": SENDER,
        "messages_per_second": 5000, "country_prefixes": "999", "sequence": 0,
    })
    keys: list[str] = []
    for start in range(0, size, 1000):
        vals = [{"number": f"+3367{series}{i:06d}", "body": f"Resilience {name}: your order {i} has shipped",
                 "state": "outgoing", "sms_kind": "transactional", "sms_account_id": account}
                for i in range(start, min(size, start + 1000))]
        ids = rpc.call("sms.sms", "create", vals)
        by_id = {row["id"]: row["uuid"] for row in rpc.call("sms.sms", "read", ids, ["uuid"])}
        keys.extend(by_id[i] for i in ids)
    return Campaign(name, account, keys)


def odoo_rows(rpc: Rpc, campaign: Campaign) -> dict[str, figures.SmsRow]:
    sms = rpc.call("sms.sms", "search_read", [("sms_account_id", "=", campaign.account_id)],
                   ["uuid", "state", "failure_type", "sms_last_error"])
    messages = rpc.call("sms.provider.message", "search_read", [("account_id", "=", campaign.account_id)],
                        ["sms_uuid", "state"])
    provider = {row["sms_uuid"]: row["state"] for row in messages}
    rows = {}
    for row in sms:
        failure = " ".join(str(row[f]) for f in ("failure_type", "sms_last_error") if row[f])
        rows[row["uuid"]] = figures.SmsRow(row["state"], failure, provider.get(row["uuid"]))
    return rows


def progress(ctx: Context, campaign: Campaign, simulator: ProviderSimulator) -> tuple[int, int, int]:
    """(accepted by the provider, delivered in Odoo, failed in Odoo) right now."""
    accepted = len(simulator.count_by_key())
    delivered = ctx.rpc.call("sms.provider.message", "search_count",
                             [("account_id", "=", campaign.account_id), ("state", "=", "delivered")])
    failed = ctx.rpc.call("sms.sms", "search_count", [("sms_account_id", "=", campaign.account_id),
                                                      ("state", "in", ["error", "canceled"])])
    return accepted, delivered, failed


def wait_sent(simulator: ProviderSimulator, campaign: Campaign, share: float, timeout: float = 300) -> None:
    """Until the provider accepted ``share`` of the campaign."""
    target = int(len(campaign.keys) * share)
    deadline = time.monotonic() + timeout
    while len(simulator.count_by_key()) < target and time.monotonic() < deadline:
        time.sleep(0.2)


def _inbox_backlog(base_urls: list[str]) -> int | None:
    """Receipts the service stored but Odoo has not taken yet, as the first replica that answers says (they
    share the store); None when none answers."""
    for base_url in base_urls:
        try:
            return int(requests.get(f"{base_url}/healthz", timeout=5).json().get("backlog") or 0)
        except (requests.RequestException, ValueError):
            continue
    return None


def drain(ctx: Context, campaign: Campaign, simulator: ProviderSimulator, retrier: CallbackRetrier,
          timeout: float, base_urls: list[str]) -> bool:
    """Wait until every SMS of the campaign is delivered or failed with a reason, and every receipt the
    provider sent has reached Odoo (none waiting for a retry, the service's inbox empty: a receipt may
    still settle an unknown outcome); False on timeout."""
    deadline = time.monotonic() + timeout
    last_print = 0.0
    while time.monotonic() < deadline:
        accepted, delivered, failed = progress(ctx, campaign, simulator)
        if time.monotonic() - last_print > 15:
            say(f"  {campaign.name}: {accepted:,} accepted by the provider, {delivered:,} delivered, "
                f"{failed:,} failed, {retrier.stats.outstanding} callbacks waiting for a retry")
            last_print = time.monotonic()
        if (delivered + failed >= len(campaign.keys) and retrier.stats.outstanding == 0
                and _inbox_backlog(base_urls) == 0
                and figures.settled(odoo_rows(ctx.rpc, campaign).values())):
            return True
        time.sleep(2.0)
    return False


@dataclass
class Outcome:
    figures: figures.Figures
    notes: list[str]


@contextlib.contextmanager
def scenario(ctx: Context, name: str, size: int, series: int, **simulator_options: Any) -> Iterator[
        tuple[ProviderSimulator, Campaign, CallbackRetrier, list[str]]]:
    seed = ctx.rng.randrange(1 << 30)
    simulator = ProviderSimulator(seed=seed, callback_workers=8, **simulator_options).start()
    retrier = CallbackRetrier(simulator).start()
    try:
        campaign = queue_campaign(ctx, name, simulator, size, series)
        yield simulator, campaign, retrier, []
    finally:
        retrier.stop()
        simulator.stop()


def finish(ctx: Context, name: str, service: Service, campaign: Campaign, simulator: ProviderSimulator,
           retrier: CallbackRetrier, notes: list[str], started: float, timeout: float) -> Outcome:
    members = service.services if isinstance(service, Replicas) else [service]
    drained = drain(ctx, campaign, simulator, retrier, timeout,
                    [member.env["SMS_SYNC_PUBLIC_BASE_URL"] for member in members])
    seconds = time.monotonic() - started
    code = service.terminate()
    if not drained:
        notes.append(f"did not drain within {timeout:.0f} s")
    if code not in (0, None):
        notes.append(f"the service exited with {code} on SIGTERM")
    accepted, rows = simulator.count_by_key(), odoo_rows(ctx.rpc, campaign)
    result = figures.count(name, campaign.keys, accepted, rows, seconds)
    notes.append(retrier.stats.summary())
    settled_later = sum(1 for row in rows.values() if "receipt came after an unknown outcome" in row.failure)
    if settled_later:
        notes.append(f"{settled_later} unknown outcome(s) settled by their receipt (the callback URL names "
                     "the SMS): Odoo shows them sent/delivered")
    if result.unknown:
        at_provider = sum(1 for key, row in rows.items()
                          if figures.UNKNOWN_OUTCOME in row.failure and accepted.get(key))
        notes.append(f"{result.unknown} unknown outcome(s): Odoo shows them failed 'unknown_outcome' (a "
                     "worker died between recording the send and handing it to the provider; at most once: "
                     f"never re-sent automatically); {at_provider} of them had in fact reached the provider")
    if result.lost_keys:
        notes.append(f"lost keys (first 5): {', '.join(result.lost_keys[:5])}")
    if result.duplicate_keys:
        notes.append(f"duplicate keys (first 5): {', '.join(result.duplicate_keys[:5])}")
    return Outcome(result, notes)


# --------------------------------------------------------------------------- the scenarios


def run_sigkill(ctx: Context, size: int) -> Outcome:
    name = "sigkill"
    with scenario(ctx, name, size, 1) as (simulator, campaign, retrier, notes):
        store = ctx.run_dir / name
        store.mkdir()
        service, _ = ctx.service(name, simulator, store)
        started = time.monotonic()
        service.start()
        # Ten random moments spread over the campaign: one random point in each tenth of [3 %, 95 %] of
        # its messages; the service is killed when the provider has accepted that many (each restarted
        # run has therefore been sending before it is killed), and restarted at once.
        low, high = 0.03 * size, 0.95 * size
        targets = [int(low + (high - low) * (slot + ctx.rng.random()) / 10) for slot in range(10)]
        kills = []
        for target in targets:
            target = max(target, kills[-1] + 1 if kills else 1)  # this run of the service has sent
            deadline = time.monotonic() + 300
            while len(simulator.count_by_key()) < target and time.monotonic() < deadline:
                time.sleep(0.05)
            kills.append(len(simulator.count_by_key()))
            service.kill()
            service.start()
        notes.append(f"10 SIGKILLs, when the provider had accepted {', '.join(f'{n:,}' for n in kills)}"
                     + (f"; replicas killed: {', '.join(str(i + 1) for i in service.killed)}"
                        if isinstance(service, Replicas) else ""))
        return finish(ctx, name, service, campaign, simulator, retrier, notes, started, timeout=900)


def run_odoo_restart(ctx: Context, size: int) -> Outcome:
    name = "odoo-restart"
    with scenario(ctx, name, size, 2) as (simulator, campaign, retrier, notes):
        store = ctx.run_dir / name
        store.mkdir()
        service, base_url = ctx.service(name, simulator, store)
        started = time.monotonic()
        service.start()
        for share, how in ((0.25, "SIGKILL"), (0.6, "SIGTERM")):
            wait_sent(simulator, campaign, share)
            at = len(simulator.count_by_key())
            ctx.odoo.kill() if how == "SIGKILL" else ctx.odoo.stop()
            backlog = []
            for _ in range(10):
                time.sleep(1.0)
                with contextlib.suppress(requests.RequestException, ValueError):
                    backlog.append(requests.get(f"{base_url}/healthz", timeout=5).json().get("backlog") or 0)
            ctx.odoo.start()
            notes.append(f"Odoo {how} at {at:,} accepted, down 10 s (+ its start-up); webhook inbox backlog "
                         f"while down: up to {max(backlog, default=0):,} events")
        return finish(ctx, name, service, campaign, simulator, retrier, notes, started, timeout=600)


def run_odoo_workers(ctx: Context, size: int) -> Outcome:
    """Odoo with workers: ten of its HTTP workers SIGKILLed mid-campaign (a worker killed for its memory
    or time limit, or crashing); Odoo's master starts new ones, the service's calls in flight fail."""
    name = "odoo-workers"
    if ctx.odoo.workers < 1:
        raise SetupError("the odoo-workers scenario needs Odoo with workers: --odoo-workers 2")
    with scenario(ctx, name, size, 5) as (simulator, campaign, retrier, notes):
        store = ctx.run_dir / name
        store.mkdir()
        service, _ = ctx.service(name, simulator, store)
        started = time.monotonic()
        service.start()
        kills = []
        for slot in range(10):
            wait_sent(simulator, campaign, 0.05 + 0.085 * (slot + ctx.rng.random()))
            workers = ctx.odoo.worker_pids()
            if workers:
                os.kill(ctx.rng.choice(workers), signal.SIGKILL)
                kills.append(len(simulator.count_by_key()))
        notes.append(f"{len(kills)} Odoo HTTP workers SIGKILLed (of {ctx.odoo.workers}), when the provider "
                     f"had accepted {', '.join(f'{n:,}' for n in kills)}")
        return finish(ctx, name, service, campaign, simulator, retrier, notes, started, timeout=600)


def run_store_restart(ctx: Context, size: int) -> Outcome:
    """The store's PostgreSQL crashed (immediate: no checkpoint, recovery at start), then stopped cleanly,
    each time down 10 s, with the service(s) running."""
    name = "store-restart"
    if ctx.store_server is None:
        raise SetupError("the store-restart scenario needs the PostgreSQL store: --replicas 2 or more")
    with scenario(ctx, name, size, 6) as (simulator, campaign, retrier, notes):
        store = ctx.run_dir / name
        store.mkdir()
        service, base_url = ctx.service(name, simulator, store)
        started = time.monotonic()
        service.start()
        for share, mode in ((0.25, "immediate"), (0.6, "fast")):
            wait_sent(simulator, campaign, share)
            at = len(simulator.count_by_key())
            ctx.store_server.stop(mode)
            health = []
            for _ in range(10):
                time.sleep(1.0)
                health.append(_health(base_url)[0])
            ctx.store_server.start()
            notes.append(f"store PostgreSQL stopped ({mode}) at {at:,} accepted, down 10 s: /healthz "
                         f"answered {sorted(set(health), key=str)}; the provider accepted "
                         f"{len(simulator.count_by_key()) - at:,} meanwhile (begun before the stop)")
        return finish(ctx, name, service, campaign, simulator, retrier, notes, started, timeout=600)


FAULT_MIX = (  # (kind, share of all requests, options)
    (FaultKind.HTTP_500, 0.07, {}),
    (FaultKind.HTTP_429, 0.06, {"retry_after": 1.0}),
    (FaultKind.TIMEOUT, 0.04, {"delay": 0.5}),  # a 504 after half a second
    (FaultKind.TIMEOUT, 0.03, {"delay": 11.0}),  # no answer within the gateway's 10 s read timeout
)


def run_provider_faults(ctx: Context, size: int) -> Outcome:
    name = "provider-faults"
    with scenario(ctx, name, size, 3) as (simulator, campaign, retrier, notes):
        ratios = figures.rule_ratios([share for _, share, _ in FAULT_MIX])
        for (kind, _, options), ratio in zip(FAULT_MIX, ratios, strict=True):
            simulator.inject(kind, ratio=ratio, **options)
        requests_seen = _count_requests(simulator)
        store = ctx.run_dir / name
        store.mkdir()
        service, _ = ctx.service(name, simulator, store)
        started = time.monotonic()
        service.start()
        outcome = finish(ctx, name, service, campaign, simulator, retrier, notes, started, timeout=900)
        total, faults = requests_seen()
        notes.insert(0, f"{faults:,} of {total:,} provider requests answered with a fault "
                        f"({100 * faults / max(total, 1):.1f} %): 500, 429 Retry-After 1 s, 504 after 0.5 s, "
                        "no answer for 11 s")
        return outcome


def _count_requests(simulator: ProviderSimulator) -> Callable[[], tuple[int, int]]:
    """Count the requests the simulator drew a fault for, by wrapping its fault plan's draw."""
    counts = {"total": 0, "faults": 0}
    lock = threading.Lock()
    draw = simulator.faults.draw

    def counting_draw(provider: str) -> Any:
        fault = draw(provider)
        with lock:
            counts["total"] += 1
            counts["faults"] += fault is not None
        return fault

    simulator.faults.draw = counting_draw  # type: ignore[method-assign]
    return lambda: (counts["total"], counts["faults"])


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True)


def _fill(directory: Path) -> Path:
    """Fill the file system of ``directory`` to the last byte; the filler file."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as out:
        for chunk in (1 << 20, 4096, 512, 1):
            try:
                while True:
                    out.write(b"\0" * chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    return filler


def _health(base_url: str) -> tuple[int | None, dict[str, Any]]:
    try:
        response = requests.get(f"{base_url}/healthz", timeout=5)
        return response.status_code, response.json()
    except (requests.RequestException, ValueError) as exc:
        return None, {"error": type(exc).__name__}


def run_store_disk(ctx: Context, size: int) -> Outcome:
    name = "store-disk"
    with scenario(ctx, name, size, 4) as (simulator, campaign, retrier, notes):
        store = ctx.run_dir / name
        store.mkdir()
        mounted = _mount("-t", "tmpfs", "-o", "size=64m", "tmpfs", str(store))
        if mounted.returncode != 0:
            raise SetupError(f"cannot mount a tmpfs for the store (root needed): {mounted.stderr.strip()}")

        def unmount() -> None:
            _mount("-o", "remount,rw", str(store))
            subprocess.run(["umount", str(store)], capture_output=True)

        ctx.cleanups.append(unmount)
        service, base_url = ctx.service(name, simulator, store)
        started = time.monotonic()
        service.start()

        # Disk full, the service running.
        wait_sent(simulator, campaign, 0.25)
        at = len(simulator.count_by_key())
        refused_before = simulator_refusals(simulator)
        filler = _fill(store)
        health = []
        for _ in range(15):
            time.sleep(1.0)
            health.append(_health(base_url))
        sent_while_full = len(simulator.count_by_key()) - at
        filler.unlink()
        full = [body.get("store_error", "") for code, body in health if code == 503]
        notes.append(
            f"disk full for 15 s at {at:,} accepted: /healthz 503 {len(full)} of {len(health)} probes"
            + (f" ({_short(full[0])})" if full else "")
            + f"; callbacks answered 503 meanwhile: {simulator_refusals(simulator) - refused_before}; "
            f"the provider accepted {sent_while_full:,} messages meanwhile; "
            f"log lines 'cannot record the send': {_log_count(service.log, 'cannot record the send')}"
        )

        # Read-only: the kernel refuses to remount a file system read-only while a process has a file
        # open on it for writing (EBUSY); so the service crashes (SIGKILL), the mount goes read-only,
        # and the service is restarted every 3 s the way a supervisor would, until the mount is back.
        wait_sent(simulator, campaign, 0.6)
        at = len(simulator.count_by_key())
        live = _mount("-o", "remount,ro", str(store))
        notes.append("remount read-only with the service running: "
                     + ("refused by the kernel (busy)" if live.returncode else "accepted"))
        if live.returncode == 0:
            _mount("-o", "remount,rw", str(store))
        service.kill()
        readonly = _mount("-o", "remount,ro", str(store))
        if readonly.returncode != 0:
            raise SetupError(f"cannot remount the store read-only: {readonly.stderr.strip()}")
        codes: list[int | None] = []
        health: list[tuple[int | None, dict[str, Any]]] = []
        ro_started = time.monotonic()
        while time.monotonic() - ro_started < 20:
            service.start()  # as a supervisor would: start, and start again 2 s after it exits
            process = service.process
            assert process is not None
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(15)
            codes.append(process.poll())
            if process.poll() is None:  # still running: what does it answer?
                health.append(_health(base_url))
                service.kill()
            else:
                service.process = None
                time.sleep(2.0)
        _mount("-o", "remount,rw", str(store))
        message = _last_line(service.log, "cannot start")
        errors = [body.get("store_error", "") for code, body in health if code == 503]
        notes.append(
            f"store read-only for {time.monotonic() - ro_started:.0f} s at {at:,} accepted (service crashed "
            f"first, then started {len(codes)} times): exit codes {codes}"
            + (f", /healthz while running: {[code for code, _ in health]}" if health else "")
            + (f" ({_short(errors[0])})" if errors else "")
            + (f"; it logged: {_short(message, 200)}" if message else "")
        )
        service.start()
        return finish(ctx, name, service, campaign, simulator, retrier, notes, started, timeout=600)


def simulator_refusals(simulator: ProviderSimulator) -> int:
    return sum(1 for d in simulator.callbacks() if d.status_code == 503)


def _log_count(log: Path, text: str) -> int:
    try:
        return log.read_text(errors="replace").count(text)
    except OSError:
        return 0


def _last_line(log: Path, text: str) -> str:
    with contextlib.suppress(OSError):
        for line in reversed(log.read_text(errors="replace").splitlines()):
            if text in line:
                with contextlib.suppress(ValueError):
                    return str(json.loads(line).get("message", line))
                return line
    return ""


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


RUNNERS: dict[str, Callable[[Context, int], Outcome]] = {
    "sigkill": run_sigkill, "odoo-restart": run_odoo_restart, "provider-faults": run_provider_faults,
    "store-disk": run_store_disk, "odoo-workers": run_odoo_workers, "store-restart": run_store_restart,
}


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m resilience", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", action="append", choices=SCENARIOS,
                        help="run only this scenario (repeatable; default: " + ", ".join(SINGLE_SCENARIOS)
                        + "; with --replicas 2 or more: " + ", ".join(REPLICA_SCENARIOS) + ")")
    parser.add_argument("--replicas", type=int, default=1, metavar="N",
                        help="sms-sync processes sharing one PostgreSQL store (default 1: one process on "
                        "SQLite)")
    parser.add_argument("--odoo-workers", type=int, default=None, metavar="W",
                        help="Odoo's --workers (default 0; 2 with --replicas 2 or more)")
    for scenario_name, size in DEFAULT_SIZES.items():
        parser.add_argument(f"--{scenario_name}-size", type=int, default=size, metavar="N",
                            help=f"messages in the {scenario_name} campaign (default {size:,})")
    parser.add_argument("--db", help="use this existing database (addon installed) instead of a fresh copy; "
                                     "it is left in place")
    parser.add_argument("--keep", action="store_true", help="keep the database and the run directory (logs)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the kill times and fault draws")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    replicas = args.replicas > 1
    chosen = args.scenario or list(REPLICA_SCENARIOS if replicas else SINGLE_SCENARIOS)
    if replicas and "store-disk" in chosen:
        print("error: store-disk is about the SQLite store of one process; replicas share PostgreSQL "
              "(their scenario is store-restart)", file=sys.stderr)
        return 2
    odoo_workers = args.odoo_workers if args.odoo_workers is not None else (2 if replicas else 0)
    if "store-disk" in chosen and os.geteuid() != 0:
        print("error: the store-disk scenario mounts a tmpfs: run as root, or leave it out with --scenario",
              file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    run_dir = Path(tempfile.mkdtemp(prefix="smsm_resil_"))
    database = args.db or f"smsm_resil_{uuid.uuid4().hex[:8]}"
    data_dir = run_dir / "odoo-data"
    config = write_config(run_dir / "odoo.conf", data_dir)
    odoo = OdooProcess(config, database, run_dir / "odoo.log", workers=odoo_workers)
    ctx = Context(Rpc(odoo.url, database), odoo, run_dir, random.Random(seed), replicas=max(1, args.replicas))
    created = False
    results: list[Outcome] = []

    def on_term(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    say(f"resilience suite: seed {seed}, run directory {run_dir}, database {database}, "
        + (f"{args.replicas} sms-sync replicas, PostgreSQL store" if replicas else "one sms-sync, SQLite")
        + f", Odoo workers: {odoo_workers}")
    try:
        if replicas:
            ctx.store_server = StoreServer().start()
            ctx.cleanups.append(ctx.store_server.destroy)
        if args.db:
            if not database_exists(database):
                raise SetupError(f"database {database} does not exist")
        else:
            say(f"creating {database} from the test template and installing the addon (a minute or two)")
            created = True
            create_database(database, config, data_dir, run_dir / "odoo-install.log")
        odoo.start()
        for name in chosen:
            size = getattr(args, f"{name.replace('-', '_')}_size")
            say(f"scenario {name}: {size:,} messages")
            outcome = RUNNERS[name](ctx, size)
            results.append(outcome)
            result = outcome.figures
            say(f"scenario {name}: {'ok' if result.ok else 'FAIL'} in {result.seconds:.0f} s: {result}")
    except KeyboardInterrupt:
        say("interrupted: cleaning up")
        return 130
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        for service in ctx.services:
            service.kill()
        for cleanup in reversed(ctx.cleanups):
            with contextlib.suppress(Exception):
                cleanup()
        odoo.stop()
        if created and not args.keep:
            with contextlib.suppress(Exception):
                drop_database(database, data_dir)
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            say(f"kept: database {database}, logs in {run_dir}")
    print()
    print(figures.table([outcome.figures for outcome in results]))
    print()
    for outcome in results:
        for note in outcome.notes:
            print(f"- {outcome.figures.scenario}: {note}")
    ok = all(outcome.figures.ok for outcome in results) and len(results) == len(chosen)
    print()
    print("PASS: 0 duplicates and 0 lost in every scenario" if ok else "FAIL: duplicates or losses (above)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
