"""Webhook ingestion throughput and latency: the real webhook app (``build_webhook_app``) served by
uvicorn in its own process(es), a SQLite store on disk, and several client processes posting signed
Twilio webhooks (status callbacks, some inbound SMS, some duplicates) over loopback keep-alive
connections. Every request is checked (HTTP 200) and the store must hold every distinct event.

    .venv/bin/python bench/bench_webhooks.py [--requests 20000] [--clients 2] [--threads 8]
                                             [--server-workers 1] [--db PATH | --store-url URL]

Not a test: it prints figures. No Odoo needed (the gateway accounts are given in-process).
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import socket
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from sync_service.core.signatures import twilio_signature
from sync_service.shell.config import load_settings
from sync_service.store import Store
from sync_service.webhooks.role import build_webhook_app

TOKEN = "bench-twilio-auth-token"
SID = "AC" + "b" * 32
FORM = "application/x-www-form-urlencoded"
ACCOUNTS = [{"id": 1, "provider": "twilio", "account_id": SID, "secret": TOKEN, "webhook_secret": ""}]


@dataclass(frozen=True)
class Request:
    path: str
    params: dict[str, str]
    signature: str

    @property
    def body(self) -> bytes:
        # Bytes, not a dict: http.client then sends headers and body in one segment (a str body goes
        # in a second one, and Nagle + delayed ACK add ~40 ms to every request).
        return urlencode(self.params).encode("utf-8")


def build_requests(base_url: str, count: int, duplicate_every: int, inbound_every: int) -> list[Request]:
    """Signed requests: mostly status callbacks, every ``inbound_every``-th an inbound SMS, every
    ``duplicate_every``-th a repeat of an earlier status callback."""
    result: list[Request] = []
    for index in range(count):
        if result and duplicate_every and index % duplicate_every == duplicate_every - 1:
            result.append(result[-1])  # the provider retries: same event again
            continue
        if inbound_every and index % inbound_every == inbound_every - 1:
            path = "/webhooks/twilio/inbound"
            params = {"MessageSid": f"SMin{index:028d}", "AccountSid": SID, "From": f"+336{index:08d}",
                      "To": "+33700000001", "Body": "STOP" if index % 2 else "Merci, à bientôt"}
        else:
            path = "/webhooks/twilio/status"
            params = {"MessageSid": f"SM{index:030d}", "MessageStatus": "delivered", "AccountSid": SID,
                      "ErrorCode": ""}
        result.append(Request(path, params, twilio_signature(TOKEN, base_url + path, params)))
    return result


def serve(sock: socket.socket, db_url: str, base_url: str) -> None:
    """One uvicorn server process on the shared listening socket."""
    import logging

    import uvicorn

    logging.disable(logging.INFO)
    store = Store.from_url(db_url)
    settings = load_settings(public_base_url=base_url)
    app = build_webhook_app(settings, store, lambda: ACCOUNTS, lambda: True)
    config = uvicorn.Config(app, log_config=None, lifespan="off", access_log=False, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


def client(base_url: str, batch: list[Request], threads: int, start_at: float, out: Connection) -> None:
    """Post ``batch`` from ``threads`` threads (one keep-alive session each); send back the latencies."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    address = urlsplit(base_url)

    def work(part: list[Request]) -> None:
        # http.client on one keep-alive connection per thread: a light client, so that on a small machine the
        # load generator does not take the CPU the server is measured on (requests costs several times more).
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        mine: list[float] = []
        bad: list[str] = []
        for request in part:
            started = time.perf_counter()
            connection.request("POST", request.path, body=request.body,
                               headers={"X-Twilio-Signature": request.signature, "Content-Type": FORM})
            response = connection.getresponse()
            text = response.read()
            mine.append(time.perf_counter() - started)
            if response.status != 200:
                bad.append(f"{response.status} {text[:80]!r}")
        connection.close()
        with lock:
            latencies.extend(mine)
            failures.extend(bad)

    workers = [threading.Thread(target=work, args=(batch[i::threads],)) for i in range(threads)]
    time.sleep(max(0.0, start_at - time.time()))
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    out.send((latencies, failures, time.time()))
    out.close()


def wait_ready(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the webhook server did not answer on {url}")


def percentile(sorted_values: list[float], share: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(share * (len(sorted_values) - 1))))
    return sorted_values[index]


