from odoo import fields, models

from odoo.addons.sms_marketing_addon.models.sms_flow_enrollment import CONTACT_REASONS

STOCK_REASONS = [("out_of_stock", "Product out of stock again"), ("ordered_product", "Contact ordered the product")]
STOCK_ONDELETE = {code: "set null" for code, _label in STOCK_REASONS}
# Exits after which the contact is still waiting to be told: back on the product's "notify me" list (Odoo's
# e-mail, or the flow again, tells them when the product is available).
STILL_WAITING = {"out_of_stock", "flow_inactive", "send_failed"} | CONTACT_REASONS


class SmsFlowEnrollment(models.Model):
    _inherit = "sms.flow.enrollment"

    exit_reason = fields.Selection(selection_add=STOCK_REASONS, ondelete=STOCK_ONDELETE)

    def _sms_flow_trigger_exit_reason(self, ordered=None):
        """Also, for a back-in-stock flow: the product is sold out again, or the contact ordered it since
        entering."""
        reason = super()._sms_flow_trigger_exit_reason(ordered)
        if reason or self.order_id or self.res_model != "product.product":
            return reason
        checks = self.flow_id.trigger_id._exit_list() if self.flow_id.trigger_id else []
        product = self.env["product.product"].sudo().browse(self.res_id).exists()
        product.invalidate_recordset(["free_qty", "qty_available"])  # moved since, in this transaction maybe
        if "product_sold_out" in checks and (not product or product._is_sold_out()):
            return "out_of_stock"
        if "ordered_product" in checks and product and self.env["sale.order.line"].sudo().search_count([
                ("product_id", "=", product.id), ("state", "=", "sale"),
                ("order_id.partner_id", "child_of", self.partner_id.commercial_partner_id.id),
                ("order_id.date_order", ">=", self.date_start)], limit=1):
            return "ordered_product"
        return False

    def _sms_flow_exit(self, reason, now=None):
        exiting = super()._sms_flow_exit(reason, now)
        exiting._sms_flow_wait_again(reason)
        return exiting

    def _sms_flow_wait_again(self, reason):
        """Contacts of these back-in-stock enrollments whose SMS never left, for a reason that does not answer
        their request (the product sold out again, no SMS consent any more, flow archived), go back on the
        product's "notify me" list: Odoo's e-mail, or the flow again, tells them when it is available."""
        if reason not in STILL_WAITING:
            return
        for enrollment in self.filtered(lambda e: e.res_model == "product.product" and e.res_id):
            if any(m.state in ("sent", "delivered") for m in enrollment.message_ids):
                continue
            product = self.env["product.product"].sudo().browse(enrollment.res_id).exists()
            if product and enrollment.partner_id not in product.stock_notification_partner_ids:
                product.stock_notification_partner_ids = [(4, enrollment.partner_id.id)]
