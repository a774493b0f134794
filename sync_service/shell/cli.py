"""Command line of the sync service: `sms-sync`."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from sync_service import __version__
from sync_service.dispatch.outcomes import ReportEntry
from sync_service.shell.config import ConfigError, Settings, load_settings
from sync_service.shell.odoo_client import OdooClient, OdooError
from sync_service.store import StoreError

ADDON = "sms_marketing_addon"
SEND_TEST_TIMEOUT = 120.0


def cmd_check(_args: argparse.Namespace) -> int:
    """Connect to Odoo over RPC and report its version and whether the addon is installed."""
    try:
        settings = load_settings()
        client = OdooClient.connect(settings)
        state = client.module_state(ADDON)
    except (ConfigError, OdooError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Odoo {client.server_version} at {settings.odoo_url} database {settings.odoo_db!r}"
          f" as {settings.odoo_login!r} (uid {client.uid})")
    if state == "installed":
        print(f"addon {ADDON}: installed")
        return 0
    print(f"addon {ADDON}: {state or 'not found'} (install it in Odoo: Apps)")
    return 2


def cmd_run(args: argparse.Namespace) -> int:
    """Run the service's roles until SIGTERM/SIGINT."""
    from sync_service.shell.runner import run

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return run(settings, args.role)


def _describe(report: ReportEntry) -> str:
    if report["outcome"] == "sent":
        segments = report["segments"]
        return (f"sent: provider message id {report['provider_message_id']}, "
                f"{segments} segment{'s' if segments != 1 else ''}")
    detail = " ".join(str(part) for part in (report["error_code"], report["reason"]) if part)
    if report["outcome"] == "retry":
        return f"not sent, left queued in Odoo (retry in {report['retry_after'] or 30:.0f} s): {detail}"
    if report["outcome"] == "held":
        return (f"not sent: the provider refuses the ACCOUNT ({detail}); the SMS is held in Odoo and the "
                "account marked failing until its settings are fixed or a test call succeeds")
    flagged = " (the number is flagged as rejected)" if report["number_rejected"] else ""
    return f"{report['outcome']}: {detail}{flagged}"


def _send_test(settings: Settings, client: OdooClient, number: str, body: str) -> int:
    from sync_service.dispatch.accounts import AccountCache
    from sync_service.dispatch.dispatcher import Dispatcher, DispatchOptions
    from sync_service.dispatch.outbox import OdooOutbox
    from sync_service.dispatch.send_journal import SendJournal
    from sync_service.store import Store

    queued = client.call("sms.marketing.api", "queue_test_sms", number, body)
    sms_id, key = queued["id"], queued["key"]
    print(f"queued SMS {sms_id} (key {key}) to {number}")
    store = Store.from_url(settings.store_url)
    outbox = OdooOutbox(client)
    accounts = AccountCache(outbox.provider_accounts, refresh_seconds=settings.accounts_refresh_seconds)
    journal = SendJournal(store)
    options = DispatchOptions.from_settings(settings)
    callback = str(settings.public_base_url) if settings.public_base_url else None
    dispatcher = Dispatcher(outbox, accounts, journal, worker_id=f"{settings.worker_id}-send-test",
                            options=options, callback_base_url=callback)
    others = 0
    try:
        dispatcher.maintain(force=True)
        deadline = time.monotonic() + SEND_TEST_TIMEOUT
        while time.monotonic() < deadline:
            summary = dispatcher.run_once()
            mine = [report for report in summary.reports if report["key"] == key]
            others += len(summary.reports) - len(mine)
            if mine:
                print(_describe(mine[0]))
                if others:
                    print(f"note: {others} other queued SMS went out in the same batch(es)")
                return 0 if mine[0]["outcome"] == "sent" else 1
            if summary.claimed == 0:
                break
    finally:
        dispatcher.close()
        journal.close()
        accounts.close()
        store.close()
    state = client.call("sms.marketing.api", "test_sms_state", sms_id)
    if not state:
        print("not dispatched: the SMS is gone from Odoo's queue")
    elif state.get("sms_defer_reason"):
        print(f"not dispatched: deferred by Odoo ({state['sms_defer_reason']})")
    else:
        print(f"not dispatched: Odoo state {state.get('state')!r}"
              f"{' (' + state['failure_type'] + ')' if state.get('failure_type') else ''}")
    return 1


def cmd_send_test(args: argparse.Namespace) -> int:
    """Queue one transactional SMS in Odoo and dispatch it now; print what the provider said."""
    try:
        settings = load_settings()
        client = OdooClient.connect(settings)
        return _send_test(settings, client, args.number, args.body)
    except (ConfigError, OdooError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def cmd_replay_inbox(args: argparse.Namespace) -> int:
    """Make failed and parked inbox events claimable again, then apply the inbox to Odoo once."""
    from sync_service.store import Store
    from sync_service.webhooks.applier import InboxApplier, replay

    try:
        settings = load_settings()
        store = Store.from_url(settings.store_url)
    except (ConfigError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        count = replay(store, parked_only=args.parked_only, kind=args.kind, provider=args.provider)
        print(f"{count} inbox event(s) made claimable again")
        if args.no_apply:
            return 0
        client = OdooClient.connect(settings)
        applier = InboxApplier(store, client, worker_id=f"{settings.worker_id}-replay")
        applied = parked = retried = 0
        for _ in range(10_000):
            applier.run_once()
            report = applier.last_report
            applied += report.settled
            parked += report.parked
            retried += report.retried
            if report.claimed == 0 or report.settled == 0:
                break
        print(f"applied {applied}, parked again {parked}, to retry later {retried}; "
              f"{store.backlog()} event(s) still waiting")
        return 0 if parked == 0 and retried == 0 else 1
    except (OdooError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sms-sync",
        description="Sync service of the SMS marketing suite for Odoo 18. Configuration comes from "
        "SMS_SYNC_* environment variables or a .env file in the working directory.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = sub.add_parser(
        "check", help="connect to Odoo, print its version and whether the addon is installed"
    )
    check.set_defaults(func=cmd_check)

    from sync_service.shell.runner import ROLES

    run = sub.add_parser(
        "run", help="run the service until SIGTERM: dispatcher, webhooks, carts (all roles by default)"
    )
    run.add_argument(
        "--role", action="append", choices=ROLES, metavar="ROLE",
        help=f"role to run, repeatable: {', '.join(ROLES)} (default: all available)",
    )
    run.set_defaults(func=cmd_run)

    send_test = sub.add_parser(
        "send-test", help="queue a transactional SMS in Odoo, dispatch it now and print the provider's answer"
    )
    send_test.add_argument("number", metavar="NUMBER", help="destination in E.164, e.g. +33612345678")
    send_test.add_argument("--body", default="Test SMS from sms-sync", help="text of the SMS")
    send_test.set_defaults(func=cmd_send_test)

    replay = sub.add_parser(
        "replay-inbox", help="re-apply stored webhook events that failed or were parked, now"
    )
    replay.add_argument("--parked-only", action="store_true", help="only events Odoo refused or malformed")
    replay.add_argument("--kind", choices=("status", "inbound"), help="only this kind of event")
    replay.add_argument("--provider", choices=("twilio", "plivo", "vonage"), help="only this provider")
    replay.add_argument(
        "--no-apply", action="store_true", help="only make them claimable (the running service applies them)"
    )
    replay.set_defaults(func=cmd_replay_inbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
