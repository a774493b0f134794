from odoo import _, api, fields, models
from odoo.exceptions import UserError


class SmsConsentWizard(models.TransientModel):
    """An agent records a consent or an opt-out given outside the channels (phone call, shop, letter)."""

    _name = "sms.consent.wizard"
    _description = "Change SMS consent"

    partner_ids = fields.Many2many("res.partner", string="Contacts", required=True)
    action = fields.Selection(
        [("opted_in", "Opted in"), ("opted_out", "Opted out"), ("pending", "Ask for confirmation by SMS")],
        required=True, default="opted_in",
    )
    reason = fields.Text(help="Why, and where the proof is (e.g. 'signed form #123, scanned in Documents'). "
                         "Not needed to opt someone out: a request to stop is enough.")

    @api.model
    def default_get(self, fields_list):
        res = super().default_get(fields_list)
        if self.env.context.get("active_model") == "res.partner" and "partner_ids" in fields_list:
            res["partner_ids"] = [(6, 0, self.env.context.get("active_ids") or [])]
            partners = self.env["res.partner"].browse(self.env.context.get("active_ids") or [])
            # The change most likely wanted: out for those already in, in for the others.
            if partners and all(p.sms_consent_state in ("opted_in", "pending") for p in partners):
                res["action"] = "opted_out"
            elif partners:
                res["action"] = "opted_in"
        return res

    def action_apply(self):
        self.ensure_one()
        if self.action != "opted_out" and not (self.reason or "").strip():
            raise UserError(_("A reason is required to record a consent: why, and where the proof is."))
        partners = self.partner_ids
        if self.action == "opted_in":
            partners._sms_opt_in("agent", note=self.reason)
        elif self.action == "opted_out":
            partners._sms_opt_out("agent", note=self.reason)
        else:
            partners._sms_request_consent("agent", note=self.reason)
        return {"type": "ir.actions.act_window_close"}
