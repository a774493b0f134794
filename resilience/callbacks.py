"""The provider's side of status callbacks that did not get through: retried until the service takes them.

The simulator posts each status callback once and records the answer (``ProviderSimulator.callbacks()``);
it does not retry. Real providers do retry some failed callbacks (how often and on which answers differs:
Twilio, for one, retries only on some failures), and a service that answers 503 while its store is
unavailable counts on that. So the suite plays that part: every callback that ended in a connection
error, a timeout, a 5xx or a 429 is posted again, with the very same signed parameters and headers
(the signature covers the URL and the parameters, so it still verifies), with exponential back-off
(1 s doubling to 8 s), until the service answers 2xx. A 4xx other than 429 is not retried (a provider
would not either) and is counted as ``rejected``.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import requests

from sync_service.simulator import ProviderSimulator, WebhookDelivery


def needs_retry(status_code: int | None) -> bool:
    """Whether a provider would post this callback again: no answer, 5xx or 429."""
    return status_code is None or status_code >= 500 or status_code == 429


def describe(status_code: int | None, error: str | None) -> str:
    if status_code is not None:
        return f"HTTP {status_code}"
    return (error or "no answer").split(":")[0]


@dataclass
class CallbackStats:
    first_failures: Counter[str] = field(default_factory=Counter)  # why the simulator's own post failed
    retry_answers: Counter[str] = field(default_factory=Counter)  # what the re-posts got
    recovered: int = 0  # failed first, then taken by the service
    rejected: int = 0  # 4xx: not retried
    outstanding: int = 0  # still waiting for a retry

    def summary(self) -> str:
        if not self.first_failures:
            return "every status callback was taken at the first post"
        first = ", ".join(f"{n} {why}" for why, n in self.first_failures.most_common())
        again = ", ".join(f"{n} {why}" for why, n in self.retry_answers.most_common())
        return (f"callbacks refused at the first post: {first}; re-posted {sum(self.retry_answers.values())} "
                f"times ({again}); {self.recovered} taken on a retry, {self.rejected} rejected (4xx), "
                f"{self.outstanding} outstanding")


class CallbackRetrier:
    """Watches the simulator's callback log and re-posts the failed ones (a background thread)."""

    def __init__(self, simulator: ProviderSimulator, *, base: float = 1.0, cap: float = 8.0) -> None:
        self.simulator = simulator
        self.base, self.cap = base, cap
        self.stats = CallbackStats()
        self._seen = 0
        self._queue: list[tuple[float, int, int, WebhookDelivery]] = []  # (due, tie, attempt, delivery)
        self._tie = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._session = requests.Session()
        self._session.trust_env = False
        self._thread = threading.Thread(target=self._loop, name="callback-retrier", daemon=True)

    def start(self) -> CallbackRetrier:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._session.close()

    def idle(self) -> bool:
        """Nothing waiting to be re-posted (what the simulator still has to post is not counted here)."""
        with self._lock:
            return not self._queue

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self._collect()
            self._retry_due()

    def _collect(self) -> None:
        deliveries = self.simulator.callbacks()
        new, self._seen = deliveries[self._seen:], len(deliveries)
        now = time.monotonic()
        with self._lock:
            for delivery in new:
                if delivery.kind != "status" or not needs_retry(delivery.status_code):
                    if delivery.status_code is not None and 400 <= delivery.status_code < 500:
                        self.stats.rejected += 1
                    continue
                self.stats.first_failures[describe(delivery.status_code, delivery.error)] += 1
                heapq.heappush(self._queue, (now + self.base, next(self._tie), 1, delivery))
            self.stats.outstanding = len(self._queue)

    def _retry_due(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                if not self._queue or self._queue[0][0] > time.monotonic():
                    self.stats.outstanding = len(self._queue)
                    return
                _, _, attempt, delivery = heapq.heappop(self._queue)
            status, error = self._post(delivery)
            with self._lock:
                self.stats.retry_answers[describe(status, error)] += 1
                if status is not None and 200 <= status < 300:
                    self.stats.recovered += 1
                elif needs_retry(status):
                    delay = min(self.cap, self.base * 2 ** attempt)
                    due = time.monotonic() + delay
                    heapq.heappush(self._queue, (due, next(self._tie), attempt + 1, delivery))
                else:
                    self.stats.rejected += 1

    def _post(self, delivery: WebhookDelivery) -> tuple[int | None, str | None]:
        try:
            response = self._session.post(
                delivery.url, data=dict(delivery.params), headers=dict(delivery.headers), timeout=5
            )
        except requests.RequestException as exc:
            return None, f"{type(exc).__name__}: {exc}"
        return response.status_code, None
