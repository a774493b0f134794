from datetime import datetime, timedelta

from odoo.tests import Form, TransactionCase, tagged

from odoo.addons.sms_marketing_addon.tests.common import assert_trigger_and_flow_access, load_french
from odoo.addons.sms_marketing_addon.tests.test_flow_triggers import TriggerCommon


class DeliveredCommon(TriggerCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.delivered_flow = cls.env.ref("sms_marketing_stock.sms_flow_order_delivered")
        cls.delivered_flow.active = True

    def deliver(self, picking, quantity=None):
        """Validate `picking` for `quantity` (all by default); a partial quantity leaves a backorder."""
        for move in picking.move_ids:
            move.write({"quantity": move.product_uom_qty if quantity is None else quantity, "picked": True})
        picking._action_done()
        return picking.backorder_ids

    def give_back(self, picking, quantity=1):
        wizard = Form(self.env["stock.return.picking"].with_context(
            active_ids=picking.ids, active_id=picking.id, active_model="stock.picking")).save()
        wizard.product_return_moves.quantity = quantity
        back = self.env["stock.picking"].browse(wizard.action_create_returns()["res_id"])
        self.deliver(back)
        return back

    def confirmed_order(self, partner, quantity=2):
        order = self.cart(partner, quantity=quantity)
        order.action_confirm()
        self.assertEqual(len(order.picking_ids), 1, "one delivery to the customer")
        return order


@tagged("post_install", "-at_install")
class TestOrderDelivered(DeliveredCommon, TransactionCase):
    def test_trigger_is_data_and_installed_by_itself(self):
        trigger = self.env["sms.flow.trigger"]._by_code("order_delivered")
        self.assertEqual((trigger.model, trigger._exit_list(), trigger.available),
                         ("sale.order", ["order_cancelled", "delivery_returned", "opted_out"], True))
        module = self.env["ir.module.module"].search([("name", "=", "sms_marketing_stock")])
        self.assertEqual((module.state, module.auto_install), ("installed", True))
        selection = dict(self.env["sms.flow"]._fields["trigger"]._description_selection(self.env))
        self.assertEqual(selection["order_delivered"], "Order delivered (post-purchase)")

    def test_last_backorder_delivered_then_review_request_claimed(self):
        partner = self.partner()
        order = self.confirmed_order(partner)
        backorder = self.deliver(order.picking_ids, quantity=1)
        self.assertTrue(backorder, "half delivered: the rest waits in a backorder")
        self.assertFalse(self.enrollment_of(self.delivered_flow, partner), "partially delivered: not yet")
        self.deliver(backorder)
        self.assertEqual(order.delivery_status, "full")
        enrollment = self.enrollment_of(self.delivered_flow, partner)
        self.assertEqual((enrollment.state, enrollment.res_key), ("running", f"sale.order,{order.id}"))
        # Two days after the delivery, then 18:00 in Paris (17:00 UTC in November).
        self.assertEqual(enrollment.date_next_step, datetime(2026, 11, 26, 17, 0))
        self.now = datetime(2026, 11, 26, 17, 0)
        self.cron()
        sms = self.sms_of(partner)
        self.assertEqual(len(sms), 1)
        self.assertIn(f"Your order {order.name} has been delivered. How do you like it? Tell us: http", sms.body)
        message = self.env["sms.flow.message"].search([("sms_uuid", "=", sms.uuid)])
        self.assertIn(f"/my/orders/{order.id}", message.link_tracker_id.url, "the link leads to the order")
        self.assertIn(sms.uuid, self.claim(), "the SMS goes to the gateway")
        self.Enrollment._sms_flow_enroll("order_delivered", [(partner, order, None)])
        self.assertEqual(len(self.enrollment_of(self.delivered_flow, partner)), 1, "once per order")

    def queued_review_request(self):
        """A contact's order delivered and its review request queued by the flows' cron at the step's due time:
        (partner, order, SMS, flow message)."""
        partner = self.partner()
        order = self.confirmed_order(partner)
        self.deliver(order.picking_ids)
        self.now = datetime(2026, 11, 26, 17, 0)
        self.cron()
        sms = self.sms_of(partner)
        return partner, order, sms, self.env["sms.flow.message"].search([("sms_uuid", "=", sms.uuid)])

    def test_return_stops_a_queued_review_request(self):
        partner, order, sms, message = self.queued_review_request()
        self.assertEqual((sms.state, message.state), ("outgoing", "queued"))
        self.give_back(order.picking_ids.filtered(lambda p: p.location_dest_id.usage == "customer"))
        self.assertEqual(self.enrollment_of(self.delivered_flow, partner).exit_reason, "returned")
        self.assert_never_sent(sms, message, "Delivery returned", "returned")

    def test_return_seen_at_claim_time(self):
        """A return the hook did not see (done before the flow was activated, say) still stops the SMS when the
        service claims it."""
        partner, order, sms, message = self.queued_review_request()
        self.delivered_flow.trigger_id.exit_checks = "order_cancelled,opted_out"  # the hook lets it run
        self.give_back(order.picking_ids.filtered(lambda p: p.location_dest_id.usage == "customer"))
        self.assertEqual(message.state, "queued")
        self.delivered_flow.trigger_id.exit_checks = "order_cancelled,delivery_returned,opted_out"
        self.assertEqual(self.claim(), [])
        self.assert_never_sent(sms, message, "Delivery returned", "returned")

    def test_opt_out_stops_a_queued_review_request(self):
        partner, _order, sms, message = self.queued_review_request()
        partner._sms_opt_out("agent", note="test")
        self.assert_never_sent(sms, message, "Contact opted out of SMS", "opted_out")

    def test_review_request_in_french(self):
        load_french(self.env)
        self.env["sms.flow"]._sms_flow_load_french_texts(["fr_FR"])
        self.env["ir.module.module"].search([("name", "=", "sms_marketing_stock")])._update_translations(["fr_FR"], overwrite=True)
        env_fr = self.env(context=dict(self.env.context, lang="fr_FR"))
        reasons = dict(self.Enrollment._fields["exit_reason"]._description_selection(env_fr))
        self.assertEqual(reasons["returned"], "Livraison retournée", "why an SMS was cancelled, in French (i18n/fr.po)")
        trigger = self.env.ref("sms_marketing_stock.sms_flow_trigger_order_delivered").with_context(lang="fr_FR")
        self.assertEqual(trigger.name, "Commande livrée (après l'achat)")
        self.assertEqual(self.delivered_flow.with_context(lang="fr_FR").name, "Commande livrée : demande d'avis")
        partner = self.partner(lang="fr_FR")
        order = self.confirmed_order(partner)
        self.deliver(order.picking_ids)
        self.now += timedelta(days=3)
        self.cron()
        self.assertIn(f"Votre commande {order.name} a été livrée. Vous plaît-elle ? Donnez-nous votre avis : http",
                      self.sms_of(partner).body)


@tagged("post_install", "-at_install")
class TestOrderDeliveredAccess(TransactionCase):
    def test_trigger_and_flow_follow_the_addon_groups(self):
        trigger = self.env.ref("sms_marketing_stock.sms_flow_trigger_order_delivered")
        flow = self.env.ref("sms_marketing_stock.sms_flow_order_delivered")
        self.assertEqual((trigger.name, flow.name), ("Order delivered (post-purchase)",
                                                     "Order delivered: review request"))
        assert_trigger_and_flow_access(self, trigger, flow, "delivery_returned,opted_out", "delivered")
