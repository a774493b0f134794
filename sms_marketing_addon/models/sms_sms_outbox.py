from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

OUTBOX_STATUSES = [
    ("queued", "Queued"),
    ("held", "Held"),
    ("sending", "Being sent"),
    ("retrying", "Retrying after an error"),
]


class SmsSms(models.Model):
    """The Outbox (SMS Marketing ▸ Outbox): what is not sent yet, why, and what a manager can do about it."""

    _inherit = "sms.sms"

    sms_outbox_status = fields.Selection(
        OUTBOX_STATUSES, string="Outbox status", compute="_compute_sms_outbox_status",
        help="Queued: waits for the sync service. Held: the compliance gate or a provider answer put it off "
        "until the date shown, or its gateway account is failing (the provider refuses the account) until the "
        "account works again. Being sent: a sync service worker claimed it. Retrying: a provider refused it "
        "for a while; it goes again after the date shown.",
    )

    sms_origin = fields.Char(string="From", compute="_compute_sms_origin",
                             help="The campaign or flow step that queued this SMS.")

    def _compute_sms_origin(self):
        flow_messages = {m.sms_uuid: m for m in self.env["sms.flow.message"].sudo().search(
            [("sms_uuid", "in", [uuid for uuid in self.mapped("uuid") if uuid])])}
        kinds = dict(self._fields["sms_kind"]._description_selection(self.env))
        for sms in self:
            flow_message = flow_messages.get(sms.uuid)
            if sms.mailing_id:
                sms.sms_origin = _("Campaign: %s", sms.sudo().mailing_id.subject or sms.sudo().mailing_id.display_name)
            elif flow_message:
                sms.sms_origin = _("Flow: %s", flow_message.step_id.display_name)
            else:
                sms.sms_origin = kinds.get(sms.sms_kind) or ""

    @api.depends("state", "sms_defer_until", "sms_claim_expires", "sms_last_error", "sms_account_id")
    def _compute_sms_outbox_status(self):
        now = fields.Datetime.now()
        failing = self.sudo().sms_account_id._failing_accounts()  # their SMS are held until the account works
        for sms in self:
            if sms.state != "outgoing":
                sms.sms_outbox_status = False
            elif sms.sms_claim_expires and sms.sms_claim_expires > now:
                sms.sms_outbox_status = "sending"
            elif sms.sms_defer_until and sms.sms_last_error and (sms.sms_defer_reason or "").startswith("provider"):
                sms.sms_outbox_status = "retrying"
            elif sms.sms_defer_until or sms.sudo().sms_account_id in failing:
                sms.sms_outbox_status = "held"
            else:
                sms.sms_outbox_status = "queued"

    def _sms_check_outbox_manager(self):
        if not (self.env.su or self.env.user.has_group("sms_marketing_addon.group_sms_marketing_manager")):
            raise AccessError(_("Only SMS Marketing managers act on the Outbox."))

    def _sms_notify(self, message, kind="success"):
        return {"type": "ir.actions.client", "tag": "display_notification", "params": {
            "title": _("Outbox"), "message": message, "type": kind, "sticky": False,
            "next": {"type": "ir.actions.client", "tag": "soft_reload"},
        }}

    def action_outbox_retry_now(self):
        """Put held and retrying SMS back in the queue now; the compliance gate still decides at the next claim."""
        self._sms_check_outbox_manager()
        waiting = self.sudo().filtered(lambda sms: sms.state == "outgoing")
        waiting.write({"sms_defer_until": False, "sms_defer_reason": False,
                       "sms_claim_worker": False, "sms_claim_expires": False})
        skipped = len(self) - len(waiting)
        message = _("%(count)s SMS back in the queue: the sync service takes them at its next claim (within "
                    "seconds when it runs). Marketing SMS outside the recipient's sending hours or over the "
                    "frequency cap are held again, with the reason.", count=len(waiting))
        if skipped:
            message += " " + _("%(count)s were no longer waiting and were left as they are.", count=skipped)
        return self._sms_notify(message)

    def action_outbox_cancel(self):
        """Cancel SMS that have not left; those already handed to a provider cannot be called back."""
        self._sms_check_outbox_manager()
        waiting = self.sudo().filtered(lambda sms: sms.state == "outgoing" and not sms.sms_outbox_status == "sending")
        waiting.write({"sms_claim_worker": False, "sms_claim_expires": False,
                       "sms_last_error": _("Canceled by %s", self.env.user.name)})
        waiting.action_set_canceled()
        message = _("%(count)s SMS canceled; they will not be sent.", count=len(waiting))
        if len(waiting) < len(self):
            message += " " + _("%(count)s being sent right now or no longer waiting could not be canceled.",
                               count=len(self) - len(waiting))
        return self._sms_notify(message, "success" if waiting else "warning")

    def action_outbox_move(self, account):
        """Send these waiting SMS through another gateway account (system administrators: it decides where a
        message goes)."""
        if not (self.env.su or self.env.user.has_group("base.group_system")):
            raise AccessError(_("Only system administrators may move SMS to another gateway account."))
        account = account.sudo().exists()
        if not account or not account.active:
            raise UserError(_("Choose an active gateway account."))
        waiting = self.sudo().filtered(lambda sms: sms.state == "outgoing" and sms.sms_outbox_status != "sending")
        waiting.write({"sms_account_id": account.id, "sms_defer_until": False, "sms_defer_reason": False,
                       "sms_claim_worker": False, "sms_claim_expires": False})
        return self._sms_notify(_("%(count)s SMS will go through %(account)s at the next claim.",
                                  count=len(waiting), account=account.name))
