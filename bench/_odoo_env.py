"""Shared by the benchmarks: an Odoo database with the addon installed, built from the test template."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
ODOO_SRC = Path(os.environ.get("ODOO_SRC", "/opt/odoo18"))
DATA_DIR = ROOT / ".venv" / "odoo-data"
# The benchmarks' own Odoo configuration, with this tree's addon (.venv may be shared by several worktrees,
# and scripts/test.sh now writes one configuration per test database).
CONF = ROOT / ".venv" / f"odoo-bench-{ROOT.name}.conf"


def write_conf() -> Path:
    text = (f"[options]\naddons_path = {ODOO_SRC}/odoo/addons,{ROOT}\ndata_dir = {DATA_DIR}\n"
            "db_host = False\ndb_port = False\nmax_cron_threads = 0\nhttp_interface = 127.0.0.1\n"
            "without_demo = all\nlog_level = warn\n")
    if not CONF.exists() or CONF.read_text() != text:
        CONF.write_text(text)
    return CONF


if os.environ.get("SMSM_ODOO_CONF"):  # a test database's configuration (scripts/test.sh writes one)
    CONF = Path(os.environ["SMSM_ODOO_CONF"])
else:
    write_conf()


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
    if not out:
        sys.exit("no template database: run `make test` once first (it builds the template)")
    return out


def fresh_database(name: str) -> str:
    """A new database `name`: the template copied, the addon installed."""
    sh("dropdb", "--if-exists", name)
    sh("createdb", "-T", template_name(), name)
    sh(str(VENV_PYTHON), str(ODOO_SRC / "odoo-bin"), "-c", str(CONF), "-d", name, "-i", "sms_marketing_addon",
       "--stop-after-init")
    return name
