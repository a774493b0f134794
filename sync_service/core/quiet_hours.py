"""Quiet-hours arithmetic: when may a message be sent to a recipient in a given time zone.

A :class:`SendingWindow` is judged on the recipient's wall clock: the local weekday must be
allowed, the local date must not be a holiday and the local time must be in [start, end).
:func:`next_allowed` returns the first instant, at or after now, that satisfies this, in UTC.

Daylight-saving transitions are handled on the wall clock: when the start time does not
exist (spring forward) sending starts at the first instant after the gap; when it exists
twice (fall back) the first occurrence counts, and an instant whose wall time falls back out
of (or into) the window is judged by that wall time.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_MINUTE = timedelta(minutes=1)
# Margin around a local day when looking for a UTC-offset change (larger than any DST shift).
_TRANSITION_MARGIN = timedelta(hours=3)


@dataclass(frozen=True)
class SendingWindow:
    """Allowed local sending hours: ``start`` inclusive, ``end`` exclusive, on ``allowed_weekdays``.

    Weekdays follow :meth:`datetime.weekday`: Monday is 0, Sunday is 6.
    """

    start: time
    end: time
    allowed_weekdays: frozenset[int]

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("window start and end are wall-clock times and must be naive")
        if self.start >= self.end:
            raise ValueError(f"window start {self.start} must be before end {self.end}")
        if not self.allowed_weekdays:
            raise ValueError("a sending window needs at least one allowed weekday")
        invalid = sorted(d for d in self.allowed_weekdays if not isinstance(d, int) or not 0 <= d <= 6)
        if invalid:
            raise ValueError(f"weekdays must be integers 0 (Monday) to 6 (Sunday), got {invalid}")


def is_allowed(
    instant: datetime, tz: ZoneInfo, window: SendingWindow, holidays: frozenset[date] = frozenset()
) -> bool:
    """True when ``instant`` (aware) falls inside the window on the recipient's wall clock."""
    local = instant.astimezone(tz)
    return (
        local.weekday() in window.allowed_weekdays
        and local.date() not in holidays
        and window.start <= local.time() < window.end
    )


def _transition_in(day: date, tz: ZoneInfo) -> datetime | None:
    """First UTC minute with the new offset if the offset of ``tz`` changes around ``day``."""
    low = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC) - _TRANSITION_MARGIN
    high = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC) + _TRANSITION_MARGIN
    low = low.replace(second=0, microsecond=0)
    before = low.astimezone(tz).utcoffset()
    if high.astimezone(tz).utcoffset() == before:
        return None
    lo, hi = 0, int((high - low) / _MINUTE) + 1
    # Invariant: low + lo minutes has the old offset, low + hi minutes has not.
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if (low + mid * _MINUTE).astimezone(tz).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    return low + hi * _MINUTE


def _entry_candidates(day: date, tz: ZoneInfo, window: SendingWindow) -> list[datetime]:
    """Instants of ``day`` at which the window may open.

    The wall clock reaches ``start`` (once, or twice when it is repeated, both folds), or jumps
    at a UTC-offset change (over ``start`` in a gap, or back into the window when falling back).
    """
    candidates = [
        datetime.combine(day, window.start, tzinfo=tz).replace(fold=fold).astimezone(UTC) for fold in (0, 1)
    ]
    transition = _transition_in(day, tz)
    if transition is not None:
        candidates.append(transition)
    return candidates


def next_allowed(
    now_utc: datetime, tz: ZoneInfo, window: SendingWindow, holidays: frozenset[date] = frozenset()
) -> datetime:
    """``now_utc`` if sending is allowed now, else the first allowed instant after it (in UTC)."""
    if now_utc.tzinfo is None or now_utc.utcoffset() is None:
        raise ValueError("now_utc must be an aware datetime")
    now = now_utc.astimezone(UTC)
    if is_allowed(now, tz, window, holidays):
        return now
    first_day = now.astimezone(tz).date() - timedelta(days=1)
    # Each week has an allowed weekday; each holiday can remove at most one of them.
    horizon = 7 * (len(holidays) + 2) + 2
    found: datetime | None = None
    for offset in range(horizon):
        day = first_day + timedelta(days=offset)
        for candidate in _entry_candidates(day, tz, window):
            if candidate >= now and is_allowed(candidate, tz, window, holidays):
                found = candidate if found is None else min(found, candidate)
        # Candidates of a day lie within a few hours of it; once one is found, the next day
        # (checked too) cannot produce an earlier one after that.
        if found is not None and found.astimezone(tz).date() < day:
            return found
    if found is not None:
        return found
    raise ValueError("no allowed sending time found: the window is never open")
