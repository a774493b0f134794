"""The per-account rate limiter on a fake clock: no window of one second ever holds more than the rate."""

from __future__ import annotations

import threading

import pytest

from sync_service.dispatch.rate_limit import RateLimiter, RateLimiters


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(limiter: RateLimiter, clock: FakeClock, sizes: list[int]) -> list[tuple[float, int]]:
    """Admit each message in turn, advancing the clock by the waits the limiter asks for."""
    admitted = []
    for units in sizes:
        while (wait := limiter.try_acquire(units)) > 0:
            clock.now += wait
        admitted.append((clock.now, units))
    return admitted


def busiest_second(admitted: list[tuple[float, int]]) -> int:
    return max(sum(u for t, u in admitted if start <= t < start + 1.0) for start, _ in admitted)


@pytest.mark.parametrize("rate", [1, 3, 10, 20, 250])
def test_no_second_holds_more_than_the_rate(rate: int) -> None:
    clock = FakeClock()
    admitted = run(RateLimiter(rate, clock=clock), clock, [1] * (rate * 5))
    assert busiest_second(admitted) <= rate
    elapsed = admitted[-1][0] - admitted[0][0]
    assert elapsed < 5.0 * 1.12  # and the rate is used: 5 s worth in 5 s plus the 0.1 s margin a second


def test_segments_count_and_an_oversize_message_goes_alone() -> None:
    clock = FakeClock()
    limiter = RateLimiter(4, margin=0.0, clock=clock)
    admitted = run(limiter, clock, [2, 2, 3, 6, 1])
    assert busiest_second(admitted[:3]) <= 4
    six = admitted[3][0]
    assert all(t <= six - 1.0 or t >= six + 1.0 for t, _ in admitted if t != six)


def test_below_one_message_a_second() -> None:
    clock = FakeClock()
    admitted = run(RateLimiter(0.5, margin=0.0, clock=clock), clock, [1, 1, 1])
    assert [round(t - admitted[0][0], 6) for t, _ in admitted] == [0.0, 2.0, 4.0]


def test_acquire_gives_up_when_stopped() -> None:
    limiter = RateLimiter(1)
    assert limiter.acquire(1)
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    assert limiter.acquire(1, stop=stop) is False
    assert limiter.in_window() == 1


def test_a_new_rate_gives_a_new_limiter() -> None:
    limiters = RateLimiters()
    first = limiters.for_account(1, 10)
    assert limiters.for_account(1, 10) is first
    assert limiters.for_account(1, 20) is not first
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0)
