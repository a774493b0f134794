"""What the dispatcher tells Odoo about one message (`report_results` entries), and how it is kept.

An entry is ``{key, outcome, provider_message_id, error_code, reason, retry_after, segments,
number_rejected, account_version, reason_key, reason_args}`` with ``outcome`` one of ``sent``, ``failed``,
``opted_out``, ``retry``, ``held`` (the ACCOUNT cannot send: bad credentials, suspended, no credit, sender not
allowed; nothing went out, Odoo holds the message and marks the account failing, for the account
settings ``account_version`` names, see ``get_provider_accounts``). ``reason_key`` and ``reason_args`` name
the template of an account sentence (:class:`~sync_service.core.account_problems.AccountText`), which Odoo
says in the shop's language; ``None`` for a provider's own words. Every
entry of a message handed to a provider is also written in the store's sent log (its ``error``
column holds the entry's details as JSON), so that it can be reported again after a crash.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal, TypedDict

from sync_service.core.account_problems import AccountText
from sync_service.core.errors import Classification, Outcome
from sync_service.core.provider_codes import Meaning, meaning
from sync_service.gateways import SendResult
from sync_service.store import SentRecord

ReportOutcome = Literal["sent", "failed", "opted_out", "retry", "held"]

UNKNOWN_OUTCOME_CODE = "unknown_outcome"
UNKNOWN_OUTCOME_REASON = (
    "outcome unknown: the sync service stopped between the provider call and recording its answer; "
    "not re-sent, to avoid a duplicate (check the provider's logs, then send a new SMS if needed)"
)
OPTED_OUT_BEFORE_SEND_CODE = "opted_out"
OPTED_OUT_BEFORE_SEND_REASON = "recipient opted out after the message was queued: not sent"
NO_ACCOUNT_CODE = "no_account"
NO_ACCOUNT_RETRY_AFTER = 300.0
HELD_RETRY_AFTER = 30.0  # Odoo's deferral of a held message when the account is not marked failing

class ReportEntry(TypedDict):
    key: str
    outcome: ReportOutcome
    provider_message_id: str | None
    error_code: str | None
    reason: str | None
    retry_after: float | None
    segments: int
    number_rejected: bool
    account_version: str | None
    reason_key: str | None
    reason_args: dict[str, str] | None


def entry(
    key: str,
    outcome: ReportOutcome,
    *,
    provider_message_id: str | None = None,
    error_code: str | None = None,
    reason: str | None = None,
    retry_after: float | None = None,
    segments: int = 1,
    number_rejected: bool = False,
    account_version: str | None = None,
    reason_key: str | None = None,
    reason_args: Mapping[str, str] | None = None,
) -> ReportEntry:
    """One entry; an :class:`AccountText` reason brings its template along (unless another is named)."""
    if reason_key is None and isinstance(reason, AccountText):
        reason_key, reason_args = reason.key, reason.args
    return ReportEntry(
        key=key, outcome=outcome, provider_message_id=provider_message_id, error_code=error_code,
        reason=None if reason is None else str(reason), retry_after=retry_after,
        segments=max(int(segments), 1),
        number_rejected=number_rejected, account_version=account_version, reason_key=reason_key,
        reason_args=None if reason_args is None else dict(reason_args),
    )


def number_rejected(provider: str, classification: Classification) -> bool:
    """True when a permanent refusal blames the destination number itself (invalid, not mobile)."""
    if classification.outcome is not Outcome.PERMANENT:
        return False
    said = meaning(provider, "send", classification.code, classification.reason)
    return said is Meaning.INVALID_NUMBER


def from_result(
    provider: str, result: SendResult, *, retry_after: float | None = None, account_version: str | None = None
) -> ReportEntry:
    """The final entry of a provider answer; a retryable answer becomes ``retry`` (stays queued in Odoo),
    an account-wide refusal ``held`` (stays queued, the account is marked failing)."""
    c = result.classification
    if c.outcome is Outcome.ACCOUNT:
        return entry(result.key, "held", error_code=c.code, reason=c.reason, retry_after=HELD_RETRY_AFTER,
                     segments=result.segments, account_version=account_version)
    if c.outcome is Outcome.SENT:
        return entry(result.key, "sent", provider_message_id=result.provider_message_id,
                     segments=result.segments)
    if c.outcome is Outcome.OPTED_OUT:
        return entry(result.key, "opted_out", error_code=c.code, reason=c.reason, segments=result.segments)
    if c.retryable:
        delay = retry_after if retry_after is not None else c.retry_after
        return entry(result.key, "retry", error_code=c.code, reason=c.reason, retry_after=delay,
                     segments=result.segments)
    return entry(result.key, "failed", error_code=c.code, reason=c.reason, segments=result.segments,
                 number_rejected=number_rejected(provider, c))


def unknown_outcome(key: str) -> ReportEntry:
    return entry(key, "failed", error_code=UNKNOWN_OUTCOME_CODE, reason=UNKNOWN_OUTCOME_REASON)


# --------------------------------------------------------------------------- the sent log


def store_state(report: ReportEntry) -> Literal["sent", "failed"]:
    return "sent" if report["outcome"] == "sent" else "failed"


def encode_details(report: ReportEntry) -> str:
    """The ``error`` column of the sent log: the entry without its key and provider id."""
    details = {
        name: value for name, value in report.items()
        if name not in ("key", "provider_message_id") and value is not None and value is not False
    }
    return json.dumps(details, separators=(",", ":"), sort_keys=True)


def _details(text: str | None) -> Mapping[str, Any]:
    if not text:
        return {}
    try:
        decoded = json.loads(text)
    except ValueError:
        return {"reason": text}
    return decoded if isinstance(decoded, dict) else {"reason": text}


def from_record(record: SentRecord) -> ReportEntry:
    """The entry to report for a finished send found in the store (after a crash or a re-offer)."""
    details = _details(record.error)
    outcome = details.get("outcome")
    if record.state == "sent":
        outcome = "sent"
    elif outcome not in ("failed", "opted_out", "retry", "held"):
        outcome = "failed"
    retry_after = details.get("retry_after")
    return entry(
        record.key,
        outcome,
        provider_message_id=record.provider_message_id,
        error_code=details.get("error_code"),
        reason=details.get("reason"),
        retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
        segments=int(details.get("segments") or 1),
        number_rejected=bool(details.get("number_rejected")),
        account_version=details.get("account_version") or None,
        reason_key=details.get("reason_key") or None,
        reason_args=details.get("reason_args") if isinstance(details.get("reason_args"), dict) else None,
    )


def resendable(record: SentRecord) -> bool:
    """A 'failed' record whose attempts the provider all refused as transient, or that the provider
    refused because the whole account could not send (held): nothing went out."""
    return record.state == "failed" and _details(record.error).get("outcome") in ("retry", "held")
