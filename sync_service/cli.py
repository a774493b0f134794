"""Command line of the sync service: `sms-sync`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .config import ConfigError, load_settings
from .odoo_client import OdooClient, OdooError

ADDON = "sms_marketing_addon"


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
