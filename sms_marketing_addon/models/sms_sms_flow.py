from odoo import fields, models

from .sms_flow_enrollment import EXIT_REASONS


class SmsSms(models.Model):
    """Flow messages follow their SMS: canceled by the compliance gate, or refused by the gateway. A flow SMS
    whose flow's exit condition holds (order confirmed, cart emptied or cancelled, contact opted out, flow
    archived) is cancelled at claim time, with the reason, even if it waited in the queue since."""

    _inherit = "sms.sms"

    failure_type = fields.Selection(selection_add=[("sms_flow_exit", "Flow exited")])
    sms_media_url = fields.Char(
        string="MMS image URL", copy=False,
        help="Public image sent with the message where the gateway and the destination support MMS.",
    )
    sms_cancel_reason = fields.Char(
        string="Canceled because", copy=False, readonly=True,
        help="Why the SMS was not sent, when its flow's exit condition held before it left.",
    )

    def write(self, vals):
        res = super().write(vals)
        if vals.get("state") in ("canceled", "error"):
            state = "canceled" if vals["state"] == "canceled" else "failed"
            self.env["sms.flow.message"].sudo().search([
                ("sms_uuid", "in", [uuid for uuid in self.mapped("uuid") if uuid]),
                ("state", "in", ("draft", "queued")),
            ]).write({"state": state, "failure_type": vals.get("failure_type") or self[:1].failure_type or False})
        return res

    # ------------------------------------------------------------------ flow exits at claim time
    def _sms_gate(self, now, bodies=None):
        """Flow SMS whose flow's exit condition holds are cancelled first (failure 'Flow exited', with the
        reason); the rest goes through the compliance gate."""
        exits = self._sms_flow_exit_reasons()
        exited = self.browse()
        for reason, records in exits.items():
            records._sms_flow_cancel(reason, now)
            exited |= records
        if not exited:
            return super()._sms_gate(now, bodies=bodies)
        to_send, deferred, canceled = super(SmsSms, self - exited)._sms_gate(now, bodies=bodies)
        canceled = dict(canceled)
        canceled["sms_flow_exit"] = canceled.get("sms_flow_exit", self.browse()) | exited
        return to_send, deferred, canceled

    def _sms_flow_exit_reasons(self):
        """{exit reason: SMS} for these queued flow SMS whose flow's exit condition holds now."""
        uuids = [sms.uuid for sms in self if sms.uuid and sms.sms_kind == "marketing" and not sms.mailing_id]
        if not uuids:
            return {}
        messages = self.env["sms.flow.message"].sudo().with_context(active_test=False).search(
            [("sms_uuid", "in", uuids)])
        by_uuid = {sms.uuid: sms for sms in self}
        result = {}
        for message in messages:
            reason = message._sms_flow_exit_reason()
            if reason:
                result.setdefault(reason, self.browse())
                result[reason] |= by_uuid[message.sms_uuid]
        return result

    def _sms_flow_cancel(self, reason, now=None):
        """Cancel these flow SMS because their flow exited for `reason` (an EXIT_REASONS key): the SMS says why
        ('Flow exited', 'Canceled because'), so do its flow message and its enrollment."""
        if not self:
            return self
        labels = dict(self.env["sms.flow.enrollment"]._fields["exit_reason"]._description_selection(self.env))
        self.write({"sms_cancel_reason": labels.get(reason, dict(EXIT_REASONS).get(reason, reason))})
        self._sms_cancel("sms_flow_exit")
        messages = self.env["sms.flow.message"].sudo().search([("sms_uuid", "in", self.mapped("uuid"))])
        messages.write({"exit_reason": reason})
        enrollments = messages.enrollment_id.filtered(lambda e: e.state in ("running", "done"))
        if enrollments:
            enrollments._sms_flow_exit(reason, now)
        return self
