from odoo import api, fields, models
from odoo.tools.safe_eval import safe_eval

# Exit conditions a trigger can name (checked when a step is due and again when its SMS is claimed). The cart
# exits (confirmed, cancelled, emptied, no longer a cart) are checked by the cart's own state.
EXIT_CHECKS = [
    ("opted_out", "The contact opts out or loses SMS consent"),
    ("cart_closed", "The cart is confirmed, cancelled or emptied"),
    ("ordered", "The contact confirms an order after entering"),
    ("cart_started", "The contact starts a website cart after entering"),
    ("order_cancelled", "The order that started the flow is cancelled"),
]
ENGINES = [
    ("watcher", "Sync service's cart watcher"),
    ("event", "When it happens (Odoo)"),
    ("cron", "Odoo's scheduled action"),
]


class SmsFlowTrigger(models.Model):
    """What starts a flow, as data: the record it runs on, its entry condition and its exit conditions.

    The flow's `trigger` field lists these records by code. Each code has its entry point in the engine (an
    event hook, the cart watcher or the flows' scheduled action); the record says which model the flow's templates
    render, which extra entry domain the record must match, which exits stop it, and which Odoo module it
    needs (a trigger whose module is not installed cannot be chosen)."""

    _name = "sms.flow.trigger"
    _description = "SMS Flow Trigger"
    _order = "sequence, id"

    code = fields.Char(required=True, readonly=True)
    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    model = fields.Char(string="Record", required=True,
                        help="Model of the record a flow of this trigger runs on (its SMS templates render it).")
    entry = fields.Text(string="Entry condition", translate=True)
    entry_domain = fields.Char(string="Entry domain", default="[]",
                               help="The record must also match this domain to enter.")
    exit_checks = fields.Char(
        string="Exit conditions", default="opted_out",
        help="Comma-separated exit checks: " + ", ".join(code for code, _label in EXIT_CHECKS) + ".",
    )
    engine = fields.Selection(ENGINES, required=True, default="cron")
    required_module = fields.Char(help="Odoo module that must be installed for this trigger to work.")
    available = fields.Boolean(compute="_compute_available")
    delay_label = fields.Char(
        string="Entry delay means", translate=True,
        help="What the flow's entry delay counts (e.g. days since the last order).",
    )

    _sql_constraints = [("code_unique", "UNIQUE (code)", "A trigger code is unique.")]

    @api.depends("required_module")
    def _compute_available(self):
        modules = set(self.env["ir.module.module"].sudo().search(
            [("name", "in", [m for m in self.mapped("required_module") if m]), ("state", "=", "installed")]
        ).mapped("name"))
        for trigger in self:
            trigger.available = not trigger.required_module or trigger.required_module in modules

    def _exit_list(self):
        self.ensure_one()
        return [code.strip() for code in (self.exit_checks or "").split(",") if code.strip()]

    def _entry_filter(self, records):
        """The records that match this trigger's entry domain."""
        self.ensure_one()
        domain = safe_eval(self.entry_domain or "[]")
        return records.filtered_domain(domain) if domain else records

    @api.model
    def _by_code(self, code):
        return self.sudo().search([("code", "=", code)], limit=1)
