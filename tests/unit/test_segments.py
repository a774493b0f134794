import pytest

from sync_service.core.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SegmentInfo,
    count_segments,
    is_gsm7,
    non_gsm7_characters,
)

EMOJI = "\N{GRINNING FACE}"  # U+1F600, outside the BMP: a surrogate pair in UTF-16


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SegmentInfo("GSM-7", 0, 0, 0, 160)),
        ("Hello", SegmentInfo("GSM-7", 5, 5, 1, 160)),
        ("a" * 160, SegmentInfo("GSM-7", 160, 160, 1, 160)),
        ("a" * 161, SegmentInfo("GSM-7", 161, 161, 2, 153)),
        ("a" * 306, SegmentInfo("GSM-7", 306, 306, 2, 153)),
        ("a" * 307, SegmentInfo("GSM-7", 307, 307, 3, 153)),
        ("a" * 459, SegmentInfo("GSM-7", 459, 459, 3, 153)),
        ("a" * 460, SegmentInfo("GSM-7", 460, 460, 4, 153)),
        # é, è, à, ù, ì, ò, Ç and É are in the GSM-7 default alphabet.
        ("é" * 160, SegmentInfo("GSM-7", 160, 160, 1, 160)),
        ("Ç" * 160, SegmentInfo("GSM-7", 160, 160, 1, 160)),
        ("Réservez à 20h, dès maintenant ! Ça part vite.", SegmentInfo("GSM-7", 46, 46, 1, 160)),
        # Extension table: two septets each.
        ("€", SegmentInfo("GSM-7", 1, 2, 1, 160)),
        ("€" * 80, SegmentInfo("GSM-7", 80, 160, 1, 160)),
        ("€" * 81, SegmentInfo("GSM-7", 81, 162, 2, 153)),
        ("a" * 159 + "€", SegmentInfo("GSM-7", 160, 161, 2, 153)),
        ("^{}\\[~]|\f", SegmentInfo("GSM-7", 9, 18, 1, 160)),
        # An escape pair is never split: 152 + [€] does not fit in 153, so € opens part 2.
        ("a" * 152 + "€" + "a" * 152, SegmentInfo("GSM-7", 305, 306, 3, 153)),
        ("a" * 151 + "€" + "a" * 153, SegmentInfo("GSM-7", 305, 306, 2, 153)),
        # ç (lower case) is NOT in GSM-7 (only Ç is): the whole message becomes UCS-2.
        ("ç", SegmentInfo("UCS-2", 1, 1, 1, 70)),
        ("ç" * 70, SegmentInfo("UCS-2", 70, 70, 1, 70)),
        ("ç" * 71, SegmentInfo("UCS-2", 71, 71, 2, 67)),
        ("ç" * 134, SegmentInfo("UCS-2", 134, 134, 2, 67)),
        ("ç" * 135, SegmentInfo("UCS-2", 135, 135, 3, 67)),
        ("a" * 69 + "ê", SegmentInfo("UCS-2", 70, 70, 1, 70)),
        # Curly apostrophe (U+2019) is not GSM-7.
        ("C’est parti", SegmentInfo("UCS-2", 11, 11, 1, 70)),
        # One emoji turns everything into UCS-2 and counts two code units.
        (EMOJI, SegmentInfo("UCS-2", 1, 2, 1, 70)),
        ("a" * 159 + EMOJI, SegmentInfo("UCS-2", 160, 161, 3, 67)),
        (EMOJI * 35, SegmentInfo("UCS-2", 35, 70, 1, 70)),
        (EMOJI * 36, SegmentInfo("UCS-2", 36, 72, 2, 67)),
        # A surrogate pair is never split: 66 + [2] does not fit in 67.
        ("a" * 66 + EMOJI + "a" * 66, SegmentInfo("UCS-2", 133, 134, 3, 67)),
        ("a" * 65 + EMOJI + "a" * 67, SegmentInfo("UCS-2", 133, 134, 2, 67)),
        # The edge of the Basic Multilingual Plane: U+FFFF is the last one-unit character, U+10000 (the first
        # supplementary one, a Linear B syllable) already takes a surrogate pair.
        ("\uffff", SegmentInfo("UCS-2", 1, 1, 1, 70)),
        ("\U00010000", SegmentInfo("UCS-2", 1, 2, 1, 70)),
        # In UCS-2 the extension characters are plain BMP characters: one unit.
        ("€ç", SegmentInfo("UCS-2", 2, 2, 1, 70)),
    ],
)
def test_count_segments(text: str, expected: SegmentInfo) -> None:
    assert count_segments(text) == expected


def test_gsm7_default_alphabet_size() -> None:
    # 128 positions, one of them (0x1B) being the escape to the extension table.
    assert len(GSM7_BASIC) == 127
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION


@pytest.mark.parametrize(
    ("char", "basic"),
    [
        ("@", True),
        ("£", True),
        ("¤", True),
        ("¥", True),
        ("§", True),
        ("¡", True),
        ("¿", True),
        ("Δ", True),
        ("Ø", True),
        ("ß", True),
        ("ñ", True),
        ("ü", True),
        ("\n", True),
        ("\r", True),
        ("ç", False),
        ("ê", False),
        ("â", False),
        ("œ", False),
        ("á", False),
        ("`", False),
        ("\x1b", False),
        ("\u00a0", False),
        ("€", False),
    ],
)
def test_basic_alphabet_membership(char: str, basic: bool) -> None:
    assert (char in GSM7_BASIC) is basic


@pytest.mark.parametrize(
    ("text", "gsm", "offenders"),
    [
        ("Promo -20% sur tout !", True, ()),
        ("Prix : 10€ {code}", True, ()),
        ("Ça coûte ’peu’ 😀", False, ("û", "’", EMOJI)),
        ("ççç", False, ("ç",)),
        ("", True, ()),
    ],
)
def test_gsm7_detection(text: str, gsm: bool, offenders: tuple[str, ...]) -> None:
    assert is_gsm7(text) is gsm
    assert non_gsm7_characters(text) == offenders
