"""The verdict of a "Test connection" (a provider call that sends nothing), in plain words. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from sync_service.core.account_problems import AccountText, provider_name
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
    if check.outcome is Outcome.SENT:
        if provider == "console":
            return Verdict(True, False, code, AccountText("console"))
        return Verdict(True, False, code, AccountText("accepted", name=name))
    if check.outcome is Outcome.ACCOUNT:
        return Verdict(False, True, code, check.reason)
    at = "_at" if base_url else ""
    if code in _UNREACHABLE:
        return Verdict(False, False, code, AccountText(f"unreachable{at}", name=name, url=base_url,
                                                       reason=check.reason))
    if code.isdigit() and int(code) >= 500:
        return Verdict(False, False, code, AccountText("server_error", name=name, code=code))
    if check.outcome is Outcome.THROTTLED or code == "429":
        return Verdict(False, False, code, AccountText("throttled", name=name))
    return Verdict(False, False, code, AccountText(f"http{at}", name=name, code=code, url=base_url))
