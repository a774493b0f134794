from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from sync_service.core.quiet_hours import SendingWindow, is_allowed, next_allowed

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")

ALL_DAYS = frozenset(range(7))
# France: Monday to Saturday, 08:00-20:00.
FRANCE = SendingWindow(time(8), time(20), frozenset({0, 1, 2, 3, 4, 5}))
# US: every day, 08:00-21:00 recipient time.
US = SendingWindow(time(8), time(21), ALL_DAYS)
PARIS_ALL_DAYS = SendingWindow(time(8), time(20), ALL_DAYS)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local(tz: ZoneInfo, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=tz, fold=fold)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("now", "tz", "window", "holidays", "expected"),
    [
        # France. 2024-06-09 is a Sunday (CEST, UTC+2): Sunday 10:00 -> Monday 08:00.
        (local(PARIS, 2024, 6, 9, 10), PARIS, FRANCE, frozenset(), local(PARIS, 2024, 6, 10, 8)),
        # Inside the window: now itself.
        (
            local(PARIS, 2024, 6, 12, 12, 34, 56),
            PARIS,
            FRANCE,
            frozenset(),
            local(PARIS, 2024, 6, 12, 12, 34, 56),
        ),
        # Start is inclusive.
        (local(PARIS, 2024, 6, 10, 8), PARIS, FRANCE, frozenset(), local(PARIS, 2024, 6, 10, 8)),
        (local(PARIS, 2024, 6, 10, 7, 59), PARIS, FRANCE, frozenset(), local(PARIS, 2024, 6, 10, 8)),
        # End is exclusive: Friday 20:00 -> Saturday 08:00, Saturday 20:00 -> Monday 08:00.
        (local(PARIS, 2024, 6, 14, 19, 59), PARIS, FRANCE, frozenset(), local(PARIS, 2024, 6, 14, 19, 59)),
        (local(PARIS, 2024, 6, 14, 20), PARIS, FRANCE, frozenset(), local(PARIS, 2024, 6, 15, 8)),
        (local(PARIS, 2024, 6, 15, 20), PARIS, FRANCE, frozenset(), local(PARIS, 2024, 6, 17, 8)),
        # Winter time (CET, UTC+1).
        (local(PARIS, 2024, 1, 14, 10), PARIS, FRANCE, frozenset(), local(PARIS, 2024, 1, 15, 8)),
        # Holidays: 1 May 2024 is a Wednesday; Christmas 2024 too.
        (
            local(PARIS, 2024, 4, 30, 20, 30),
            PARIS,
            FRANCE,
            frozenset({date(2024, 5, 1)}),
            local(PARIS, 2024, 5, 2, 8),
        ),
        (
            local(PARIS, 2024, 5, 1, 11),
            PARIS,
            FRANCE,
            frozenset({date(2024, 5, 1)}),
            local(PARIS, 2024, 5, 2, 8),
        ),
        (
            local(PARIS, 2024, 12, 24, 21),
            PARIS,
            FRANCE,
            frozenset({date(2024, 12, 25)}),
            local(PARIS, 2024, 12, 26, 8),
        ),
        # Saturday evening before a Monday holiday (Whit Monday 2024-05-20): Tuesday.
        (
            local(PARIS, 2024, 5, 18, 20),
            PARIS,
            FRANCE,
            frozenset({date(2024, 5, 20)}),
            local(PARIS, 2024, 5, 21, 8),
        ),
        # US, recipient in Los Angeles (PDT, UTC-7).
        (
            local(LOS_ANGELES, 2024, 7, 2, 21, 30),
            LOS_ANGELES,
            US,
            frozenset(),
            local(LOS_ANGELES, 2024, 7, 3, 8),
        ),
        (
            local(LOS_ANGELES, 2024, 7, 2, 20, 59),
            LOS_ANGELES,
            US,
            frozenset(),
            local(LOS_ANGELES, 2024, 7, 2, 20, 59),
        ),
        (
            local(LOS_ANGELES, 2024, 7, 3, 6, 15),
            LOS_ANGELES,
            US,
            frozenset(),
            local(LOS_ANGELES, 2024, 7, 3, 8),
        ),
        (
            local(LOS_ANGELES, 2024, 7, 3, 22),
            LOS_ANGELES,
            US,
            frozenset({date(2024, 7, 4)}),
            local(LOS_ANGELES, 2024, 7, 5, 8),
        ),
    ],
)
def test_next_allowed(
    now: datetime, tz: ZoneInfo, window: SendingWindow, holidays: frozenset[date], expected: datetime
) -> None:
    result = next_allowed(now.astimezone(UTC), tz, window, holidays)
    assert result == expected
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    ("now", "tz", "window", "expected"),
    [
        # Paris springs forward on Sunday 2024-03-31 (02:00 CET -> 03:00 CEST): 08:00 is 06:00 UTC.
        (utc(2024, 3, 30, 20), PARIS, PARIS_ALL_DAYS, utc(2024, 3, 31, 6)),
        # ... and falls back on Sunday 2024-10-27 (03:00 CEST -> 02:00 CET): 08:00 is 07:00 UTC.
        (utc(2024, 10, 26, 20), PARIS, PARIS_ALL_DAYS, utc(2024, 10, 27, 7)),
        # New York springs forward on 2024-03-10 (08:00 EDT is 12:00 UTC), falls back on 2024-11-03.
        (utc(2024, 3, 10, 3), NEW_YORK, US, utc(2024, 3, 10, 12)),
        (utc(2024, 11, 3, 3), NEW_YORK, US, utc(2024, 11, 3, 13)),
        # Los Angeles springs forward on 2024-03-10 too: 08:00 PDT is 15:00 UTC.
        (utc(2024, 3, 10, 9), LOS_ANGELES, US, utc(2024, 3, 10, 15)),
        # Start time inside the spring-forward gap (02:30 does not exist): the first instant
        # after the gap, 03:00 CEST (01:00 UTC).
        (utc(2024, 3, 31, 0, 30), PARIS, SendingWindow(time(2, 30), time(5), ALL_DAYS), utc(2024, 3, 31, 1)),
        # The whole window is inside the gap on that day: the next day.
        (
            utc(2024, 3, 30, 12),
            PARIS,
            SendingWindow(time(2, 15), time(2, 45), ALL_DAYS),
            utc(2024, 4, 1, 0, 15),
        ),
        # Start time repeated when falling back (01:30 happens twice in New York on 2024-11-03):
        # the first occurrence, 01:30 EDT (05:30 UTC).
        (
            utc(2024, 11, 3, 4),
            NEW_YORK,
            SendingWindow(time(1, 30), time(21), ALL_DAYS),
            utc(2024, 11, 3, 5, 30),
        ),
        # After falling back, 01:10 EST is before 01:30 again: wait for 01:30 EST (06:30 UTC).
        (
            utc(2024, 11, 3, 6, 10),
            NEW_YORK,
            SendingWindow(time(1, 30), time(21), ALL_DAYS),
            utc(2024, 11, 3, 6, 30),
        ),
        # Window 00:00-01:30: closed at 01:35 EDT, open again when the clock falls back to 01:00 EST.
        (
            utc(2024, 11, 3, 5, 35),
            NEW_YORK,
            SendingWindow(time(0), time(1, 30), ALL_DAYS),
            utc(2024, 11, 3, 6),
        ),
    ],
)
def test_next_allowed_across_dst(
    now: datetime, tz: ZoneInfo, window: SendingWindow, expected: datetime
) -> None:
    assert next_allowed(now, tz, window) == expected


