"""Fixtures of the service's tests: a real Odoo server (subprocess) on the RPC copy of the test database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from odoo_server import OdooServer
from sync_service.shell.config import load_settings
from sync_service.shell.odoo_client import OdooClient
from sync_service.store.models import metadata


@pytest.fixture(scope="session")
def odoo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OdooServer]:
    config, database = os.environ.get("SMSM_ODOO_CONF"), os.environ.get("SMSM_RPC_DB")
    if not config or not database:
        pytest.fail("SMSM_ODOO_CONF and SMSM_RPC_DB are not set: run the tests with `make test`")
    server = OdooServer(config, database, tmp_path_factory.mktemp("odoo") / "odoo.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(odoo_server: OdooServer) -> OdooClient:
    """Odoo's administrator over RPC, as the tests' hand on Odoo (set-up, reads, the service's calls)."""
    return OdooClient.connect(load_settings(odoo_url=odoo_server.url, odoo_db=odoo_server.database,
                                            odoo_login="admin", odoo_password="admin"))


@pytest.fixture
def french(client: OdooClient) -> None:
    """French active in Odoo, as in a French shop (contacts can speak it, people read it). It stays active:
    Odoo refuses to deactivate a language contacts use."""
    ids = client.call("res.lang", "search", [("code", "=", "fr_FR"), ("active", "in", [True, False])])
    client.call("res.lang", "write", ids, {"active": True})


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


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A scratch PostgreSQL database (store tests) over the local socket, or a skip when there is none."""
    name = f"smsm_store_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine("postgresql+psycopg2:///postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # no server, no role: the SQLite runs still cover the logic
        admin.dispose()
        pytest.skip(f"PostgreSQL not available over the local socket: {exc}")
    yield f"postgresql+psycopg2:///{name}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    url = request.getfixturevalue("pg_url")
    yield url
    engine = create_engine(url)
    metadata.drop_all(engine)
    engine.dispose()
