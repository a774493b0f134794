"""Applies the webhook inbox to Odoo: delivery receipts in batches, inbound replies one by one.

An event leaves the inbox (``mark_applied``) only once Odoo acknowledged it, or when there is
nothing to tell Odoo (an intermediate status such as Twilio ``queued``), or when a receipt for a
message id Odoo never heard of is older than ``unknown_retry_seconds`` (dropped with a log line:
a receipt may arrive before the dispatcher reported the send, so it is retried until then).

Failures keep the event:

* Odoo unreachable: the event is released with a retry time (exponential back-off, capped at
  ``backoff_cap`` seconds, jittered); so is every event of the pass not yet applied.
* Odoo refuses ONE event (``OdooCallError``), or the event is malformed (unknown status, missing
  field): the event is *parked* (``last_error`` starts with ``parked:``) and retried every
  ``park_retry_seconds``; the others go on. A refusal counts as the event's fault only when Odoo
  answers a probe call (``get_keywords``) at that moment; otherwise it is systemic and handled
  like an outage. :func:`replay` re-queues parked and failed events at once.

Applying is idempotent on Odoo's side (inbound message id; final delivery states never
downgraded), so an event applied twice after a crash or an expired lease does no harm.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, or_, update
from sqlalchemy.exc import SQLAlchemyError

from sync_service.core.keywords import DEFAULT_KEYWORDS, KeywordAction, KeywordTable, classify
from sync_service.core.statuses import StatusUpdate, UnknownStatus, map_status
from sync_service.shell.odoo_client import OdooCallError, OdooUnreachable
from sync_service.store import Clock, Event, EventKind, Store, StoreError, utcnow
from sync_service.store.models import inbox_events

logger = logging.getLogger("sync_service.webhooks.applier")

API = "sms.marketing.api"
PARKED_PREFIX = "parked: "
LEASE_MARGIN = 0.8  # stop starting new calls once this share of the lease is used

# Twilio Advanced Opt-Out tells which keyword family it matched (its own keyword list may differ).
_TWILIO_OPT_OUT_TYPES: Mapping[str, KeywordAction] = {
    "STOP": KeywordAction.OPT_OUT,
    "START": KeywordAction.OPT_IN,
    "HELP": KeywordAction.HELP,
}


class OdooCaller(Protocol):
    """What the applier needs of :class:`~sync_service.shell.odoo_client.OdooClient`."""

    def call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any: ...


@dataclass
class ApplyReport:
    """What one :meth:`InboxApplier.run_once` pass did."""

    claimed: int = 0
    applied: int = 0  # acknowledged by Odoo
    skipped: int = 0  # intermediate statuses: nothing to tell Odoo
    dropped: int = 0  # receipts for message ids Odoo still does not know, past the retry window
    retried: int = 0  # released for a later attempt (Odoo unreachable, unknown message id, lease)
    parked: int = 0  # refused by Odoo or malformed: retried rarely

    @property
    def settled(self) -> int:
        """Events that left the inbox."""
        return self.applied + self.skipped + self.dropped


def inbound_action(provider: str, payload: Mapping[str, Any], table: KeywordTable) -> KeywordAction:
    """What an inbound SMS asks for: a whole keyword of Odoo's table, else an opt-out understood in the body
    (:func:`~sync_service.core.keywords.classify`), ``REVIEW`` when it might be one (Odoo lists it for a
    person to decide), else ``NONE``.

    When the body is no keyword nor a clear opt-out but Twilio's Advanced Opt-Out matched one of its own
    keywords (``OptOutType``), Twilio's verdict wins: Twilio blocks the number anyway.
    """
    action = classify(str(payload.get("body") or ""), table)
    if action in (KeywordAction.NONE, KeywordAction.REVIEW) and provider == "twilio":
        raw = payload.get("raw")
        opt_out_type = str(raw.get("OptOutType") or "").strip().upper() if isinstance(raw, Mapping) else ""
        return _TWILIO_OPT_OUT_TYPES.get(opt_out_type, action)
    return action


def _mask(number: str) -> str:
    return number if len(number) <= 6 else number[:3] + "*" * (len(number) - 6) + number[-3:]


class _Pass:
    """Bookkeeping of one pass: which events are settled, retried or parked, flushed to the store."""

    def __init__(self, applier: InboxApplier, events: Sequence[Event]) -> None:
        self.applier = applier
        self.report = ApplyReport(claimed=len(events))
        self.deadline = time.monotonic() + applier.lease_seconds * LEASE_MARGIN
        self.probe: bool | None = None  # Odoo answered the probe call during this pass
        self.outage: str | None = None  # set once Odoo is unreachable: the rest is retried
        self._settled: list[int] = []

    def settle(self, events: Iterable[Event], counter: str) -> None:
        batch = list(events)
        self._settled.extend(event.id for event in batch)
        setattr(self.report, counter, getattr(self.report, counter) + len(batch))

    def retry(self, events: Iterable[Event], error: str, *, cap: float | None = None) -> None:
        batch = list(events)
        if not batch:
            return
        now = self.applier.clock()
        for attempts, group in _by_attempts(batch).items():
            retry_at = now + timedelta(seconds=self.applier.backoff(attempts, cap))
            self.applier.store.mark_failed([event.id for event in group], error, retry_at)
        self.report.retried += len(batch)

    def park(self, event: Event, error: str) -> None:
        retry_at = self.applier.clock() + timedelta(seconds=self.applier.park_retry_seconds)
        self.applier.store.mark_failed([event.id], PARKED_PREFIX + error, retry_at)
        self.report.parked += 1
        logger.error(
            "inbox event parked: %s", error,
            extra={"event_id": event.id, "provider": event.provider, "kind": event.kind},
        )

    def flush(self) -> None:
        if self._settled:
            self.applier.store.mark_applied(self._settled)
            self._settled = []


def _by_attempts(events: Iterable[Event]) -> dict[int, list[Event]]:
    groups: dict[int, list[Event]] = {}
    for event in events:
        groups.setdefault(event.attempts, []).append(event)
    return groups


class InboxApplier:
    """Claims pending inbox events and applies them to Odoo. Safe to run in several workers."""

    def __init__(
        self,
        store: Store,
        client: OdooCaller,
        *,
        worker_id: str,
        batch_size: int = 100,
        gather_seconds: float = 0.5,
        lease_seconds: float = 60,
        keywords_refresh_seconds: float = 300,
        unknown_retry_seconds: float = 900,
        park_retry_seconds: float = 3600,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        clock: Clock = utcnow,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if not worker_id:
            raise ValueError("worker_id must not be empty")
        if batch_size < 1 or lease_seconds <= 0:
            raise ValueError("batch_size must be >= 1 and lease_seconds > 0")
        self.store, self.client, self.worker_id = store, client, worker_id
        self.batch_size, self.lease_seconds = batch_size, lease_seconds
        self.gather_seconds = gather_seconds
        self.keywords_refresh_seconds = keywords_refresh_seconds
        self.unknown_retry_seconds = unknown_retry_seconds
        self.park_retry_seconds = park_retry_seconds
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.clock, self._rand = clock, rand
        self.last_report = ApplyReport()
        self._table: KeywordTable | None = None
        self._table_loaded_at = 0.0
        self._wakes = threading.Condition()
        self._woken = 0  # wake-ups since the last pass
        self._urgent = False  # one of them will not wait (an inbound reply: a STOP must win)
        self._gathering_since: float | None = None  # first receipt's wake-up since the last pass

    # ------------------------------------------------------------------ loop

    def wake(self, *, urgent: bool = True) -> None:
        """Shorten the current wait of :meth:`run` (the webhook app's ``on_event``). A delivery receipt
        (``urgent=False``) is gathered with the next ones for up to ``gather_seconds`` (or until a batch is
        full): one pass and one call to Odoo per batch of receipts, not per receipt (at a campaign's pace,
        woken by each one, the applier made a pass and an Odoo request for one to three receipts at a time).
        An inbound reply starts a pass at once."""
        with self._wakes:
            self._woken += 1
            if urgent:
                self._urgent = True
            elif self._gathering_since is None:
                self._gathering_since = time.monotonic()
            self._wakes.notify_all()

    def on_event(self, provider: str, kind: str, payload: Mapping[str, Any]) -> None:
        """The webhook app's ``on_event``: a new event was stored."""
        self.wake(urgent=kind != "status")

    def _wait(self, stop: threading.Event, interval: float) -> None:
        """Until a wake-up calls for a pass, or ``interval`` s with none."""
        deadline = time.monotonic() + interval
        with self._wakes:
            while not stop.is_set():
                if self._urgent or self._woken >= self.batch_size:
                    break
                until = deadline
                if self._gathering_since is not None:
                    until = min(until, self._gathering_since + self.gather_seconds)
                left = until - time.monotonic()
                if left <= 0:
                    break
                self._wakes.wait(min(0.1, left))
            self._woken, self._urgent, self._gathering_since = 0, False, None

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Apply until ``stop`` is set, waiting ``interval`` s (or a :meth:`wake`) when idle."""
        logger.info("inbox applier started", extra={"worker": self.worker_id})
        while not stop.is_set():
            try:
                self.run_once()
            except StoreError as exc:
                logger.error("inbox applier: store unavailable: %s", exc)
                self.last_report = ApplyReport()
            except Exception:
                logger.exception("inbox applier: unexpected error (events stay in the inbox)")
                self.last_report = ApplyReport()
            if self.last_report.claimed >= self.batch_size:
                continue  # more may be waiting
            self._wait(stop, interval)
        logger.info("inbox applier stopped", extra={"worker": self.worker_id})

    def run_once(self) -> int:
        """One pass over up to ``batch_size`` claimable events; returns how many left the inbox."""
        events = self.store.claim_pending(self.worker_id, self.batch_size, self.lease_seconds)
        state = _Pass(self, events)
        try:
            # Inbound first: an opt-out must be honoured before the next send.
            self._apply_inbound(state, [e for e in events if e.kind == "inbound"])
            self._apply_statuses(state, [e for e in events if e.kind == "status"])
        finally:
            state.flush()
            self.last_report = state.report
        if events:
            logger.info("inbox pass", extra={"worker": self.worker_id, **vars(state.report)})
        return state.report.settled

    def backoff(self, attempts: int, cap: float | None = None) -> float:
        """Seconds before the next attempt of an event claimed ``attempts`` times (jittered, capped)."""
        ceiling = min(cap or self.backoff_cap, self.backoff_base * 2 ** min(max(attempts - 1, 0), 30))
        return ceiling * (0.5 + self._rand() / 2)

    # ------------------------------------------------------------------ Odoo health

    def _keywords(self, *, force: bool = False) -> KeywordTable:
        """Odoo's keyword table, cached; raises OdooUnreachable when it was never loaded."""
        fresh = time.monotonic() - self._table_loaded_at < self.keywords_refresh_seconds
        if self._table is not None and fresh and not force:
            return self._table
        try:
            mapping = self.client.call(API, "get_keywords")
            table = KeywordTable.from_mapping(mapping)
        except OdooUnreachable:
            if self._table is None:
                raise
            return self._table
        except (OdooCallError, ValueError, TypeError, AttributeError) as exc:
            logger.error("keywords from Odoo unusable (%s): keeping the previous table", exc)
            table = self._table or DEFAULT_KEYWORDS
        self._table, self._table_loaded_at = table, time.monotonic()
        return table

    def _odoo_answers(self, state: _Pass) -> bool:
        """Whether Odoo answers a simple call now (an error is then the event's own); once per pass."""
        if state.probe is None:
            try:
                self.client.call(API, "get_keywords")
                state.probe = True
            except (OdooUnreachable, OdooCallError) as exc:
                logger.warning("Odoo refuses even a probe call: %s", exc)
                state.probe = False
        return state.probe

    def _refused(self, state: _Pass, event: Event, exc: OdooCallError, rest: Sequence[Event]) -> bool:
        """Park ``event`` if Odoo is healthy; else retry it and ``rest`` later. True: go on with the rest."""
        if self._odoo_answers(state):
            state.park(event, str(exc))
            return True
        state.outage = f"Odoo refuses calls: {exc}"
        state.retry([event, *rest], state.outage)
        return False

    # ------------------------------------------------------------------ inbound

    def _apply_inbound(self, state: _Pass, events: Sequence[Event]) -> None:
        if not events:
            return
        try:
            table = self._keywords()
        except OdooUnreachable as exc:
            state.outage = str(exc)
            state.retry(events, state.outage)
            return
        for index, event in enumerate(events):
            rest = events[index + 1:]
            if time.monotonic() > state.deadline:
                state.retry(events[index:], "not attempted: the lease was running out")
                return
            try:
                number = str(event.payload["from_number"])
                inbound_id = str(event.payload["inbound_id"])
                body = str(event.payload.get("body") or "")
                to_number = str(event.payload.get("to_number") or "")  # our number: a conversation per sender
            except KeyError as exc:
                state.park(event, f"malformed inbound event: missing {exc}")
                continue
            action = inbound_action(event.provider, event.payload, table)
            try:
                result = self.client.call(
                    API, "apply_inbound_keyword", number, action.value, inbound_id, body, event.provider,
                    to_number,
                )
            except OdooUnreachable as exc:
                state.outage = str(exc)
                state.retry(events[index:], state.outage)
                return
            except OdooCallError as exc:
                if not self._refused(state, event, exc, rest):
                    return
                continue
            state.settle([event], "applied")
            logger.info(
                "inbound %s applied: %s", action.value, (result or {}).get("result"),
                extra={"provider": event.provider, "number": _mask(number), "inbound_id": inbound_id,
                       "duplicate": bool((result or {}).get("duplicate"))},
            )

    # ------------------------------------------------------------------ delivery receipts

    def _apply_statuses(self, state: _Pass, events: Sequence[Event]) -> None:
        if not events:
            return
        if state.outage is not None:
            state.retry(events, state.outage)
            return
        updates: list[tuple[Event, StatusUpdate]] = []
        for event in events:
            if not event.payload.get("provider_message_id") or not event.payload.get("status"):
                state.park(event, "malformed status event: no provider_message_id or status")
                continue
            try:
                payload = event.payload
                update_ = map_status(event.provider, str(payload["status"]), payload.get("error_code"))
            except UnknownStatus as exc:
                state.park(event, str(exc))
                continue
            if update_ is None:
                state.settle([event], "skipped")
            else:
                updates.append((event, update_))
        if updates:
            self._send_statuses(state, updates)

    def _send_statuses(self, state: _Pass, updates: Sequence[tuple[Event, StatusUpdate]]) -> None:
        rows = [
            {"provider_message_id": str(event.payload["provider_message_id"]), "status": u.status.value,
             "error_code": u.error_code or False, "number_invalid": u.number_invalid,
             "opted_out": u.opted_out, "key": event.payload.get("key") or False}
            for event, u in updates
        ]
        events = [event for event, _u in updates]
        try:
            result = self.client.call(API, "apply_delivery_statuses", rows)
        except OdooUnreachable as exc:
            state.outage = str(exc)
            state.retry(events, state.outage)
            return
        except OdooCallError as exc:
            if len(updates) == 1:
                self._refused(state, events[0], exc, [])
                return
            for index, one in enumerate(updates):  # find the culprit: one call each
                if state.outage is not None:
                    state.retry([event for event, _u in updates[index:]], state.outage)
                    return
                self._send_statuses(state, [one])
            return
        unknown = {str(pmid) for pmid in (result or {}).get("unknown") or []}
        is_unknown = [str(event.payload["provider_message_id"]) in unknown for event in events]
        pairs = list(zip(events, is_unknown, strict=True))
        state.settle([event for event, missing in pairs if not missing], "applied")
        self._unknown_ids(state, [event for event, missing in pairs if missing])

    def _unknown_ids(self, state: _Pass, events: Sequence[Event]) -> None:
        """Receipts for message ids Odoo does not know (yet): retry within the window, then drop."""
        now = self.clock()
        window = timedelta(seconds=self.unknown_retry_seconds)
        expired = [event for event in events if now - event.received_at >= window]
        waiting = [event for event in events if now - event.received_at < window]
        state.retry(waiting, "unknown provider message id (the send may not be reported yet)", cap=60.0)
        for event in expired:
            logger.warning(
                "delivery receipt dropped: Odoo knows no message %s after %.0f s",
                event.payload.get("provider_message_id"), (now - event.received_at).total_seconds(),
                extra={"provider": event.provider, "event_id": event.id,
                       "status": event.payload.get("status")},
            )
        state.settle(expired, "dropped")


def replay(
    store: Store,
    *,
    parked_only: bool = False,
    kind: EventKind | None = None,
    provider: str | None = None,
    now: datetime | None = None,
) -> int:
    """Make failed and parked inbox events claimable now (``sms-sync replay-inbox``); returns how many.

    Events under a live lease are left alone. ``parked_only`` limits it to events Odoo refused
    or that were malformed; ``kind`` ("status"/"inbound") and ``provider`` narrow it further.
    """
    moment = now or utcnow()
    conditions = [
        inbox_events.c.applied_at.is_(None),
        inbox_events.c.last_error.is_not(None),
        or_(inbox_events.c.claim_expires_at.is_(None), inbox_events.c.claim_expires_at <= moment),
    ]
    if parked_only:
        conditions.append(inbox_events.c.last_error.startswith(PARKED_PREFIX, autoescape=True))
    if kind is not None:
        conditions.append(inbox_events.c.kind == kind)
    if provider is not None:
        conditions.append(inbox_events.c.provider == provider)
    try:
        with store.engine.begin() as conn:
            statement = update(inbox_events).where(and_(*conditions)).values(next_attempt_at=moment)
            result = conn.execute(statement)
    except SQLAlchemyError as exc:
        raise StoreError(f"replay: {exc}") from exc
    return int(result.rowcount)


__all__ = ["API", "PARKED_PREFIX", "ApplyReport", "InboxApplier", "OdooCaller", "inbound_action", "replay"]
