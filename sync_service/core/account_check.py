"""The verdict of a "Test connection" (a provider call that sends nothing), in plain words. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from sync_service.core.account_problems import provider_name
from sync_service.core.errors import Classification, FailureKind, Outcome


@dataclass(frozen=True)
class Verdict:
    """What a "Test connection" found: ``ok``; ``account_wide``: the provider refuses the account itself."""

    ok: bool
    account_wide: bool
    code: str
    reason: str


_UNREACHABLE = frozenset({FailureKind.DNS, FailureKind.CONNECTION, FailureKind.TIMEOUT, FailureKind.PROTOCOL,
                          FailureKind.TLS})


def connection_verdict(provider: str, check: Classification, base_url: str = "") -> Verdict:
    """The verdict of a test call (``Gateway.check``), in plain words."""
    name, code = provider_name(provider), check.code
    where = f" at {base_url}" if base_url else ""
    if check.outcome is Outcome.SENT:
        if provider == "console":
            return Verdict(True, False, code, "The console sandbox needs no credentials: the sync service "
                                                    "logs the messages of this account and sends none")
        return Verdict(True, False, code, f"{name} accepts the credentials and the account can send")
    if check.outcome is Outcome.ACCOUNT:
        return Verdict(False, True, code, check.reason)
    if code in _UNREACHABLE:
        return Verdict(False, False, code, f"Could not reach {name}{where} ({check.reason}): check the API "
                                                 "base URL and the sync service's network access")
    if code.isdigit() and int(code) >= 500:
        return Verdict(False, False, code, f"{name} answered with a server error (HTTP {code}): try "
                                                 "again in a few minutes")
    if check.outcome is Outcome.THROTTLED or code == "429":
        return Verdict(False, False, code, f"{name} asks to slow down (HTTP 429): try again in a minute")
    return Verdict(False, False, code, f"{name} answered the test call with HTTP {code}{where}: "
                                             "check the API base URL and the account ID")
