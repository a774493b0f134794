"""SMS segment counting (GSM 03.38 / 3GPP TS 23.038).

A text made only of GSM-7 default-alphabet characters is sent in GSM-7: 160 septets in a
single SMS, 153 per part once a concatenation header is needed. Characters of the extension
table are sent as ESC + code and cost two septets; the pair is never split between parts.
Any other character switches the whole message to UCS-2: 70 UTF-16 code units in a single
SMS, 67 per part; characters outside the BMP (most emoji) take two code units, and a
surrogate pair is never split between parts either.
"""

from dataclasses import dataclass
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

# The 128 positions of the GSM 03.38 default alphabet, in code order. Position 0x1B is the
# escape to the extension table and is no character of its own.
_GSM7_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
GSM7_BASIC: frozenset[str] = frozenset(_GSM7_TABLE) - {"\x1b"}
# Extension table characters (ESC + code): form feed, ^ { } \ [ ~ ] | €.
GSM7_EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE = 160
GSM7_MULTI = 153
UCS2_SINGLE = 70
UCS2_MULTI = 67


@dataclass(frozen=True)
class SegmentInfo:
    """How a text will be sent.

    ``characters`` counts Unicode code points; ``units`` counts septets (GSM-7) or UTF-16
    code units (UCS-2); ``per_segment`` is the capacity of one segment in those units for
    this message (single-part or multipart capacity).
    """

    encoding: Encoding
    characters: int
    units: int
    segments: int
    per_segment: int


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` exists in GSM-7 (basic or extension table)."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def non_gsm7_characters(text: str) -> tuple[str, ...]:
    """Characters that force UCS-2, each once, in order of first appearance."""
    seen: dict[str, None] = {}
    for ch in text:
        if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION:
            seen.setdefault(ch, None)
    return tuple(seen)


def _gsm7_cost(ch: str) -> int:
    return 2 if ch in GSM7_EXTENSION else 1


def _ucs2_cost(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def _pack(costs: list[int], capacity: int) -> int:
    """Number of parts when units are packed greedily without splitting a character."""
    parts = 1
    used = 0
    for cost in costs:
        if used + cost > capacity:
            parts += 1
            used = 0
        used += cost
    return parts


def count_segments(text: str) -> SegmentInfo:
    """Encoding, size and number of SMS segments of ``text``."""
    gsm = is_gsm7(text)
    costs = [_gsm7_cost(ch) if gsm else _ucs2_cost(ch) for ch in text]
    units = sum(costs)
    single, multi = (GSM7_SINGLE, GSM7_MULTI) if gsm else (UCS2_SINGLE, UCS2_MULTI)
    encoding: Encoding = "GSM-7" if gsm else "UCS-2"
    if units == 0:
        return SegmentInfo(encoding, 0, 0, 0, single)
    if units <= single:
        return SegmentInfo(encoding, len(text), units, 1, single)
    return SegmentInfo(encoding, len(text), units, _pack(costs, multi), multi)
