"""Dispatcher throughput and rate-limit accuracy against the provider simulator.

    .venv/bin/python bench/bench_dispatcher.py [--messages 6000] [--concurrency 16] [--processes 1]
        [--raw-clients 3] [--raw-threads 8] [--odoo-messages 2000 | --skip-odoo] [--odoo-db NAME]

Figures, all over loopback on this machine, with the simulator in its own process:

1. raw capacity: several client processes straight to the simulator (no store, no dispatcher), with
   each of the gateways' two transports: ``Gateway.send`` (requests) on ``--raw-threads`` threads,
   and the dispatcher's libcurl transport with ``--concurrency`` requests in flight. The simulator's
   raw capacity is the better of the two, and the dispatcher's ratio is taken against it;
2. the dispatcher's send path: the real ``Dispatcher`` running its service loop (``run``: gateways,
   rate limiter, opt-out guard, group-committed SQLite sent log, batched reports, overlapping
   batches) fed by an in-memory outbox instead of Odoo, until every message is reported, in
   ``--processes`` worker processes sharing one store (replicas);
3. rate-limit accuracy: most segments the simulator received in any 1 s window, against the
   account's configured rate (a mix of 1- and 2-segment messages);
4. end to end through Odoo (claim_batch with the compliance gate, report_results): a real
   ``odoo-bin`` on a fresh database (or ``--odoo-db``), the real ``OdooOutbox``.

Not a test: it prints figures. Every run checks that the simulator counted each key once.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sync_service.dispatch.accounts import AccountCache
from sync_service.dispatch.dispatcher import Dispatcher, DispatchOptions
from sync_service.dispatch.outbox import Claim, ClaimedMessage
from sync_service.dispatch.outcomes import ReportEntry
from sync_service.dispatch.send_journal import SendJournal
from sync_service.gateways import HttpGateway, OutboundMessage, ProviderAccount, build_gateway
from sync_service.gateways.async_http import AsyncHttpTransport
from sync_service.shell.loop_thread import new_event_loop
from sync_service.simulator import DEFAULT_ACCOUNTS, ProviderSimulator
from sync_service.store import Store

SID = "AC00000000000000000000000000000001"
TOKEN = DEFAULT_ACCOUNTS[SID]
SENDER = "+14155550100"
TARGET_RATE = 1000  # msg/s through the dispatcher (issue #5)
TARGET_SHARE = 0.5  # of the simulator's raw capacity
SHORT = "Your order #1234 has shipped and arrives tomorrow."
LONG = "Your order #1234 has shipped. " * 6  # 180 GSM-7 characters: 2 segments


def account_dict(url: str, rate: float) -> dict[str, Any]:
    return {
        "id": 1, "name": "bench", "provider": "twilio", "base_url": url, "account_id": SID, "secret": TOKEN,
        "webhook_secret": "", "sender": SENDER, "messaging_service_sid": "", "messages_per_second": rate,
        "test_mode": False, "prefixes": [], "is_default": True,
    }


def number(index: int) -> str:
    return f"+336{10000000 + index % 89999999:08d}"


# --------------------------------------------------------------------------- the simulator process


def _simulator_main(conn: Connection) -> None:
    sim = ProviderSimulator(callback_workers=1).start()
    conn.send(sim.url)
    while True:
        command, *_ = conn.recv()
        if command == "stats":
            counts = sim.count_by_key()
            conn.send((len(sim.received()), max(counts.values(), default=0)))
        elif command == "arrivals":
            conn.send([(m.received_at, m.segments) for m in sim.received()])
        elif command == "reset":
            sim.reset()
            conn.send(True)
        else:
            sim.stop()
            conn.send(True)
            return


class SimulatorProcess:
    def __init__(self) -> None:
        self._conn, child = mp.Pipe()
        self._process = mp.get_context("spawn").Process(target=_simulator_main, args=(child,), daemon=True)
        self._process.start()
        self.url: str = self._conn.recv()

    def ask(self, command: str) -> Any:
        self._conn.send((command,))
        return self._conn.recv()

    def stop(self) -> None:
        self.ask("stop")
        self._process.join(10)


# --------------------------------------------------------------------------- 1. raw capacity


def _raw_client(url: str, count: int, transport: str, parallel: int, start_at: float, out: Any) -> None:
    account = ProviderAccount("twilio", url, SID, TOKEN, SENDER, messages_per_second=1e9)
    gateway = build_gateway(account)
    messages = [OutboundMessage(uuid.uuid4().hex, number(i), SHORT) for i in range(count)]
    while time.time() < start_at:
        time.sleep(0.001)
    started = time.perf_counter()
    if transport == "requests":
        with ThreadPoolExecutor(parallel) as pool:
            results = list(pool.map(gateway.send, messages))
    else:
        assert isinstance(gateway, HttpGateway)
        loop = new_event_loop()  # uvloop, as the dispatcher's
        results = loop.run_until_complete(_send_async(gateway, messages, parallel))
        loop.close()
    out.put((count, time.perf_counter() - started, sum(r.outcome == "sent" for r in results)))


async def _send_async(gateway: HttpGateway, messages: list[OutboundMessage], parallel: int) -> list[Any]:
    transport = AsyncHttpTransport()
    todo = iter(messages)
    results: list[Any] = []

    async def lane() -> None:
        for message in todo:
            results.append(await transport.send(gateway, message))

    await asyncio.gather(*(lane() for _ in range(parallel)))
    await transport.close()
    return results


def raw_capacity(sim: SimulatorProcess, messages: int, clients: int, transport: str, parallel: int) -> float:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 2.0  # every client imported and ready: start together
    procs = [ctx.Process(target=_raw_client,
                         args=(sim.url, messages // clients, transport, parallel, start_at, out))
             for _ in range(clients)]
    for proc in procs:
        proc.start()
    results = [out.get() for _ in procs]
    for proc in procs:
        proc.join()
    sent = sum(r[0] for r in results)
    assert sum(r[2] for r in results) == sent, "the simulator refused some raw requests"
    return sent / max(r[1] for r in results)


# --------------------------------------------------------------------------- 2. dispatcher, in-memory outbox


class MemoryOutbox:
    """Claims from a list instead of Odoo; reports are kept (to check every key came back once)."""

    def __init__(self, messages: Sequence[ClaimedMessage]) -> None:
        self._messages = list(messages)
        self._lock = threading.Lock()
        self.reported: dict[str, ReportEntry] = {}

    def claim(self, worker_id: str, limit: int, lease_seconds: int) -> Claim:
        with self._lock:
            batch, self._messages = self._messages[:limit], self._messages[limit:]
        return Claim(tuple(batch))

    def report(self, worker_id: str, results: Sequence[ReportEntry]) -> Mapping[str, Any]:
        with self._lock:
            for result in results:
                self.reported[result["key"]] = result
        return {"updated": len(results), "unknown": []}

    def reported_count(self) -> int:
        with self._lock:
            return len(self.reported)

    def release(self, worker_id: str, keys: Sequence[str]) -> int:
        return 0

    def opted_out(self, numbers: Iterable[str]) -> set[str]:
        return set()


def messages_for(count: int, offset: int = 0, long_every: int = 0) -> list[ClaimedMessage]:
    return [
        ClaimedMessage(uuid.uuid4().hex, number(offset + i),
                       LONG if long_every and i % long_every == 0 else SHORT, 1, "transactional")
        for i in range(count)
    ]


def run_dispatcher(url: str, store_url: str, messages: list[ClaimedMessage], rate: float, concurrency: int,
                   batch_size: int = 500) -> tuple[float, dict[str, ReportEntry]]:
    store = Store.from_url(store_url)
    outbox = MemoryOutbox(messages)
    accounts = AccountCache(lambda: [account_dict(url, rate)], refresh_seconds=3600)
    journal = SendJournal(store)
    dispatcher = Dispatcher(outbox, accounts, journal, worker_id=f"bench-{uuid.uuid4().hex[:6]}",
                            options=DispatchOptions(batch_size=batch_size, concurrency=concurrency))
    stop = threading.Event()
    worker = threading.Thread(target=dispatcher.run, args=(stop,), daemon=True)
    started = time.perf_counter()
    worker.start()  # the service's loop: batches overlap, the next claimed while one is sent
    while outbox.reported_count() < len(messages) and worker.is_alive():
        time.sleep(0.002)
    elapsed = time.perf_counter() - started
    stop.set()
    worker.join(60)
    dispatcher.close()
    journal.close()
    accounts.close()
    store.close()
    return elapsed, outbox.reported


def _dispatcher_worker(url: str, store_url: str, count: int, offset: int, concurrency: int, start_at: float,
                       out: Any) -> None:
    messages = messages_for(count, offset)
    while time.time() < start_at:
        time.sleep(0.001)
    cpu = time.process_time()
    elapsed, reported = run_dispatcher(url, store_url, messages, 1e6, concurrency)
    sent = sum(r["outcome"] == "sent" for r in reported.values())
    out.put((count, elapsed, sent, time.process_time() - cpu))


def dispatcher_throughput(sim: SimulatorProcess, store_url: str, messages: int, processes: int,
                          concurrency: int) -> float:
    if processes == 1:
        elapsed, reported = run_dispatcher(sim.url, store_url, messages_for(messages), 1e6, concurrency)
        assert sum(r["outcome"] == "sent" for r in reported.values()) == messages
        return messages / elapsed
    Store.from_url(store_url).close()  # tables and WAL mode first: replicas creating one file at once collide
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 3.0
    share = messages // processes
    procs = [ctx.Process(target=_dispatcher_worker,
                         args=(sim.url, store_url, share, i * share, concurrency, start_at, out))
             for i in range(processes)]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
    assert sum(r[2] for r in results) == share * processes
    return share * processes / max(r[1] for r in results)


# --------------------------------------------------------------------------- 3. rate accuracy


def busiest_second(arrivals: list[tuple[float, int]]) -> int:
    arrivals.sort()
    best, low, total = 0, 0, 0
    for t, segments in arrivals:
        total += segments
        while arrivals[low][0] <= t - 1.0:
            total -= arrivals[low][1]
            low += 1
        best = max(best, total)
    return best


def rate_accuracy(sim: SimulatorProcess, store_url: str, rate: float, seconds: float) -> tuple[int, float]:
    sim.ask("reset")
    # One message in 5 is 2 segments: ~1.2 segments a message.
    count = int(rate * seconds / 1.2)
    elapsed, _ = run_dispatcher(sim.url, store_url, messages_for(count, long_every=5), rate, concurrency=32)
    arrivals = sim.ask("arrivals")
    return busiest_second(arrivals), sum(s for _, s in arrivals) / elapsed


# --------------------------------------------------------------------------- 4. end to end through Odoo


def odoo_end_to_end(sim: SimulatorProcess, store_url: str, count: int, db: str | None,
                    concurrency: int) -> tuple[float, float, float, float]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from _odoo_env import CONF, fresh_database  # type: ignore[import-not-found]
    from odoo_server import OdooServer  # type: ignore[import-not-found]
    from sync_service.dispatch.outbox import OdooOutbox
    from sync_service.shell.config import load_settings
    from sync_service.shell.odoo_client import OdooClient

    database = db or fresh_database("smsm_bench_dispatch")
    server = OdooServer(str(CONF), database, Path(tempfile.mkdtemp()) / "odoo.log")
    server.start()
    try:
        settings = load_settings(odoo_url=server.url, odoo_db=database, odoo_login="admin",
                                 odoo_password="admin")
        client = OdooClient.connect(settings)
        queued = client.call("sms.sms", "search", [("state", "=", "outgoing")])
        if queued:
            client.call("sms.sms", "write", queued, {"state": "canceled"})
        account = client.call("sms.provider.account", "create", {
            "name": "bench", "provider": "twilio", "base_url": sim.url, "account_sid": SID,
            "auth_token": TOKEN, "sender": SENDER, "messages_per_second": 100000, "country_prefixes": "999"})
        started = time.perf_counter()
        for chunk in range(0, count, 1000):
            client.call("sms.sms", "create", [
                {"number": number(i), "body": SHORT, "state": "outgoing", "sms_kind": "transactional",
                 "sms_account_id": account} for i in range(chunk, min(count, chunk + 1000))])
        queue_seconds = time.perf_counter() - started
        store = Store.from_url(store_url)
        outbox = OdooOutbox(client, claim_client=OdooClient.connect(settings))
        spent = {"claim": 0.0, "report": 0.0}

        def timed(name: str, call: Any) -> Any:
            def wrapper(*args: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return call(*args)
                finally:
                    spent[name] += time.perf_counter() - t0
            return wrapper

        outbox.claim = timed("claim", outbox.claim)  # type: ignore[method-assign]
        outbox.report = timed("report", outbox.report)  # type: ignore[method-assign]
        accounts = AccountCache(outbox.provider_accounts)
        journal = SendJournal(store)
        dispatcher = Dispatcher(outbox, accounts, journal, worker_id="bench-odoo",
                                options=DispatchOptions(batch_size=500, concurrency=concurrency))
        started = time.perf_counter()
        sent = 0
        while (summary := dispatcher.run_once(prefetch=True)).claimed:
            sent += summary.sent
        elapsed = time.perf_counter() - started
        dispatcher.close()
        journal.close()
        accounts.close()
        store.close()
        assert sent == count, f"{sent} of {count} sent"
        return count / elapsed, spent["claim"] / elapsed, spent["report"] / elapsed, count / queue_seconds
    finally:
        server.stop()


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--processes", type=int, default=1, help="dispatcher worker processes (replicas)")
    parser.add_argument("--raw-clients", type=int, default=3)
    parser.add_argument("--raw-threads", type=int, default=8)
    parser.add_argument("--odoo-messages", type=int, default=2000)
    parser.add_argument("--odoo-db", help="existing database with the addon (default: a fresh copy)")
    parser.add_argument("--skip-odoo", action="store_true", help="leave out the end-to-end figure")
    parser.add_argument("--only-odoo", action="store_true", help="only the end-to-end figure")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-dispatch-"))
    sim = SimulatorProcess()
    try:
        if not args.only_odoo:
            send_path(sim, workdir, args)
        if not args.skip_odoo:
            sim.ask("reset")
            e2e, claim_share, report_share, queue_rate = odoo_end_to_end(
                sim, f"sqlite:///{workdir / 'odoo.db'}", args.odoo_messages, args.odoo_db, args.concurrency)
            _, max_per_key = sim.ask("stats")
            assert max_per_key == 1
            print(f"end to end through Odoo ({args.odoo_messages:,} transactional SMS, claim_batch 500 + "
                  f"gate + report_results, 1 process, next batch claimed while sending): {e2e:,.0f} msg/s "
                  f"(claim_batch busy {claim_share:.0%} of the time, report_results {report_share:.0%}); "
                  f"queueing them over RPC: "
                  f"{queue_rate:,.0f} SMS/s")
    finally:
        sim.stop()


def send_path(sim: SimulatorProcess, workdir: Path, args: argparse.Namespace) -> None:
    raw_sync = raw_capacity(sim, args.messages, args.raw_clients, "requests", args.raw_threads)
    sim.ask("reset")
    print(f"raw simulator capacity, requests transport ({args.raw_clients} client processes x "
          f"{args.raw_threads} threads, pooled gateways, no store): {raw_sync:,.0f} msg/s")
    raw_async = raw_capacity(sim, args.messages, args.raw_clients, "curl", args.concurrency)
    sim.ask("reset")
    print(f"raw simulator capacity, libcurl transport ({args.raw_clients} client processes x "
          f"{args.concurrency} in flight, the dispatcher's transport, no store): {raw_async:,.0f} msg/s")
    raw = max(raw_sync, raw_async)
    print(f"raw simulator capacity (the better of the two): {raw:,.0f} msg/s")
    for processes in sorted({1, args.processes}):
        store_url = f"sqlite:///{workdir / f'send-{processes}.db'}"
        rate = dispatcher_throughput(sim, store_url, args.messages, processes, args.concurrency)
        received, max_per_key = sim.ask("stats")
        assert max_per_key == 1, f"a key was counted {max_per_key} times"
        met = "met" if rate >= TARGET_RATE and rate >= TARGET_SHARE * raw else "NOT met"
        print(f"dispatcher send path ({processes} process(es) x concurrency {args.concurrency}, in-memory "
              f"outbox, SQLite sent log): {rate:,.0f} msg/s = {rate / raw:.0%} of raw; "
              f"{received:,} keys at the simulator, none twice; target >= {TARGET_RATE:,} msg/s "
              f"({'met' if rate >= TARGET_RATE else 'NOT met'}) and >= {TARGET_SHARE:.0%} of raw "
              f"({'met' if rate >= TARGET_SHARE * raw else 'NOT met'}): {met}")
        sim.ask("reset")
    for configured in (50, 200, 1000):
        store_url = f"sqlite:///{workdir / f'rate-{configured}.db'}"
        busiest, achieved = rate_accuracy(sim, store_url, configured, 4.0)
        verdict = "ok" if busiest <= configured else "OVER"
        print(f"rate limit {configured} segments/s: busiest 1 s window at the simulator {busiest} segments "
              f"({verdict}); average {achieved:,.1f} segments/s")


if __name__ == "__main__":
    main()
