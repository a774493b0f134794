"""The dispatcher: claims queued SMS from Odoo in batches, sends them through the gateways, reports back.

Per batch: ``claim_batch`` leases up to ``batch_size`` messages (Odoo's compliance gate has run);
the whole batch runs on the dispatcher's event loop thread, one coroutine per message, up to
``concurrency`` of them at once, each sent through the gateway of its account (libcurl's multi
interface on the loop, one connection pool, see :mod:`~sync_service.gateways.async_http`; a gateway
without HTTP, e.g. the console sandbox, sends in a worker thread), under the account's rate limit
counted in segments; transient errors and throttles are retried with exponential back-off and full
jitter (a longer Retry-After wins), at most ``max_attempts`` calls per claim, after which the
message is reported ``retry``: Odoo defers it and it stays queued (a provider outage leaves messages
queued, never failed). Permanent refusals are reported ``failed`` (``number_rejected`` when the
number itself is wrong), Twilio 21610 & co. ``opted_out``. A refusal of the whole ACCOUNT (bad
credentials, suspended, no credit, sender not allowed: :mod:`~sync_service.core.provider_codes`) is
reported ``held``: Odoo keeps the message queued and marks the account failing; the rest of the
batch for that account is held without calling the provider, and the account's cached settings are
reloaded. Every ``probe_interval`` seconds the dispatcher makes a test call (``Gateway.check``: an
account resource, nothing sent, nothing billed) for each account Odoo says is failing, and reports
it (``report_account_health``): a success ends the failing state and Odoo offers the held messages
again. Every ``test_poll_interval`` seconds it also makes the test calls people asked for in Odoo ("Test
connection" on an account, or new account settings: ``get_account_tests``) and reports their verdict in
plain words (``report_account_tests``, :mod:`~sync_service.core.account_check`). Marketing messages
are checked against the opt-out register just before they leave (``check_opt_outs``, at most
``optout_recheck`` seconds old): a STOP that arrived after the claim wins and the message is
reported ``failed`` without being sent. Outcomes are reported in batches; a claimed message that was
not started (shutdown, lease running out) is released.

Per message, on the event loop (what blocks, i.e. the opt-out RPC and store look-ups, runs in a
worker thread): [marketing: opt-out check] -> wait until the account's rate limit
has room -> record the key as 'sending' (durable) -> take the rate token -> provider call -> record
the answer. The token is taken last so that what leaves the limiter reaches the provider at once
(recording first would add the store's commit latency, and its jitter, between the two).

Delivery guarantee: **at most once per key**. Before the first provider call for a key, the
dispatcher durably records it as 'sending' in the store (:class:`SendJournal`, a compare-and-set on
the key shared by every worker using the same store). A key already recorded is never handed to a
provider again automatically, whoever claims it, before or after a restart; the only exception is
a key for which nothing went out: every call refused as transient, or none made (shutdown), which
is recorded ``retry`` and sent again when Odoo offers it again. The provider's answer is recorded
before Odoo is told, and Odoo is told again after a crash (``Store.unreported``). A worker that
dies after recording a key and before recording the answer (a call in flight, or a key just
recorded and waiting for its rate token) leaves it 'sending': once it is older than ``stuck_after``
seconds it is reported to Odoo as ``failed`` with error code ``unknown_outcome`` (it may or may not
have gone out) and is never re-sent by the service; a person decides. Within one claim, retries
follow the classification of the answer, which counts a client-side timeout as transient: if a
provider accepted a message but its answer never arrived, the retry can duplicate it at that
provider (the providers' send APIs have no idempotency key).
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from sync_service.core.account_check import connection_verdict
from sync_service.core.account_problems import text_fields
from sync_service.core.errors import Outcome, backoff_delay
from sync_service.core.segments import count_segments
from sync_service.dispatch import outcomes
from sync_service.dispatch.accounts import AccountCache, AccountsUnavailable, Route
from sync_service.dispatch.metrics import DispatcherMetrics
from sync_service.dispatch.optout_guard import OptOutGuard
from sync_service.dispatch.outbox import Claim, ClaimedMessage, Outbox
from sync_service.dispatch.outcomes import ReportEntry
from sync_service.dispatch.send_journal import SendJournal
from sync_service.gateways import HttpGateway, OutboundMessage, SendResult
from sync_service.shell.config import Settings
from sync_service.shell.loop_thread import LoopThread
from sync_service.shell.odoo_client import OdooError
from sync_service.store import StoreError, utcnow

if TYPE_CHECKING:
    from sync_service.gateways.async_http import AsyncHttpTransport

logger = logging.getLogger("sync_service.dispatch.dispatcher")

WEBHOOK_PROVIDERS = ("twilio", "plivo", "vonage")
KEYED_CALLBACK_PROVIDERS = ("twilio", "plivo")  # Vonage echoes the key as client-ref instead
MAX_IDLE_BACKOFF = 60.0
STOP_POLL = 0.1  # a message waiting for its rate notices a stop within this many seconds
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class DispatchOptions:
    batch_size: int = 100
    lease_seconds: int = 120
    concurrency: int = 16
    poll_interval: float = 2.0
    max_attempts: int = 4
    retry_base: float = 0.5
    retry_cap: float = 30.0
    stuck_after: float = 300.0
    optout_recheck: float = 1.0
    report_batch_size: int = 200
    report_interval: float = 1.0
    final_retry_after: float = 30.0  # Odoo's deferral of a message whose attempts all failed transiently
    backlog_interval: float = 30.0  # how often unreported outcomes and stuck sends are looked for
    probe_interval: float = 30.0  # how often an account marked failing gets a test call
    test_poll_interval: float = 3.0  # how often Odoo is asked for "Test connection" requests

    @classmethod
    def from_settings(cls, settings: Settings) -> DispatchOptions:
        return cls(
            batch_size=settings.batch_size,
            lease_seconds=settings.lease_seconds,
            concurrency=settings.concurrency,
            poll_interval=settings.poll_interval,
            max_attempts=settings.max_attempts,
            retry_base=settings.retry_base_seconds,
            retry_cap=settings.retry_cap_seconds,
            stuck_after=settings.stuck_after_seconds,
            optout_recheck=settings.optout_recheck_seconds,
        )

    @property
    def lease_margin(self) -> float:
        """No send starts when less than this is left of the claim's lease."""
        return max(2.0, 0.1 * self.lease_seconds)


