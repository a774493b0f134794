"""The replicas' shared store: a PostgreSQL server of the suite's own (initdb in a scratch directory, its
own port and socket), so that it can be crashed and restarted without touching the PostgreSQL that
serves Odoo (or anything else on the machine)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .odoo import SetupError, free_port


def _bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                                                      reverse=True)), None)
    if not found:
        raise SetupError(f"PostgreSQL's {name} is not installed (Debian: postgresql)")
    return found


class StoreServer:
    """``initdb`` + ``pg_ctl`` in a directory of its own; run as the ``postgres`` user when we are root."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="smsm_store_pg_"))
        self.data = self.root / "data"
        self.port = free_port()
        self.log = self.root / "postgres.log"
        self._as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root
            self._as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")

    def _run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*self._as_user, *cmd], capture_output=True, text=True)
        if check and result.returncode != 0:
            raise SetupError(f"{' '.join(cmd[:2])} failed: {(result.stderr or result.stdout).strip()[-400:]}")
        return result

    def start(self) -> StoreServer:
        if not self.data.exists():
            self._run(_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        options = f"-p {self.port} -k {self.root} -c listen_addresses='' -c fsync=on -c max_connections=200"
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60",
                  "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """``fast`` (clients disconnected, clean shut-down) or ``immediate`` (a crash: recovery at start)."""
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def restart(self, mode: str, down_seconds: float) -> None:
        self.stop(mode)
        time.sleep(down_seconds)
        self.start()

    def create_database(self, name: str) -> str:
        """A new database; its SQLAlchemy URL over the server's socket."""
        self._run(_bin("createdb"), "-h", str(self.root), "-p", str(self.port), "-U", "postgres", name)
        return f"postgresql+psycopg2://postgres@/{name}?host={self.root}&port={self.port}"

    def postmaster_pid(self) -> int:
        """The server's main process (first line of ``postmaster.pid``); its backends are its children."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


__all__ = ["StoreServer"]
