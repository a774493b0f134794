from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

WEEKDAY_FIELDS = ("day_mon", "day_tue", "day_wed", "day_thu", "day_fri", "day_sat", "day_sun")


def _float_to_time(value):
    hours = int(value)
    minutes = int(round((value - hours) * 60))
    if minutes == 60:
        hours, minutes = hours + 1, 0
    return time(min(hours, 23), minutes) if hours < 24 else time(23, 59)


class SmsCompliancePolicy(models.Model):
    """When and how marketing SMS may reach a destination country (or one of its states)."""

    _name = "sms.compliance.policy"
    _description = "SMS Compliance Policy"
    _order = "country_id, sequence, id"

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    country_id = fields.Many2one("res.country", help="Empty: the default policy for every other country.")
    state_ids = fields.Many2many(
        "res.country.state", string="States",
        help="Only for contacts in these states (an exception to the country's policy).",
    )
    hour_start = fields.Float(string="Sending from", default=8.0, help="Local time of the recipient.")
    hour_end = fields.Float(string="Sending until", default=20.0, help="Local time of the recipient (excluded).")
    day_mon = fields.Boolean(string="Monday", default=True)
    day_tue = fields.Boolean(string="Tuesday", default=True)
    day_wed = fields.Boolean(string="Wednesday", default=True)
    day_thu = fields.Boolean(string="Thursday", default=True)
    day_fri = fields.Boolean(string="Friday", default=True)
    day_sat = fields.Boolean(string="Saturday", default=True)
    day_sun = fields.Boolean(string="Sunday", default=False)
    holiday_ids = fields.One2many("sms.compliance.holiday", "policy_id", string="Public holidays")
    cap_count = fields.Integer(string="At most", default=1, help="Marketing SMS per number within the window.")
    cap_hours = fields.Integer(string="Within (hours)", default=24)
    brand_prefix = fields.Boolean(default=True, help="Start every marketing SMS with the brand name.")
    optout_footer = fields.Char(
        string="Opt-out footer", translate=True, default="STOP SMS",
        help="Added at the end of a marketing SMS whose body does not already tell how to stop.",
    )
    transactional_blocked_by_optout = fields.Boolean(
        string="Opt-outs also stop transactional SMS", default=True,
        help="A number in the opt-out register receives no SMS at all but consent requests and keyword replies.",
    )

    @api.constrains("hour_start", "hour_end")
    def _check_hours(self):
        for policy in self:
            if not 0 <= policy.hour_start < policy.hour_end <= 24:
                raise ValidationError(_("Sending hours must satisfy 0 ≤ from < until ≤ 24 (%s).", policy.name))

    @api.constrains(*WEEKDAY_FIELDS)
    def _check_days(self):
        for policy in self:
            if not any(policy[f] for f in WEEKDAY_FIELDS):
                raise ValidationError(_("Policy %s allows no day at all.", policy.name))

    @api.constrains("cap_count", "cap_hours")
    def _check_cap(self):
        for policy in self:
            if policy.cap_count < 0 or policy.cap_hours < 0:
                raise ValidationError(_("The frequency cap cannot be negative."))

    @api.model
    def _for_destination(self, country, state=None):
        """The policy for a country (and state): state exception, else the country's, else the default."""
        policies = self.sudo().search([("country_id", "in", [country.id if country else False, False])])
        if state:
            for policy in policies:
                if policy.country_id == country and state in policy.state_ids:
                    return policy
        return (policies.filtered(lambda p: p.country_id == country and not p.state_ids)[:1]
                or policies.filtered(lambda p: not p.country_id)[:1]
                or self.new({"name": "Built-in"}))

    def _allowed_weekdays(self):
        self.ensure_one()
        return {index for index, fname in enumerate(WEEKDAY_FIELDS) if self[fname]}

    def _next_allowed(self, now_utc, tz_name):
        """The first moment at or after `now_utc` (naive UTC) inside the sending window in `tz_name`,
        as naive UTC; `now_utc` itself when it is allowed. Never more than 15 days ahead."""
        self.ensure_one()
        tz = ZoneInfo(tz_name)
        local_now = now_utc.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz)
        start, end = _float_to_time(self.hour_start), _float_to_time(self.hour_end)
        weekdays = self._allowed_weekdays()
        holidays = set(self.holiday_ids.mapped("date"))
        for offset in range(16):
            day = local_now.date() + timedelta(days=offset)
            if day.weekday() not in weekdays or day in holidays:
                continue
            opens = datetime.combine(day, start, tzinfo=tz)
            closes = datetime.combine(day, end, tzinfo=tz) if self.hour_end < 24 else (
                datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=tz))
            candidate = max(local_now, opens)
            if candidate < closes:
                return candidate.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
        return None


class SmsComplianceHoliday(models.Model):
    _name = "sms.compliance.holiday"
    _description = "SMS Compliance Public Holiday"
    _order = "date"

    policy_id = fields.Many2one("sms.compliance.policy", required=True, ondelete="cascade")
    date = fields.Date(required=True)
    name = fields.Char(required=True, translate=True)