@dataclass
class BatchSummary:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    opted_out: int = 0
    retry: int = 0
    released: int = 0
    held: int = 0  # begun by another worker (or a dead one, not yet stuck): left to the lease
    held_by_account: int = 0  # the provider refused the account itself: kept queued in Odoo
    reported: int = 0
    reports: list[ReportEntry] = field(default_factory=list, repr=False)

    def counts(self) -> dict[str, int]:
        return {name: value for name, value in vars(self).items() if isinstance(value, int)}

    def count(self, report: ReportEntry) -> None:
        self.reports.append(report)
        outcome = report["outcome"]
        if outcome == "sent":
            self.sent += 1
        elif outcome == "retry":
            self.retry += 1
        elif outcome == "held":
            self.held_by_account += 1
        elif outcome == "opted_out" or report["error_code"] == outcomes.OPTED_OUT_BEFORE_SEND_CODE:
            self.opted_out += 1
        else:
            self.failed += 1


@dataclass
class _Job:
    msg: ClaimedMessage
    route: Route
    segments: int
    claimed_at: float
    deadline: float  # monotonic time after which no first call starts (the lease is running out)
    attempt: int = 0
    begun: bool = False
    begun_at: float = 0.0
    last: SendResult | None = None
    slotted: bool = False  # has had a slot once (the batch has started when all have)


@dataclass
class _Batch:
    """A batch whose messages are being sent on the event loop."""

    summary: BatchSummary
    reporter: _Reporter
    keys: frozenset[str]
    started: threading.Event  # every message has had a slot: the next batch may start
    drive: Future[tuple[list[str], StoreError | None]]  # when done: the keys never started, a store failure


@dataclass(frozen=True)
class _Done:
    report: ReportEntry
    provider: str


@dataclass(frozen=True)
class _Again:
    delay: float


class _NotStarted:
    """Nothing was sent and nothing recorded: release the claim."""


@dataclass(frozen=True)
class _Unrecorded(_NotStarted):
    """Not sent because the store could not record the send first."""

    error: StoreError


class _Held:
    """Someone else holds the key (or its outcome is being settled): leave the claim to expire."""


_NOT_STARTED = _NotStarted()
_HELD = _Held()
_Result = _Done | _Again | _NotStarted | _Held


@dataclass
class _Reporter:
    dispatcher: Dispatcher
    summary: BatchSummary
    buffer: list[ReportEntry] = field(default_factory=list)
    last_flush: float = field(default_factory=time.monotonic)

    def add(self, report: ReportEntry) -> None:
        self.buffer.append(report)
        self.summary.count(report)

    def due(self) -> bool:
        options = self.dispatcher.options
        return len(self.buffer) >= options.report_batch_size or (
            bool(self.buffer) and time.monotonic() - self.last_flush >= options.report_interval
        )

    def take(self) -> list[ReportEntry]:
        """What is buffered, for :meth:`send` (the buffer starts again empty)."""
        self.last_flush = time.monotonic()
        taken, self.buffer = self.buffer, []
        return taken

    def send(self, reports: list[ReportEntry]) -> None:
        """Tell Odoo (blocks: from a worker thread when the event loop is running the batch)."""
        if reports:
            self.summary.reported += self.dispatcher.report(reports)

    def flush(self) -> None:
        self.send(self.take())


