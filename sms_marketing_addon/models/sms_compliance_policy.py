from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..tools import recipient_zones

WEEKDAY_FIELDS = ("day_mon", "day_tue", "day_wed", "day_thu", "day_fri", "day_sat", "day_sun")


class SmsCompliancePolicy(models.Model):
    """When and how marketing SMS may reach a destination country (or one of its states)."""

    _name = "sms.compliance.policy"
    _description = "SMS Compliance Policy"
    _order = "country_id, sequence, id"

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    country_id = fields.Many2one("res.country", help="Empty: the default policy for every other country.")
    territory_ids = fields.Many2many(
        "res.country", "sms_compliance_policy_territory_rel", "policy_id", "country_id", string="Also for",
        help="Territories under this country's rules (e.g. the French overseas departments), each in its own "
             "local time.",
    )
    state_ids = fields.Many2many(
        "res.country.state", string="States",
        help="Only for contacts in these states, or for numbers of their area codes when the contact has no "
             "state (an exception to the country's policy).",
    )
    date_from = fields.Date(string="In force from", help="Empty: since always.")
    date_to = fields.Date(string="In force until", help="Empty: until further notice (this day included).")
    rule_source = fields.Char(string="Legal source", help="The law or charter this rule comes from.")
    hour_start = fields.Float(string="Sending from", default=8.0, help="Local time of the recipient.")
    hour_end = fields.Float(string="Sending until", default=20.0, help="Local time of the recipient (excluded).")
    sunday_hours = fields.Boolean(string="Other hours on Sunday")
    sunday_hour_start = fields.Float(string="Sunday from", default=12.0)
    sunday_hour_end = fields.Float(string="Sunday until", default=21.0)
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

    @api.constrains("hour_start", "hour_end", "sunday_hours", "sunday_hour_start", "sunday_hour_end")
    def _check_hours(self):
        for policy in self:
            if not 0 <= policy.hour_start < policy.hour_end <= 24 or (
                    policy.sunday_hours and not 0 <= policy.sunday_hour_start < policy.sunday_hour_end <= 24):
                raise ValidationError(_("Sending hours must satisfy 0 ≤ from < until ≤ 24 (%s).", policy.name))

    @api.constrains("date_from", "date_to")
    def _check_dates(self):
        for policy in self:
            if policy.date_from and policy.date_to and policy.date_to < policy.date_from:
                raise ValidationError(_("Policy %s ends before it starts.", policy.name))

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
    def _for_destination(self, country, state=None, when=None, policies=None):
        """The policy in force on `when` (a date or naive UTC datetime; default today) for a country or one of
        its territories (and state): the state's exception, else the country's, else the default. `policies`
        (every policy, as searched) saves the search when a batch looks up many destinations."""
        day = (when.date() if hasattr(when, "date") else when) or fields.Date.context_today(self)
        if policies is None:
            policies = self.sudo().search([
                "|", ("country_id", "in", [country.id if country else False, False]),
                ("territory_ids", "in", country.ids),
            ])
        policies = policies.filtered(lambda p: (not p.date_from or p.date_from <= day)
                                     and (not p.date_to or day <= p.date_to))
        own = policies.filtered(lambda p: p.country_id and (p.country_id == country or country in p.territory_ids))
        if state:
            for policy in own:
                if state in policy.state_ids:
                    return policy
        return (own.filtered(lambda p: not p.state_ids)[:1]
                or policies.filtered(lambda p: not p.country_id)[:1]
                or self.new({"name": "Built-in"}))

    def _allowed_weekdays(self):
        self.ensure_one()
        return {index for index, fname in enumerate(WEEKDAY_FIELDS) if self[fname]}

    def _window(self, zone):
        """The policy's weekly window in `zone`, with the holidays that apply there."""
        self.ensure_one()
        weekdays = self._allowed_weekdays()
        hours = [(self.hour_start, self.hour_end) if day in weekdays else None for day in range(7)]
        if self.sunday_hours and 6 in weekdays:
            hours[6] = (self.sunday_hour_start, self.sunday_hour_end)
        holidays = frozenset(
            holiday.date for holiday in self.holiday_ids
            if not holiday.country_id or zone in recipient_zones.country_zones(holiday.country_id.code)
        )
        return recipient_zones.Window(tuple(hours), holidays)

    def _next_allowed(self, now_utc, zones):
        """The first moment at or after `now_utc` (naive UTC) inside the sending window in every one of `zones`
        (a zone name or several), as naive UTC; `now_utc` itself when it is allowed; None if there is no such
        moment within 16 days."""
        self.ensure_one()
        zones = (zones,) if isinstance(zones, str) else tuple(zones)
        return recipient_zones.next_allowed_all(now_utc, {zone: self._window(zone) for zone in zones})


class SmsComplianceHoliday(models.Model):
    _name = "sms.compliance.holiday"
    _description = "SMS Compliance Public Holiday"
    _order = "date"

    policy_id = fields.Many2one("sms.compliance.policy", required=True, ondelete="cascade")
    date = fields.Date(required=True)
    name = fields.Char(required=True, translate=True)
    country_id = fields.Many2one(
        "res.country", string="Only in",
        help="A holiday of one territory only (e.g. an abolition-of-slavery day overseas); empty: everywhere "
             "the policy applies.",
    )
