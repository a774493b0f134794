"""Shared by the benchmarks: an Odoo database with the addon installed, built from the test template."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
ODOO_SRC = Path(os.environ.get("ODOO_SRC", "/opt/odoo18"))
CONF = Path(os.environ.get("SMSM_ODOO_CONF") or ROOT / ".venv" / "odoo-test.conf")


def sh(*cmd: str, quiet: bool = True) -> None:
    env = dict(os.environ, PGOPTIONS="-c client_min_messages=warning")
    out = subprocess.DEVNULL if quiet else None
    subprocess.run(cmd, check=True, env=env, stdout=out, stderr=out if quiet else None)


def template_name() -> str:
    out = subprocess.run(
        ["psql", "-d", "postgres", "-tAc", "SELECT datname FROM pg_database WHERE datname LIKE 'smsm_tmpl_%' "
         "AND datname NOT LIKE '%_partial' ORDER BY datname LIMIT 1"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    if not out or not CONF.exists():
        sys.exit("no template database: run `make test` once first (it builds the template)")
    return out


def fresh_database(name: str) -> str:
    """A new database `name`: the template copied, the addon installed."""
    sh("dropdb", "--if-exists", name)
    sh("createdb", "-T", template_name(), name)
    sh(str(VENV_PYTHON), str(ODOO_SRC / "odoo-bin"), "-c", str(CONF), "-d", name, "-i", "sms_marketing_addon",
       "--stop-after-init")
    return name
