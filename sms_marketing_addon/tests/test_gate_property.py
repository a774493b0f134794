"""Property of the compliance gate, over every region libphonenumber has a mobile example for: at many UTC
instants (daylight-saving transitions in the US, EU, Australia and Brazil included), with and without the
contact's zone or state, no marketing SMS passes the gate outside the sending window of any zone the recipient
may be in (`tools.recipient_zones.resolve`), and a held one is deferred to the first minute allowed in all of
them. The windows are re-computed here minute by minute from the policy's fields, independently of the gate's
arithmetic."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
import pytz

from odoo.tests import tagged

from ..tools import recipient_zones
from .test_outbox import OutboxCase

UTC = ZoneInfo("UTC")
FOREIGN = {"default": "Asia/Tokyo", "JP": "Europe/Paris"}

INSTANTS = [
    # A plain week around the clock (Tuesday 24 November 2026, every 3 hours, and a Sunday).
    *(datetime(2026, 11, 24, h, 7) for h in range(0, 24, 3)),
    datetime(2026, 11, 29, 11, 0), datetime(2026, 11, 29, 17, 30),
    # US daylight saving (8 March, 1 November 2026).
    datetime(2026, 3, 8, 6, 30), datetime(2026, 3, 8, 12, 59), datetime(2026, 11, 1, 5, 30),
    datetime(2026, 11, 1, 12, 30),
    # EU daylight saving (29 March, 25 October 2026).
    datetime(2026, 3, 29, 0, 59), datetime(2026, 3, 29, 6, 30), datetime(2026, 10, 25, 0, 59),
    datetime(2026, 10, 25, 7, 30),
    # Australia (5 April, 4 October 2026).
    datetime(2026, 4, 4, 15, 30), datetime(2026, 4, 4, 21, 59), datetime(2026, 10, 3, 15, 30),
    datetime(2026, 10, 3, 21, 30),
    # Brazil's last daylight saving (4 November 2018, 17 February 2019).
    datetime(2018, 11, 4, 2, 30), datetime(2018, 11, 4, 10, 30), datetime(2019, 2, 17, 1, 30),
    datetime(2019, 2, 17, 11, 30),
    # French and overseas holidays, and the change of charter (28 February / 1 March 2026).
    datetime(2026, 7, 14, 10, 0), datetime(2027, 12, 20, 9, 0), datetime(2026, 2, 28, 20, 45),
    datetime(2026, 3, 2, 20, 45),
]


def mobile_examples():
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        # Regions sharing one example (BL, GP and MF; AU, CC and CX...) once, as the region of the number.
        if example and phonenumbers.region_code_for_number(example) == region:
            yield region, phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)


@tagged("post_install", "-at_install")
class TestGateProperty(OutboxCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Country = cls.env["res.country"]
        countries = {c.code: c for c in Country.search([])}
        cls.variants = {"bare": [], "own zone": [], "foreign zone": [], "state": []}
        for region, number in mobile_examples():
            country = countries.get(region, Country)
            zones = pytz.country_timezones.get(region, [])
            base = {"mobile": number, "country_id": country.id, "tz": False}
            cls.variants["bare"].append(base)
            if zones:  # the last listed zone: rarely the one a number alone would give
                cls.variants["own zone"].append({**base, "tz": zones[-1]})
            cls.variants["foreign zone"].append({**base, "tz": FOREIGN.get(region, FOREIGN["default"])})
        us = cls.env.ref("base.us")
        for number, state in (("+12125550123", "CA"), ("+13055550123", "TX"), ("+12145550123", "FL"),
                              ("+19072223333", "AK"), ("+14055550123", "OK"), ("+17015550123", "ND")):
            state_id = cls.env["res.country.state"].search([("country_id", "=", us.id), ("code", "=", state)])
            cls.variants["state"].append({"mobile": number, "country_id": us.id, "state_id": state_id.id})

    # ------------------------------------------------------------------ the oracle
    def rules(self, policy):
        """The policy's fields as plain data (read once per policy)."""
        if policy.id not in self._rules:
            days = [policy.day_mon, policy.day_tue, policy.day_wed, policy.day_thu, policy.day_fri, policy.day_sat,
                    policy.day_sun]
            holidays = [(h.date, h.country_id.code) for h in policy.holiday_ids]
            sunday = (policy.sunday_hour_start, policy.sunday_hour_end) if policy.sunday_hours else None
            self._rules[policy.id] = (days, holidays, (policy.hour_start, policy.hour_end), sunday)
        return self._rules[policy.id]

    def allowed(self, policy, zone, moment):
        """Whether `moment` (naive UTC) is inside `policy`'s window in `zone`, from the policy's fields."""
        days, holidays, hours, sunday = self.rules(policy)
        local = moment.replace(tzinfo=UTC).astimezone(recipient_zones.zone_info(zone))
        day = local.date()
        if not days[day.weekday()]:
            return False
        for holiday, country in holidays:
            if holiday == day and (not country or zone in pytz.country_timezones.get(country, [])):
                return False
        start, end = sunday if sunday and day.weekday() == 6 else hours
        minutes = local.hour * 60 + local.minute + local.second / 60
        return round(start * 60) <= minutes < round(end * 60)

    def first_allowed(self, policy, zones, now):
        """The first moment at or after `now` allowed in every zone: `now`, or an opening minute of one zone."""
        if all(self.allowed(policy, zone, now) for zone in zones):
            return now
        candidates = set()
        for zone in zones:
            tz = recipient_zones.zone_info(zone)
            today = now.replace(tzinfo=UTC).astimezone(tz).date()
            _days, _holidays, hours, sunday = self.rules(policy)
            for offset in range(-1, 17):
                day = today + timedelta(days=offset)
                for hour in {hours[0], sunday[0] if sunday else None} - {None}:
                    minutes = round(hour * 60)
                    opens = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=tz)
                    candidates.add(opens.astimezone(UTC).replace(tzinfo=None))
        for moment in sorted(c for c in candidates if now <= c <= now + timedelta(days=16)):
            if all(self.allowed(policy, zone, moment) for zone in zones):
                return moment
        return None

    # ------------------------------------------------------------------ the property
    def test_no_marketing_sms_outside_the_window_of_any_candidate_zone(self):
        Policy = self.env["sms.compliance.policy"]
        company_tz = self.env.company.partner_id.tz
        checked = held = multi = 0
        batches, policies, self._rules = [], {}, {}
        for variant, rows in self.variants.items():
            partners = self.Partner.create([{"name": f"{variant} {n}", **row} for n, row in enumerate(rows)])
            partners = partners.filtered("sms_number_valid")
            for partner in partners:
                partner._sms_opt_in("agent", note="property test")
            sms = self.Sms.create([{"number": p.sms_number, "body": "Soldes", "partner_id": p.id,
                                    "mailing_id": self.mailing.id} for p in partners])
            batches.append((variant, sms))
        self.assertGreater(len(batches[0][1]), 230, "a mobile example for (almost) every region")
        for now in INSTANTS:
            for variant, batch in batches:
                batch.write({"sms_defer_until": False, "sms_defer_reason": False, "body": "Soldes"})
                to_send, deferred, canceled = batch._sms_gate(now)
                self.assertFalse(canceled, f"{variant} at {now}: nothing cancelled ({canceled})")
                self.assertEqual(to_send | deferred, batch)
                for sms in batch:
                    partner = sms.partner_id
                    resolution = recipient_zones.resolve(sms.number, partner.tz or None, partner.country_id.code,
                                                         partner.state_id.code, default_tz=company_tz)
                    key = (resolution.region, resolution.state, now)
                    if key not in policies:
                        country = self.env["res.country"].search([("code", "=", resolution.region)], limit=1)
                        state = self.env["res.country.state"].search(
                            [("country_id", "=", country.id), ("code", "=", resolution.state)], limit=1,
                        ) if country and resolution.state else self.env["res.country.state"]
                        policies[key] = Policy._for_destination(country, state, now)
                    policy = policies[key]
                    zones = resolution.zones
                    multi += len(zones) > 1
                    where = f"{variant}: {sms.number} ({partner.tz or 'no zone'}, {policy.name}) at {now} in {zones}"
                    first = self.first_allowed(policy, zones, now)
                    if sms in to_send:
                        self.assertEqual(first, now, f"sent outside the window: {where}")
                    else:
                        self.assertNotEqual(first, now, f"held inside the window: {where}")
                        self.assertEqual(sms.sms_defer_until, first or now + timedelta(days=1),
                                         f"not deferred to the first minute allowed in all zones: {where}")
                        held += 1
                    checked += 1
        self.assertGreater(checked, 20000)
        self.assertGreater(held, checked // 4)
        self.assertGreater(multi, 1000, "many recipients with several candidate zones")
