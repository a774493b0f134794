from odoo import fields, models

RETURNED = [("returned", "Delivery returned")]


class SmsFlowEnrollment(models.Model):
    _inherit = "sms.flow.enrollment"

    exit_reason = fields.Selection(selection_add=RETURNED, ondelete={"returned": "set null"})

    def _sms_flow_trigger_exit_reason(self, ordered=None):
        """Also: goods of the order that started the flow came back from the customer (a done return)."""
        reason = super()._sms_flow_trigger_exit_reason(ordered)
        if reason or self.order_id or self.res_model != "sale.order":
            return reason
        checks = self.flow_id.trigger_id._exit_list() if self.flow_id.trigger_id else []
        if "delivery_returned" in checks:
            order = self.env["sale.order"].sudo().browse(self.res_id).exists()
            if order and order.picking_ids.filtered(
                    lambda p: p.state == "done" and p.location_id.usage == "customer"):
                return "returned"
        return False
