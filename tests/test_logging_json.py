"""JSON log lines and secret redaction, through the real logging machinery into a text stream."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from sync_service.shell.logging_setup import REDACTED, register_secrets, setup_logging

TOKEN = "tw-auth-7f3a9c2e"
PASSWORD = "odoo-pa55word"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Installs the JSON handler on the root logger, and puts the root logger back afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    out = io.StringIO()
    setup_logging("DEBUG", secrets=[TOKEN, None, ""], stream=out)
    yield out
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_one_json_object_per_line_with_extras(stream: io.StringIO) -> None:
    log = logging.getLogger("sync_service.test")
    log.info("stored %d events", 3, extra={"provider": "twilio", "backlog": 3, "ids": (1, 2)})
    log.debug("multi\nline")
    first, second = lines(stream)
    assert first["level"] == "INFO"
    assert first["logger"] == "sync_service.test"
    assert first["msg"] == "stored 3 events"
    assert (first["provider"], first["backlog"], first["ids"]) == ("twilio", 3, [1, 2])
    assert first["ts"].endswith("+00:00")
    assert second["msg"] == "multi\nline"
    assert len(stream.getvalue().splitlines()) == 2


def test_registered_secrets_are_masked_everywhere(stream: io.StringIO) -> None:
    log = logging.getLogger("sync_service.test")
    register_secrets(PASSWORD)
    log.warning(
        "login failed with %s", PASSWORD, extra={"detail": f"token={TOKEN}", "nested": {"v": [TOKEN]}}
    )
    try:
        raise RuntimeError(f"Twilio refused token {TOKEN}")
    except RuntimeError:
        log.exception("send failed")
    warning, error = lines(stream)
    text = stream.getvalue()
    assert TOKEN not in text
    assert PASSWORD not in text
    assert warning["msg"] == f"login failed with {REDACTED}"
    assert warning["detail"] == f"token={REDACTED}"
    assert warning["nested"] == {"v": [REDACTED]}
    assert "RuntimeError: Twilio refused token ***" in error["exc"]


def test_secret_named_extras_are_masked(stream: io.StringIO) -> None:
    logging.getLogger("x").info(
        "connect",
        extra={
            "password": "hunter2-unregistered",
            "auth_token": "abc",
            "api_key": 12345,
            "Authorization": "Basic Zm9vOmJhcg==",
            "client_secret": None,
            "settings": {"odoo_password": "plain", "odoo_login": "admin"},
            "login": "admin",
        },
    )
    [entry] = lines(stream)
    for key in ("password", "auth_token", "api_key", "Authorization", "client_secret"):
        assert entry[key] == REDACTED
    assert entry["settings"] == {"odoo_password": REDACTED, "odoo_login": "admin"}
    assert entry["login"] == "admin"


def test_credentials_in_urls_and_auth_headers_are_masked(stream: io.StringIO) -> None:
    logging.getLogger("x").error(
        "GET https://AC123:s3cr3t-value@api.twilio.com/x failed; header Authorization: Bearer eyJhbGciOi.x.y"
    )
    [entry] = lines(stream)
    assert "s3cr3t-value" not in entry["msg"]
    assert "https://AC123:***@api.twilio.com/x" in entry["msg"]
    assert "Bearer ***" in entry["msg"]


@pytest.mark.parametrize(
    ("text", "hidden", "kept"),
    [
        # odoorpc at DEBUG: the answer of get_provider_accounts, as a dict's repr, before any secret is known
        ("(JSON) <- {'result': [{'id': 1, 'secret': 'tw-T0ken', 'webhook_secret': 'wh-S3cret', "
         "'name': 'A'}]}",
         ["tw-T0ken", "wh-S3cret"], ["'name': 'A'", "'secret': '***'"]),
        # its login call, as JSON
         ('{"params": {"db": "prod", "login": "sms-sync", "password": "Pa55-word"}}', ["Pa55-word"],
          ['"login": "sms-sync"', '"password": "***"']),
        ("{'auth_token': 'it\\'s-a-secret', 'api_key':\"k3y-v4lue\", 'Token': ''}",
         ["it\\'s-a-secret", "k3y-v4lue"], ["'Token': '***'"]),
        ("{'sender': '+33612345678', 'author': 'me'}", [], ["'sender': '+33612345678'"]),
    ],
)
def test_secret_keyed_values_inside_messages_are_masked(
    stream: io.StringIO, text: str, hidden: list[str], kept: list[str]
) -> None:
    logging.getLogger("odoorpc.rpc.jsonrpclib").debug(text)
    [entry] = lines(stream)
    for secret in hidden:
        assert secret not in entry["msg"]
    for part in kept:
        assert part in entry["msg"]


def test_odd_records_do_not_break_logging(stream: io.StringIO) -> None:
    class Opaque:
        def __str__(self) -> str:
            return f"opaque({TOKEN})"

    log = logging.getLogger("x")
    log.info("value %s %s", "only-one")  # wrong argument count
    log.info("object", extra={"thing": Opaque()})
    bad_args, opaque = lines(stream)
    assert "unformattable arguments" in bad_args["msg"]
    assert opaque["thing"] == f"opaque({REDACTED})"


def test_setup_is_idempotent_and_validates_level(stream: io.StringIO) -> None:
    again = io.StringIO()
    setup_logging("warning", stream=again)
    logging.getLogger("x").warning("once")
    assert stream.getvalue() == ""
    assert [entry["msg"] for entry in lines(again)] == ["once"]
    with pytest.raises(ValueError, match="unknown log level 'LOUD'"):
        setup_logging("LOUD")
