"""The suite's own Odoo: a database copied from the test template with the addon installed, and an
``odoo-bin`` HTTP server subprocess that can be killed and started again on the same port."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sync_service.shell.config import load_settings
from sync_service.shell.odoo_client import OdooClient, OdooUnreachable

ROOT = Path(__file__).resolve().parent.parent
ODOO_SRC = Path(os.environ.get("ODOO_SRC", "/opt/odoo18"))
TEMPLATE_DATA_DIR = ROOT / ".venv" / "odoo-data"  # where scripts/test.sh keeps the template's filestore
PG_ENV = dict(os.environ, PGOPTIONS="-c client_min_messages=warning")


class SetupError(Exception):
    """The suite cannot prepare its Odoo (no template database, install failed ...)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _psql(sql: str) -> str:
    return subprocess.run(["psql", "-d", "postgres", "-tAc", sql], check=True, capture_output=True, text=True,
                          env=PG_ENV).stdout.strip()


def database_exists(name: str) -> bool:
    return _psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'") == "1"


def template_name() -> str:
    """The test template (``make test`` builds it): the addon's Odoo dependencies installed."""
    name = _psql("SELECT datname FROM pg_database WHERE datname LIKE 'smsm\\_tmpl\\_%' "
                 "AND datname NOT LIKE '%\\_partial' ORDER BY datname LIMIT 1")
    if not name:
        raise SetupError("no template database smsm_tmpl_*: run `make test` once first (it builds it)")
    return name


def write_config(path: Path, data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "[options]\n"
        f"addons_path = {ODOO_SRC}/odoo/addons,{ROOT}\n"
        f"data_dir = {data_dir}\n"
        "db_host = False\ndb_port = False\nmax_cron_threads = 0\nhttp_interface = 127.0.0.1\n"
        "without_demo = all\nlog_level = warn\n"
    )
    return path


def create_database(name: str, config: Path, data_dir: Path, log: Path) -> None:
    """``name``: the template copied (database and filestore), then the addon installed."""
    template = template_name()
    drop_database(name, data_dir)
    subprocess.run(["createdb", "-T", template, name], check=True, env=PG_ENV)
    source = TEMPLATE_DATA_DIR / "filestore" / template
    if source.is_dir():
        shutil.copytree(source, data_dir / "filestore" / name)
    with log.open("ab") as out:
        result = subprocess.run(
            [sys.executable, str(ODOO_SRC / "odoo-bin"), "-c", str(config), "-d", name,
             "-i", "sms_marketing_addon", "--stop-after-init"],
            stdout=out, stderr=subprocess.STDOUT, env=PG_ENV,
        )
    if result.returncode != 0:
        raise SetupError(f"installing sms_marketing_addon in {name} failed; see {log}")


def drop_database(name: str, data_dir: Path) -> None:
    subprocess.run(["dropdb", "--if-exists", "--force", name], check=True, env=PG_ENV)
    shutil.rmtree(data_dir / "filestore" / name, ignore_errors=True)


class OdooProcess:
    """``odoo-bin`` serving one database on a fixed loopback port (the same after every restart)."""

    def __init__(self, config: Path, database: str, log: Path, port: int | None = None,
                 workers: int = 0) -> None:
        self.config, self.database, self.log = config, database, log
        self.port = port or free_port()
        self.workers = workers
        self.gevent_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180.0) -> None:
        cmd = [
            sys.executable, str(ODOO_SRC / "odoo-bin"), "-c", str(self.config), "-d", self.database,
            f"--http-port={self.port}", "--http-interface=127.0.0.1",
            f"--workers={self.workers}", "--max-cron-threads=0", "--log-level=warn",
        ]
        if self.workers:
            cmd.append(f"--gevent-port={self.gevent_port}")
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=PG_ENV)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SetupError(f"odoo-bin exited with {self.process.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(f"{self.url}/web/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise SetupError(f"odoo-bin did not answer on {self.url} within {timeout:.0f} s; see {self.log}")

    def worker_pids(self) -> list[int]:
        """The HTTP workers of Odoo's master (workers mode): its children but the gevent (longpolling) one."""
        if self.process is None or not self.workers:
            return []
        found = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
        pids = [int(pid) for pid in found.stdout.split()]
        http = []
        for pid in pids:
            with contextlib.suppress(OSError):
                if "gevent" not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                    http.append(pid)
        return http

    def kill(self) -> None:
        """SIGKILL: no goodbye, transactions in progress are rolled back by PostgreSQL."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self.process = None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 20 s."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class Rpc:
    """The suite's own JSON-RPC client to Odoo, logging in again after Odoo was restarted."""

    def __init__(self, url: str, database: str) -> None:
        self.settings = load_settings(odoo_url=url, odoo_db=database, odoo_login="admin",
                                      odoo_password="admin", odoo_timeout=120)
        self._client: OdooClient | None = None

    def call(self, model: str, method: str, *args: Any, retry_for: float = 120.0, **kwargs: Any) -> Any:
        deadline = time.monotonic() + retry_for
        while True:
            try:
                if self._client is None:
                    self._client = OdooClient.connect(self.settings)
                return self._client.call(model, method, *args, **kwargs)
            except OdooUnreachable:
                self._client = None
                if time.monotonic() > deadline:
                    raise
                time.sleep(1.0)


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return True
        time.sleep(interval)
    return False
