import phonenumbers

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..tools import flow_math

# Before the trigger records exist (first install): the two triggers of the first versions.
FLOW_TRIGGERS = [
    ("cart_abandoned", "Abandoned website cart"),
    ("consent_confirmed", "SMS consent confirmed (welcome)"),
]
TRIGGER_MODELS = {"cart_abandoned": "sale.order", "consent_confirmed": "res.partner"}
ENTRY_DELAY_UNITS = [("minutes", "Minutes"), ("hours", "Hours"), ("days", "Days")]
ENTRY_UNIT_SECONDS = {"minutes": 60, "hours": 3600, "days": 86400}
BRANCHES = [("a", "A"), ("b", "B"), ("holdout", "Holdout")]
# Default abandoned-cart steps: hours after the cart's last activity.
DEFAULT_CART_DELAYS_HOURS = (1, 24, 72)
# US carrier (CTIA) guidance for abandoned carts: one message, within 48 hours.
US_CARRIER_MAX_HOURS = 48
# French texts of the default templates and flows: (field, English default, French). Applied when a French
# language is active at install or gets activated later, to records whose text is still the English default
# and not translated yet (a translation file or the merchant may have done it).
FRENCH_TEXTS = {
    "sms_template_cart_step1": (
        "body",
        "You left something in your cart. Complete your order here: {{ object.sms_flow_cart_url }}",
        "Vous avez oublié quelque chose dans votre panier. Finalisez votre commande ici : "
        "{{ object.sms_flow_cart_url }}",
    ),
    "sms_template_cart_step2": (
        "body",
        "Your cart is still waiting for you: {{ object.sms_flow_cart_url }}",
        "Votre panier vous attend toujours : {{ object.sms_flow_cart_url }}",
    ),
    "sms_template_cart_step3": (
        "body",
        "Last reminder: your cart will not wait forever. Complete your order: {{ object.sms_flow_cart_url }}",
        "Dernier rappel : votre panier ne vous attendra pas éternellement. Finalisez votre commande : "
        "{{ object.sms_flow_cart_url }}",
    ),
    "sms_template_cart_discount": (
        "body",
        "Your cart is waiting, with a discount: use code {{ object.sms_flow_coupon_code }} at checkout. "
        "{{ object.sms_flow_cart_url }}",
        "Votre panier vous attend, avec une remise : utilisez le code {{ object.sms_flow_coupon_code }} lors du "
        "paiement. {{ object.sms_flow_cart_url }}",
    ),
    "sms_template_welcome": (
        "body",
        "Welcome! You are now subscribed to our SMS offers. Visit our shop: {{ object.sms_flow_link }}",
        "Bienvenue ! Votre inscription à nos offres SMS est confirmée. Découvrez la boutique : "
        "{{ object.sms_flow_link }}",
    ),
    "sms_flow_cart_us": ("name", "Abandoned cart (US carrier guidance)",
                         "Panier abandonné (recommandations des opérateurs US)"),
    "sms_flow_cart_default": ("name", "Abandoned cart", "Panier abandonné"),
    "sms_flow_welcome": ("name", "Welcome", "Bienvenue"),
    "sms_template_post_purchase_thanks": (
        "body",
        "Thank you for your order {{ object.name }}! Discover what goes with it: {{ object.sms_flow_link }}",
        "Merci pour votre commande {{ object.name }} ! Découvrez ce qui va avec : {{ object.sms_flow_link }}",
    ),
    "sms_template_post_purchase_review": (
        "body",
        "How do you like your order {{ object.name }}? Tell us: {{ object.sms_flow_link }}",
        "Votre commande {{ object.name }} vous plaît-elle ? Donnez-nous votre avis : {{ object.sms_flow_link }}",
    ),
    "sms_template_browse": (
        "body",
        "Still thinking about it? The product you viewed is waiting for you: {{ object.sms_flow_link }}",
        "Toujours intéressé ? Le produit que vous avez consulté vous attend : {{ object.sms_flow_link }}",
    ),
    "sms_template_win_back": (
        "body",
        "We miss you! Come and see what is new: {{ object.sms_flow_link }}",
        "Vous nous manquez ! Venez découvrir nos nouveautés : {{ object.sms_flow_link }}",
    ),
    "mail_template_win_back": ("subject", "We miss you", "Vous nous manquez"),
    "sms_template_date": (
        "body",
        "Happy birthday, {{ object.name }}! Celebrate with us: {{ object.sms_flow_link }}",
        "Joyeux anniversaire, {{ object.name }} ! Fêtez-le avec nous : {{ object.sms_flow_link }}",
    ),
    "sms_flow_date": ("name", "Birthday", "Anniversaire"),
    "sms_flow_post_purchase": ("name", "Post-purchase: thank you and review", "Après l'achat : merci et avis"),
    "sms_flow_browse": ("name", "Browse abandonment", "Produits consultés sans achat"),
    "sms_flow_win_back": ("name", "Win-back", "Reconquête"),
    # Triggers (also in i18n/fr.po; here so that they are French before the .pot lists them)
    "sms_flow_trigger_cart": ("name", "Abandoned website cart", "Panier abandonné sur le site web"),
    "sms_flow_trigger_welcome": ("name", "SMS consent confirmed (welcome)", "Consentement SMS confirmé (bienvenue)"),
    "sms_flow_trigger_order_confirmed": [
        ("name", "Order confirmed (post-purchase)", "Commande confirmée (après l'achat)"),
        ("entry", "A sales order is confirmed (once per order).",
         "Une commande client est confirmée (une fois par commande)."),
    ],
    "sms_flow_trigger_browse": [
        ("name", "Browse abandonment", "Produits consultés sans achat"),
        ("entry", "An identified website visitor viewed products and started no cart nor order for the flow's entry "
         "delay after the last view.",
         "Un visiteur identifié du site web a consulté des produits sans commencer de panier ni commander pendant "
         "le délai d'entrée du scénario après la dernière consultation."),
    ],
    "sms_flow_trigger_date": ("name", "Date of the contact (e.g. birthday)", "Date du contact (par ex. anniversaire)"),
    "sms_flow_trigger_win_back": [
        ("name", "Win-back (no order since)", "Reconquête (aucune commande depuis)"),
        ("entry", "A customer's last confirmed order is older than the flow's entry delay (once per last order).",
         "La dernière commande confirmée d'un client est plus ancienne que le délai d'entrée du scénario (une fois "
         "par dernière commande)."),
    ],
}
STAT_FIELDS = ("carts_entered", "carts_blocked", "sent", "delivered", "clicked", "recovered", "revenue",
               "opted_out")


