"""``python -m sync_service.simulator --port 9099``: run the provider simulator until interrupted."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from sync_service.simulator.server import DEFAULT_ACCOUNTS, FaultKind, ProviderSimulator


def _account(text: str) -> tuple[str, str]:
    account_id, sep, secret = text.partition("=")
    if not sep or not account_id or not secret:
        raise argparse.ArgumentTypeError(f"expected ID=SECRET, got {text!r}")
    return account_id, secret


def _fault(text: str) -> tuple[FaultKind, float]:
    kind, _, ratio = text.partition("=")
    try:
        return FaultKind(kind), float(ratio or 1.0)
    except ValueError:
        kinds = ", ".join(kind.value for kind in FaultKind)
        message = f"expected KIND[=RATIO] with KIND one of {kinds}, got {text!r}"
        raise argparse.ArgumentTypeError(message) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sync_service.simulator",
        description="Twilio/Plivo/Vonage SMS API simulator: logs each accepted message on stdout.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9099, help="port (default 9099; 0 picks a free one)")
    parser.add_argument(
        "--account",
        type=_account,
        action="append",
        metavar="ID=SECRET",
        help="account id (AccountSid, auth_id, api_key) and secret; repeatable (default: test accounts)",
    )
    parser.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="KIND[=RATIO]",
        help="inject a fault on a ratio of requests, e.g. http_500=0.1; repeatable",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault draws (default 0)")
    parser.add_argument("--vonage-dlr-url", help="account-level Vonage delivery-receipt URL")
    parser.add_argument(
        "--undeliverable",
        action="append",
        default=[],
        metavar="E164",
        help="number whose messages end undelivered; repeatable",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(message)s")
    accounts = dict(args.account) if args.account else dict(DEFAULT_ACCOUNTS)
    simulator = ProviderSimulator(
        args.host,
        args.port,
        accounts,
        seed=args.seed,
        vonage_dlr_url=args.vonage_dlr_url,
        undeliverable_numbers=args.undeliverable,
        log_messages=True,
    )
    for kind, ratio in args.fault:
        simulator.inject(kind, ratio=ratio)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    simulator.start()
    print(f"provider simulator listening on {simulator.url}", flush=True)
    print(f"accounts: {', '.join(accounts)}", flush=True)
    try:
        stop.wait()
    finally:
        simulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
