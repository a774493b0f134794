"""Table tests of the gate's pure helpers: which zones a recipient may be in, and when a window is open in all
of them (sms_marketing_addon/tools/recipient_zones.py, loaded without Odoo)."""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from datetime import date, datetime

import pytest

_PATH = pathlib.Path(__file__).resolve().parents[2] / "sms_marketing_addon" / "tools" / "recipient_zones.py"
_SPEC = importlib.util.spec_from_file_location("recipient_zones", _PATH)
assert _SPEC and _SPEC.loader
rz = importlib.util.module_from_spec(_SPEC)
sys.modules["recipient_zones"] = rz
_SPEC.loader.exec_module(rz)

AU_ALL = (
    "Antarctica/Macquarie",
    "Australia/Adelaide",
    "Australia/Brisbane",
    "Australia/Broken_Hill",
    "Australia/Darwin",
    "Australia/Eucla",
    "Australia/Hobart",
    "Australia/Lindeman",
    "Australia/Lord_Howe",
    "Australia/Melbourne",
    "Australia/Perth",
    "Australia/Sydney",
)


@pytest.mark.parametrize(
    ("number", "contact_tz", "contact_country", "contact_state", "zones", "region", "state", "source"),
    [
        # Countries with several zones: every one of them, never the alphabetically first alone.
        ("+34612345678", None, None, None, ("Atlantic/Canary", "Europe/Madrid"), "ES", None, "number"),
        ("+351912345678", None, None, None, ("Atlantic/Azores", "Europe/Lisbon"), "PT", None, "number"),
        ("+61412345678", None, None, None, AU_ALL, "AU", None, "number"),
        (
            "+19072223333",
            None,
            None,
            None,
            ("America/Adak", "America/Anchorage", "America/Juneau", "Pacific/Honolulu"),
            "US",
            "AK",
            "number",
        ),
        # The contact's zone wins when it belongs to the number's country.
        ("+34612345678", "Europe/Madrid", "ES", None, ("Europe/Madrid",), "ES", None, "contact"),
        ("+61412345678", "Australia/Perth", "AU", None, ("Australia/Perth",), "AU", None, "contact"),
        ("+79161234567", "Europe/Moscow", "RU", None, ("Europe/Moscow",), "RU", None, "contact"),
        ("+17015550123", "America/Chicago", "US", None, ("America/Chicago",), "US", "ND", "contact"),
        (
            "+12125550123",
            "America/Los_Angeles",
            "US",
            None,
            ("America/Los_Angeles",),
            "US",
            "NY",
            "contact",
        ),
        ("+5581991234567", "America/Recife", "BR", None, ("America/Recife",), "BR", "PE", "contact"),
        # ...and in the overseas territories of the number's country (a +33 6 mobile kept in Réunion).
        ("+33612345678", "Indian/Reunion", "RE", None, ("Indian/Reunion",), "FR", None, "contact"),
        # A zone from another country (often the zone of the user who created the contact) is not used.
        ("+12125550123", "Europe/Paris", "FR", None, ("America/New_York",), "US", "NY", "number"),
        ("+262692123456", "Europe/Paris", "FR", None, ("Indian/Reunion",), "RE", None, "number"),
        (
            "+34612345678",
            "Not/AZone",
            "ES",
            None,
            ("Atlantic/Canary", "Europe/Madrid"),
            "ES",
            None,
            "number",
        ),
        # NANP outside the US: the country's own zone, never the whole +1 list.
        ("+18762101234", None, None, None, ("America/Jamaica",), "JM", None, "number"),
        ("+12462501234", None, None, None, ("America/Barbados",), "BB", None, "number"),
        ("+15062345678", None, None, None, ("America/Halifax",), "CA", "NB", "number"),
        # Pernambuco is Recife time (Fernando de Noronha shares the area code).
        ("+5581991234567", None, None, None, ("America/Noronha", "America/Recife"), "BR", "PE", "number"),
        ("+5511991234567", None, None, None, ("America/Sao_Paulo",), "BR", None, "number"),
        # French overseas departments in their own time.
        ("+262692123456", None, None, None, ("Indian/Reunion",), "RE", None, "number"),
        ("+262639012345", None, None, None, ("Indian/Mayotte",), "YT", None, "number"),
        ("+590690001234", None, None, None, ("America/Guadeloupe",), "GP", None, "number"),
        ("+596696201234", None, None, None, ("America/Martinique",), "MQ", None, "number"),
        ("+594694201234", None, None, None, ("America/Cayenne",), "GF", None, "number"),
        # US states by area code when the contact has none; the contact's state wins for the rules.
        ("+13055550123", None, None, None, ("America/New_York",), "US", "FL", "number"),
        ("+14105550123", None, None, None, ("America/New_York",), "US", "MD", "number"),
        ("+14055550123", None, None, None, ("America/Chicago",), "US", "OK", "number"),
        ("+12145550123", None, "US", "TX", ("America/Chicago",), "US", "TX", "number"),
        (
            "+12125550123",
            None,
            "US",
            "CA",
            ("America/Los_Angeles", "America/New_York"),
            "US",
            "CA",
            "number and contact's state",
        ),
        ("+12125550123", None, "FR", "CA", ("America/New_York",), "US", "NY", "number"),
        ("+18505550123", None, None, None, ("America/Chicago", "America/New_York"), "US", "FL", "number"),
        # Nothing to go on: the contact's zone, else the company's, else UTC.
        ("not a number", "Europe/Paris", None, None, ("Europe/Paris",), None, None, "contact"),
        (None, None, None, None, ("UTC",), None, None, "fallback"),
    ],
)
def test_resolve(number, contact_tz, contact_country, contact_state, zones, region, state, source):
    got = rz.resolve(number, contact_tz, contact_country, contact_state)
    assert got == rz.Resolution(zones, region, state, source)


