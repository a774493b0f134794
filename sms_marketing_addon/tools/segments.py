"""SMS segment counting (GSM 03.38 / 3GPP TS 23.038), pure Python.

Kept in step with ``sync_service/core/segments.py`` (the service and the addon deploy separately, so
neither imports the other): both must give the same encoding, units and segment count for a text.

A text made only of GSM-7 default-alphabet characters is sent in GSM-7: 160 septets in a single SMS,
153 per part once a concatenation header is needed. Characters of the extension table are sent as
ESC + code and cost two septets; the pair is never split between parts. Any other character switches
the whole message to UCS-2: 70 UTF-16 code units in a single SMS, 67 per part; characters outside the
BMP (most emoji) take two code units, and a surrogate pair is never split between parts either.
"""

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# The 128 positions of the GSM 03.38 default alphabet, in code order. Position 0x1B is the escape to
# the extension table and is no character of its own.
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
GSM7_BASIC = frozenset(_GSM7_TABLE) - {"\x1b"}
# Extension table characters (ESC + code): form feed, ^ { } \ [ ~ ] | €.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE = 160
GSM7_MULTI = 153
UCS2_SINGLE = 70
UCS2_MULTI = 67


def is_gsm7(text):
    """True when every character of ``text`` exists in GSM-7 (basic or extension table)."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text or "")


def non_gsm7_characters(text):
    """Characters that force UCS-2, each once, in order of first appearance."""
    seen = {}
    for ch in text or "":
        if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION:
            seen.setdefault(ch, None)
    return list(seen)


def _gsm7_cost(ch):
    return 2 if ch in GSM7_EXTENSION else 1


def _ucs2_cost(ch):
    return 2 if ord(ch) > 0xFFFF else 1


def _pack(costs, capacity):
    """Number of parts when units are packed greedily without splitting a character."""
    parts = 1
    used = 0
    for cost in costs:
        if used + cost > capacity:
            parts += 1
            used = 0
        used += cost
    return parts


def count_segments(text):
    """Encoding, size and number of SMS segments of ``text``.

    Returns a dict: ``encoding`` ('GSM-7' or 'UCS-2'), ``characters`` (Unicode code points),
    ``units`` (septets in GSM-7, UTF-16 code units in UCS-2), ``segments`` (0 for an empty text),
    ``per_segment`` (capacity of one segment of this message, single-part or multipart) and
    ``non_gsm`` (the characters forcing UCS-2, each once, in order of appearance).
    """
    text = text or ""
    non_gsm = non_gsm7_characters(text)
    gsm = not non_gsm
    costs = [_gsm7_cost(ch) if gsm else _ucs2_cost(ch) for ch in text]
    units = sum(costs)
    single, multi = (GSM7_SINGLE, GSM7_MULTI) if gsm else (UCS2_SINGLE, UCS2_MULTI)
    result = {
        "encoding": GSM7 if gsm else UCS2,
        "characters": len(text),
        "units": units,
        "segments": 1,
        "per_segment": single,
        "non_gsm": non_gsm,
    }
    if units == 0:
        result.update(characters=0, segments=0)
    elif units > single:
        result.update(segments=_pack(costs, multi), per_segment=multi)
    return result
