"""Table tests of the flows' pure helpers (sms_marketing_addon/tools/flow_math.py, loaded without Odoo): the
lift over the holdout against hand computations, the split and the time of day in the recipient's zone."""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from collections import Counter
from datetime import datetime

import pytest

_PATH = pathlib.Path(__file__).resolve().parents[2] / "sms_marketing_addon" / "tools" / "flow_math.py"
_SPEC = importlib.util.spec_from_file_location("flow_math", _PATH)
assert _SPEC and _SPEC.loader
fm = importlib.util.module_from_spec(_SPEC)
sys.modules["flow_math"] = fm
_SPEC.loader.exec_module(fm)


# Hand computations (z = 1.959964 at 95 %):
# 1. treated 90/900 = 0.10, holdout 5/100 = 0.05: var = .1*.9/900 + .05*.95/100 = .0001 + .000475 = .000575,
#    sqrt = .0239792, half-width = .0469984 -> difference .05 in [.0030016, .0969984], relative +100 %.
# 2. treated 45/450 = holdout 10/100 = 0.10: var = .09/450 + .09/100 = .0011, sqrt = .0331662,
#    half-width = .0650045 -> difference 0 in [-.0650045, .0650045], not significant, relative 0.
# 3. holdout with no conversion: relative lift undefined (None).
@pytest.mark.parametrize(("args", "diff", "low", "high", "relative", "significant"), [
    ((900, 90, 100, 5), 0.05, 0.0030016, 0.0969984, 1.0, True),
    ((450, 45, 100, 10), 0.0, -0.0650045, 0.0650045, 0.0, False),
    ((100, 10, 100, 0), 0.1, 0.0412006, 0.1587994, None, True),
])
def test_conversion_lift_matches_the_hand_computation(args, diff, low, high, relative, significant):
    lift = fm.conversion_lift(*args)
    assert lift.difference == pytest.approx(diff, abs=1e-7)
    assert (lift.low, lift.high) == (pytest.approx(low, abs=1e-6), pytest.approx(high, abs=1e-6))
    assert lift.relative == (pytest.approx(relative) if relative is not None else None)
    assert lift.significant is significant


def test_conversion_lift_needs_both_sides():
    assert fm.conversion_lift(0, 0, 10, 1) is None
    assert fm.conversion_lift(10, 1, 0, 0) is None


def test_revenue_lift_matches_the_hand_computation():
    # Treated revenues per contact [0, 10, 20]: n 3, sum 30, sumsq 500, mean 10, s² = (500-300)/2 = 100.
    # Holdout [0, 0, 10, 10]: n 4, sum 20, sumsq 200, mean 5, s² = (200-100)/3 = 33.33.
    # var = 100/3 + 33.33/4 = 41.6667, sqrt = 6.45497, half-width = 12.65150 -> 5 in [-7.6515, 17.6515].
    lift = fm.revenue_lift(3, 30.0, 500.0, 4, 20.0, 200.0)
    assert (lift.treated, lift.holdout, lift.difference) == (10.0, 5.0, 5.0)
    assert lift.low == pytest.approx(-7.6515, abs=1e-4)
    assert lift.high == pytest.approx(17.6515, abs=1e-4)
    assert lift.relative == pytest.approx(1.0)
    assert not lift.significant


def test_split_is_stable_and_close_to_the_shares():
    counts = Counter(fm.split_bucket(f"7/{i}", 10, 50) for i in range(10000))
    assert fm.split_bucket("7/1", 10, 50) == fm.split_bucket("7/1", 10, 50)
    assert 900 <= counts["holdout"] <= 1100
    assert 4300 <= counts["a"] <= 4700 and 4300 <= counts["b"] <= 4700
    assert set(Counter(fm.split_bucket(f"k{i}", 0, 100) for i in range(200))) == {"a"}
    assert set(Counter(fm.split_bucket(f"k{i}", 100, 50) for i in range(200))) == {"holdout"}


@pytest.mark.parametrize(("after", "hour", "zone", "expected"), [
    # Paris is UTC+1 in November: 18:00 local = 17:00 UTC, the same day or the next.
    (datetime(2026, 11, 24, 9, 0), 18.0, "Europe/Paris", datetime(2026, 11, 24, 17, 0)),
    (datetime(2026, 11, 24, 18, 0), 18.0, "Europe/Paris", datetime(2026, 11, 25, 17, 0)),
    (datetime(2026, 11, 24, 17, 0), 18.0, "Europe/Paris", datetime(2026, 11, 24, 17, 0)),
    # New York on its DST day (8 March 2026, UTC-4 from 02:00): 09:30 local = 13:30 UTC.
    (datetime(2026, 3, 8, 12, 0), 9.5, "America/New_York", datetime(2026, 3, 8, 13, 30)),
    # Paris 29 March 2026 has no 02:30: taken with the winter offset, 01:30 UTC (03:30 summer time).
    (datetime(2026, 3, 29, 0, 0), 2.5, "Europe/Paris", datetime(2026, 3, 29, 1, 30)),
])
def test_next_local_time(after, hour, zone, expected):
    assert fm.next_local_time(after, hour, zone) == expected