def test_fallback_to_the_company_zone():
    assert rz.resolve("garbage", None, default_tz="Europe/Paris").zones == ("Europe/Paris",)


def test_area_code_table_has_its_source_and_states():
    table = rz.prefix_table()
    assert len(table) > 400
    us = [row for prefix, row in table.items() if row.region == "US"]
    assert all(row.state and row.zones and row.source for row in us)
    assert rz.state_zones("US", "FL") == ("America/Chicago", "America/New_York")
    assert rz.DATA.read_text().startswith("# Generated by scripts/gen_recipient_zones.py on ")


# ------------------------------------------------------------------------------------------ windows
WEEK_8_21 = rz.Window(((8, 21),) * 7)
FR_2026 = rz.Window(((8, 21.5),) * 6 + (None,), frozenset({date(2026, 7, 14)}))
TX = rz.Window(((9, 21),) * 6 + ((12, 21),))


@pytest.mark.parametrize(
    ("now", "zone", "window", "expected"),
    [
        # Boundaries: the opening minute goes, the closing minute and one minute after do not.
        (datetime(2026, 11, 24, 13, 0), "America/New_York", WEEK_8_21, datetime(2026, 11, 24, 13, 0)),
        (datetime(2026, 11, 24, 12, 59), "America/New_York", WEEK_8_21, datetime(2026, 11, 24, 13, 0)),
        (datetime(2026, 11, 25, 1, 59), "America/New_York", WEEK_8_21, datetime(2026, 11, 25, 1, 59)),
        (datetime(2026, 11, 25, 2, 0), "America/New_York", WEEK_8_21, datetime(2026, 11, 25, 13, 0)),
        (datetime(2026, 11, 25, 2, 1), "America/New_York", WEEK_8_21, datetime(2026, 11, 25, 13, 0)),
        # France 2026: until 21:30, no Sunday, no 14 July.
        (datetime(2026, 11, 24, 20, 29), "Europe/Paris", FR_2026, datetime(2026, 11, 24, 20, 29)),
        (datetime(2026, 11, 24, 20, 30), "Europe/Paris", FR_2026, datetime(2026, 11, 25, 7, 0)),
        (datetime(2026, 11, 28, 20, 31), "Europe/Paris", FR_2026, datetime(2026, 11, 30, 7, 0)),
        (datetime(2026, 7, 13, 20, 0), "Europe/Paris", FR_2026, datetime(2026, 7, 15, 6, 0)),
        # Texas: Sunday opens at noon.
        (datetime(2026, 11, 29, 14, 0), "America/Chicago", TX, datetime(2026, 11, 29, 18, 0)),
        (datetime(2026, 11, 30, 14, 0), "America/Chicago", TX, datetime(2026, 11, 30, 15, 0)),
        # Daylight saving: US (8 Mar / 1 Nov 2026), EU (29 Mar / 25 Oct 2026), Australia (5 Apr / 4 Oct 2026),
        # Brazil (last DST: 4 Nov 2018 / 17 Feb 2019).
        (datetime(2026, 3, 8, 5, 0), "America/New_York", WEEK_8_21, datetime(2026, 3, 8, 12, 0)),
        (datetime(2026, 3, 7, 5, 0), "America/New_York", WEEK_8_21, datetime(2026, 3, 7, 13, 0)),
        (datetime(2026, 11, 1, 5, 0), "America/New_York", WEEK_8_21, datetime(2026, 11, 1, 13, 0)),
        (datetime(2026, 11, 1, 1, 0), "America/New_York", WEEK_8_21, datetime(2026, 11, 1, 13, 0)),
        (datetime(2026, 3, 29, 0, 0), "Europe/Paris", WEEK_8_21, datetime(2026, 3, 29, 6, 0)),
        (datetime(2026, 3, 28, 20, 0), "Europe/Paris", WEEK_8_21, datetime(2026, 3, 29, 6, 0)),
        (datetime(2026, 10, 25, 0, 0), "Europe/Paris", WEEK_8_21, datetime(2026, 10, 25, 7, 0)),
        (datetime(2026, 10, 24, 18, 59), "Europe/Paris", WEEK_8_21, datetime(2026, 10, 24, 18, 59)),
        (datetime(2026, 10, 24, 19, 0), "Europe/Paris", WEEK_8_21, datetime(2026, 10, 25, 7, 0)),
        (datetime(2026, 4, 4, 12, 0), "Australia/Sydney", WEEK_8_21, datetime(2026, 4, 4, 22, 0)),
        (datetime(2026, 10, 3, 12, 0), "Australia/Sydney", WEEK_8_21, datetime(2026, 10, 3, 21, 0)),
        (datetime(2026, 10, 3, 21, 0), "Australia/Sydney", WEEK_8_21, datetime(2026, 10, 3, 21, 0)),
        (datetime(2018, 11, 3, 23, 30), "America/Sao_Paulo", WEEK_8_21, datetime(2018, 11, 3, 23, 30)),
        (datetime(2018, 11, 4, 1, 0), "America/Sao_Paulo", WEEK_8_21, datetime(2018, 11, 4, 10, 0)),
        (datetime(2019, 2, 16, 22, 30), "America/Sao_Paulo", WEEK_8_21, datetime(2019, 2, 16, 22, 30)),
        (datetime(2019, 2, 16, 23, 30), "America/Sao_Paulo", WEEK_8_21, datetime(2019, 2, 17, 11, 0)),
        (datetime(2019, 2, 17, 0, 0), "America/Sao_Paulo", WEEK_8_21, datetime(2019, 2, 17, 11, 0)),
        # Until midnight: the window of the day before is still open at 23:59 local.
        (
            datetime(2026, 11, 24, 22, 59),
            "Europe/Paris",
            rz.Window(((8, 24),) * 7),
            datetime(2026, 11, 24, 22, 59),
        ),
    ],
)
def test_next_allowed(now, zone, window, expected):
    assert rz.next_allowed(now, zone, window) == expected


