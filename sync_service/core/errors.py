"""Classification of provider answers into retry decisions, and retry back-off.

Each ``classify_*`` function turns what a provider answered (HTTP status, decoded JSON body,
``Retry-After`` header) into a :class:`Classification`: was the message accepted, should it be
retried (and when), did it fail for good, is the recipient opted out at the provider, or can the
whole ACCOUNT not send (``ACCOUNT``: the message is held, not failed). The codes with a meaning of
their own, and where each is documented, are in :mod:`~sync_service.core.provider_codes`.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sync_service.core.account_problems import account_refusal
from sync_service.core.provider_codes import Meaning, lookup, meaning


class Outcome(StrEnum):
    SENT = "sent"
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    OPTED_OUT = "opted_out"
    THROTTLED = "throttled"
    ACCOUNT = "account"  # the account cannot send (credentials, suspended, credit, sender): hold, do not fail


@dataclass(frozen=True)
class Classification:
    outcome: Outcome
    code: str
    reason: str
    retry_after: float | None = None

    @property
    def retryable(self) -> bool:
        return self.outcome in (Outcome.TRANSIENT, Outcome.THROTTLED)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds of a ``Retry-After`` header given as delta-seconds; ``None`` when absent or invalid.

    The HTTP-date form is not interpreted (it needs a clock); it yields ``None``.
    """
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def _body_get(body: Mapping[str, Any] | None, key: str) -> Any:
    return body.get(key) if isinstance(body, Mapping) else None


