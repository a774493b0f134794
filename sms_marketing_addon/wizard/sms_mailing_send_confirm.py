from odoo import _, api, fields, models
from odoo.exceptions import UserError


class SmsMailingSendConfirm(models.TransientModel):
    """The Send confirmation of an SMS mailing: who goes now, who is deferred until when, who is excluded and
    why, and the estimated cost, as "Check recipients" found them just before."""

    _name = "sms.mailing.send.confirm"
    _description = "SMS Mailing Send Confirmation"

    mailing_id = fields.Many2one("mailing.mailing", required=True, ondelete="cascade", readonly=True)
    preview_date = fields.Datetime(related="mailing_id.sms_preview_date")
    preview_total = fields.Integer(related="mailing_id.sms_preview_total")
    preview_now = fields.Integer(related="mailing_id.sms_preview_now")
    preview_later = fields.Integer(related="mailing_id.sms_preview_later")
    preview_deferred = fields.Integer(related="mailing_id.sms_preview_deferred")
    preview_deferred_from = fields.Datetime(related="mailing_id.sms_preview_deferred_from")
    preview_deferred_until = fields.Datetime(related="mailing_id.sms_preview_deferred_until")
    preview_capped = fields.Integer(related="mailing_id.sms_preview_capped")
    preview_excluded = fields.Integer(related="mailing_id.sms_preview_excluded")
    preview_no_consent = fields.Integer(related="mailing_id.sms_preview_no_consent")
    preview_opted_out = fields.Integer(related="mailing_id.sms_preview_opted_out")
    preview_duplicate = fields.Integer(related="mailing_id.sms_preview_duplicate")
    preview_invalid = fields.Integer(related="mailing_id.sms_preview_invalid")
    preview_segments = fields.Integer(related="mailing_id.sms_preview_segments")
    preview_cost = fields.Float(related="mailing_id.sms_preview_cost")
    preview_currency_id = fields.Many2one(related="mailing_id.sms_preview_currency_id")
    preview_cost_note = fields.Char(related="mailing_id.sms_preview_cost_note")
    cap_action = fields.Selection(related="mailing_id.sms_cap_action")

    @api.model
    def _open_for(self, mailing):
        mailing.ensure_one()
        mailing._sms_check_recipients()
        wizard = self.create({"mailing_id": mailing.id})
        return {
            "type": "ir.actions.act_window", "name": _("Send this SMS campaign?"), "res_model": self._name,
            "res_id": wizard.id, "view_mode": "form", "target": "new",
            "context": {"dialog_size": "medium"},
        }

    def action_send(self):
        self.ensure_one()
        mailing = self.mailing_id
        if mailing.state in ("in_queue", "sending", "done"):
            raise UserError(_("This mailing is already sent or queued."))
        mailing.action_put_in_queue()
        return {"type": "ir.actions.act_window_close"}

    def action_view_recipients(self):
        self.ensure_one()
        return self.mailing_id.with_context(sms_reason=self.env.context.get("sms_reason")).action_sms_view_recipients()