def run(args: argparse.Namespace) -> int:
    ctx = mp.get_context("fork")
    db_path = Path(args.db) if args.db else Path(tempfile.mkdtemp(prefix="bench-webhooks-")) / "inbox.db"
    db_url = args.store_url or f"sqlite:///{db_path}"
    Store.from_url(db_url).close()  # create the tables once, before the servers race to
    # proto=IPPROTO_TCP, else asyncio leaves TCP_NODELAY off on accepted connections (it checks sock.proto)
    # and every keep-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    servers = [ctx.Process(target=serve, args=(sock, db_url, base_url), daemon=True)
               for _ in range(args.server_workers)]
    for server in servers:
        server.start()
    try:
        wait_ready(base_url)
        batch = build_requests(base_url, args.requests, args.duplicate_every, args.inbound_every)
        start_at = time.time() + 1.0
        pipes: list[Connection] = []
        clients = []
        for index in range(args.clients):
            receiver, sender = ctx.Pipe(duplex=False)
            process = ctx.Process(target=client, args=(
                base_url, batch[index::args.clients], args.threads, start_at, sender))
            process.start()
            pipes.append(receiver)
            clients.append(process)
        latencies: list[float] = []
        failures: list[str] = []
        finished = start_at
        for pipe in pipes:
            got: tuple[list[float], list[str], float] = pipe.recv()
            latencies.extend(got[0])
            failures.extend(got[1])
            finished = max(finished, got[2])
        for process in clients:
            process.join()
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.join(10)
    elapsed = finished - start_at
    store = Store.from_url(db_url)
    stored = store.backlog()
    store.close()
    distinct = len({(r.path, r.params["MessageSid"]) for r in batch})
    report(args, elapsed, sorted(latencies), failures, stored, distinct, db_path)
    return 0 if not failures and stored == distinct else 1


def report(args: argparse.Namespace, elapsed: float, latencies: list[float], failures: list[str],
           stored: int, distinct: int, db_path: Path) -> None:
    ms = [value * 1000 for value in latencies]
    lines: list[tuple[str, Any]] = [
        ("requests", f"{len(latencies)} ({distinct} distinct events, the rest duplicates)"),
        ("setup", f"{args.server_workers} uvicorn process(es), {args.clients} client process(es) x "
                  f"{args.threads} threads, {os.cpu_count()} CPUs, store "
                  + (Store.from_url(args.store_url).safe_url if args.store_url else f"SQLite at {db_path}")),
        ("elapsed", f"{elapsed:.2f} s"),
        ("throughput", f"{len(latencies) / elapsed:,.0f} req/s"),
        ("latency p50", f"{percentile(ms, 0.50):.2f} ms"),
        ("latency p90", f"{percentile(ms, 0.90):.2f} ms"),
        ("latency p99", f"{percentile(ms, 0.99):.2f} ms"),
        ("latency max", f"{ms[-1]:.2f} ms (mean {statistics.fmean(ms):.2f} ms)"),
        ("non-200 answers", f"{len(failures)}" + (f" e.g. {failures[0]}" if failures else "")),
        ("events in the store", f"{stored} (expected {distinct})"),
    ]
    for name, value in lines:
        print(f"{name:>20}: {value}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000, help="requests in total (default 20000)")
    parser.add_argument("--clients", type=int, default=2, help="client processes (default 2)")
    parser.add_argument("--threads", type=int, default=8, help="threads per client process (default 8)")
    parser.add_argument("--server-workers", type=int, default=1, help="uvicorn processes (default 1)")
    parser.add_argument("--duplicate-every", type=int, default=10, help="every Nth request repeats one")
    parser.add_argument("--inbound-every", type=int, default=5, help="every Nth request is an inbound SMS")
    parser.add_argument("--db", help="SQLite file of the store (default: a new temporary file)")
    parser.add_argument("--store-url", help="a store URL instead of SQLite, e.g. "
                        "postgresql+psycopg2:///smsm_bench (an empty database of yours: the bench fills it)")
    args = parser.parse_args()
    if min(args.requests, args.clients, args.threads, args.server_workers) < 1:
        parser.error("--requests, --clients, --threads and --server-workers must be >= 1")
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
