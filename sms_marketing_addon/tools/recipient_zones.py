"""Where (in which time zones) the holder of a phone number may be, and when a sending window is open in all
of them. Pure functions, no ORM: table-tested in tests/unit/test_recipient_zones.py.

`resolve(number, contact_tz, contact_country, contact_state)` gives the candidate zones of a recipient:

- the contact's own zone when it is compatible with the number's country (one of that country's zones, or of
  its overseas territories: a +33 6 mobile of a contact living in Réunion is timed in Réunion);
- else the number's zones: NANP area codes from `data/recipient_zones.csv` (US and Canada; the other NANP
  countries by their own region), hand-checked corrections from the same file, else libphonenumber's zones
  for the number kept to the number's own country, else every zone of that country;
- with a contact's state (same country, no usable zone) that the number's zones do not fit, the state's zones
  are added to the number's.

Several candidate zones mean "unknown which": a message may go only when the window is open in every one of
them (`next_allowed_all`), so an unknown zone can only delay a message, never break a rule.
"""

from __future__ import annotations

import csv
import functools
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import pytz
from phonenumbers import timezone as phone_timezone

DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "recipient_zones.csv"
UTC = ZoneInfo("UTC")
HORIZON = timedelta(days=16)

# Territories whose residents commonly keep a number of the mainland country (French law applies in the
# overseas departments and collectivities; US law in the territories).
TERRITORIES = {
    "FR": ("RE", "YT", "GP", "MQ", "GF", "BL", "MF", "PM", "NC", "PF", "WF"),
    "US": ("PR", "VI", "GU", "AS", "MP", "UM"),
}

SOURCE_CONTACT = "contact"
SOURCE_NUMBER = "number"
SOURCE_STATE = "number and contact's state"
SOURCE_FALLBACK = "fallback"


@dataclass(frozen=True)
class Resolution:
    """Candidate zones of a recipient (sorted), the number's region, the state whose rules apply, and why."""

    zones: tuple[str, ...]
    region: str | None = None
    state: str | None = None
    source: str = SOURCE_NUMBER


@dataclass(frozen=True)
class PrefixRow:
    region: str
    state: str
    zones: tuple[str, ...]
    source: str


@functools.cache
def prefix_table() -> dict[str, PrefixRow]:
    """E.164 prefix (digits) → row of `data/recipient_zones.csv`."""
    with DATA.open(newline="") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    return {
        row["prefix"]: PrefixRow(
            row["region"], row["state"], tuple(sorted(row["zones"].split())), row["source"]
        )
        for row in csv.DictReader(lines)
    }


@functools.cache
def state_zones(region: str, state: str) -> tuple[str, ...]:
    """Every zone of the area codes of a state or province (NANP), from the table."""
    zones = {
        z
        for row in prefix_table().values()
        if row.region == region and row.state == state
        for z in row.zones
    }
    return tuple(sorted(zones))


def country_zones(region: str | None) -> tuple[str, ...]:
    return tuple(pytz.country_timezones.get(region, ())) if region else ()


@functools.cache
def zone_info(name: str) -> ZoneInfo:
    """ZoneInfo, kept (ZoneInfo's own cache keeps only 8 zones strongly: a Russian mobile has 26)."""
    return ZoneInfo(name)


