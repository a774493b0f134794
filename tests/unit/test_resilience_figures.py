"""The resilience suite's own arithmetic (``resilience.figures``): what counts as sent, delivered, failed,
duplicated and lost, the split of the fault mix into the simulator's rules, and the callback retry rule."""

from __future__ import annotations

import pytest

from resilience.callbacks import needs_retry
from resilience.figures import SmsRow, count, rule_ratios, settled, table
from sync_service.simulator import FaultPlan

DELIVERED = SmsRow("pending", provider_state="delivered")


def test_a_clean_campaign_counts_every_key_once() -> None:
    keys = ["a", "b", "c"]
    figures = count("s", keys, {"a": 1, "b": 1, "c": 1}, dict.fromkeys(keys, DELIVERED), seconds=1.5)
    assert (figures.queued, figures.sent, figures.delivered, figures.failed) == (3, 3, 3, 0)
    assert (figures.duplicates, figures.lost, figures.ok) == (0, 0, True)


def test_duplicates_are_keys_the_provider_accepted_twice_even_outside_the_campaign() -> None:
    figures = count("s", ["a", "b"], {"a": 2, "b": 1, "stray": 3}, {"a": DELIVERED, "b": DELIVERED})
    assert figures.duplicates == 2 and figures.duplicate_keys == ("a", "stray")
    assert figures.sent == 2 and not figures.ok


def test_lost_is_neither_delivered_nor_failed_with_a_reason() -> None:
    rows = {
        "delivered": DELIVERED,
        "failed": SmsRow("error", "sms_server 21211 not a valid phone number"),
        "unknown": SmsRow("error", "sms_server unknown_outcome the worker died"),
        "undelivered": SmsRow("pending", "30003", provider_state="undelivered"),
        "still_queued": SmsRow("outgoing"),
        "sent_no_receipt": SmsRow("pending", provider_state="sent"),
        "error_without_reason": SmsRow("error"),
    }
    keys = [*rows, "vanished"]
    figures = count("s", keys, {"delivered": 1, "unknown": 1, "sent_no_receipt": 1}, rows)
    assert figures.delivered == 1
    assert figures.failed == 3 and figures.unknown == 1
    assert set(figures.lost_keys) == {"still_queued", "sent_no_receipt", "error_without_reason", "vanished"}
    assert figures.lost == 4 and not figures.ok
    assert not settled(rows.values())
    assert settled([rows["delivered"], rows["failed"], rows["undelivered"]])


@pytest.mark.parametrize("shares", [[0.07, 0.06, 0.04, 0.03], [0.2], [0.5, 0.3]])
def test_rule_ratios_give_each_fault_its_share_of_all_requests(shares: list[float]) -> None:
    ratios = rule_ratios(shares)
    through, expected = 1.0, []
    for ratio in ratios:
        expected.append(through * ratio)
        through *= 1 - ratio
    assert expected == pytest.approx(shares)


def test_rule_ratios_match_the_simulators_draws() -> None:
    plan = FaultPlan(seed=5)
    for kind, ratio in zip(["http_500", "http_429", "timeout"], rule_ratios([0.1, 0.06, 0.04]), strict=True):
        plan.add(kind, ratio=ratio)
    draws = [plan.draw("twilio") for _ in range(50_000)]
    faulted = sum(fault is not None for fault in draws) / len(draws)
    assert faulted == pytest.approx(0.20, abs=0.01)
    http_500 = sum(fault is not None and fault.kind == "http_500" for fault in draws) / len(draws)
    assert http_500 == pytest.approx(0.10, abs=0.01)


@pytest.mark.parametrize("shares", [[], [0.0], [0.6, 0.4], [-0.1]])
def test_rule_ratios_refuse_impossible_mixes(shares: list[float]) -> None:
    if not shares:
        assert rule_ratios(shares) == []
        return
    with pytest.raises(ValueError):
        rule_ratios(shares)


def test_a_provider_retries_callbacks_without_answer_5xx_and_429_only() -> None:
    assert needs_retry(None) and needs_retry(503) and needs_retry(500) and needs_retry(429)
    assert not needs_retry(200) and not needs_retry(403) and not needs_retry(400)


def test_table_lists_each_scenario_and_its_verdict() -> None:
    ok = count("sigkill", ["a"], {"a": 1}, {"a": DELIVERED}, seconds=12.4)
    bad = count("store-disk", ["a", "b"], {"a": 1}, {"a": DELIVERED}, seconds=3)
    lines = table([ok, bad]).splitlines()
    assert lines[0].startswith("| scenario") and set(lines[1]) <= {"|", "-"}
    assert "sigkill" in lines[2] and lines[2].rstrip(" |").endswith("ok") and "12 s" in lines[2]
    assert "store-disk" in lines[3] and "FAIL" in lines[3]
    assert len({len(line) for line in lines}) == 1
