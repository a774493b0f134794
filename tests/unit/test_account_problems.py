"""Plain words for an account the provider refuses, and the verdict of a "Test connection"."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sync_service.core.account_check import Verdict, connection_verdict
from sync_service.core.account_problems import (
    REFUSAL_KEYS,
    TEMPLATES,
    AccountText,
    Problem,
    account_refusal,
    problem_of,
)
from sync_service.core.errors import Classification, Outcome, classify_exception
from sync_service.core.provider_codes import PROVIDER_CODES, Meaning

ROOT = Path(__file__).resolve().parents[2]


def test_every_account_code_of_the_provider_table_has_plain_words() -> None:
    for row in PROVIDER_CODES:
        if row.meaning is Meaning.ACCOUNT:
            assert problem_of(row.provider, row.code) is not None, row


@pytest.mark.parametrize(
    ("provider", "code", "detail", "expected"),
    [
        ("twilio", "20003", "Authenticate",
         "Twilio refused the credentials: check the Account SID and the Auth Token (20003)"),
        ("twilio", "20005", "", "Twilio says the account is suspended or closed: see the account in Twilio's "
                                "console (20005)"),
        ("twilio", "20008", "", "Twilio test credentials cannot send messages: use the live Account SID and "
                                "Auth Token (20008)"),
        ("twilio", "21606", "", "Twilio does not allow this sender for the account: check the sender "
                                "number or ID (21606)"),
        ("plivo", "401", "authentication failed",
         "Plivo refused the credentials: check the Auth ID and the Auth Token (401)"),
        ("plivo", "402", "", "Plivo says the account has no credit left: top it up (402)"),
        ("plivo", "400", "Insufficient credit to send this message",
         "Plivo says the account has no credit left: top it up (400)"),
        ("plivo", "400", "src is not allowed for this account",
         "Plivo does not allow this sender for the account: check the sender number or ID (400)"),
        ("vonage", "4", "Bad Credentials",
         "Vonage refused the credentials: check the API key and the API secret (4)"),
        ("vonage", "09", "", "Vonage says the account has no credit left: top it up (09)"),
        ("vonage", "14", "", "Vonage refused the request signature: check the API secret and the signature "
                             "settings (14)"),
        ("twilio", "29999", "Something new", "Twilio refused the account: Something new (29999)"),
        ("twilio", None, "", "Twilio refused the account"),
    ],
)
def test_account_refusal_in_plain_words(provider: str, code: str | None, detail: str, expected: str) -> None:
    said = account_refusal(provider, code, detail)
    assert said == expected
    assert_made_from_its_template(said)


def assert_made_from_its_template(said: str) -> None:
    """Odoo says the sentence again from its key and values (in the shop's language): the same words."""
    assert isinstance(said, AccountText) and said.key in TEMPLATES
    again = TEMPLATES[said.key] % said.args
    if said.key in REFUSAL_KEYS and said.args.get("code"):
        again = f"{again} ({said.args['code']})"
    assert again == said


def test_a_plivo_refusal_without_account_words_names_no_problem() -> None:
    assert problem_of("plivo", "400", "dst parameter is invalid") is None
    assert problem_of("vonage", "9", "") is Problem.NO_CREDIT


REFUSED = Classification(Outcome.ACCOUNT, "20003", "Twilio refused the credentials: check the Account SID "
                                                   "and the Auth Token (20003)")


@pytest.mark.parametrize(
    ("provider", "check", "expected"),
    [
        ("twilio", Classification(Outcome.SENT, "200", "the provider accepts the account"),
         Verdict(True, False, "200", "Twilio accepts the credentials and the account can send")),
        ("console", Classification(Outcome.SENT, "ok", "no provider to ask"),
         Verdict(True, False, "ok", "The console sandbox needs no credentials: the sync service logs the "
                                    "messages of this account and sends none")),
        ("twilio", REFUSED, Verdict(False, True, "20003", REFUSED.reason)),
        ("plivo", classify_exception("dns"),
         Verdict(False, False, "dns", "Could not reach Plivo at https://api.plivo.example (dns error): check "
                                      "the API base URL and the sync service's network access")),
        ("vonage", classify_exception("tls"),
         Verdict(False, False, "tls", "Could not reach Vonage at https://api.plivo.example (tls error): "
                                      "check the API base URL and the sync service's network access")),
        ("twilio", Classification(Outcome.TRANSIENT, "503", "test call: HTTP 503"),
         Verdict(False, False, "503", "Twilio answered with a server error (HTTP 503): try again in a few "
                                      "minutes")),
        ("twilio", Classification(Outcome.TRANSIENT, "429", "test call: HTTP 429"),
         Verdict(False, False, "429", "Twilio asks to slow down (HTTP 429): try again in a minute")),
        ("twilio", Classification(Outcome.TRANSIENT, "404", "test call: HTTP 404"),
         Verdict(False, False, "404", "Twilio answered the test call with HTTP 404 at "
                                      "https://api.plivo.example: check the API base URL and the "
                                      "account ID")),
    ],
)
def test_the_verdict_of_a_test_connection(provider: str, check: Classification, expected: Verdict) -> None:
    verdict = connection_verdict(provider, check, "https://api.plivo.example")
    assert verdict == expected
    if verdict.code != "20003":  # REFUSED's reason is a plain str here (a gateway gives an AccountText)
        assert_made_from_its_template(verdict.reason)


def test_a_test_connection_without_a_base_url_names_none() -> None:
    not_found = Classification(Outcome.TRANSIENT, "404", "test call: HTTP 404")
    said = connection_verdict("twilio", not_found).reason
    assert said == "Twilio answered the test call with HTTP 404: check the API base URL and the account ID"
    assert_made_from_its_template(said)
    said = connection_verdict("vonage", classify_exception("dns")).reason
    assert said.startswith("Could not reach Vonage (dns error): ")
    assert_made_from_its_template(said)


def odoo_templates() -> tuple[dict[str, str], set[str]]:
    """ACCOUNT_TEMPLATES and REFUSAL_KEYS of the addon (read from its source: Odoo is not imported here)."""
    source = ROOT / "sms_marketing_addon" / "models" / "sms_provider_account_test.py"
    templates: dict[str, str] = {}
    refusals: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id == "ACCOUNT_TEMPLATES":
                assert isinstance(node.value, ast.Dict)
                for key, value in zip(node.value.keys, node.value.values, strict=True):
                    assert isinstance(key, ast.Constant) and isinstance(value, ast.Call)
                    templates[key.value] = ast.literal_eval(value.args[0])
            elif node.targets[0].id == "REFUSAL_KEYS":
                refusals = set(ast.literal_eval(node.value.args[0]))  # type: ignore[attr-defined]
    return templates, refusals


def test_odoo_holds_the_same_templates_to_translate() -> None:
    templates, refusals = odoo_templates()
    assert templates == dict(TEMPLATES)
    assert refusals == set(REFUSAL_KEYS)
