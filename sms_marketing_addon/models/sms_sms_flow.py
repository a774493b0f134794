from odoo import fields, models


class SmsSms(models.Model):
    """Flow messages follow their SMS: canceled by the compliance gate, or refused by the gateway."""

    _inherit = "sms.sms"

    sms_media_url = fields.Char(
        string="MMS image URL", copy=False,
        help="Public image sent with the message where the gateway and the destination support MMS.",
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