def _code_str(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return text or None


# --------------------------------------------------------------------------- Twilio

def classify_twilio(
    http_status: int, body: Mapping[str, Any] | None, retry_after_header: str | None = None
) -> Classification:
    """Classify an answer of Twilio's Messages API (``{"code": 21211, "message": ...}`` on error)."""
    code = _code_str(_body_get(body, "code"))
    message = _body_get(body, "message")
    row = lookup("twilio", "send", code)
    reason = str(message) if message else (row.reason if row else f"HTTP {http_status}")
    shown_code = code or str(http_status)
    retry_after = parse_retry_after(retry_after_header)
    if 200 <= http_status < 300:
        return Classification(Outcome.SENT, shown_code, "accepted")
    known = row.meaning if row else None
    if known is Meaning.OPTED_OUT:
        return Classification(Outcome.OPTED_OUT, shown_code, reason)
    if known is Meaning.ACCOUNT or http_status == 401:
        refusal = account_refusal("twilio", shown_code, str(message or ""))
        return Classification(Outcome.ACCOUNT, shown_code, refusal)
    if known is Meaning.THROTTLED or http_status == 429:
        return Classification(Outcome.THROTTLED, shown_code, reason, retry_after)
    if known is Meaning.INVALID_NUMBER:
        return Classification(Outcome.PERMANENT, shown_code, reason)
    if http_status >= 500:
        return Classification(Outcome.TRANSIENT, shown_code, reason, retry_after)
    if 400 <= http_status < 500:
        return Classification(Outcome.PERMANENT, shown_code, reason)
    return Classification(Outcome.TRANSIENT, shown_code, f"unexpected HTTP status {http_status}")


# --------------------------------------------------------------------------- Plivo
# (Plivo's receipt error codes with a meaning of their own are in provider_codes, stage "receipt".)


def classify_plivo(
    http_status: int, body: Mapping[str, Any] | None, retry_after_header: str | None = None
) -> Classification:
    """Classify an answer of Plivo's Message API (202 queued; ``{"error": "..."}`` otherwise)."""
    error = _body_get(body, "error")
    reason = str(error) if error else f"HTTP {http_status}"
    code = str(http_status)
    retry_after = parse_retry_after(retry_after_header)
    if 200 <= http_status < 300:
        return Classification(Outcome.SENT, code, "queued")
    if http_status == 429:
        return Classification(Outcome.THROTTLED, code, reason, retry_after)
    if meaning("plivo", "send", code, reason) is Meaning.ACCOUNT:
        return Classification(Outcome.ACCOUNT, code, account_refusal("plivo", code, str(error or "")))
    if http_status >= 500:
        return Classification(Outcome.TRANSIENT, code, reason, retry_after)
    if 400 <= http_status < 500:
        return Classification(Outcome.PERMANENT, code, reason)
    return Classification(Outcome.TRANSIENT, code, f"unexpected HTTP status {http_status}")


# --------------------------------------------------------------------------- Vonage

# Vonage SMS API per-message ``status`` values.
_VONAGE_STATUSES: Mapping[str, tuple[Outcome, str]] = {
    "0": (Outcome.SENT, "success"),
    "1": (Outcome.THROTTLED, "throttled"),
    "2": (Outcome.PERMANENT, "missing parameters"),
    "3": (Outcome.PERMANENT, "invalid parameters"),
    "4": (Outcome.PERMANENT, "invalid credentials"),
    "5": (Outcome.TRANSIENT, "internal error"),
    "6": (Outcome.PERMANENT, "invalid message (unroutable)"),
    "7": (Outcome.PERMANENT, "number barred"),
    "8": (Outcome.PERMANENT, "partner account barred"),
    "9": (Outcome.PERMANENT, "partner quota violation (insufficient credit)"),
    "10": (Outcome.THROTTLED, "too many existing binds"),
    "11": (Outcome.PERMANENT, "account not enabled for HTTP"),
    "12": (Outcome.PERMANENT, "message too long"),
    "13": (Outcome.TRANSIENT, "communication failed"),
    "14": (Outcome.PERMANENT, "invalid signature"),
    "15": (Outcome.PERMANENT, "invalid sender address"),
    "22": (Outcome.PERMANENT, "invalid network code"),
    "23": (Outcome.PERMANENT, "invalid callback URL"),
    "29": (Outcome.PERMANENT, "non-whitelisted destination"),
    "32": (Outcome.PERMANENT, "signature and API secret disallowed"),
    "33": (Outcome.PERMANENT, "number de-activated"),
}


def classify_vonage(body: Mapping[str, Any] | None, http_status: int | None = None) -> Classification:
    """Classify a Vonage SMS API answer ``{"messages": [{"status": "0", ...}, ...]}`` (one entry per part).

    All parts accepted gives ``SENT``. When some parts were accepted and a later one refused, the
    message is ``SENT`` too (the accepted parts are on their way and are billed; sending the message
    again would deliver them twice) with a reason naming the refused part. Otherwise the first
    refused part decides, through :mod:`~sync_service.core.provider_codes` first (account-wide
    statuses), then Vonage's status list. A body without messages is ``TRANSIENT``.
    """
    if http_status is not None and http_status == 401:
        return Classification(Outcome.ACCOUNT, "401", account_refusal("vonage", "401"))
    if http_status is not None and http_status == 429:
        return Classification(Outcome.THROTTLED, "429", "HTTP 429")
    if http_status is not None and http_status >= 500:
        return Classification(Outcome.TRANSIENT, str(http_status), f"HTTP {http_status}")
    messages = _body_get(body, "messages")
    if not isinstance(messages, list) or not messages:
        return Classification(Outcome.TRANSIENT, "invalid_response", "no messages in Vonage answer")
    accepted = 0
    refused: Classification | None = None
    for message in messages:
        status = _code_str(_body_get(message, "status"))
        if status is None:
            return Classification(Outcome.TRANSIENT, "invalid_response", "message without status")
        if status == "0":
            accepted += 1
            continue
        if refused is None:
            outcome, reason = _VONAGE_STATUSES.get(status, (Outcome.PERMANENT, f"Vonage status {status}"))
            error_text = _body_get(message, "error-text")
            reason = str(error_text) if error_text else reason
            if meaning("vonage", "send", status, reason) is Meaning.ACCOUNT:
                outcome, reason = Outcome.ACCOUNT, account_refusal("vonage", status, reason)
            refused = Classification(outcome, status, reason)
    if refused is None:
        return Classification(Outcome.SENT, "0", "success")
    if accepted:
        refusal = f"{refused.code}: {refused.reason}"
        return Classification(
            Outcome.SENT, "0", f"{accepted} of {len(messages)} parts accepted, the others refused ({refusal})"
        )
    return refused


# --------------------------------------------------------------------------- exceptions


class FailureKind(StrEnum):
    """Transport failures an adapter reports instead of an answer."""

    TIMEOUT = "timeout"
    CONNECTION = "connection"
    DNS = "dns"
    PROTOCOL = "protocol"
    TLS = "tls"


_TRANSIENT_KINDS = frozenset(
    {FailureKind.TIMEOUT, FailureKind.CONNECTION, FailureKind.DNS, FailureKind.PROTOCOL}
)


def classify_exception(kind: FailureKind | str) -> Classification:
    """Timeouts, refused/reset connections, DNS and protocol errors are ``TRANSIENT``.

    TLS failures (certificate, handshake) and unknown kinds are ``PERMANENT``: retrying
    without a change in configuration does not help.
    """
    name = str(kind).strip().lower()
    if name in _TRANSIENT_KINDS:
        return Classification(Outcome.TRANSIENT, name, f"{name} error")
    return Classification(Outcome.PERMANENT, name or "unknown", f"{name or 'unknown'} error")


# --------------------------------------------------------------------------- back-off


def backoff_delay(
    attempt: int,
    *,
    rand: float,
    base: float = 1.0,
    cap: float = 60.0,
    retry_after: float | None = None,
) -> float:
    """Delay before retry number ``attempt`` (0 for the first retry): exponential, full jitter.

    ``rand`` is a random value in [0, 1) supplied by the caller, so the result is
    ``rand * min(cap, base * 2**attempt)``. A provider ``retry_after`` wins when it is larger.
    """
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    if not 0.0 <= rand < 1.0:
        raise ValueError(f"rand must be in [0, 1), got {rand}")
    if base < 0 or cap < 0:
        raise ValueError("base and cap must be >= 0")
    ceiling = min(cap, base * math.ldexp(1.0, min(attempt, 1000)))
    delay = rand * ceiling
    if retry_after is not None and retry_after > delay:
        return retry_after
    return delay
