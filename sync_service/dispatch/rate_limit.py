"""Per-account send rate limit, counted in SMS segments.

A provider's "messages per second" is a ceiling over any one-second window, not an average: a
classic token bucket of capacity ``r`` lets ``2r`` through in one second (a full bucket plus the
refill). :class:`RateLimiter` combines two rules, both counted in segments:

* a sliding-window log: ``n`` more segments are admitted only if the last ``window`` seconds hold
  at most ``capacity - n``, where ``capacity`` is ``floor(rate)`` and ``window`` is 1 s plus a
  ``margin`` (below 1/s: one segment per ``1/rate`` s). So no window of 1 s + margin at this end
  ever holds more than ``capacity`` segments;
* a pacing rule (GCRA, "virtual scheduling"): segments are spread at ``1/rate`` s intervals, with
  bursts of at most ``burst`` (10 %) of a second's worth. Without it a full second's worth would
  leave at once; the provider receives such a burst spread over the time the network and both
  ends take to handle it, and the spread tail plus the next burst would overflow its 1 s window.
  Paced, the arrival jitter stays far below ``margin``.

The price of the margin (0.1 s by default): a saturated account runs at about ``rate / 1.1``.

A message longer than ``capacity`` segments waits for an empty window and goes alone.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

Clock = Callable[[], float]


class RateLimiter:
    """Thread-safe: paced at ``rate`` units/s, at most ``capacity`` units in any ``window`` seconds."""

    def __init__(
        self, rate: float, *, margin: float = 0.1, burst: float = 0.1, clock: Clock = time.monotonic
    ) -> None:
        if not math.isfinite(rate) or rate <= 0:
            raise ValueError(f"rate must be a positive number of segments per second, got {rate!r}")
        if margin < 0:
            raise ValueError(f"margin must be >= 0, got {margin!r}")
        self.rate = float(rate)
        if rate >= 1:
            self.capacity = math.floor(rate)
            self.window = 1.0 + margin
        else:
            self.capacity = 1
            self.window = 1.0 / rate + margin
        self._tolerance = max(1.0, burst * rate) / rate - 1.0 / rate  # seconds a send may run ahead
        self._tat = 0.0  # theoretical arrival time of the next segment (GCRA)
        self._clock = clock
        self._lock = threading.Lock()
        self._log: deque[tuple[float, int]] = deque()  # (admitted at, units), oldest first
        self._used = 0

    def _expire(self, now: float) -> None:
        horizon = now - self.window
        while self._log and self._log[0][0] <= horizon:
            self._used -= self._log.popleft()[1]

    def _wait_for(self, units: int, now: float) -> float:
        """Seconds until ``units`` may be admitted (0.0: now). Call with the lock held."""
        self._expire(now)
        needed = min(units, self.capacity)  # an oversize message needs an empty window
        pace_wait = self._tat - self._tolerance - now
        if self._used + needed <= self.capacity:
            return max(pace_wait, 0.0)
        # Free units in order until enough are gone; wait until that entry leaves the window.
        freed, excess = 0, self._used + needed - self.capacity
        for admitted_at, count in self._log:
            freed += count
            if freed >= excess:
                return max(admitted_at + self.window - now, pace_wait, 1e-4)
        return self.window  # unreachable: the whole log frees everything

    def try_acquire(self, units: int = 1) -> float:
        """Admit ``units`` now and return 0.0, or admit nothing and return the seconds to wait."""
        units = max(1, int(units))
        with self._lock:
            now = self._clock()
            wait = self._wait_for(units, now)
            if wait > 0:
                return wait
            self._log.append((now, units))
            self._used += units
            self._tat = max(self._tat, now) + units / self.rate
            return 0.0

    def acquire(self, units: int = 1, *, stop: threading.Event | None = None) -> bool:
        """Block until ``units`` are admitted (True), or until ``stop`` is set (False, nothing admitted)."""
        return self._block(lambda: self.try_acquire(units), stop)

    def wait_time(self, units: int = 1) -> float:
        """Seconds until ``units`` could be admitted (0.0: now), admitting nothing; never blocks.

        Lets a caller do its slow preparation only when its turn is near, then take its units.
        """
        units = max(1, int(units))
        with self._lock:
            return self._wait_for(units, self._clock())

    @staticmethod
    def _block(attempt: Callable[[], float], stop: threading.Event | None) -> bool:
        while True:
            wait = attempt()
            if wait == 0.0:
                return True
            if stop is None:
                time.sleep(wait)
            elif stop.wait(wait):
                return False

    def in_window(self) -> int:
        """Units admitted within the current window (for tests and metrics)."""
        with self._lock:
            self._expire(self._clock())
            return self._used


class RateLimiters:
    """One limiter per account id, rebuilt when the account's rate changes."""

    def __init__(self, *, margin: float = 0.1, clock: Clock = time.monotonic) -> None:
        self._margin = margin
        self._clock = clock
        self._lock = threading.Lock()
        self._limiters: dict[int, RateLimiter] = {}

    def for_account(self, account_id: int, rate: float) -> RateLimiter:
        with self._lock:
            limiter = self._limiters.get(account_id)
            if limiter is None or limiter.rate != float(rate):
                limiter = RateLimiter(rate, margin=self._margin, clock=self._clock)
                self._limiters[account_id] = limiter
            return limiter
