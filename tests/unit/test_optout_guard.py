"""The last look at the opt-out register before a marketing SMS leaves: one check of Odoo per batch and
``max_age``, and the answer from a fresh snapshot without waiting (the dispatcher's event loop asks a worker
thread only when Odoo must be asked)."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import pytest

from sync_service.dispatch.optout_guard import OptOutGuard

STOPPED, KEPT = "+33612345678", "+33698765432"


class Register:
    """Odoo's register as the guard sees it; counts the checks."""

    def __init__(self) -> None:
        self.opted_out = {STOPPED}
        self.asked: list[list[str]] = []

    def check(self, numbers: Iterable[str]) -> set[str]:
        numbers = list(numbers)
        self.asked.append(numbers)
        return self.opted_out & set(numbers)


@pytest.fixture
def now() -> list[float]:
    return [100.0]


@pytest.fixture
def register() -> Register:
    return Register()


@pytest.fixture
def guard(register: Register, now: list[float]) -> OptOutGuard:
    return OptOutGuard(register.check, [STOPPED, KEPT], max_age=1.0, clock=lambda: now[0])


def test_nothing_is_known_before_odoo_was_asked(guard: OptOutGuard, register: Register) -> None:
    assert guard.fresh(STOPPED) is None and guard.fresh(KEPT) is None
    assert register.asked == []


@pytest.mark.parametrize(
    ("age", "stopped", "kept"),
    [(0.0, True, False), (0.999, True, False), (1.0, None, None), (5.0, None, None)],
)
def test_a_snapshot_answers_until_it_is_max_age_old(
    guard: OptOutGuard, register: Register, now: list[float], age: float,
    stopped: bool | None, kept: bool | None,
) -> None:
    assert guard.opted_out(KEPT) is False
    now[0] += age
    assert (guard.fresh(STOPPED), guard.fresh(KEPT)) == (stopped, kept)
    assert len(register.asked) == 1, "fresh() never asks Odoo"


def test_a_stop_after_the_snapshot_wins_at_the_next_check(
    guard: OptOutGuard, register: Register, now: list[float]
) -> None:
    assert guard.opted_out(KEPT) is False
    register.opted_out.add(KEPT)
    assert guard.fresh(KEPT) is False, "within max_age: the snapshot"
    now[0] += 1.0
    assert guard.fresh(KEPT) is None, "too old: Odoo must be asked"
    assert guard.opted_out(KEPT) is True
    assert guard.fresh(KEPT) is True
    assert register.asked == [sorted([KEPT, STOPPED])] * 2, "the whole batch, once per check"


def test_a_check_under_way_is_not_waited_for(guard: OptOutGuard, register: Register) -> None:
    assert guard.opted_out(STOPPED) is True
    entered, release = threading.Event(), threading.Event()

    def slow_check(numbers: Iterable[str]) -> set[str]:
        entered.set()
        release.wait(5)
        return register.check(numbers)

    slow = OptOutGuard(slow_check, [STOPPED], max_age=1.0)
    worker = threading.Thread(target=slow.opted_out, args=(STOPPED,))
    worker.start()
    try:
        assert entered.wait(5)
        assert slow.fresh(STOPPED) is None, "Odoo is being asked: answered at once, not after the check"
    finally:
        release.set()
        worker.join(5)
    assert slow.fresh(STOPPED) is True


def test_odoo_unreachable_leaves_nothing_fresh(now: list[float]) -> None:
    def unreachable(numbers: Iterable[str]) -> set[str]:
        raise ConnectionError("Odoo unreachable")

    guard = OptOutGuard(unreachable, [STOPPED], max_age=1.0, clock=lambda: now[0])
    with pytest.raises(ConnectionError):
        guard.opted_out(STOPPED)
    assert guard.fresh(STOPPED) is None, "no snapshot: the dispatcher asks again (and does not send)"
