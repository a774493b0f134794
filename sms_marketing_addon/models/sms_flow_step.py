from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from .sms_flow import STAT_FIELDS

STEP_TYPES = [("sms", "Send an SMS"), ("condition", "Condition"), ("split", "A/B split with holdout")]
CONDITION_TYPES = [
    ("ordered", "Has confirmed an order since entering"),
    ("clicked", "Clicked a message of this flow"),
    ("mailing_list", "Is in a mailing list"),
    ("domain", "Matches a filter"),
]
DELAY_UNITS = [("seconds", "Seconds"), ("minutes", "Minutes"), ("hours", "Hours"), ("days", "Days")]
UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


class SmsFlowStep(models.Model):
    """One SMS of a flow, sent `delay` after the cart's last activity (or after the consent)."""

    _name = "sms.flow.step"
    _description = "SMS Flow Step"
    _order = "flow_id, delay_seconds, sequence, id"

    flow_id = fields.Many2one("sms.flow", string="Flow", required=True, ondelete="cascade", index=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    name = fields.Char(string="Label", help="Optional label, shown in the statistics.")
    trigger = fields.Selection(related="flow_id.trigger")
    model = fields.Char(related="flow_id.model", string="Template model")
    company_id = fields.Many2one(related="flow_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="flow_id.currency_id")
    delay = fields.Integer(
        default=1, required=True,
        help="After the cart's last activity (abandoned carts) or after the consent (welcome flows).",
    )
    delay_unit = fields.Selection(DELAY_UNITS, default="hours", required=True)
    delay_seconds = fields.Integer(compute="_compute_delay_seconds", store=True, string="Delay (seconds)")
    step_type = fields.Selection(STEP_TYPES, string="Type", default="sms", required=True)
    branch = fields.Selection(
        [("a", "A"), ("b", "B")], string="Branch",
        help="After an A/B split: only the contacts of this branch take this step. Empty: every branch (the "
        "holdout receives nothing after the split).",
    )
    at_time_of_day = fields.Boolean(
        string="Then wait until a time of day",
        help="After the delay, wait until this time of day in the recipient's time zone.",
    )
    time_of_day = fields.Float(string="Time of day", default=18.0, help="Local time of the recipient, e.g. 18:00.")
    condition_type = fields.Selection(CONDITION_TYPES, string="Condition", default="ordered")
    condition_mailing_list_id = fields.Many2one("mailing.list", string="Mailing list", ondelete="set null")
    condition_domain = fields.Char(string="Contact filter", default="[]")
    condition_negate = fields.Boolean(
        string="Continue when false",
        help="Ticked: the flow goes on only for contacts for whom the condition is false (e.g. has not ordered). "
        "Others leave the flow.",
    )
    split_holdout_percent = fields.Float(
        string="Holdout (%)", default=10.0,
        help="Share of the contacts who receive nothing from here on: the reference of the lift.",
    )
    split_a_percent = fields.Float(string="Branch A (% of the rest)", default=50.0,
                                   help="Share of the contacts not held out who go to branch A; the others go to B.")
    email_template_id = fields.Many2one(
        "mail.template", string="E-mail instead", ondelete="set null",
        domain="[('model', '=', model)]",
        help="Sent when the contact cannot receive this SMS (no SMS consent, no mobile) but accepts e-mail.",
    )
    template_id = fields.Many2one(
        "sms.template", string="SMS template", ondelete="restrict",
        domain="[('model', '=', model)]",
        help="Rendered on the cart (sale.order) or the contact (res.partner), in the contact's language.",
    )
    template_segment_summary = fields.Char(
        related="template_id.sms_segment_summary", string="Template SMS length",
        help="Segments of the template's message as a recipient receives it (brand, opt-out footer, short link).",
    )
    template_segment_warning = fields.Char(
        related="template_id.sms_segment_warning", string="Template SMS length warning")
    coupon_program_id = fields.Many2one(
        "loyalty.program", string="Discount code from", ondelete="set null",
        domain="[('program_type', '=', 'coupons')]",
        help="Each message gets its own single-use code from this coupon program (in the template: "
        "{{ object.sms_flow_coupon_code }}).",
    )
    coupon_validity_days = fields.Integer(string="Code valid for (days)", default=7)
    mms_image = fields.Boolean(
        string="Product image (MMS)",
        help="Attach the image of the cart's first product, where the gateway and the destination support MMS.",
    )
    source_id = fields.Many2one(
        "utm.source", string="UTM source", copy=False, ondelete="set null",
        help="Source of the tracked links of this step (created with the step).",
    )
    message_ids = fields.One2many("sms.flow.message", "step_id", string="Messages")

    carts_entered = fields.Integer(string="Entered", compute="_compute_statistics")
    carts_blocked = fields.Integer(string="No SMS", compute="_compute_statistics")
    sent = fields.Integer(string="Sent", compute="_compute_statistics")
    delivered = fields.Integer(string="Delivered", compute="_compute_statistics")
    clicked = fields.Integer(string="Clicked", compute="_compute_statistics")
    recovered = fields.Integer(
        string="Converted", compute="_compute_statistics",
        help="Orders attributed to an SMS of this flow (a click, or a delivery shortly before the order): for "
        "abandoned carts, the carts recovered.",
    )
    revenue = fields.Monetary(string="Revenue", compute="_compute_statistics", currency_field="currency_id")
    opted_out = fields.Integer(string="Opt-outs", compute="_compute_statistics")

    _sql_constraints = [
        ("delay_positive", "CHECK (delay >= 0)", "A step's delay cannot be negative."),
        ("coupon_validity_positive", "CHECK (coupon_validity_days >= 0)", "A code's validity cannot be negative."),
    ]

    @api.depends("delay", "delay_unit")
    def _compute_delay_seconds(self):
        for step in self:
            step.delay_seconds = (step.delay or 0) * UNIT_SECONDS.get(step.delay_unit, 3600)

    @api.depends("flow_id", "delay", "delay_unit", "name")
    def _compute_display_name(self):
        units = dict(self._fields["delay_unit"]._description_selection(self.env))
        one = {"seconds": _("second"), "minutes": _("minute"), "hours": _("hour"), "days": _("day")}
        for step in self:
            if step.name:
                when = step.name
            elif not step.delay:
                when = _("at once")
            else:
                unit = one.get(step.delay_unit) if step.delay == 1 else (units.get(step.delay_unit) or "").lower()
                when = _("after %(delay)s %(unit)s", delay=step.delay, unit=unit or "")
            step.display_name = _("%(flow)s: %(step)s", flow=step.flow_id.name or "", step=when)

    def _compute_statistics(self):
        stats = self.env["sms.flow.report"]._sms_flow_statistics("step_id", self.ids)
        for step in self:
            values = stats.get(step.id, {})
            for fname in STAT_FIELDS:
                step[fname] = values.get(fname, 0)

    @api.constrains("template_id", "flow_id", "step_type", "branch", "split_holdout_percent", "split_a_percent",
                    "email_template_id", "time_of_day")
    def _check_template_model(self):
        for step in self:
            if step.step_type == "sms" and not step.template_id:
                raise ValidationError(_("A step that sends an SMS needs an SMS template (flow %s).", step.flow_id.name))
            if step.flow_id.trigger == "cart_abandoned" and (step.step_type != "sms" or step.branch
                                                             or step.email_template_id or step.at_time_of_day):
                raise ValidationError(_(
                    "Abandoned-cart flows send SMS by delay only: conditions, splits, branches, e-mails and times "
                    "of day are for the other triggers (flow %s).", step.flow_id.name))
            if not (0 <= step.split_holdout_percent <= 100 and 0 <= step.split_a_percent <= 100):
                raise ValidationError(_("Split shares are between 0 and 100 %."))
            if not 0 <= step.time_of_day < 24:
                raise ValidationError(_("A time of day is between 00:00 and 23:59."))
            if step.email_template_id and step.email_template_id.model != step.flow_id.model:
                raise ValidationError(_(
                    "The e-mail template of a step of flow %(flow)s must be on %(model)s.",
                    flow=step.flow_id.name, model=step.flow_id.model,
                ))
            if step.template_id and step.template_id.model != step.flow_id.model:
                raise ValidationError(_(
                    "The SMS template of a step of flow %(flow)s must be on %(model)s.",
                    flow=step.flow_id.name, model=step.flow_id.model,
                ))

    @api.constrains("delay", "delay_unit", "active")
    def _check_us_carrier_guidance(self):
        self.flow_id._check_us_carrier_guidance()

    @api.model_create_multi
    def create(self, vals_list):
        steps = super().create(vals_list)
        Source = self.env["utm.source"].sudo()
        for step in steps.filtered(lambda s: not s.source_id):
            step.source_id = Source.create({"name": _("SMS flow %(flow)s, step %(step)s",
                                                      flow=step.flow_id.name, step=step.id)})
        return steps
