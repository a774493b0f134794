"""The compliance gate's own time code: `SmsCompliancePolicy._next_allowed` (boundaries, daylight saving, several
zones), the rules chosen per destination and date, the frequency cap's window, and the recipient's zones."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from odoo.tests import tagged

from .test_outbox import OutboxCase

UTC = ZoneInfo("UTC")


def utc(zone, *args):
    """Naive UTC of a local wall-clock time in `zone`."""
    return datetime(*args, tzinfo=ZoneInfo(zone)).astimezone(UTC).replace(tzinfo=None)


@tagged("post_install", "-at_install")
class TestNextAllowed(OutboxCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        ref = cls.env.ref
        cls.default = ref("sms_marketing_addon.policy_default")
        cls.us = ref("sms_marketing_addon.policy_us")
        cls.us_fl = ref("sms_marketing_addon.policy_us_fl")
        cls.us_tx = ref("sms_marketing_addon.policy_us_tx")
        cls.fr = ref("sms_marketing_addon.policy_fr")
        cls.fr_2024 = ref("sms_marketing_addon.policy_fr_2024")

    def assertNext(self, policy, now, zones, expected, msg=None):
        self.assertEqual(policy._next_allowed(now, zones), expected, msg or f"{policy.name} at {now} in {zones}")

    def test_one_minute_after_closing_is_held(self):
        ny = "America/New_York"
        tuesday_8 = utc(ny, 2026, 11, 24, 8, 0)
        self.assertNext(self.us, utc(ny, 2026, 11, 24, 20, 59), ny, utc(ny, 2026, 11, 24, 20, 59))
        self.assertNext(self.us, utc(ny, 2026, 11, 24, 21, 0), ny, utc(ny, 2026, 11, 25, 8, 0))
        self.assertNext(self.us, utc(ny, 2026, 11, 24, 21, 1), ny, utc(ny, 2026, 11, 25, 8, 0))
        self.assertNext(self.us, tuesday_8 - timedelta(minutes=1), ny, tuesday_8)
        self.assertNext(self.us, tuesday_8, ny, tuesday_8)
        # Florida closes at 20:00; France (2026 charter) at 21:30, and never on Sunday.
        self.assertNext(self.us_fl, utc(ny, 2026, 11, 24, 19, 59), ny, utc(ny, 2026, 11, 24, 19, 59))
        self.assertNext(self.us_fl, utc(ny, 2026, 11, 24, 20, 1), ny, utc(ny, 2026, 11, 25, 8, 0))
        paris = "Europe/Paris"
        self.assertNext(self.fr, utc(paris, 2026, 11, 24, 21, 29), paris, utc(paris, 2026, 11, 24, 21, 29))
        self.assertNext(self.fr, utc(paris, 2026, 11, 24, 21, 31), paris, utc(paris, 2026, 11, 25, 8, 0))
        self.assertNext(self.fr, utc(paris, 2026, 11, 28, 21, 31), paris, utc(paris, 2026, 11, 30, 8, 0))

    def test_texas_opens_at_noon_on_sunday(self):
        chi = "America/Chicago"
        self.assertNext(self.us_tx, utc(chi, 2026, 11, 29, 9, 30), chi, utc(chi, 2026, 11, 29, 12, 0))
        self.assertNext(self.us_tx, utc(chi, 2026, 11, 29, 20, 59), chi, utc(chi, 2026, 11, 29, 20, 59))
        self.assertNext(self.us_tx, utc(chi, 2026, 11, 29, 21, 0), chi, utc(chi, 2026, 11, 30, 9, 0))
        self.assertNext(self.us_tx, utc(chi, 2026, 11, 28, 8, 59), chi, utc(chi, 2026, 11, 28, 9, 0))

    def test_daylight_saving_transitions(self):
        cases = [
            # (policy, zone, now local, expected local)
            (self.us, "America/New_York", (2026, 3, 8, 1, 0), (2026, 3, 8, 8, 0)),  # spring forward
            (self.us, "America/New_York", (2026, 3, 7, 21, 0), (2026, 3, 8, 8, 0)),
            (self.us, "America/New_York", (2026, 10, 31, 21, 0), (2026, 11, 1, 8, 0)),  # fall back
            (self.us, "America/Los_Angeles", (2026, 11, 1, 20, 59), (2026, 11, 1, 20, 59)),
            (self.fr, "Europe/Paris", (2026, 3, 28, 21, 30), (2026, 3, 30, 8, 0)),  # Saturday → Monday
            (self.fr, "Europe/Paris", (2026, 10, 24, 21, 29), (2026, 10, 24, 21, 29)),
            (self.fr, "Europe/Paris", (2026, 10, 24, 21, 30), (2026, 10, 26, 8, 0)),
            (self.default, "Europe/Madrid", (2026, 3, 28, 20, 0), (2026, 3, 30, 9, 0)),
            (self.default, "Australia/Sydney", (2026, 4, 4, 20, 0), (2026, 4, 6, 9, 0)),  # DST ends Sunday 5 April
            (self.us, "Australia/Sydney", (2026, 4, 4, 21, 0), (2026, 4, 5, 8, 0)),
            (self.us, "Australia/Sydney", (2026, 10, 3, 21, 0), (2026, 10, 4, 8, 0)),  # DST starts
            (self.us, "America/Sao_Paulo", (2018, 11, 3, 21, 0), (2018, 11, 4, 8, 0)),  # Brazil's last DST
            (self.us, "America/Sao_Paulo", (2019, 2, 16, 21, 0), (2019, 2, 17, 8, 0)),
        ]
        for policy, zone, now, expected in cases:
            self.assertNext(policy, utc(zone, *now), zone, utc(zone, *expected), f"{policy.name} {zone} {now}")
        # The hours themselves, in UTC, move with the clocks.
        self.assertEqual(utc("America/New_York", 2026, 3, 8, 8, 0), datetime(2026, 3, 8, 12, 0))
        self.assertEqual(utc("America/New_York", 2026, 3, 7, 8, 0), datetime(2026, 3, 7, 13, 0))

    def test_several_zones_wait_for_all_of_them(self):
        zones = ("Atlantic/Canary", "Europe/Madrid")
        # 09:00 Madrid is 08:00 in the Canaries: held until 09:00 Canary time; closes at 20:00 Madrid time.
        self.assertNext(self.default, datetime(2026, 11, 24, 8, 0), zones, datetime(2026, 11, 24, 9, 0))
        self.assertNext(self.default, datetime(2026, 11, 24, 18, 59), zones, datetime(2026, 11, 24, 18, 59))
        self.assertNext(self.default, datetime(2026, 11, 24, 19, 0), zones, datetime(2026, 11, 25, 9, 0))
        self.assertNext(self.default, datetime(2026, 11, 24, 19, 0), "Atlantic/Canary", datetime(2026, 11, 24, 19, 0))

    def test_rules_in_force_on_the_day(self):
        Policy = self.env["sms.compliance.policy"]
        fr, re_ = self.env.ref("base.fr"), self.env.ref("base.re")
        self.assertEqual(Policy._for_destination(fr, None, datetime(2026, 2, 28, 22, 0)), self.fr_2024)
        self.assertEqual(Policy._for_destination(fr, None, datetime(2026, 3, 1, 0, 0)), self.fr)
        self.assertEqual(Policy._for_destination(re_, None, datetime(2026, 11, 24)), self.fr, "overseas: French law")
        us, state = self.env.ref("base.us"), self.env.ref
        self.assertEqual(Policy._for_destination(us, state("base.state_us_31"), datetime(2026, 11, 24)), self.us_fl)
        self.assertEqual(Policy._for_destination(us, state("base.state_us_44"), datetime(2026, 11, 24)), self.us_tx)
        self.assertEqual(Policy._for_destination(us, state("base.state_us_44"), datetime(2025, 8, 31)), self.us,
                         "Texas SB 140 is in force from 1 September 2025")
        self.assertEqual(Policy._for_destination(self.env.ref("base.es"), None, datetime(2026, 11, 24)), self.default)
        # Under the 2024 charter: until 22:00.
        paris = "Europe/Paris"
        self.assertNext(self.fr_2024, utc(paris, 2026, 2, 24, 21, 45), paris, utc(paris, 2026, 2, 24, 21, 45))
        self.assertTrue(self.fr.rule_source and self.fr_2024.rule_source and self.us_tx.rule_source)

    def test_overseas_holidays_only_where_they_apply(self):
        # 21 December 2027 is not a holiday; 20 December 2027 (Monday) is Réunion's abolition day only.
        reunion, paris = "Indian/Reunion", "Europe/Paris"
        self.assertNext(self.fr, utc(reunion, 2027, 12, 20, 10, 0), reunion, utc(reunion, 2027, 12, 21, 8, 0))
        self.assertNext(self.fr, utc(paris, 2027, 12, 20, 10, 0), paris, utc(paris, 2027, 12, 20, 10, 0))
        martinique = "America/Martinique"
        self.assertNext(self.fr, utc(martinique, 2026, 5, 22, 10, 0), martinique, utc(martinique, 2026, 5, 23, 8, 0))
        self.assertNext(self.fr, utc(martinique, 2026, 7, 14, 10, 0), martinique, utc(martinique, 2026, 7, 15, 8, 0),
                        "national holidays apply overseas too")


@tagged("post_install", "-at_install")
class TestGateZonesAndCap(OutboxCase):
    def setUp(self):
        super().setUp()
        self.Provider = self.env["sms.provider.message"].sudo()

    def history(self, partner, *ages):
        for n, age in enumerate(ages):
            self.Provider.create({"sms_uuid": f"hist-{partner.id}-{n}", "number": partner.sms_number,
                                  "partner_id": partner.id, "is_marketing": True, "date_sent": self.now - age})

    def test_florida_cap_is_three_per_24_hours(self):
        """305 number, no state on the contact: Florida's 3 marketing SMS per 24 h."""
        self.now = utc("America/New_York", 2026, 11, 24, 10, 0)
        h = timedelta(hours=1)
        cases = [
            # (ages of the marketing SMS sent before, expected: None = goes, else deferred until now + delta)
            ((23 * h,), None),  # the second goes
            ((23 * h, h), None),  # the third goes
            ((23 * h, 2 * h, h), h),  # the fourth waits until the first is 24 h old
            ((24 * h, 2 * h, h), None),  # one exactly 24 h old is outside the window
            ((24 * h - timedelta(minutes=1), 2 * h, h), timedelta(minutes=1)),
            ((23 * h, 22 * h, 2 * h, h), 2 * h),  # four in the window (cap lowered): until only two remain
        ]
        for ages, expected in cases:
            with self.subTest(ages=ages):
                self.assert_cap_case(ages, expected)

    def assert_cap_case(self, ages, expected):
        """A Florida number that received marketing SMS `ages` ago: sent now (`expected` None) or held by the
        frequency cap for `expected`."""
        partner = self.consented("+13055550123", country=self.us)
        self.history(partner, *ages)
        sms = self.marketing_sms(partner)
        to_send, deferred, _canceled = self.gate(sms, self.now)
        if expected is None:
            self.assertEqual(to_send, sms)
        else:
            self.assertEqual(deferred, sms)
            self.assertEqual(sms.sms_defer_reason, "frequency cap")
            self.assertEqual(sms.sms_defer_until, self.now + expected)
        partner.unlink()
        self.Provider.search([("number", "=", "+13055550123")]).unlink()

    def test_cap_window_edge_with_a_shorter_window(self):
        """A 12 h window while other policies look 24 h back: one sent exactly 12 h ago no longer counts."""
        self.env.ref("sms_marketing_addon.policy_us_fl").cap_hours = 12
        self.now = utc("America/New_York", 2026, 11, 24, 10, 0)
        h = timedelta(hours=1)
        for ages, expected in (((12 * h, 2 * h, h), None), ((12 * h - timedelta(minutes=1), 2 * h, h),
                                                              timedelta(minutes=1))):
            with self.subTest(ages=ages):
                self.assert_cap_case(ages, expected)

    def test_cap_counts_those_going_in_the_same_claim(self):
        self.now = utc("America/Chicago", 2026, 11, 24, 10, 0)
        partner = self.consented("+14055550123", country=self.us)  # Oklahoma by area code
        self.history(partner, timedelta(hours=5))
        first, second, third = (self.marketing_sms(partner) for _i in range(3))
        to_send, deferred, _canceled = self.gate(first | second | third, self.now)
        self.assertEqual(to_send, first | second)
        self.assertEqual(deferred, third)
        self.assertEqual(third.sms_defer_until, self.now + timedelta(hours=19))

    def test_the_held_reason_names_the_rule_and_the_zones(self):
        self.now = datetime(2026, 11, 24, 8, 30)  # 09:30 Madrid, 08:30 Canary Islands
        spain = self.consented("+34612345678", country=self.env.ref("base.es"))
        sms = self.marketing_sms(spain)
        self.gate(sms, self.now)
        self.assertEqual(sms.sms_defer_until, datetime(2026, 11, 24, 9, 0))
        self.assertEqual(sms.sms_defer_reason,
                         "Outside sending hours: Default, in Atlantic/Canary, Europe/Madrid (time zones of the number)")
        la = self.consented("+12125550123", country=self.us, tz="America/Los_Angeles")
        sms = self.marketing_sms(la)
        self.now = utc("America/New_York", 2026, 11, 24, 10, 0)  # 07:00 in Los Angeles
        self.gate(sms, self.now)
        self.assertEqual(sms.sms_defer_until, utc("America/Los_Angeles", 2026, 11, 24, 8, 0))
        self.assertIn("in America/Los_Angeles (time zone of the contact)", sms.sms_defer_reason)
        # In French for a French merchant.
        self.env["res.lang"]._activate_lang("fr_FR")
        module = self.env["ir.module.module"].search([("name", "=", "sms_marketing_addon")])
        module._update_translations(["fr_FR"], overwrite=True)
        fr_sms = self.marketing_sms(la)
        fr_sms.with_context(lang="fr_FR")._sms_gate(self.now)
        self.assertEqual(fr_sms.sms_defer_reason,
                         "Hors des heures d'envoi : États-Unis, en America/Los_Angeles (fuseau horaire du contact)")

    def test_area_code_rules_without_a_state(self):
        """305 (Florida), 410 (Maryland), 405 (Oklahoma) without a state: closed at 20:00 local."""
        for number, zone in (("+13055550123", "America/New_York"), ("+14105550123", "America/New_York"),
                             ("+14055550123", "America/Chicago")):
            partner = self.consented(number, country=self.us)
            sms = self.marketing_sms(partner)
            now = utc(zone, 2026, 11, 24, 20, 30)
            _to_send, deferred, _canceled = self.gate(sms, now)
            self.assertEqual(deferred, sms, number)
            self.assertEqual(sms.sms_defer_until, utc(zone, 2026, 11, 25, 8, 0))
            self.assertIn("Florida, Maryland, Oklahoma", sms.sms_defer_reason)