def test_no_window_within_the_horizon_is_none():
    never = rz.Window(
        ((8, 9),) + (None,) * 6, frozenset(date(2026, 11, d) for d in (30,)) | {date(2026, 12, 7)}
    )
    assert rz.next_allowed(datetime(2026, 11, 24, 12, 0), "Europe/Paris", never) is None


@pytest.mark.parametrize(
    ("now", "zones", "expected"),
    [
        # Madrid and the Canaries, 08:00-21:00 in both: from 08:00 Canary (09:00 Madrid) to 21:00 Madrid.
        (datetime(2026, 11, 24, 7, 30), ("Europe/Madrid", "Atlantic/Canary"), datetime(2026, 11, 24, 8, 0)),
        (
            datetime(2026, 11, 24, 19, 59),
            ("Europe/Madrid", "Atlantic/Canary"),
            datetime(2026, 11, 24, 19, 59),
        ),
        (datetime(2026, 11, 24, 20, 0), ("Europe/Madrid", "Atlantic/Canary"), datetime(2026, 11, 25, 8, 0)),
        # New York and Los Angeles: 08:00 LA (16:00 UTC) to 21:00 NY (02:00 UTC).
        (
            datetime(2026, 11, 24, 13, 0),
            ("America/New_York", "America/Los_Angeles"),
            datetime(2026, 11, 24, 16, 0),
        ),
        (
            datetime(2026, 11, 25, 1, 59),
            ("America/New_York", "America/Los_Angeles"),
            datetime(2026, 11, 25, 1, 59),
        ),
        (
            datetime(2026, 11, 25, 2, 0),
            ("America/New_York", "America/Los_Angeles"),
            datetime(2026, 11, 25, 16, 0),
        ),
        # One zone alone is the same as next_allowed.
        (datetime(2026, 11, 24, 12, 0), ("America/New_York",), datetime(2026, 11, 24, 13, 0)),
        # Kaliningrad to Kamchatka (10 h apart): the one common hour.
        (
            datetime(2026, 11, 24, 0, 0),
            ("Europe/Kaliningrad", "Asia/Kamchatka"),
            datetime(2026, 11, 24, 6, 0),
        ),
    ],
)
def test_next_allowed_all_is_the_intersection(now, zones, expected):
    windows = {zone: WEEK_8_21 for zone in zones}
    assert rz.next_allowed_all(now, windows) == expected
    assert all(rz.next_allowed(expected, zone, WEEK_8_21) == expected for zone in zones)


