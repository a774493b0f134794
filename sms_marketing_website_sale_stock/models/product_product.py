from odoo import api, fields, models


class ProductProduct(models.Model):
    _inherit = "product.product"

    sms_flow_link = fields.Char(
        string="Flow link", compute="_compute_sms_flow_link",
        help="In a back-in-stock SMS: the tracked link to the product's page.",
    )

    @api.depends_context("sms_flow_link")
    def _compute_sms_flow_link(self):
        link = self.env.context.get("sms_flow_link")
        for product in self:
            product.sms_flow_link = link or (
                f"{product.get_base_url()}{product.website_url}" if product.website_url else False)

    def _send_availability_email(self):
        """Contacts who asked to be told and may receive marketing SMS get the back-in-stock flow's SMS instead
        of Odoo's e-mail (they leave the product's "notify me" list, as the e-mail does); the others, or all
        without an active flow, get Odoo's e-mail as before. Nobody gets both."""
        self._sms_flow_back_in_stock()
        return super()._send_availability_email()

    @api.model
    def _sms_flow_back_in_stock(self):
        Flow = self.env["sms.flow"].sudo()
        if not Flow.search_count([("trigger", "=", "back_in_stock")], limit=1):
            return self.env["sms.flow.enrollment"]
        Enrollment = self.env["sms.flow.enrollment"].sudo()
        now = self.env.cr.now()
        enrollments = Enrollment
        for product in self.sudo().search([("stock_notification_partner_ids", "!=", False)]):
            if product._is_sold_out():
                continue
            partners = product.stock_notification_partner_ids.filtered(
                lambda p: not Enrollment._sms_flow_contact_reason(p))
            if not partners:
                continue
            link = f"{product.get_base_url()}{product.website_url}" if product.website_url else None
            # Once per request: a contact who asks again later (sold out again) is told again.
            key = f"product.product,{product.id}:{now.isoformat(timespec='seconds')}"
            entered = Enrollment._sms_flow_enroll(
                "back_in_stock", [(partner, product, link, key) for partner in partners], now)
            if entered:
                product.stock_notification_partner_ids = [(3, partner.id) for partner in entered.partner_id]
            enrollments |= entered
        return enrollments
