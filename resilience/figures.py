"""The suite's arithmetic, kept pure: what a scenario's records say (sent, delivered, duplicates, lost),
how the fault mix is split into the simulator's rules, and the printed table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

UNKNOWN_OUTCOME = "unknown_outcome"


@dataclass(frozen=True)
class SmsRow:
    """What Odoo shows for one queued SMS (``sms.sms``) and its provider message, if any."""

    state: str  # sms.sms state: outgoing, pending, error, canceled, ...
    failure: str = ""  # failure_type and/or last error: the recorded reason, empty when none
    provider_state: str | None = None  # sms.provider.message state: sent, delivered, undelivered, failed


@dataclass(frozen=True)
class Figures:
    """One scenario's result. ``lost``: queued, and neither delivered nor failed with a recorded reason."""

    scenario: str
    queued: int
    sent: int  # keys the provider (simulator) accepted, each counted once
    delivered: int  # Odoo shows the provider message delivered
    failed: int  # Odoo shows a failure with a recorded reason (unknown outcome included)
    unknown: int  # of which: 'unknown outcome' (a worker died between recording the send and its answer)
    duplicates: int  # keys the provider accepted more than once
    lost: int
    seconds: float = 0.0
    lost_keys: tuple[str, ...] = field(default=(), repr=False)
    duplicate_keys: tuple[str, ...] = field(default=(), repr=False)

    @property
    def ok(self) -> bool:
        return self.duplicates == 0 and self.lost == 0


def count(
    scenario: str, keys: Sequence[str], accepted: Mapping[str, int], rows: Mapping[str, SmsRow],
    seconds: float = 0.0,
) -> Figures:
    """The figures of one scenario from the provider's per-key counts and Odoo's rows.

    ``keys``: the campaign's SMS keys (Odoo uuids); ``accepted``: the simulator's accepted messages per
    key (every key it saw, the campaign's or not: a stray key counted twice is a duplicate too);
    ``rows``: Odoo's view per key (a key missing from ``rows`` vanished from Odoo: lost).
    """
    campaign = set(keys)
    sent = sum(1 for key in campaign if accepted.get(key, 0) >= 1)
    duplicate_keys = sorted(key for key, n in accepted.items() if n > 1)
    delivered, failed, unknown, lost = set(), set(), set(), []
    for key in keys:
        row = rows.get(key)
        if row is None:
            lost.append(key)
        elif row.provider_state == "delivered":
            delivered.add(key)
        elif failed_with_reason(row):
            failed.add(key)
            if UNKNOWN_OUTCOME in row.failure:
                unknown.add(key)
        else:
            lost.append(key)
    return Figures(
        scenario=scenario, queued=len(campaign), sent=sent, delivered=len(delivered), failed=len(failed),
        unknown=len(unknown), duplicates=len(duplicate_keys), lost=len(lost), seconds=seconds,
        lost_keys=tuple(lost), duplicate_keys=tuple(duplicate_keys),
    )


def settled(rows: Iterable[SmsRow]) -> bool:
    """Every row delivered or failed with a reason: the campaign has drained."""
    return all(
        row.provider_state == "delivered"
        or failed_with_reason(row)
        for row in rows
    )


def failed_with_reason(row: SmsRow) -> bool:
    """Odoo shows the SMS failed (or its delivery failed) and records why."""
    failed = row.state in ("error", "canceled") or row.provider_state in ("undelivered", "failed")
    return failed and bool(row.failure)


def rule_ratios(shares: Sequence[float]) -> list[float]:
    """Per-rule ratios giving each fault its share of ALL requests.

    The simulator draws its rules in order and the first that fires wins, so a later rule only sees
    the requests the earlier ones let through: rule i needs ``share_i / (1 - sum of earlier shares)``.
    """
    if any(share <= 0 for share in shares) or sum(shares) >= 1:
        raise ValueError(f"shares must be positive and sum below 1, got {list(shares)}")
    ratios, before = [], 0.0
    for share in shares:
        ratios.append(share / (1.0 - before))
        before += share
    return ratios


HEADER = ("scenario", "queued", "sent", "delivered", "failed (reason)", "of which unknown outcome",
          "duplicates", "lost", "duration", "result")


def table(results: Sequence[Figures]) -> str:
    """A plain-text table (also valid Markdown) of the scenarios' figures."""
    body = [
        (f.scenario, f"{f.queued:,}", f"{f.sent:,}", f"{f.delivered:,}", f"{f.failed:,}", f"{f.unknown:,}",
         f"{f.duplicates:,}", f"{f.lost:,}", f"{f.seconds:.0f} s", "ok" if f.ok else "FAIL")
        for f in results
    ]
    widths = [max(len(row[i]) for row in [HEADER, *body]) for i in range(len(HEADER))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ) + " |"

    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(HEADER), rule, *(line(row) for row in body)])
