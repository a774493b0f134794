"""Plain words for what a provider says about an ACCOUNT, for the people who fix it in Odoo.

Two sentences come from here: the reason of an account-wide refusal (a send or a test call refused because
of the account itself: credentials, suspension, credit, sender; the codes are those of
:mod:`~sync_service.core.provider_codes` whose meaning is ``account``), e.g. "Twilio refused the
credentials: check the Account SID and the Auth Token (20003)", and the verdict of a "Test connection"
(:mod:`~sync_service.core.account_check`). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class Problem(StrEnum):
    CREDENTIALS = "credentials"
    TEST_CREDENTIALS = "test_credentials"
    SIGNATURE = "signature"
    SUSPENDED = "suspended"
    NO_CREDIT = "no_credit"
    SENDER = "sender"
    NOT_ENABLED = "not_enabled"


PROVIDER_NAMES: Mapping[str, str] = {
    "twilio": "Twilio", "plivo": "Plivo", "vonage": "Vonage", "console": "The console sandbox",
}
# What each provider calls the account id and the secret (the labels of its console).
CREDENTIAL_NAMES: Mapping[str, tuple[str, str]] = {
    "twilio": ("Account SID", "Auth Token"),
    "plivo": ("Auth ID", "Auth Token"),
    "vonage": ("API key", "API secret"),
}

# (provider, code) -> problem: the codes whose meaning is "account" in provider_codes, and the HTTP statuses
# of the test calls (Plivo answers them with its send statuses, Vonage's balance with 401).
CODE_PROBLEMS: Mapping[tuple[str, str], Problem] = {
    ("twilio", "20003"): Problem.CREDENTIALS,
    ("twilio", "401"): Problem.CREDENTIALS,
    ("twilio", "20005"): Problem.SUSPENDED,
    ("twilio", "30002"): Problem.SUSPENDED,
    ("twilio", "20008"): Problem.TEST_CREDENTIALS,
    ("twilio", "21606"): Problem.SENDER,
    ("twilio", "21703"): Problem.SENDER,
    ("plivo", "401"): Problem.CREDENTIALS,
    ("plivo", "402"): Problem.NO_CREDIT,
    ("plivo", "900"): Problem.NO_CREDIT,
    ("plivo", "403"): Problem.SUSPENDED,
    ("vonage", "4"): Problem.CREDENTIALS,
    ("vonage", "401"): Problem.CREDENTIALS,
    ("vonage", "8"): Problem.SUSPENDED,
    ("vonage", "403"): Problem.SUSPENDED,
    ("vonage", "9"): Problem.NO_CREDIT,
    ("vonage", "11"): Problem.NOT_ENABLED,
    ("vonage", "14"): Problem.SIGNATURE,
    ("vonage", "32"): Problem.SIGNATURE,
    ("vonage", "15"): Problem.SENDER,
}

# Plivo words its refusals: these words tell which problem a 400 is.
_PLIVO_WORDS: tuple[tuple[str, Problem], ...] = (
    ("credit", Problem.NO_CREDIT), ("balance", Problem.NO_CREDIT), ("suspend", Problem.SUSPENDED),
    ("src", Problem.SENDER), ("source number", Problem.SENDER),
)


def provider_name(provider: str) -> str:
    return PROVIDER_NAMES.get(provider, provider.capitalize() or "The provider")


def problem_of(provider: str, code: str | None, detail: str = "") -> Problem | None:
    """The account problem a refusal names; ``None`` when the code is not one of the account codes."""
    text = str(code or "").strip()
    text = (text.lstrip("0") or text) if text.isdigit() else text
    found = CODE_PROBLEMS.get((provider, text))
    if found is None and provider == "plivo":
        lowered = detail.lower()
        found = next((problem for words, problem in _PLIVO_WORDS if words in lowered), None)
    return found


def account_refusal(provider: str, code: str | None, detail: str = "") -> str:
    """The plain sentence of an account-wide refusal, ending with the provider's code in brackets."""
    name = provider_name(provider)
    ident, secret = CREDENTIAL_NAMES.get(provider, ("account ID", "secret"))
    problem = problem_of(provider, code, detail)
    if problem is Problem.CREDENTIALS:
        text = f"{name} refused the credentials: check the {ident} and the {secret}"
    elif problem is Problem.TEST_CREDENTIALS:
        text = f"{name} test credentials cannot send messages: use the live {ident} and {secret}"
    elif problem is Problem.SIGNATURE:
        text = f"{name} refused the request signature: check the {secret} and the signature settings"
    elif problem is Problem.SUSPENDED:
        text = f"{name} says the account is suspended or closed: see the account in {name}'s console"
    elif problem is Problem.NO_CREDIT:
        text = f"{name} says the account has no credit left: top it up"
    elif problem is Problem.SENDER:
        text = f"{name} does not allow this sender for the account: check the sender number or ID"
    elif problem is Problem.NOT_ENABLED:
        text = f"{name} has not enabled this account for its SMS API: see the account in {name}'s console"
    else:
        text = f"{name} refused the account" + (f": {detail}" if detail else "")
    return f"{text} ({code})" if code else text