def test_no_common_window_is_none():
    one_hour = rz.Window(((8, 9),) * 7)
    windows = {"America/New_York": one_hour, "America/Los_Angeles": one_hour}
    assert rz.next_allowed_all(datetime(2026, 11, 24, 0, 0), windows) is None


def test_next_allowed_all_with_different_windows_per_zone():
    # Réunion's own holiday (20 December) closes Réunion only.
    reunion = rz.Window(((8, 21.5),) * 6 + (None,), frozenset({date(2026, 12, 21)}))
    paris = rz.Window(((8, 21.5),) * 6 + (None,))
    got = rz.next_allowed_all(
        datetime(2026, 12, 21, 9, 0), {"Indian/Reunion": reunion, "Europe/Paris": paris}
    )
    assert got == datetime(2026, 12, 22, 7, 0)


# ---------------------------------------------------------------------------------------------- zone keys
@pytest.mark.parametrize(
    ("number", "key"),
    [
        ("+33612345678", "+33"),  # one region, one zone list for the whole code
        ("+4915112345678", "+49"),
        ("+12015550123", "+1201"),  # a NANP area code of the prefix table
        ("+61412345678", "+61412345678"),  # Australia: zones by longer prefixes, the whole number
        ("+447400123456", "+447400123456"),  # +44: GB, Guernsey, Jersey, Isle of Man
        ("+262692123456", "+262692123456"),  # +262: Réunion and Mayotte
        ("+79123456789", "+79123456789"),  # +7: Russia and Kazakhstan
    ],
)
def test_zone_key(number, key):
    assert rz.zone_key(number) == key


def test_numbers_with_one_zone_key_resolve_alike():
    """Over libphonenumber's example numbers of every region and type, plus neighbours of each: two valid
    numbers with the same key get the same region, state and zones (what grouping by the key relies on)."""
    import phonenumbers
    from phonenumbers import PhoneNumberType

    by_key: dict[str, set] = {}
    for region in phonenumbers.SUPPORTED_REGIONS:
        kinds = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
        for kind in kinds:
            example = phonenumbers.example_number_for_type(region, kind)
            if not example:
                continue
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            for last in "0379":
                candidate = phonenumbers.parse(e164[:-1] + last, None)
                if phonenumbers.is_valid_number(candidate):
                    key = rz.zone_key(e164[:-1] + last)
                    by_key.setdefault(key, set()).add(rz.number_zones(candidate))
    assert len(by_key) > 100
    assert {key: zones for key, zones in by_key.items() if len(zones) > 1} == {}
