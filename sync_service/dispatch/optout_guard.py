"""The last look at the opt-out register before a marketing SMS leaves.

Odoo's compliance gate runs when a message is claimed; a STOP that arrives between the claim
and the send must still win. :class:`OptOutGuard` asks Odoo which of a batch's marketing numbers
are opted out, at most once every ``max_age`` seconds (one RPC for the whole batch), and answers
for one number from that snapshot. If Odoo cannot be asked, it raises: the caller must not send.
:meth:`OptOutGuard.fresh` answers from a snapshot still fresh without ever waiting, so that the
dispatcher's event loop asks a worker thread only when Odoo must be asked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable


class OptOutGuard:
    def __init__(
        self,
        check: Callable[[Iterable[str]], set[str]],
        numbers: Iterable[str],
        *,
        max_age: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._check = check
        self._numbers = sorted(set(numbers))
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._opted_out: set[str] = set()
        self._checked_at: float | None = None
        self.checks = 0

    def opted_out(self, number: str) -> bool:
        """Whether ``number`` is in the opt-out register (as of at most ``max_age`` seconds ago)."""
        with self._lock:
            if self._stale():
                numbers = self._numbers if number in self._numbers else [*self._numbers, number]
                self._opted_out = set(self._check(numbers))
                self._checked_at = self._clock()
                self.checks += 1
            return number in self._opted_out

    def fresh(self, number: str) -> bool | None:
        """The snapshot's answer for ``number`` when it is less than ``max_age`` old; None when Odoo must be
        asked first (no snapshot yet, too old, or a check under way): never waits."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            return None if self._stale() else number in self._opted_out
        finally:
            self._lock.release()

    def _stale(self) -> bool:
        """No snapshot yet, or one ``max_age`` seconds old or more (under the lock)."""
        return self._checked_at is None or self._clock() - self._checked_at >= self._max_age
