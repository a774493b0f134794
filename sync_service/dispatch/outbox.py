"""The dispatcher's view of Odoo's outbox: claim queued SMS, report outcomes, release claims, opt-outs.

:class:`OdooOutbox` calls ``sms.marketing.api`` over JSON-RPC (one call at a time: the RPC session
is shared by the dispatcher's threads). Anything with the same four methods can stand in for it
(the benchmark uses an in-memory outbox to measure the send path alone).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sync_service.dispatch.outcomes import ReportEntry

API = "sms.marketing.api"


@dataclass(frozen=True)
class ClaimedMessage:
    """One queued SMS leased to this worker; ``key`` is Odoo's sms uuid (the idempotency key)."""

    key: str
    number: str
    body: str
    account_id: int | None
    kind: str  # 'transactional' | 'marketing' | 'consent'
    mailing_id: int | None = None
    media_url: str | None = None  # the MMS image of a flow message, when its step asks for one

    @property
    def marketing(self) -> bool:
        return self.kind == "marketing"

    @classmethod
    def from_odoo(cls, raw: Mapping[str, Any]) -> ClaimedMessage:
        return cls(
            key=str(raw["key"]),
            number=str(raw.get("number") or ""),
            body=str(raw.get("body") or ""),
            account_id=int(raw["account_id"]) if raw.get("account_id") else None,
            kind=str(raw.get("kind") or "transactional"),
            mailing_id=int(raw["mailing_id"]) if raw.get("mailing_id") else None,
            media_url=str(raw["media_url"]) if raw.get("media_url") else None,
        )


@dataclass(frozen=True)
class Claim:
    messages: tuple[ClaimedMessage, ...]
    deferred: int = 0
    canceled: int = 0
    scanned: int = 0


class OdooCaller(Protocol):
    """An ``OdooClient`` or ``OdooSession`` (``sync_service/shell/``)."""

    def call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any: ...


class Outbox(Protocol):
    def claim(self, worker_id: str, limit: int, lease_seconds: int) -> Claim: ...

    def report(self, worker_id: str, results: Sequence[ReportEntry]) -> Mapping[str, Any]: ...

    def release(self, worker_id: str, keys: Sequence[str]) -> int: ...

    def opted_out(self, numbers: Iterable[str]) -> set[str]: ...


class OdooOutbox:
    """``sms.marketing.api`` over a logged-in RPC session, one call at a time per session.

    ``claim_client`` (optional) is a second session for ``claim_batch`` alone, so that claiming the
    next batch never holds up the reports and opt-out checks of the current one.
    """

    def __init__(self, client: OdooCaller, *, claim_client: OdooCaller | None = None) -> None:
        self.client = client
        self.claim_client = claim_client
        self._lock = threading.Lock()
        self._claim_lock = threading.Lock()

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return self.client.call(API, method, *args, **kwargs)

    def claim(self, worker_id: str, limit: int, lease_seconds: int) -> Claim:
        if self.claim_client is None:
            answer = self._call("claim_batch", worker_id, limit=limit, lease_seconds=lease_seconds)
        else:
            with self._claim_lock:
                answer = self.claim_client.call(API, "claim_batch", worker_id, limit=limit,
                                                lease_seconds=lease_seconds)
        return Claim(
            messages=tuple(ClaimedMessage.from_odoo(raw) for raw in answer.get("messages") or ()),
            deferred=int(answer.get("deferred") or 0),
            canceled=int(answer.get("canceled") or 0),
            scanned=int(answer.get("scanned") or 0),
        )

    def report(self, worker_id: str, results: Sequence[ReportEntry]) -> Mapping[str, Any]:
        return dict(self._call("report_results", worker_id, [dict(result) for result in results]))

    def release(self, worker_id: str, keys: Sequence[str]) -> int:
        return int(self._call("release_claims", worker_id, list(keys)) or 0)

    def opted_out(self, numbers: Iterable[str]) -> set[str]:
        wanted = sorted(set(numbers))
        return set(self._call("check_opt_outs", wanted)) if wanted else set()

    def report_account_health(self, results: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
        """What test calls said about accounts (``sms.marketing.api.report_account_health``)."""
        return dict(self._call("report_account_health", [dict(result) for result in results]))

    def account_tests(self) -> list[dict[str, Any]]:
        """The "Test connection" requests waiting in Odoo (``sms.marketing.api.get_account_tests``)."""
        return list(self._call("get_account_tests"))

    def report_account_tests(self, results: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
        """Their verdicts, in plain words (``sms.marketing.api.report_account_tests``)."""
        return dict(self._call("report_account_tests", [dict(result) for result in results]))

    def provider_accounts(self) -> list[dict[str, Any]]:
        return list(self._call("get_provider_accounts"))
