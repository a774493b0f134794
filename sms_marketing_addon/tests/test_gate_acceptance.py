"""Acceptance: claimed as the sync service's own user (`claim_batch`) every 30 minutes over four days, no
marketing SMS leaves outside the recipient's real local window, for the destinations of issue 20. The real
zones and windows are written out here, not taken from the gate."""

from datetime import datetime, timedelta
from unittest.mock import patch
from zoneinfo import ZoneInfo

import phonenumbers

from odoo.tests import new_test_user, tagged

from .test_outbox import OutboxCase

UTC = ZoneInfo("UTC")
MON_SAT = {0, 1, 2, 3, 4, 5}
EVERY_DAY = set(range(7))
DEFAULT = (9 * 60, 20 * 60, MON_SAT)  # the shipped Default policy
US = (8 * 60, 21 * 60, EVERY_DAY)  # TCPA
US_8_20 = (8 * 60, 20 * 60, EVERY_DAY)  # Florida, Maryland, Oklahoma
FRANCE = (8 * 60, 21 * 60 + 30, MON_SAT)  # AF2M 2026

# (label, mobile, contact's values, real zones where the recipient may be, window)
CASES = [
    ("Spain, no zone", "+34612345678", {}, ("Europe/Madrid", "Atlantic/Canary"), DEFAULT),
    ("Spain, Madrid contact", "+34612345679", {"tz": "Europe/Madrid"}, ("Europe/Madrid",), DEFAULT),
    ("Portugal, no zone", "+351912345678", {}, ("Europe/Lisbon", "Atlantic/Azores"), DEFAULT),
    ("Russia, no zone", "+79161234567", {}, ("Europe/Moscow", "Europe/Kaliningrad", "Asia/Vladivostok"),
     DEFAULT),
    ("Russia, Moscow contact", "+79161234568", {"tz": "Europe/Moscow"}, ("Europe/Moscow",), DEFAULT),
    ("Australia, no zone", "+61412345678", {}, ("Australia/Sydney", "Australia/Perth", "Australia/Adelaide"),
     DEFAULT),
    ("Australia, Perth contact", "+61412345679", {"tz": "Australia/Perth"}, ("Australia/Perth",), DEFAULT),
    ("Alaska", "+19072223333", {}, ("America/Anchorage",), US),
    ("Jamaica", "+18762101234", {}, ("America/Jamaica",), DEFAULT),
    ("Barbados", "+12462501234", {}, ("America/Barbados",), DEFAULT),
    ("Brazil 81, no zone", "+5581991234567", {}, ("America/Recife",), DEFAULT),
    ("Brazil 81, Recife contact", "+5581991234568", {"tz": "America/Recife"}, ("America/Recife",), DEFAULT),
    ("Réunion, no zone", "+262692123456", {}, ("Indian/Reunion",), FRANCE),
    ("+33 6 of a Réunion contact", "+33612345678", {"tz": "Indian/Reunion"}, ("Indian/Reunion",), FRANCE),
    ("New York number, Los Angeles contact", "+12125550123", {"tz": "America/Los_Angeles"},
     ("America/Los_Angeles",), US),
    ("305 without a state", "+13055550123", {}, ("America/New_York",), US_8_20),
    ("410 without a state", "+14105550123", {}, ("America/New_York",), US_8_20),
    ("405 without a state", "+14055550123", {}, ("America/Chicago",), US_8_20),
]


def inside(moment, zone, window):
    start, end, days = window
    local = moment.replace(tzinfo=UTC).astimezone(ZoneInfo(zone))
    minutes = local.hour * 60 + local.minute
    return local.weekday() in days and start <= minutes < end


@tagged("post_install", "-at_install")
class TestGateAcceptance(OutboxCase):
    def setUp(self):
        super().setUp()
        self.now = datetime(2026, 11, 26, 0, 0)  # Thursday 26 November to Monday 30 November 2026
        patcher = patch.object(type(self.env.cr), "now", lambda cr: self.now)  # the transaction's clock
        patcher.start()
        self.addCleanup(patcher.stop)
        service = new_test_user(self.env, login="sms_service_gate",
                                groups="base.group_user,sms_marketing_addon.group_sms_marketing_service")
        self.service_api = self.env["sms.marketing.api"].with_user(service)
        countries = {c.code: c for c in self.env["res.country"].search([])}
        self.partners = {}
        for label, mobile, values, _zones, _window in CASES:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(mobile))
            if values.get("tz") == "Indian/Reunion":
                region = "RE"  # the contact lives in Réunion
            partner = self.consented(mobile, country=countries[region], **{"tz": False, **values})
            self.assertEqual(partner.sms_number, mobile, label)
            self.partners[label] = partner

    def test_no_marketing_sms_leaves_outside_the_real_local_window(self):
        by_number = {mobile: (label, zones, window) for label, mobile, _v, zones, window in CASES}
        claimed = {label: 0 for label, *_rest in CASES}
        end = self.now + timedelta(days=4)
        while self.now < end:
            queued = self.Sms.browse()
            for label, partner in self.partners.items():
                queued |= self.marketing_sms(partner)
            result = self.service_api.claim_batch("acceptance", 100, 60)
            for message in result["messages"]:
                label, zones, window = by_number[message["number"]]
                outside = [zone for zone in zones if not inside(self.now, zone, window)]
                self.assertFalse(outside, f"{label}: claimed at {self.now} UTC, outside the window in {outside}")
                claimed[label] += 1
            keys = {m["key"] for m in result["messages"]}
            for sms in queued.filtered(lambda sms: sms.uuid not in keys):
                label, zones, window = by_number[sms.number]
                self.assertTrue(sms.sms_defer_until, f"{label} at {self.now}: neither claimed nor deferred")
                self.assertTrue(all(inside(sms.sms_defer_until, zone, window) for zone in zones),
                                f"{label}: deferred to {sms.sms_defer_until}, outside the window")
            queued.write({"state": "canceled"})  # the next round starts from fresh SMS (and no cap)
            self.now += timedelta(minutes=30)  # on the hour and half hour: every opening and closing minute
        never = [label for label, count in claimed.items() if not count]
        self.assertFalse(never, "each destination is claimed when its window is open")