class Dispatcher:
    """Claim, send, report; see the module docstring for the guarantees."""

    def __init__(
        self,
        outbox: Outbox,
        accounts: AccountCache,
        journal: SendJournal,
        *,
        worker_id: str,
        options: DispatchOptions | None = None,
        metrics: DispatcherMetrics | None = None,
        callback_base_url: str | None = None,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not worker_id:
            raise ValueError("worker_id must not be empty")
        self.outbox = outbox
        self.accounts = accounts
        self.journal = journal
        self.store = journal.store
        self.worker_id = worker_id
        self.options = options or DispatchOptions()
        self.metrics = metrics
        self.callback_base_url = callback_base_url.rstrip("/") if callback_base_url else None
        self.stopping = threading.Event()
        self._rand = rand
        self._clock = clock
        self._executor = ThreadPoolExecutor(self.options.concurrency, thread_name_prefix="dispatch")
        self._loop = LoopThread("dispatch-loop")
        self._http: AsyncHttpTransport | None = None
        self._closed = False
        self._claimer = ThreadPoolExecutor(1, thread_name_prefix="dispatch-claim")
        self._prefetched: Future[tuple[Claim, float]] | None = None
        self._slots: asyncio.Semaphore | None = None  # made on the event loop, shared by the batches
        self._active_keys: frozenset[str] = frozenset()  # of the batches being sent: they report them
        self._active_lock = threading.Lock()
        self._backlog_due = True
        self._next_maintenance = 0.0
        # Accounts the provider refused as a whole in this process: {account id: (gateway, report)}. Their
        # claimed messages are held without a call, as long as the account's gateway is the same one.
        self._failing: dict[int, tuple[object, ReportEntry]] = {}
        self._failing_lock = threading.Lock()
        self._next_probe = 0.0
        self._next_tests = 0.0

    # ------------------------------------------------------------------ loop

    def run(self, stop: threading.Event | None = None) -> None:
        """Dispatch until ``stop`` is set: finish the sends in flight, report, release the rest.

        Batches overlap: once every message of a batch has had its slot, the next batch starts and
        its messages take the slots as they free up, so a batch is not as slow as its slowest
        message (a provider call hanging until its timeout holds one slot, not the dispatcher).
        While a full batch is being sent, the next one is already being claimed (Odoo's claim, with
        its compliance gate, takes about as long as sending the batch).
        """
        if stop is not None:
            self.stopping = stop
        logger.info("dispatcher started", extra={"worker": self.worker_id})
        failures = 0
        running: list[_Batch] = []
        while not self.stopping.is_set():
            try:
                if self._end_done(running):
                    failures = 0  # a batch went through: the next failure starts the back-off again
                self.maintain()
                if running and not running[-1].started.is_set():
                    running[-1].started.wait(STOP_POLL)
                    continue
                claim, claimed_at = self._next_claim(prefetch=True)
                if claim.messages:
                    running.append(self._start(claim, claimed_at))
                    continue
                if running:
                    wait_futures([batch.drive for batch in running], self.options.poll_interval,
                                 return_when=FIRST_COMPLETED)
                else:
                    failures = 0  # Odoo answered, nothing is being sent and nothing is left to send
                    self.stopping.wait(self.options.poll_interval)
            except (OdooError, StoreError, AccountsUnavailable) as exc:
                failures += 1
                delay = min(MAX_IDLE_BACKOFF, self.options.poll_interval * 2 ** min(failures, 10))
                logger.error("dispatcher: %s (next try in %.0f s)", exc, delay,
                             extra={"worker": self.worker_id})
                self.stopping.wait(delay)
                continue
            except Exception:
                failures += 1
                logger.exception("dispatcher: unexpected error (messages stay queued in Odoo)")
                self.stopping.wait(min(MAX_IDLE_BACKOFF, self.options.poll_interval * 2 ** min(failures, 10)))
        for batch in running:  # stopping: they finish their calls in flight and give the rest back
            try:
                self._end(batch)
            except Exception as exc:
                logger.error("dispatcher: batch not ended cleanly while stopping: %s", exc)
        self._drop_prefetched()
        self.journal.flush(timeout=30)
        logger.info("dispatcher stopped", extra={"worker": self.worker_id})

    def _end_done(self, running: list[_Batch]) -> int:
        """End the batches whose sends are all done (report, release): how many; the first error is raised."""
        done = [batch for batch in running if batch.drive.done()]
        error: Exception | None = None
        for batch in done:
            running.remove(batch)
            try:
                self._end(batch)
            except Exception as exc:
                error = error or exc
        if error is not None:
            raise error
        return len(done)

    def maintain(self, *, force: bool = False) -> None:
        """Report outcomes Odoo was not told yet and settle sends stuck by a dead worker (when due)."""
        self.probe_failing()  # when due (every probe_interval)
        self.run_account_tests(force=force)  # when due (every test_poll_interval)
        now = self._clock()
        if not (force or self._backlog_due or now >= self._next_maintenance):
            return
        first = self._next_maintenance == 0.0
        self.reconcile_stuck()
        self.report_backlog(min_age=0.0 if (first or force) else self.options.report_interval * 5)
        self._backlog_due = False
        self._next_maintenance = self._clock() + min(self.options.backlog_interval, self.options.stuck_after)

    def run_once(self, *, prefetch: bool = False) -> BatchSummary:
        """Claim one batch and process it; an empty summary when Odoo has nothing to send.

        ``prefetch``: when the batch is full, claim the next one in the background meanwhile (the
        next call uses it; :meth:`run` releases it when it stops).
        """
        claim, claimed_at = self._next_claim(prefetch=prefetch)
        if not claim.messages:
            return BatchSummary()
        return self.process(claim, claimed_at=claimed_at)

    def _next_claim(self, *, prefetch: bool) -> tuple[Claim, float]:
        """The batch claimed ahead, else a new claim; a full one makes the next be claimed ahead."""
        if self._prefetched is not None:
            future, self._prefetched = self._prefetched, None
            claim, claimed_at = future.result()
        else:
            claim, claimed_at = self._claim()
        if prefetch and len(claim.messages) >= self.options.batch_size and not self.stopping.is_set():
            self._prefetched = self._claimer.submit(self._claim)
        return claim, claimed_at

    def _claim(self) -> tuple[Claim, float]:
        claim = self.outbox.claim(self.worker_id, self.options.batch_size, self.options.lease_seconds)
        return claim, self._clock()

    def _drop_prefetched(self) -> None:
        """Give back a batch claimed ahead that will not be processed."""
        if self._prefetched is None:
            return
        future, self._prefetched = self._prefetched, None
        try:
            claim, _ = future.result()
        except Exception as exc:  # the claim failed: nothing to give back
            logger.warning("the batch claimed ahead failed: %s", exc)
            return
        self._release([m.key for m in claim.messages], BatchSummary())

    # ------------------------------------------------------------------ one batch

    def process(self, claim: Claim, *, claimed_at: float | None = None) -> BatchSummary:
        """Send every message of ``claim`` (claimed at ``claimed_at``, monotonic) and report the outcomes."""
        return self._end(self._start(claim, self._clock() if claimed_at is None else claimed_at))

    def _start(self, claim: Claim, claimed_at: float) -> _Batch:
        """Start sending ``claim`` on the event loop; :meth:`_end` waits for it and reports."""
        options = self.options
        summary = BatchSummary(claimed=len(claim.messages))
        if self.metrics:
            self.metrics.claimed.inc(len(claim.messages))
        reporter = _Reporter(self, summary)
        try:
            jobs = self._jobs(claim, claimed_at, reporter)
        except AccountsUnavailable:
            self._release([m.key for m in claim.messages], summary)
            raise
        numbers = [job.msg.number for job in jobs if job.msg.marketing]
        guard = None
        if numbers:
            guard = OptOutGuard(self.outbox.opted_out, numbers, max_age=options.optout_recheck)
        keys = frozenset(m.key for m in claim.messages)
        started = threading.Event()
        with self._active_lock:
            self._active_keys |= keys
        drive = asyncio.run_coroutine_threadsafe(self._drive(jobs, guard, reporter, started), self._loop.loop)
        return _Batch(summary, reporter, keys, started, drive)

    def _end(self, batch: _Batch) -> BatchSummary:
        """Wait until every message of ``batch`` is done, report what is left, release what never started."""
        summary = batch.summary
        try:
            unsent, failure = batch.drive.result()
            batch.reporter.flush()
            self._release(unsent, summary)
        finally:
            with self._active_lock:
                self._active_keys -= batch.keys
        logger.info("batch done", extra={"worker": self.worker_id, **summary.counts()})
        if failure is not None and len(unsent) == summary.claimed:
            # Nothing could be recorded (disk full, read-only store): back off like any store outage
            # instead of claiming and releasing the same batch in a tight loop.
            raise StoreError(f"no send of the batch could be recorded, all released: {failure}") from failure
        return summary

    def _jobs(self, claim: Claim, claimed_at: float, reporter: _Reporter) -> list[_Job]:
        deadline = claimed_at + self.options.lease_seconds - self.options.lease_margin
        jobs: list[_Job] = []
        for msg in claim.messages:
            route = self.accounts.get(msg.account_id)
            if route is None:
                reason = (f"no usable gateway account (id {msg.account_id}): configure one in Odoo"
                          if msg.account_id else "no gateway account configured in Odoo")
                report = outcomes.entry(msg.key, "retry", error_code=outcomes.NO_ACCOUNT_CODE, reason=reason,
                                        retry_after=outcomes.NO_ACCOUNT_RETRY_AFTER)
                self._count(report, "none")
                reporter.add(report)
                continue
            segments = max(count_segments(msg.body).segments, 1)
            jobs.append(_Job(msg, route, segments, claimed_at, deadline))
        return jobs

    def _settle(self, done: _Done, job: _Job, reporter: _Reporter) -> None:
        self._count(done.report, done.provider)
        reporter.add(done.report)

    def _count(self, report: ReportEntry, provider: str) -> None:
        if self.metrics is None:
            return
        if report["outcome"] == "sent":
            self.metrics.sent.labels(provider).inc()
            return
        label = report["outcome"]
        if report["error_code"] in (outcomes.UNKNOWN_OUTCOME_CODE, outcomes.NO_ACCOUNT_CODE):
            label = str(report["error_code"])
        elif report["error_code"] == outcomes.OPTED_OUT_BEFORE_SEND_CODE and label == "failed":
            label = "opted_out_before_send"
        self.metrics.failed.labels(provider, label).inc()

    def _release(self, keys: list[str], summary: BatchSummary) -> None:
        if not keys:
            return
        try:
            summary.released += self.outbox.release(self.worker_id, keys)
        except OdooError as exc:
            logger.warning("could not release %d claim(s) (they expire with the lease): %s", len(keys), exc)

    @property
    def _transport(self) -> AsyncHttpTransport:
        """The libcurl transport, made on first use (on the event loop, with the first batch)."""
        if self._http is None:
            from sync_service.gateways.async_http import AsyncHttpTransport

            self._http = AsyncHttpTransport()
        return self._http

    # ------------------------------------------------------------------ one message (event loop)

    async def _drive(self, jobs: list[_Job], guard: OptOutGuard | None, reporter: _Reporter,
                     started: threading.Event) -> tuple[list[str], StoreError | None]:
        """Send ``jobs``, at most ``concurrency`` at once: the keys never started (to release), and the
        store's error when a send could not be recorded.

        Runs on the event loop, like each send: outcomes go to ``reporter``, which reports them to
        Odoo from a worker thread, one report at a time, while the sends go on.
        """
        # A slot covers the durable begin and the call: at most ``concurrency`` keys are begun and not
        # finished at any time, which bounds the 'unknown outcomes' a crash can leave. (A second stage
        # recording the next keys while the calls are in flight measured no faster.) The slots are the
        # dispatcher's, shared by the batches that overlap.
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.options.concurrency)
        calls = self._slots
        unsent: list[str] = []
        store_failure: list[StoreError] = []
        waiting_first_slot = len(jobs)
        if not waiting_first_slot:
            started.set()
        reporting: list[asyncio.Future[None]] = []  # the report on its way to Odoo, if any

        def report_if_due() -> None:
            if reporting and not reporting[0].done():
                return
            if reporting and (error := reporting[0].exception()) is not None:
                logger.error("dispatcher: outcomes not reported (kept in the store, reported later): %s",
                             error)
                self._backlog_due = True
            reporting.clear()
            if reporter.due():
                reporting.append(asyncio.ensure_future(self._blocking(reporter.send, reporter.take())))

        async def attempt(job: _Job) -> _Result:
            nonlocal waiting_first_slot
            async with calls:
                if not job.slotted:
                    job.slotted = True
                    waiting_first_slot -= 1
                    if not waiting_first_slot:
                        started.set()
                if self.stopping.is_set():
                    return self._give_up(job) if job.begun else _NOT_STARTED
                staged = await self._guarded(job, self._stage(job, guard))
                if staged is not None:
                    return staged
                return await self._guarded(job, self._call(job))

        async def lane(job: _Job) -> None:
            while True:
                result = await attempt(job)
                if isinstance(result, _Again):
                    if await self._sleep(result.delay):
                        continue  # in the queue again, behind the messages not started yet
                    result = self._give_up(job)  # stopping: it waited for a retry, it is not retried
                if isinstance(result, _NotStarted):
                    unsent.append(job.msg.key)
                    if isinstance(result, _Unrecorded):
                        store_failure[:] = [result.error]
                elif isinstance(result, _Held):
                    reporter.summary.held += 1
                elif isinstance(result, _Done):
                    self._settle(result, job, reporter)
                report_if_due()
                return

        async def tick() -> None:  # outcomes waiting for the report interval while retries wait too
            while True:
                await asyncio.sleep(self.options.report_interval)
                report_if_due()

        ticker = asyncio.ensure_future(tick())
        try:
            await asyncio.gather(*(lane(job) for job in jobs))
        finally:
            ticker.cancel()
        if reporting:
            await reporting[0]
        return unsent, (store_failure[0] if store_failure else None)

    @staticmethod
    async def _guarded(job: _Job, step: Coroutine[Any, Any, R]) -> R | _Result:
        """``await step``; an unexpected error is logged and the message left alone (held or unsent)."""
        try:
            return await step
        except Exception:
            logger.exception("dispatcher: unexpected error sending %s", job.msg.key)
            return _HELD if job.begun else _NOT_STARTED

    async def _sleep(self, delay: float) -> bool:
        """Sleep ``delay`` seconds; False as soon as the dispatcher is stopping."""
        due = time.monotonic() + delay
        while (left := due - time.monotonic()) > 0.0:
            if self.stopping.is_set():
                return False
            await asyncio.sleep(min(left, STOP_POLL))
        return not self.stopping.is_set()

    async def _blocking(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in a worker thread (it blocks), awaited."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def _until(self, attempt: Callable[[], float]) -> bool:
        """Await until ``attempt()`` (seconds to wait, 0.0: done) succeeds; False when stopping first."""
        while (wait := attempt()) > 0.0:
            if self.stopping.is_set():
                return False
            await asyncio.sleep(min(wait, STOP_POLL))
        return True

    async def _stage(self, job: _Job, guard: OptOutGuard | None) -> _Result | None:
        """Before a call: the opt-out re-check, then (first attempt) rate room and the durable begin.

        None: the message may go now (:meth:`_call`); else what became of it.
        """
        msg, route = job.msg, job.route
        if not job.begun and (self.stopping.is_set() or self._clock() >= job.deadline):
            return _NOT_STARTED
        if not job.begun and (held := self._held_by_account(job)) is not None:
            return _Done(held, route.provider)
        if msg.marketing and guard is not None:
            try:
                opted_out = guard.fresh(msg.number)  # a thread only when Odoo must be asked
                if opted_out is None:
                    opted_out = await self._blocking(guard.opted_out, msg.number)
            except Exception as exc:  # cannot verify: a marketing SMS does not leave
                logger.warning("opt-out check failed, %s not sent now: %s", msg.key, exc)
                return self._give_up(job) if job.begun else _NOT_STARTED
            if opted_out:
                report = outcomes.entry(msg.key, "failed", error_code=outcomes.OPTED_OUT_BEFORE_SEND_CODE,
                                        reason=outcomes.OPTED_OUT_BEFORE_SEND_REASON, segments=job.segments)
                if job.begun:
                    self._record(report)
                return _Done(report, route.provider)
        if not job.begun:
            # Record the key only when the account's rate lets it leave soon: a crash then leaves few
            # keys recorded but never sent (they would be reported 'unknown outcome').
            if not await self._until(lambda: route.limiter.wait_time(job.segments)):
                return _NOT_STARTED
            if self._clock() >= job.deadline:
                return _NOT_STARTED
            try:
                won = await self.journal.begin_async(msg.key, route.provider)
            except StoreError as exc:
                logger.error("cannot record the send of %s, not sent: %s", msg.key, exc)
                return _Unrecorded(exc)
            if not won:
                settled = await self._blocking(self._already_begun, job)
                if settled is not None:
                    return settled
            job.begun, job.begun_at = True, self._clock()
        return None

    async def _call(self, job: _Job) -> _Result:
        """The provider call of a begun message, and what its answer means."""
        route = job.route
        if self.stopping.is_set():
            return self._give_up(job)
        # The rate token last, right before the call: what leaves the limiter reaches the provider at once.
        if not await self._until(lambda: route.limiter.try_acquire(job.segments)):
            return self._give_up(job)
        if self._clock() - job.begun_at > self.options.stuck_after / 2:
            return self._give_up(job)  # waited so long that another worker could take it for a dead one
        if self.metrics and job.attempt == 0:
            self.metrics.claim_lag.observe(self._clock() - job.claimed_at)
        result = await self._send(job)
        classification = result.classification
        if classification.retryable:
            job.attempt += 1
            delay = backoff_delay(
                job.attempt - 1, rand=min(self._rand(), 0.999999), base=self.options.retry_base,
                cap=self.options.retry_cap, retry_after=classification.retry_after,
            )
            budget = self.options.stuck_after / 2 - (self._clock() - job.begun_at)
            if job.attempt < self.options.max_attempts and delay < budget and not self.stopping.is_set():
                if self.metrics:
                    self.metrics.retries.labels(route.provider).inc()
                return _Again(delay)
            return self._give_up(job)
        report = outcomes.from_result(route.account.provider, result,
                                      account_version=route.raw.get("health_version") or None)
        self._record(report, result.provider_message_id)
        if classification.outcome is Outcome.ACCOUNT:
            self._account_failing(route, report)
        return _Done(report, route.provider)

    async def _send(self, job: _Job) -> SendResult:
        route = job.route
        callback = None
        if self.callback_base_url and route.provider in WEBHOOK_PROVIDERS:
            callback = f"{self.callback_base_url}/webhooks/{route.provider}/status"
            if route.provider in KEYED_CALLBACK_PROVIDERS:
                # The receipt then names the SMS even when this worker dies before recording the
                # provider's message id (an 'unknown outcome' that the receipt settles in Odoo).
                callback += f"?key={quote(job.msg.key, safe='')}"
        message = OutboundMessage(job.msg.key, job.msg.number, job.msg.body, status_callback=callback,
                                  media_url=job.msg.media_url)
        gateway = route.gateway
        if self.metrics:
            self.metrics.in_flight.inc()
        try:
            if isinstance(gateway, HttpGateway) and type(gateway).send is HttpGateway.send:
                result = await self._transport.send(gateway, message)
            else:  # no HTTP (the console sandbox) or a transport of its own: it blocks
                result = await self._blocking(gateway.send, message)
        finally:
            if self.metrics:
                self.metrics.in_flight.dec()
        job.last = result
        return result

    # ------------------------------------------------------------------ accounts the provider refuses

    def _account_failing(self, route: Route, report: ReportEntry) -> None:
        """The provider refused the account itself: hold the rest of its messages, reload its settings."""
        with self._failing_lock:
            known = self._failing.get(route.id)
            self._failing[route.id] = (route.gateway, report)
        if known is None or known[0] is not route.gateway:
            logger.error("provider account %s (%s) refused by %s: %s %s; its messages are held",
                         route.id, route.account.name, route.provider, report["error_code"], report["reason"],
                         extra={"worker": self.worker_id})
            self._next_probe = min(self._next_probe, self._clock() + self.options.probe_interval)
        expire = getattr(self.accounts, "expire", None)
        if expire is not None:
            expire()  # the settings may have been fixed in Odoo already: the next claim uses the new ones

    def _held_by_account(self, job: _Job) -> ReportEntry | None:
        """The 'held' entry of a message whose account this process saw refused (same settings), else None."""
        with self._failing_lock:
            failing = self._failing.get(job.route.id)
        if failing is None or failing[0] is not job.route.gateway:
            return None
        seen = failing[1]
        return outcomes.entry(job.msg.key, "held", error_code=seen["error_code"], reason=seen["reason"],
                              retry_after=seen["retry_after"], segments=job.segments,
                              account_version=seen["account_version"], reason_key=seen["reason_key"],
                              reason_args=seen["reason_args"])

    def probe_failing(self) -> int:
        """Test-call each account marked failing (by Odoo or in this process); report what each said.

        Returns how many accounts were tested. A success clears the account here and in Odoo.
        """
        now = self._clock()
        if now < self._next_probe:
            return 0
        self._next_probe = now + self.options.probe_interval
        try:
            routes = self.accounts.routes()
        except AccountsUnavailable:
            return 0
        with self._failing_lock:
            local = dict(self._failing)
        suspects = [route for route in routes if route.raw.get("failing") or route.id in local]
        results: list[dict[str, Any]] = []
        for route in suspects:
            try:
                verdict = route.gateway.check()
            except Exception as exc:  # a test call must never stop the dispatcher
                logger.warning("test call of account %s failed: %s", route.id, exc)
                continue
            if verdict.outcome is Outcome.SENT:
                with self._failing_lock:
                    self._failing.pop(route.id, None)
                logger.info("provider account %s (%s) accepted again by %s: its messages are sent again",
                            route.id, route.account.name, route.provider, extra={"worker": self.worker_id})
            elif verdict.outcome is not Outcome.ACCOUNT:
                continue  # a transient answer tells nothing: tested again next time
            results.append({
                "account_id": route.id, "account_version": route.raw.get("health_version") or False,
                "ok": verdict.outcome is Outcome.SENT, "account_wide": verdict.outcome is Outcome.ACCOUNT,
                "error_code": verdict.code, "reason": verdict.reason, **text_fields(verdict.reason),
            })
        report_health = getattr(self.outbox, "report_account_health", None)
        if results and report_health is not None:
            try:
                report_health(results)
            except OdooError as exc:
                logger.warning("test calls not reported to Odoo (tested again later): %s", exc)
                self._next_probe = min(self._next_probe, now + 5.0)
        return len(suspects)

    def run_account_tests(self, *, force: bool = False) -> int:
        """Make the test calls people asked for in Odoo and report their verdicts; how many were made."""
        fetch = getattr(self.outbox, "account_tests", None)
        report = getattr(self.outbox, "report_account_tests", None)
        now = self._clock()
        if fetch is None or report is None or (now < self._next_tests and not force):
            return 0
        self._next_tests = now + self.options.test_poll_interval
        try:
            tests = fetch()
        except OdooError as exc:
            logger.warning("account tests not fetched from Odoo (asked again later): %s", exc)
            return 0
        if not tests:
            return 0
        versions = {int(test["account_id"]): test.get("account_version") for test in tests}
        routes = self._current_routes(versions)
        results: list[dict[str, Any]] = []
        for test in tests:
            route = routes.get(int(test["account_id"]))
            if route is None:
                continue  # not loaded yet, or its settings changed again: asked again at the next poll
            try:
                check = route.gateway.check()
            except Exception as exc:  # a test call must never stop the dispatcher
                logger.warning("test call of account %s failed: %s", route.id, exc)
                continue
            base_url = getattr(route.gateway, "base_url", "")
            verdict = connection_verdict(route.provider, check, base_url)
            logger.info("test connection of account %s (%s): %s", route.id, route.account.name,
                        verdict.reason, extra={"worker": self.worker_id})
            if verdict.ok:
                with self._failing_lock:
                    self._failing.pop(route.id, None)
            results.append({"id": test["id"], "ok": verdict.ok, "account_wide": verdict.account_wide,
                            "error_code": verdict.code, "reason": verdict.reason,
                            **text_fields(verdict.reason)})
        if results:
            try:
                report(results)
            except OdooError as exc:
                logger.warning("account tests not reported to Odoo (made again later): %s", exc)
                self._next_tests = min(self._next_tests, now + 5.0)
        return len(results)

    def _current_routes(self, versions: dict[int, Any]) -> dict[int, Route]:
        """The routes of these accounts with the settings Odoo names (``health_version``), reloading once."""
        try:
            routes = {route.id: route for route in self.accounts.routes()}
            stale = [i for i, version in versions.items()
                     if i not in routes or routes[i].raw.get("health_version") != version]
            if stale and hasattr(self.accounts, "refresh"):
                self.accounts.refresh()
                routes = {route.id: route for route in self.accounts.routes()}
        except (AccountsUnavailable, OdooError) as exc:
            logger.warning("accounts not loaded for the test calls: %s", exc)
            return {}
        return {i: routes[i] for i, version in versions.items()
                if i in routes and routes[i].raw.get("health_version") == version}

    def _give_up(self, job: _Job) -> _Done:
        """A begun message that will not be tried again in this claim: 'retry' (Odoo keeps it queued)."""
        last = job.last
        retry_after = last.classification.retry_after if last is not None else None
        retry_after = max(retry_after or 0.0, self.options.final_retry_after)
        if last is not None and last.classification.retryable:
            report = outcomes.from_result(job.route.account.provider, last, retry_after=retry_after)
        else:
            report = outcomes.entry(
                job.msg.key, "retry", error_code="interrupted",
                reason="not tried again before the worker stopped", retry_after=retry_after,
                segments=job.segments,
            )
        self._record(report)
        return _Done(report, job.route.provider)

    def _record(self, report: ReportEntry, provider_message_id: str | None = None) -> None:
        self.journal.finish(report["key"], provider_message_id, outcomes.store_state(report),
                            error=outcomes.encode_details(report))

    def _already_begun(self, job: _Job) -> _Result | None:
        """The key was begun before (a restart, another worker, a re-offer). None: it may be sent now."""
        self.journal.flush(timeout=10)
        record = self.store.get_send(job.msg.key)
        if record is None:
            return _HELD
        if record.state == "sending":
            if record.updated_at > utcnow() - timedelta(seconds=self.options.stuck_after):
                return _HELD  # another worker is on it, or died recently: settled once it is stuck
            report = outcomes.unknown_outcome(record.key)
            self._record(report)
            logger.warning("send of %s never finished (a worker died mid-send): reported as unknown outcome",
                           record.key)
            return _Done(report, job.route.provider)
        if outcomes.resendable(record) and self.store.release_send(record.key):
            if self.journal.begin(record.key, job.route.provider):
                return None
            return _HELD
        return _Done(outcomes.from_record(record), job.route.provider)

    # ------------------------------------------------------------------ reporting and recovery

    def report(self, reports: list[ReportEntry]) -> int:
        """Tell Odoo, once the store holds the outcomes; mark them reported. Returns how many Odoo got."""
        if not self.journal.flush(timeout=30):
            logger.error("outcomes not recorded in the store yet: not reported to Odoo now")
            self._backlog_due = True
            return 0
        try:
            self.outbox.report(self.worker_id, reports)
        except OdooError as exc:
            logger.warning("%d outcome(s) not reported (kept in the store, reported later): %s",
                           len(reports), exc)
            self._backlog_due = True
            return 0
        try:
            self.store.mark_reported([report["key"] for report in reports])
        except StoreError as exc:  # Odoo has them; reporting them again later is harmless
            logger.warning("reported outcomes not marked in the store: %s", exc)
        return len(reports)

    def report_backlog(self, *, min_age: float = 0.0) -> int:
        """Report the outcomes the store holds and Odoo was not told (after a crash or an outage)."""
        total = 0
        limit = self.options.report_batch_size
        while True:
            horizon = utcnow() - timedelta(seconds=min_age)
            with self._active_lock:
                active = self._active_keys
            records = [r for r in self.store.unreported(limit)
                       if r.updated_at <= horizon and r.key not in active]  # active: their batch reports them
            if not records:
                return total
            reports = [outcomes.from_record(record) for record in records]
            self.outbox.report(self.worker_id, reports)
            self.store.mark_reported([record.key for record in records])
            total += len(records)
            logger.info("reported %d outcome(s) from the store", len(records),
                        extra={"worker": self.worker_id})
            if len(records) < limit:
                return total

    def reconcile_stuck(self) -> int:
        """Settle sends begun more than ``stuck_after`` s ago and never finished: 'unknown outcome'."""
        older_than = utcnow() - timedelta(seconds=self.options.stuck_after)
        records = self.store.stuck_sending(older_than, 1000)
        for record in records:
            self._record(outcomes.unknown_outcome(record.key))
            if self.metrics:
                self.metrics.failed.labels(record.provider or "unknown", outcomes.UNKNOWN_OUTCOME_CODE).inc()
        if records:
            self.journal.flush(timeout=30)
            logger.warning("%d send(s) left unfinished by a dead worker: reported as unknown outcome, "
                           "not re-sent", len(records), extra={"worker": self.worker_id})
            self._backlog_due = True
        return len(records)

    def close(self) -> None:
        self.stopping.set()
        self._drop_prefetched()
        self._claimer.shutdown(wait=True)
        if not self._closed:
            self._closed = True
            if self._http is not None:
                self._loop.run(self._http.close(), timeout=30)
            self._loop.stop()
        self._executor.shutdown(wait=True)
        self.journal.flush(timeout=30)
