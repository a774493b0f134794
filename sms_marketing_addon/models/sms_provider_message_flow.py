from odoo import models


class SmsProviderMessage(models.Model):
    """Flow messages follow what the gateways say: sent when one accepted the SMS, then delivered or failed."""

    _inherit = "sms.provider.message"

    def _sms_flow_messages(self, states):
        uuids = [message.sms_uuid for message in self if message.sms_uuid and not message.mailing_id]
        if not uuids:
            return self.env["sms.flow.message"]
        return self.env["sms.flow.message"].sudo().search([("sms_uuid", "in", uuids), ("state", "in", states)])

    def _sms_accepted(self):
        super()._sms_accepted()
        by_uuid = {record.sms_uuid: record for record in self}
        for message in self._sms_flow_messages(("draft", "queued")):
            message.write({"state": "sent", "date_sent": by_uuid[message.sms_uuid].date_sent})

    def write(self, vals):
        res = super().write(vals)
        state = vals.get("state")
        if state in ("delivered", "undelivered", "failed"):
            by_uuid = {record.sms_uuid: record for record in self}
            for message in self._sms_flow_messages(("draft", "queued", "sent")):
                record = by_uuid[message.sms_uuid]
                if state == "delivered":
                    message.write({"state": "delivered", "date_delivered": record.date_final or record.write_date})
                else:
                    message.write({"state": "failed", "failure_type": record.error_code or state})
        return res
