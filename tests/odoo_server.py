"""A real Odoo HTTP server for the service's tests: `odoo-bin` in a subprocess on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class OdooServer:
    """Starts and stops `odoo-bin` serving one database; `url` stays the same across restarts."""

    config: str
    database: str
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> None:
        odoo_src = os.environ.get("ODOO_SRC", "/opt/odoo18")
        cmd = [
            sys.executable, f"{odoo_src}/odoo-bin", "-c", self.config, "-d", self.database,
            f"--http-port={self.port}", "--http-interface=127.0.0.1",  # -d alone: that database only
            "--workers=0", "--max-cron-threads=0", "--log-level=warn",
        ]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"odoo-bin exited with {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/web/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"odoo-bin did not answer on {self.url} within {timeout} s; see {self.log_path}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
