from odoo import fields, models


class MailMail(models.Model):
    """E-mail fallbacks of flows: their flow's exits are checked again when Odoo's mail queue sends them, as the
    SMS are at claim time; the flow message follows the e-mail (sent, failed, or cancelled with the reason)."""

    _inherit = "mail.mail"

    # Read with the mail's other columns: other e-mails (campaigns, notifications) cost no query here.
    sms_flow_fallback = fields.Boolean(string="Flow e-mail fallback", readonly=True, copy=False)

    def _send(self, *args, **kwargs):
        Message = self.env["sms.flow.message"].sudo()
        fallbacks = self.filtered("sms_flow_fallback")
        messages = Message.search([("mail_id", "in", fallbacks.ids), ("state", "=", "queued")]) if fallbacks \
            else Message
        exited = self.browse()
        for message in messages:
            reason = message._sms_flow_exit_reason()
            if reason:
                message.mail_id.sudo().write({"state": "cancel", "failure_reason": reason})
                message.write({"state": "canceled", "failure_type": "sms_flow_exit", "exit_reason": reason})
                if message.enrollment_id.state in ("running", "done"):
                    message.enrollment_id._sms_flow_exit(reason)
                exited |= message.mail_id
        return super(MailMail, self - exited)._send(*args, **kwargs)

    def write(self, vals):
        res = super().write(vals)
        state = vals.get("state")
        fallbacks = self.filtered("sms_flow_fallback") if state in ("sent", "exception", "cancel") else None
        if fallbacks:
            # Odoo marks a mail 'exception' just before sending it, then 'sent': a failure is not final.
            messages = self.env["sms.flow.message"].sudo().search(
                [("mail_id", "in", fallbacks.ids), ("state", "in", ("queued", "failed"))])
            if state == "sent":
                messages.write({"state": "sent", "date_sent": self.env.cr.now()})
            elif messages:
                messages.write({"state": "failed" if state == "exception" else "canceled",
                                "failure_type": vals.get("failure_type") or state})
        return res
