"""Pure helpers of the lifecycle flows (no Odoo import: table-tested in tests/unit/test_flow_math.py).

- `split_bucket`: which branch of an A/B split with a holdout an enrollment falls in (stable per key);
- `next_local_time`: the first moment at or after a time, at a time of day in the recipient's zone;
- `conversion_lift`, `revenue_lift`: the difference between a branch and the holdout, with a normal
  (Wald / Welch) confidence interval.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Two-sided normal quantiles for the usual confidence levels.
Z_VALUES = {0.80: 1.2815515655446004, 0.90: 1.6448536269514722, 0.95: 1.959963984540054,
            0.99: 2.5758293035489004}


def split_bucket(key: str, holdout_percent: float, a_percent: float) -> str:
    """'holdout', 'a' or 'b' for `key` ("flow id/enrollment id"): the first `holdout_percent` % of all keys
    are held out; of the others, `a_percent` % go to A and the rest to B. Stable: the same key always lands in
    the same branch (a re-run never moves a contact), spread evenly by SHA-256."""
    digest = hashlib.sha256(key.encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
    holdout = max(0.0, min(100.0, holdout_percent)) / 100
    if u < holdout:
        return "holdout"
    rest = (u - holdout) / (1 - holdout) if holdout < 1 else 0.0
    return "a" if rest < max(0.0, min(100.0, a_percent)) / 100 else "b"


def next_local_time(after: datetime, hour: float, zone: str) -> datetime:
    """The first moment >= `after` (naive UTC) that is `hour` (e.g. 18.5 = 18:30) local time in `zone`; naive
    UTC. On a day that skips that local time (DST gap) it is taken with the offset before the change."""
    tz = ZoneInfo(zone)
    local = after.replace(tzinfo=UTC).astimezone(tz)
    hours, minutes = int(hour), round((hour - int(hour)) * 60)
    if minutes == 60:
        hours, minutes = hours + 1, 0
    wanted = time(hours % 24, minutes)
    for days in range(3):
        day = local.date() + timedelta(days=days)
        candidate = datetime.combine(day, wanted, tzinfo=tz)
        utc = candidate.astimezone(UTC)  # a time skipped by a DST change: one hour later
        if utc.replace(tzinfo=None) >= after:
            return utc.replace(tzinfo=None)
    raise AssertionError("unreachable: a time of day recurs within three days")


@dataclass(frozen=True)
class Lift:
    """A branch against the holdout: each one's rate (or mean), their difference with its confidence interval,
    and the relative lift (difference / holdout; None when the holdout's value is 0)."""

    treated: float
    holdout: float
    difference: float
    low: float
    high: float
    relative: float | None
    significant: bool


def _lift(treated: float, holdout: float, variance: float, confidence: float) -> Lift:
    z = Z_VALUES[confidence]
    half = z * math.sqrt(max(variance, 0.0))
    diff = treated - holdout
    return Lift(treated, holdout, diff, diff - half, diff + half,
                diff / holdout if holdout else None, diff - half > 0 or diff + half < 0)


def conversion_lift(n_treated: int, conv_treated: int, n_holdout: int, conv_holdout: int,
                    confidence: float = 0.95) -> Lift | None:
    """Conversion rate of the treated minus the holdout's, with a Wald interval:
    (p_t - p_h) ± z·sqrt(p_t(1-p_t)/n_t + p_h(1-p_h)/n_h). None without contacts on either side."""
    if n_treated <= 0 or n_holdout <= 0:
        return None
    p_t, p_h = conv_treated / n_treated, conv_holdout / n_holdout
    variance = p_t * (1 - p_t) / n_treated + p_h * (1 - p_h) / n_holdout
    return _lift(p_t, p_h, variance, confidence)


def _sample_variance(n: int, total: float, total_sq: float) -> float:
    if n < 2:
        return 0.0
    return max((total_sq - total * total / n) / (n - 1), 0.0)


def revenue_lift(n_treated: int, sum_treated: float, sumsq_treated: float, n_holdout: int, sum_holdout: float,
                 sumsq_holdout: float, confidence: float = 0.95) -> Lift | None:
    """Revenue per contact of the treated minus the holdout's (every contact counts, 0 when it did not buy),
    with a Welch normal interval: (m_t - m_h) ± z·sqrt(s_t²/n_t + s_h²/n_h), s² the sample variances computed
    from the sums and sums of squares."""
    if n_treated <= 0 or n_holdout <= 0:
        return None
    m_t, m_h = sum_treated / n_treated, sum_holdout / n_holdout
    variance = (_sample_variance(n_treated, sum_treated, sumsq_treated) / n_treated
                + _sample_variance(n_holdout, sum_holdout, sumsq_holdout) / n_holdout)
    return _lift(m_t, m_h, variance, confidence)