def test_result_is_allowed_and_nothing_earlier_is() -> None:
    # Walk minute by minute over the Paris spring-forward weekend and check the answer against
    # a brute-force search.
    window = SendingWindow(time(2, 30), time(3, 30), ALL_DAYS)
    start = utc(2024, 3, 29, 22)
    for step in range(0, 3 * 24 * 60, 37):
        now = start + timedelta(minutes=step)
        result = next_allowed(now, PARIS, window)
        assert is_allowed(result, PARIS, window)
        probe = now
        while probe < result:
            assert not is_allowed(probe, PARIS, window), (now, probe)
            probe += timedelta(minutes=1)


def test_now_in_another_offset_is_returned_in_utc() -> None:
    now = datetime(2024, 6, 12, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert next_allowed(now, PARIS, FRANCE) == utc(2024, 6, 12, 10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": time(20), "end": time(8), "allowed_weekdays": ALL_DAYS}, "must be before end"),
        ({"start": time(8), "end": time(8), "allowed_weekdays": ALL_DAYS}, "must be before end"),
        (
            {"start": time(8), "end": time(20), "allowed_weekdays": frozenset()},
            "at least one allowed weekday",
        ),
        ({"start": time(8), "end": time(20), "allowed_weekdays": frozenset({7})}, r"got \[7\]"),
        ({"start": time(8, tzinfo=UTC), "end": time(20), "allowed_weekdays": ALL_DAYS}, "must be naive"),
    ],
)
def test_window_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SendingWindow(**kwargs)  # type: ignore[arg-type]


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_allowed(datetime(2024, 6, 12, 12), PARIS, FRANCE)


def test_many_consecutive_holidays_are_skipped() -> None:
    window = SendingWindow(time(8), time(20), frozenset({6}))  # Sundays only
    sundays = frozenset(date(2024, 6, 9) + timedelta(weeks=w) for w in range(0, 5))
    assert next_allowed(utc(2024, 6, 8), PARIS, window, sundays) == utc(2024, 7, 14, 6)
