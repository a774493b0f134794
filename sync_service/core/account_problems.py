"""Plain words for what a provider says about an ACCOUNT, for the people who fix it in Odoo.

Two sentences come from here: the reason of an account-wide refusal (a send or a test call refused because
of the account itself: credentials, suspension, credit, sender; the codes are those of
:mod:`~sync_service.core.provider_codes` whose meaning is ``account``), e.g. "Twilio refused the
credentials: check the Account SID and the Auth Token (20003)", and the verdict of a "Test connection"
(:mod:`~sync_service.core.account_check`). Pure: no I/O.

Each sentence is an :class:`AccountText`: the English words (what logs and the command line show) that also
name their template (``key``, one of :data:`TEMPLATES`) and values (``args``). The service reports both to
Odoo, which says the sentence in the shop's language from its own copy of the templates (a test keeps the
two copies equal).
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


# The sentences about an account, by key (Odoo holds the same English templates, to translate).
TEMPLATES: Mapping[str, str] = {
    # an account-wide refusal (a send or a test call): Odoo, as here, ends it with the code in brackets
    "credentials": "%(name)s refused the credentials: check the %(ident)s and the %(secret)s",
    "test_credentials": "%(name)s test credentials cannot send messages: use the live %(ident)s and "
                        "%(secret)s",
    "signature": "%(name)s refused the request signature: check the %(secret)s and the signature settings",
    "suspended": "%(name)s says the account is suspended or closed: see the account in %(name)s's console",
    "no_credit": "%(name)s says the account has no credit left: top it up",
    "sender": "%(name)s does not allow this sender for the account: check the sender number or ID",
    "not_enabled": "%(name)s has not enabled this account for its SMS API: see the account in %(name)s's "
                   "console",
    "refused": "%(name)s refused the account",
    "refused_detail": "%(name)s refused the account: %(detail)s",
    # the verdict of a "Test connection"
    "accepted": "%(name)s accepts the credentials and the account can send",
    "console": "The console sandbox needs no credentials: the sync service logs the messages of this account "
               "and sends none",
    "unreachable": "Could not reach %(name)s (%(reason)s): check the API base URL and the sync service's "
                   "network access",
    "unreachable_at": "Could not reach %(name)s at %(url)s (%(reason)s): check the API base URL and the sync "
                      "service's network access",
    "server_error": "%(name)s answered with a server error (HTTP %(code)s): try again in a few minutes",
    "throttled": "%(name)s asks to slow down (HTTP 429): try again in a minute",
    "http": "%(name)s answered the test call with HTTP %(code)s: check the API base URL and the account ID",
    "http_at": "%(name)s answered the test call with HTTP %(code)s at %(url)s: check the API base URL and "
               "the account ID",
}
REFUSAL_KEYS = frozenset({problem.value for problem in Problem} | {"refused", "refused_detail"})


class AccountText(str):
    """An English sentence about an account (a ``str``: logs and the command line read it as is) that names
    its template in :data:`TEMPLATES` (``key``) and the values put in it (``args``)."""

    key: str
    args: Mapping[str, str]

    def __new__(cls, key: str, **args: str) -> AccountText:
        text = TEMPLATES[key] % args
        if key in REFUSAL_KEYS and args.get("code"):
            text = f"{text} ({args['code']})"
        made = super().__new__(cls, text)
        made.key, made.args = key, dict(args)
        return made


def text_fields(reason: object) -> dict[str, object]:
    """What a report to Odoo says of a sentence's template: ``{reason_key, reason_args}``, or nothing for a
    plain ``str`` (a provider's own words)."""
    if isinstance(reason, AccountText):
        return {"reason_key": reason.key, "reason_args": dict(reason.args)}
    return {}


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


def account_refusal(provider: str, code: str | None, detail: str = "") -> AccountText:
    """The plain sentence of an account-wide refusal, ending with the provider's code in brackets."""
    ident, secret = CREDENTIAL_NAMES.get(provider, ("account ID", "secret"))
    problem = problem_of(provider, code, detail)
    key = problem.value if problem else ("refused_detail" if detail else "refused")
    return AccountText(key, name=provider_name(provider), ident=ident, secret=secret, code=str(code or ""),
                       detail=detail)
