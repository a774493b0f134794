"""Fixtures of the service's tests: a real Odoo server (subprocess) on the RPC copy of the test database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from odoo_server import OdooServer


@pytest.fixture(scope="session")
def odoo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OdooServer]:
    config, database = os.environ.get("SMSM_ODOO_CONF"), os.environ.get("SMSM_RPC_DB")
    if not config or not database:
        pytest.fail("SMSM_ODOO_CONF and SMSM_RPC_DB are not set: run the tests with `make test`")
    server = OdooServer(config, database, tmp_path_factory.mktemp("odoo") / "odoo.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sync_env(odoo_server: OdooServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """SMS_SYNC_* variables pointing at the test Odoo, in a clean working directory (no stray .env)."""
    env = {
        "SMS_SYNC_ODOO_URL": odoo_server.url,
        "SMS_SYNC_ODOO_DB": odoo_server.database,
        "SMS_SYNC_ODOO_LOGIN": "admin",
        "SMS_SYNC_ODOO_PASSWORD": "admin",
    }
    for key in list(os.environ):
        if key.startswith("SMS_SYNC_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return env
