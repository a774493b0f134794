from datetime import datetime, timedelta
from unittest.mock import patch

from odoo.tests import TransactionCase, tagged

from .test_flows import FlowCommon


@tagged("post_install", "-at_install")
class TestFlowExitsAtClaim(FlowCommon, TransactionCase):
    """A flow message never leaves once its flow's exit condition holds, even when it was already queued and
    held back by the gate (sending hours, frequency cap): the real claim path (`claim_batch`) is used."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_flow_data()
        cls.env.company.sms_brand_name = "Maison Test"

    def setUp(self):
        super().setUp()
        self.env["sms.sms"].search([("state", "=", "outgoing")]).write({"state": "canceled"})
        # Tuesday 24 November 2026, 20:30 UTC = 21:30 in Paris: after the French sending hours (until 20:00).
        self.now = datetime(2026, 11, 24, 20, 30)
        patcher = patch.object(type(self.env.cr), "now", lambda cr: self.now)
        patcher.start()
        self.addCleanup(patcher.stop)

    def claim(self):
        return self.api.claim_batch("w1", 50, 120)

    def queued_reminder(self, one_step=False, **partner_values):
        """A cart whose first reminder is queued now; `one_step`: the flow has one step only, so the
        enrollment says "All steps sent" as soon as it is queued."""
        if one_step:
            self.steps[1:].write({"active": False})
        partner = self.partner(**partner_values)
        order = self.cart(partner)
        self.env.flush_all()
        self.env.cr.execute("UPDATE sale_order SET write_date = %s WHERE id = %s",
                            (self.now - timedelta(hours=1, seconds=1), order.id))
        order.invalidate_recordset()
        result = self.api.enqueue_flow_step(order.id, self.steps[0].id)
        self.assertEqual(result["result"], "queued", result)
        message = self.env["sms.flow.message"].browse(result["message_id"])
        sms = self.env["sms.sms"].search([("uuid", "=", message.sms_uuid)])
        self.assertEqual(sms.state, "outgoing")
        return partner, order, message, sms

    def assert_never_sent(self, sms, message, reason_label, exit_reason, days=2):
        for _hour in range(days * 24):  # every claim cycle until long after the hold
            self.now += timedelta(hours=1)
            keys = [m["key"] for m in self.claim()["messages"]]
            self.assertNotIn(sms.uuid, keys, "a flow SMS left after its flow's exit condition held")
        self.assertEqual((sms.state, sms.failure_type, sms.sms_cancel_reason),
                         ("canceled", "sms_flow_exit", reason_label))
        self.assertEqual((message.state, message.exit_reason), ("canceled", exit_reason))

    def test_reminder_held_by_sending_hours_is_never_sent_after_the_order_is_confirmed(self):
        _partner, order, message, sms = self.queued_reminder(one_step=True)
        enrollment = message.enrollment_id
        self.assertEqual(enrollment.state, "done", "all steps queued: 'All steps sent'")
        self.assertEqual(self.claim()["messages"], [])
        self.assertEqual(sms.sms_defer_reason, "outside sending hours (Europe/Paris)")
        order.action_confirm()
        self.assertEqual((sms.state, sms.failure_type, sms.sms_cancel_reason),
                         ("canceled", "sms_flow_exit", "Order confirmed"), "the exit cancels what is queued")
        self.assertEqual((enrollment.state, enrollment.exit_reason), ("exited", "confirmed"))
        self.assert_never_sent(sms, message, "Order confirmed", "confirmed")

    def test_reminder_held_by_the_frequency_cap_is_never_sent_after_the_order_is_confirmed(self):
        self.now = datetime(2026, 11, 24, 10, 0)  # 11:00 in Paris: within the sending hours
        partner, order, message, sms = self.queued_reminder()
        self.env["sms.provider.message"].create({
            "sms_uuid": "earlier", "provider_message_id": "SM-earlier", "number": partner.sms_number,
            "is_marketing": True, "date_sent": self.now - timedelta(hours=2)})
        self.assertEqual(self.claim()["messages"], [])
        self.assertEqual(sms.sms_defer_reason, "frequency cap")
        order.action_confirm()
        self.assert_never_sent(sms, message, "Order confirmed", "confirmed")

    def test_the_gate_rechecks_at_claim_time_a_cart_emptied_while_held(self):
        # Emptying a cart has no hook: only the claim-time check can notice it.
        _partner, order, message, sms = self.queued_reminder()
        self.assertEqual(self.claim()["messages"], [])
        order.order_line.unlink()
        self.env.flush_all()
        self.assertEqual(sms.state, "outgoing", "nothing cancelled it yet")
        self.assert_never_sent(sms, message, "Cart emptied", "emptied")
        self.assertEqual(message.enrollment_id.exit_reason, "emptied")

    def test_the_gate_rechecks_at_claim_time_an_order_confirmed_without_the_hook(self):
        _partner, order, message, sms = self.queued_reminder(one_step=True)
        self.claim()
        self.env.cr.execute("UPDATE sale_order SET state = 'sale' WHERE id = %s", (order.id,))
        order.invalidate_recordset()
        self.assert_never_sent(sms, message, "Order confirmed", "confirmed")

    def test_an_opt_out_cancels_a_held_reminder(self):
        partner, _order, message, sms = self.queued_reminder(one_step=True)
        self.claim()
        partner._sms_opt_out("keyword")
        self.assertEqual(sms.sms_cancel_reason, "Contact opted out of SMS")
        self.assert_never_sent(sms, message, "Contact opted out of SMS", "opted_out")

    def test_archiving_the_flow_cancels_a_held_reminder(self):
        _partner, _order, message, sms = self.queued_reminder()
        self.claim()
        self.flow.active = False
        self.assertEqual(sms.state, "canceled")
        self.assert_never_sent(sms, message, "Flow archived", "flow_inactive")

    def test_a_reminder_whose_flow_still_holds_leaves_the_next_morning(self):
        _partner, _order, _message, sms = self.queued_reminder(one_step=True)
        self.claim()
        self.now = datetime(2026, 11, 25, 7, 1)  # 08:01 in Paris
        self.assertEqual([m["key"] for m in self.claim()["messages"]], [sms.uuid])