def number_region(number):
    """ISO country code of an E.164 number, or False."""
    if not number:
        return False
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number, None)) or False
    except phonenumbers.NumberParseException:
        return False


class SmsFlow(models.Model):
    """A multi-step SMS flow: abandoned website carts, or a welcome series once a contact opted in.

    Steps are sent by delay (after the cart's last activity, or after the consent); each (cart or contact,
    step) gets at most one SMS, enforced by a unique constraint on `sms.flow.message`."""

    _name = "sms.flow"
    _description = "SMS Flow"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10, help="A cart or contact enters the first matching flow, by sequence.")
    trigger = fields.Selection("_selection_trigger", required=True, default="cart_abandoned")
    trigger_id = fields.Many2one("sms.flow.trigger", string="Trigger record", compute="_compute_trigger_id")
    trigger_entry = fields.Text(string="Enters when", compute="_compute_trigger_id")
    entry_delay = fields.Integer(
        string="Entry delay", default=0,
        help="Browse abandonment: time without a cart after the last product view. Win-back: time since the "
        "last confirmed order. Post-purchase: unused (the steps' delays count from the confirmation).",
    )
    entry_delay_unit = fields.Selection(ENTRY_DELAY_UNITS, default="days", required=True)
    reentry_days = fields.Integer(
        string="Re-entry after (days)", default=30,
        help="A contact enters this flow again only this many days after its last entry (0: every time the "
        "trigger fires; the welcome flow is once per contact).",
    )
    partner_domain = fields.Char(
        string="Contacts", default="[]",
        help="Only contacts matching this filter enter the flow.",
    )
    conversion_days = fields.Integer(
        string="Conversion window (days)", default=5,
        help="A confirmed order of the contact within this many days after entering counts as a conversion of "
        "its branch, holdout included (the order that started a post-purchase flow does not count).",
    )
    date_field_id = fields.Many2one(
        "ir.model.fields", string="Contact date", ondelete="set null",
        domain="[('model', '=', 'res.partner'), ('ttype', 'in', ('date', 'datetime')), ('store', '=', True)]",
        help="Date trigger: the contact's date field (e.g. a birthday) whose day and month start the flow, the "
        "entry delay before it (0: on the day).",
    )
    has_holdout = fields.Boolean(compute="_compute_lift")
    lift_summary = fields.Text(string="Lift over the holdout", compute="_compute_lift")
    model = fields.Char(string="Template model", compute="_compute_model")
    company_id = fields.Many2one("res.company", string="Company", default=lambda self: self.env.company, index=True)
    currency_id = fields.Many2one(related="company_id.currency_id", string="Currency")
    website_ids = fields.Many2many(
        "website", string="Websites", help="Abandoned carts of these websites only. Empty: every website."
    )
    country_ids = fields.Many2many(
        "res.country", string="Destination countries",
        help="Only for SMS numbers of these countries. Empty: every country.",
    )
    step_ids = fields.One2many("sms.flow.step", "flow_id", string="Steps", copy=True)
    step_count = fields.Integer(compute="_compute_step_count")
    us_carrier_guidance = fields.Boolean(
        string="US carrier guidance",
        help="US carriers (CTIA) accept one abandoned-cart message, sent within 48 hours of the abandonment.",
    )
    attribution_click_days = fields.Integer(
        string="Attribution after a click (days)", default=5,
        help="An order confirmed within this many days after a click on a message of this flow counts as "
        "recovered.",
    )
    attribution_delivery_hours = fields.Integer(
        string="Attribution after delivery (hours)", default=24,
        help="An order confirmed within this many hours after a message of this flow was delivered counts as "
        "recovered.",
    )
    campaign_id = fields.Many2one(
        "utm.campaign", string="UTM campaign", copy=False, ondelete="set null",
        help="Campaign of the tracked links of this flow (created with the flow).",
    )
    enrollment_ids = fields.One2many("sms.flow.enrollment", "flow_id", string="Enrollments")

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
        ("attribution_windows_positive", "CHECK (attribution_click_days >= 0 AND attribution_delivery_hours >= 0)",
         "Attribution windows cannot be negative."),
    ]

    @api.model
    def _selection_trigger(self):
        try:
            triggers = self.env["sms.flow.trigger"].sudo().search([])
        except KeyError:
            triggers = ()
        return [(t.code, t.name) for t in triggers] or FLOW_TRIGGERS

    @api.depends("trigger")
    def _compute_trigger_id(self):
        triggers = {t.code: t for t in self.env["sms.flow.trigger"].sudo().search([])}
        for flow in self:
            flow.trigger_id = triggers.get(flow.trigger, False)
            flow.trigger_entry = flow.trigger_id.entry

    @api.depends("trigger")
    def _compute_model(self):
        for flow in self:
            flow.model = flow.trigger_id.model or TRIGGER_MODELS.get(flow.trigger)

    def _sms_flow_entry_delay_seconds(self):
        self.ensure_one()
        return (self.entry_delay or 0) * ENTRY_UNIT_SECONDS.get(self.entry_delay_unit, 86400)

    def _sms_flow_branch_figures(self):
        """{branch or '': {entered, sent, clicked, converted, revenue, revenue_sq, opted_out}} of this flow."""
        self.ensure_one()
        return self.env["sms.flow.branch.report"]._sms_flow_branch_figures(self.id)

    def _sms_flow_lifts(self, confidence=0.95):
        """[(label, conversion Lift, revenue Lift)] of each branch (and of all the treated) over the holdout."""
        self.ensure_one()
        figures = self._sms_flow_branch_figures()
        holdout = figures.get("holdout")
        if not holdout or not holdout["entered"]:
            return []
        treated = {key: value for key, value in figures.items() if key != "holdout"}
        groups = [(_("Branch %s", key.upper()) if key else _("No branch"), value)
                  for key, value in sorted(treated.items())]
        if len(treated) > 1:
            total = {name: sum(v[name] for v in treated.values()) for name in holdout}
            groups.append((_("All sent"), total))
        return [(label, flow_math.conversion_lift(v["entered"], v["converted"], holdout["entered"],
                                                  holdout["converted"], confidence),
                 flow_math.revenue_lift(v["entered"], v["revenue"], v["revenue_sq"], holdout["entered"],
                                        holdout["revenue"], holdout["revenue_sq"], confidence))
                for label, v in groups]

    def _compute_lift(self):
        for flow in self:
            lifts = flow._sms_flow_lifts() if flow.id else []
            flow.has_holdout = bool(lifts)
            lines = []
            for label, conv, revenue in lifts:
                if not conv:
                    continue
                line = _(
                    "%(label)s: conversion %(treated).1f %% against %(holdout).1f %% in the holdout, "
                    "lift %(diff)+.1f points (95 %% confidence: %(low)+.1f to %(high)+.1f)",
                    label=label, treated=conv.treated * 100, holdout=conv.holdout * 100,
                    diff=conv.difference * 100, low=conv.low * 100, high=conv.high * 100,
                )
                if revenue:
                    line += _("; revenue per contact %(treated).2f against %(holdout).2f "
                              "(difference %(diff)+.2f, 95 %% confidence: %(low)+.2f to %(high)+.2f)",
                              treated=revenue.treated, holdout=revenue.holdout, diff=revenue.difference,
                              low=revenue.low, high=revenue.high)
                lines.append(line)
            flow.lift_summary = "\n".join(lines) or False

    @api.depends("step_ids")
    def _compute_step_count(self):
        for flow in self:
            flow.step_count = len(flow.step_ids)

    def _compute_statistics(self):
        stats = self.env["sms.flow.report"]._sms_flow_statistics("flow_id", self.ids)
        for flow in self:
            values = stats.get(flow.id, {})
            for fname in STAT_FIELDS:
                flow[fname] = values.get(fname, 0)

    @api.constrains("us_carrier_guidance", "step_ids", "trigger")
    def _check_us_carrier_guidance(self):
        for flow in self.filtered("us_carrier_guidance"):
            steps = flow.step_ids.filtered("active")
            if len(steps) > 1 or any(step.delay_seconds > US_CARRIER_MAX_HOURS * 3600 for step in steps):
                raise ValidationError(_(
                    "Flow %(flow)s follows the US carrier guidance: one message, within %(hours)s hours.",
                    flow=flow.name, hours=US_CARRIER_MAX_HOURS,
                ))

    @api.constrains("active", "trigger", "date_field_id")
    def _check_date_field(self):
        for flow in self.filtered(lambda f: f.active and f.trigger == "date_anniversary" and not f.date_field_id):
            raise ValidationError(_(
                "Flow %(flow)s starts on a date of the contact: choose that date field (e.g. a birthday) in "
                "\"Contact date\" before turning the flow on.", flow=flow.name,
            ))

    @api.constrains("trigger", "step_ids")
    def _check_step_templates(self):
        for flow in self:
            wrong = flow.step_ids.filtered(lambda step: step.template_id and step.template_id.model != flow.model)
            if wrong:
                raise ValidationError(_(
                    "The SMS templates of flow %(flow)s must be on %(model)s.", flow=flow.name, model=flow.model,
                ))

    # ------------------------------------------------------------------ presets
    def _preset_template(self, index):
        xmlids = {
            0: "sms_marketing_addon.sms_template_cart_step1",
            1: "sms_marketing_addon.sms_template_cart_step2",
            2: "sms_marketing_addon.sms_template_cart_step3",
        }
        return self.env.ref(xmlids.get(index, xmlids[0]), raise_if_not_found=False)

    def _sms_flow_set_steps(self, delays_hours, us_carrier_guidance):
        for flow in self.filtered(lambda f: f.trigger == "cart_abandoned"):
            used = flow.step_ids.filtered("message_ids")
            used.active = False  # keep the statistics of steps that already sent messages
            (flow.step_ids - used).unlink()
            flow.write({
                "us_carrier_guidance": us_carrier_guidance,
                "step_ids": [
                    (0, 0, {"delay": hours, "delay_unit": "hours", "template_id": flow._preset_template(index).id})
                    for index, hours in enumerate(delays_hours)
                ],
            })
        return True

    def action_apply_preset_default(self):
        """Abandoned cart: three reminders, 1 h, 24 h and 72 h after the cart's last activity."""
        return self._sms_flow_set_steps(DEFAULT_CART_DELAYS_HOURS, False)

    def action_apply_preset_us_carrier(self):
        """Abandoned cart, US carrier guidance: one reminder, 1 h after the cart's last activity (< 48 h)."""
        return self._sms_flow_set_steps((1,), True)

    # ------------------------------------------------------------------ actions
    def action_view_enrollments(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window", "name": _("Enrollments"), "res_model": "sms.flow.enrollment",
            "view_mode": "list,form", "domain": [("flow_id", "=", self.id)], "context": {"create": False},
        }

    def action_view_branch_report(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("sms_marketing_addon.sms_flow_branch_report_action")
        action["domain"] = [("flow_id", "=", self.id)]
        action["context"] = {}  # the pivot's columns are the branches
        return action

    def action_view_report(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("sms_marketing_addon.sms_flow_report_action")
        action["domain"] = [("flow_id", "=", self.id)]
        action["context"] = {"search_default_group_step": 1}
        return action

    # ------------------------------------------------------------------ engine helpers
    def init(self):
        super().init()
        self.with_context(active_test=False).search([("date_field_id", "!=", False)])._sms_flow_date_index()

    def _sms_flow_date_index(self):
        """An index on the day and month of the contact date field of these date flows, so that the flows'
        scheduled action reads the contacts of the day, not every contact, on each run."""
        for field in self.sudo().date_field_id:
            if field.model != "res.partner" or not field.store or field.ttype not in ("date", "datetime"):
                continue
            column = SQL.identifier(field.name)
            self.env.cr.execute(SQL(
                "CREATE INDEX IF NOT EXISTS %s ON res_partner ((extract(month FROM %s)), (extract(day FROM %s))) "
                "WHERE %s IS NOT NULL",
                SQL.identifier(f"sms_flow_res_partner_{field.name}_day"[:63]), column, column, column,
            ))

    @api.model_create_multi
    def create(self, vals_list):
        flows = super().create(vals_list)
        Campaign = self.env["utm.campaign"].sudo()
        for flow in flows.filtered(lambda f: not f.campaign_id):
            flow.campaign_id = Campaign.create({"title": _("SMS flow: %s", flow.name), "is_auto_campaign": True})
        flows.filtered("date_field_id")._sms_flow_date_index()
        return flows

    def write(self, vals):
        archived = self.filtered("active") if "active" in vals and not vals["active"] else self.browse()
        res = super().write(vals)
        if vals.get("date_field_id"):
            self._sms_flow_date_index()
        if archived:
            self.env["sms.flow.enrollment"].sudo().search(
                [("flow_id", "in", archived.ids), ("state", "in", ("running", "done"))]
            )._sms_flow_exit("flow_inactive")
        return res

    def _sms_flow_steps(self):
        """Active steps in sending order (delay, then sequence)."""
        self.ensure_one()
        return self.step_ids.filtered("active").sorted(lambda s: (s.delay_seconds, s.sequence, s.id))

    @api.model
    def _sms_flow_matches(self, flow, company, website, region):
        return ((not flow.company_id or flow.company_id == company)
                and (not website or not flow.website_ids or website in flow.website_ids)
                and (not flow.country_ids or region in flow.country_ids.mapped("code"))
                and bool(flow.step_ids.filtered("active")))

    @api.model
    def _sms_flow_for_order(self, order, flows=None):
        """The cart flow of an order: the one it is already enrolled in, else the first matching one."""
        enrollment = order.sudo().sms_flow_enrollment_ids[:1]
        if enrollment:
            return enrollment.flow_id if enrollment.flow_id.active else self.browse()
        if flows is None:
            flows = self.sudo().search([("trigger", "=", "cart_abandoned")])
        region = number_region(order.partner_id.sms_number)
        for flow in flows:
            if self._sms_flow_matches(flow, order.company_id, order.website_id, region):
                return flow
        return self.browse()

    @api.model
    def _sms_flow_version(self):
        """A string that changes whenever a flow or a step is created, edited, archived or deleted."""
        self.env["sms.flow"].flush_model()
        self.env["sms.flow.step"].flush_model()
        [(version,)] = self.env.execute_query(SQL(
            """SELECT concat_ws('/', (SELECT max(write_date)::text || ':' || count(*) FROM sms_flow),
                                     (SELECT max(write_date)::text || ':' || count(*) FROM sms_flow_step))"""
        ))
        return version or ""

    @api.model
    def _sms_flow_load_french_texts(self, langs=None):
        """French texts of the default templates and flows, for the active French languages (the bridge addons
        add theirs by overriding this method)."""
        self._sms_flow_apply_french_texts("sms_marketing_addon", FRENCH_TEXTS, langs)

    @api.model
    def _sms_flow_apply_french_texts(self, module, texts_by_xmlid, langs=None):
        """French texts `texts_by_xmlid` (as FRENCH_TEXTS) of records of `module`, for the active French
        languages (or `langs`)."""
        langs = [code for code in (langs or [code for code, _name in self.env["res.lang"].get_installed()])
                 if code.startswith("fr_")]
        for xmlid, fname, english, french in (
                (xmlid, *text) for xmlid, texts in texts_by_xmlid.items()
                for text in (texts if isinstance(texts, list) else [texts])):
            record = self.env.ref(f"{module}.{xmlid}", raise_if_not_found=False)
            if not record:
                continue
            record = record.sudo().with_context(active_test=False)
            if record.with_context(lang="en_US")[fname] != english:
                continue  # edited by the merchant: a French default would not match
            todo = {lang: french for lang in langs if record.with_context(lang=lang)[fname] == english}
            if todo:
                record.update_field_translations(fname, todo)

    @api.model
    def _cron_sms_flow_welcome(self, limit=500):
        """Lifecycle flows (every trigger but abandoned carts): contacts of the scheduled triggers enter (win-back,
        browse abandonment), then the due steps of running enrollments are taken (SMS queued, e-mails queued,
        conditions and splits decided). Idle, this is one indexed query per scheduled trigger with an active
        flow, and one for the due steps."""
        now = self.env.cr.now()
        Enrollment = self.env["sms.flow.enrollment"].sudo()
        Enrollment._sms_flow_enter_scheduled(now)
        return Enrollment._sms_flow_due_contacts(now, limit=limit)._sms_flow_run_due(now=now)

    @api.model
    def _sms_flow_wake_cron(self, at=None):
        """Run the flows' scheduled action at `at` (a step falls due then) instead of its next interval."""
        cron = self.env.ref("sms_marketing_addon.ir_cron_sms_flow_welcome", raise_if_not_found=False)
        if cron and cron.active:
            cron.sudo()._trigger(at=at)