@functools.lru_cache(maxsize=1024)
def valid_zone(name: str | None) -> bool:
    if not name or "/" not in name:
        return name == "UTC"
    try:
        zone_info(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _lookup(digits: str) -> PrefixRow | None:
    table = prefix_table()
    for end in range(len(digits), 0, -1):
        row = table.get(digits[:end])
        if row:
            return row
    return None


def number_zones(parsed: phonenumbers.PhoneNumber) -> tuple[str | None, str | None, tuple[str, ...]]:
    """(region, state, zones) from the number alone."""
    region = phonenumbers.region_code_for_number(parsed)
    digits = f"{parsed.country_code}{phonenumbers.national_significant_number(parsed)}"
    row = _lookup(digits)
    if row and (region is None or row.region == region):
        return row.region, row.state or None, row.zones
    own = set(country_zones(region))
    listed = {
        z for z in phone_timezone.time_zones_for_number(parsed) if valid_zone(z) and z != "Etc/Unknown"
    }
    if own:
        if listed and listed <= own:
            return region, None, tuple(sorted(listed))
        return region, None, tuple(sorted(own))  # a country-code-wide list, or none: the whole country
    return region, None, tuple(sorted(listed))


def compatible(zone: str, region: str | None, zones: tuple[str, ...]) -> bool:
    """Whether a contact's zone can be where a number of `region` (with `zones`) is used."""
    if zone in zones:
        return True
    if not region:
        return False
    regions = (region, *TERRITORIES.get(region, ()))
    return any(zone in country_zones(r) for r in regions)


@functools.lru_cache(maxsize=65536)
def resolve(
    number: str | None,
    contact_tz: str | None = None,
    contact_country: str | None = None,
    contact_state: str | None = None,
    default_tz: str | None = None,
) -> Resolution:
    """Candidate zones for a number (E.164) and what the contact's record says (zone, country, state codes).
    `default_tz` (the company's) is used only when nothing else tells a zone."""
    contact_tz = contact_tz if valid_zone(contact_tz) else None
    try:
        parsed = phonenumbers.parse(number or "", None)
    except phonenumbers.NumberParseException:
        parsed = None
    region = state = None
    zones: tuple[str, ...] = ()
    if parsed:
        region, state, zones = number_zones(parsed)
    if contact_state and contact_country and contact_country == region:
        state = contact_state  # the contact's state decides the rules; else the area code's
    if contact_tz and (compatible(contact_tz, region, zones) or not zones):
        return Resolution((contact_tz,), region, state, SOURCE_CONTACT)
    if zones:
        if contact_state and contact_country == region:
            extra = state_zones(region, contact_state)
            if extra and not set(zones) <= set(extra):
                return Resolution(tuple(sorted({*zones, *extra})), region, state, SOURCE_STATE)
        return Resolution(zones, region, state, SOURCE_NUMBER)
    fallback = default_tz if valid_zone(default_tz) else "UTC"
    return Resolution((fallback,), region, state, SOURCE_FALLBACK)


@functools.cache
def _zone_key_digits(head: str) -> int:
    """How many leading digits of a valid E.164 number starting with `head` (its first 4 digits) decide what
    `number_zones` gives, or 0 when only the whole number does. Exact by construction:

    - a country code of one region, for which neither libphonenumber's time zone data nor the prefix table
      has a longer prefix: every valid number of it gets the same region and zones (its code's);
    - a NANP area code of the prefix table: the table's row decides (region and zones by area code);
    - anything else (several regions on one code, zones by longer prefixes): the whole number.
    """
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
    from phonenumbers.tzdata import TIMEZONE_DATA

    for size in (1, 2, 3):
        code = head[:size]
        if code.isdigit() and int(code) in COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return 0
    if code == "1":
        return 4 if head[:4] in prefix_table() else 0
    if len(COUNTRY_CODE_TO_REGION_CODE[int(code)]) > 1:
        return 0
    longer = any(key.startswith(code) and key != code for key in (*TIMEZONE_DATA, *prefix_table()))
    return 0 if longer else len(code)


def zone_key(number: str) -> str:
    """The leading part of a valid E.164 number that decides its region and zones (`number_zones`): numbers
    with the same key (and the same contact zone, country and state) resolve alike, so a campaign's
    recipients can be grouped by it and each group resolved once. The whole number when nothing shorter is
    safe."""
    digits = (number or "").lstrip("+")
    size = _zone_key_digits(digits[:4])
    return "+" + digits[:size] if size else number


# ---------------------------------------------------------------------------------------------- windows
@dataclass(frozen=True)
class Window:
    """A weekly sending window in local time: `hours[weekday]` is (from, until) in hours (until excluded,
    24 = midnight) or None for no sending that day (Monday = 0); no sending on `holidays`."""

    hours: tuple[tuple[float, float] | None, ...]
    holidays: frozenset[date] = field(default_factory=frozenset)

    def day(self, day: date) -> tuple[float, float] | None:
        return None if day in self.holidays else self.hours[day.weekday()]


def _at(day: date, hour: float, tz: ZoneInfo) -> datetime:
    minutes = round(hour * 60)
    return datetime.combine(
        day + timedelta(days=minutes // 1440), time(minutes % 1440 // 60, minutes % 60), tzinfo=tz
    )


def next_allowed(
    now_utc: datetime, zone: str, window: Window, limit: datetime | None = None
) -> datetime | None:
    """First moment at or after `now_utc` (naive UTC) inside `window` in `zone`, as naive UTC; None if
    there is none before `limit` (default: 16 days on)."""
    tz = zone_info(zone)
    limit = limit or now_utc + HORIZON
    local_now = now_utc.replace(tzinfo=UTC).astimezone(tz)
    day = local_now.date() - timedelta(days=1)  # a window of the day before may still be open (until 24:00)
    while True:
        hours = window.day(day)
        if hours:
            opens, closes = _at(day, hours[0], tz), _at(day, hours[1], tz)
            candidate = max(local_now, opens)
            if candidate < closes:
                found = candidate.astimezone(UTC).replace(tzinfo=None)
                return found if found <= limit else None
            if opens.astimezone(UTC).replace(tzinfo=None) > limit:
                return None
        elif datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC).replace(tzinfo=None) > limit:
            return None
        day += timedelta(days=1)


def next_allowed_all(now_utc: datetime, windows: Mapping[str, Window]) -> datetime | None:
    """First moment at or after `now_utc` (naive UTC) when the window of every zone is open (the
    intersection); None if there is none within 16 days."""
    limit = now_utc + HORIZON
    moment = now_utc
    while True:
        found = [next_allowed(moment, zone, window, limit) for zone, window in windows.items()]
        if not found or any(f is None for f in found):
            return None
        latest = max(found)
        if latest == moment:
            return moment
        moment = latest
