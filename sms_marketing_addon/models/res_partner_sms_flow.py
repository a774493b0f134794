from odoo import api, fields, models


class ResPartner(models.Model):
    """Welcome flows start when a contact becomes opted in; every flow of a contact stops when the
    contact opts out, and what the flows still have in the queue for the contact is cancelled."""

    _inherit = "res.partner"

    sms_flow_link = fields.Char(
        string="Flow link", compute="_compute_sms_flow_link",
        help="In SMS templates of welcome flows: the short tracked link to the shop.",
    )
    sms_flow_coupon_code = fields.Char(
        string="Flow discount code", compute="_compute_sms_flow_coupon_code",
        help="In SMS templates of welcome flows: the single-use discount code of the step being sent.",
    )

    @api.depends_context("sms_flow_link")
    def _compute_sms_flow_link(self):
        link = self.env.context.get("sms_flow_link")
        for partner in self:
            partner.sms_flow_link = link or f"{partner.get_base_url()}/shop"

    @api.depends_context("sms_flow_coupon_code")
    def _compute_sms_flow_coupon_code(self):
        self.sms_flow_coupon_code = self.env.context.get("sms_flow_coupon_code") or False

    def _sms_opt_in(self, source, event="opt_in", **proof):
        before = {partner.id: partner.sudo().sms_consent_state for partner in self}
        res = super()._sms_opt_in(source, event=event, **proof)
        newly = self.filtered(lambda p: before.get(p.id) != "opted_in" and p.sudo().sms_consent_state == "opted_in")
        if newly:
            self.env["sms.flow.enrollment"].sudo()._sms_flow_enroll_contacts(newly.sudo())
        return res

    def _sms_opt_out(self, source, **proof):
        partners = super()._sms_opt_out(source, **proof)
        if partners:
            self.env["sms.flow.enrollment"].sudo().search(
                [("partner_id", "in", partners.ids), ("state", "in", ("running", "done"))]
            )._sms_flow_exit("opted_out")
        return partners
