"""Acceptance over JSON-RPC at real time: the sync service's own user claims marketing SMS for the
destinations of issue 20, and none leaves outside the recipient's real local window; those held are deferred
into it. (The addon's test_gate_acceptance.py does the same at frozen instants over four days.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from outbox_helpers import cancel_queued

from odoo_server import OdooServer
from sync_service.shell.config import load_settings
from sync_service.shell.odoo_client import OdooClient

MON_SAT, EVERY_DAY = frozenset(range(6)), frozenset(range(7))
DEFAULT = (9 * 60, 20 * 60, MON_SAT)
US = (8 * 60, 21 * 60, EVERY_DAY)
US_8_20 = (8 * 60, 20 * 60, EVERY_DAY)
FRANCE = (8 * 60, 21 * 60 + 30, MON_SAT)

# (label, mobile, contact's country code, contact's zone, real zones the recipient may be in, window)
CASES = [
    ("Spain", "+34612345670", "ES", False, ("Europe/Madrid", "Atlantic/Canary"), DEFAULT),
    ("Portugal", "+351912345670", "PT", False, ("Europe/Lisbon", "Atlantic/Azores"), DEFAULT),
    ("Russia", "+79161234560", "RU", False, ("Europe/Kaliningrad", "Europe/Moscow", "Asia/Kamchatka"),
     DEFAULT),
    ("Australia", "+61412345670", "AU", False, ("Australia/Perth", "Australia/Sydney"), DEFAULT),
    ("Alaska", "+19072223330", "US", False, ("America/Anchorage",), US),
    ("Jamaica", "+18762101230", "JM", False, ("America/Jamaica",), DEFAULT),
    ("Barbados", "+12462501230", "BB", False, ("America/Barbados",), DEFAULT),
    ("Brazil (81)", "+5581991234560", "BR", False, ("America/Recife",), DEFAULT),
    ("Réunion", "+262692123450", "RE", False, ("Indian/Reunion",), FRANCE),
    ("New York number, Los Angeles contact", "+12125550120", "US", "America/Los_Angeles",
     ("America/Los_Angeles",), US),
    ("305 without a state", "+13055550120", "US", False, ("America/New_York",), US_8_20),
    ("410 without a state", "+14105550120", "US", False, ("America/New_York",), US_8_20),
    ("405 without a state", "+14055550120", "US", False, ("America/Chicago",), US_8_20),
]


def inside(moment: datetime, zone: str, window: tuple[int, int, frozenset[int]]) -> bool:
    start, end, days = window
    local = moment.replace(tzinfo=UTC).astimezone(ZoneInfo(zone))
    return local.weekday() in days and start <= local.hour * 60 + local.minute < end


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@pytest.fixture
def admin(odoo_server: OdooServer) -> Iterator[OdooClient]:
    yield OdooClient.connect(load_settings(odoo_url=odoo_server.url, odoo_db=odoo_server.database,
                                           odoo_login="admin", odoo_password="admin"))


@pytest.fixture
def service(odoo_server: OdooServer, admin: OdooClient) -> Iterator[OdooClient]:
    """The sync service's own user: only the technical group."""
    login = f"gate-service-{uuid.uuid4().hex[:8]}"
    group = admin.call("ir.model.data", "check_object_reference", "sms_marketing_addon",
                       "group_sms_marketing_service")[1]
    user_group = admin.call("ir.model.data", "check_object_reference", "base", "group_user")[1]
    admin.call("res.users", "create", {"name": "Gate service", "login": login, "password": "pw-" + login,
                                       "groups_id": [(6, 0, [group, user_group])]})
    yield OdooClient.connect(load_settings(odoo_url=odoo_server.url, odoo_db=odoo_server.database,
                                           odoo_login=login, odoo_password="pw-" + login))


def test_no_marketing_sms_claimed_outside_the_real_local_window(
    admin: OdooClient, service: OdooClient
) -> None:
    cancel_queued(admin)
    by_number = {}
    for label, mobile, country, tz, zones, window in CASES:
        country_id = admin.call("res.country", "search", [("code", "=", country)])[0]
        admin.call("res.partner", "create", {
            "name": label, "mobile": mobile, "country_id": country_id, "tz": tz,
            "sms_consent_state": "opted_in", "sms_consent_note": "gate acceptance",
        })
        by_number[mobile] = (label, zones, window)
    ids = admin.call("sms.sms", "create", [
        {"number": mobile, "body": "Soldes -20%", "sms_kind": "marketing"} for mobile in by_number
    ])
    before = utcnow()
    result = service.call("sms.marketing.api", "claim_batch", "gate-rpc", 100, 60)
    after = utcnow()
    claimed = {m["number"] for m in result["messages"]}
    assert claimed <= set(by_number)
    for number in claimed:
        label, zones, window = by_number[number]
        late = [z for z in zones if not (inside(before, z, window) or inside(after, z, window))]
        assert not late, f"{label} claimed at {before:%H:%M} UTC, outside its window in {late}"
    rows = admin.call("sms.sms", "read", ids, ["number", "state", "sms_defer_until", "sms_defer_reason"])
    for row in rows:
        if row["number"] in claimed:
            continue
        label, zones, window = by_number[row["number"]]
        assert row["state"] == "outgoing" and row["sms_defer_until"], f"{label}: {row}"
        until = datetime.fromisoformat(row["sms_defer_until"])
        assert until >= before, f"{label}"
        outside = [z for z in zones if not inside(until, z, window)]
        assert not outside, f"{label}: deferred to {until} UTC, outside its window in {outside}"
        assert "Outside sending hours" in row["sms_defer_reason"], row["sms_defer_reason"]
    assert result["deferred"] + len(claimed) == len(CASES)
    admin.call("sms.sms", "write", ids, {"state": "canceled"})
