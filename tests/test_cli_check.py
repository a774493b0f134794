"""`sms-sync check` against a real Odoo over JSON-RPC, as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from odoo_server import OdooServer

SMS_SYNC = [sys.executable, "-m", "sync_service.shell.cli"]


def run_check(env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SMS_SYNC_")} | env
    return subprocess.run(
        [*SMS_SYNC, "check"], env=full_env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_check_prints_version_and_addon_state(sync_env: dict[str, str]) -> None:
    result = run_check(sync_env)
    assert result.returncode == 0, result.stderr
    assert "Odoo 18.0" in result.stdout
    assert "addon sms_marketing_addon: installed" in result.stdout


def test_check_reads_a_dotenv_file(sync_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in sync_env.items()))
    result = run_check({}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "addon sms_marketing_addon: installed" in result.stdout


def test_check_wrong_password_is_one_clear_line(sync_env: dict[str, str]) -> None:
    result = run_check(sync_env | {"SMS_SYNC_ODOO_PASSWORD": "not-the-password"})
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"error: Odoo refused the login 'admin' on database '{sync_env['SMS_SYNC_ODOO_DB']}'"
        " (wrong password or API key)"
    ]
    assert "not-the-password" not in result.stdout + result.stderr


def test_check_wrong_database_is_one_clear_line(sync_env: dict[str, str]) -> None:
    result = run_check(sync_env | {"SMS_SYNC_ODOO_DB": "no_such_database_here"})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no_such_database_here" in lines[0]


def test_check_stopped_odoo_is_one_clear_line(sync_env: dict[str, str], odoo_server: OdooServer) -> None:
    odoo_server.stop()
    try:
        result = run_check(sync_env)
    finally:
        odoo_server.start()
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"error: Odoo is unreachable at {odoo_server.url}/: connection refused"
    ]
    assert run_check(sync_env).returncode == 0  # and back once Odoo is


def test_check_invalid_configuration_names_the_variable(sync_env: dict[str, str]) -> None:
    result = run_check(sync_env | {"SMS_SYNC_ODOO_URL": "not a url"})
    assert result.returncode != 0
    assert result.stderr.startswith("error: invalid configuration: SMS_SYNC_ODOO_URL")


def test_help_lists_the_commands() -> None:
    result = subprocess.run([*SMS_SYNC, "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "check" in result.stdout
