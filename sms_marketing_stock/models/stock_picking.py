from odoo import models


class StockPicking(models.Model):
    _inherit = "stock.picking"

    def _action_done(self):
        """A sales order whose deliveries to the customer are all done (Odoo's "Fully Delivered": the last
        backorder delivered, or the rest cancelled) enters the "order delivered" flows, once per order; a return
        from the customer stops the flows of its order, SMS already queued included."""
        res = super()._action_done()
        done = self.filtered(lambda p: p.state == "done" and p.sale_id)
        if not done:
            return res
        now = self.env.cr.now()
        Enrollment = self.env["sms.flow.enrollment"].sudo()
        returned = done.filtered(lambda p: p.location_id.usage == "customer").sale_id
        if returned:
            for enrollment in Enrollment.search([("res_model", "=", "sale.order"), ("res_id", "in", returned.ids),
                                                 ("order_id", "=", False), ("state", "in", ("running", "done"))]):
                reason = enrollment._sms_flow_trigger_exit_reason()
                if reason:
                    enrollment._sms_flow_exit(reason, now)
        delivered = done.filtered(lambda p: p.location_dest_id.usage == "customer").sale_id.sudo().filtered(
            lambda o: o.state == "sale" and o.delivery_status == "full")
        if delivered and self.env["sms.flow"].sudo().search_count([("trigger", "=", "order_delivered")], limit=1):
            Enrollment._sms_flow_enroll("order_delivered", [
                (order.partner_id, order, f"{order.get_base_url()}{order.get_portal_url()}") for order in delivered
            ], now)
        return res
