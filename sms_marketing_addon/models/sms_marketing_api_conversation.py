from odoo import _, api, models

class SmsMarketingApiConversation(models.AbstractModel):
    """Inbound replies that are no keyword join the customer's SMS conversation in Discuss (one per number and
    sending number); keywords are applied first, and a keyword from a number that has a conversation is shown in
    it with what was done (STOP: opted out)."""

    _inherit = "sms.marketing.api"

    @api.model
    def apply_inbound_keyword(self, number, action, inbound_message_id, body="", provider="", to_number=""):
        result = super().apply_inbound_keyword(number, action, inbound_message_id, body, provider)
        if result.get("duplicate"):
            return result
        record = self.env["sms.inbound.message"].sudo().search(
            [("inbound_message_id", "=", inbound_message_id)], limit=1)
        sender = self._sms_sender_number(to_number)
        record.to_number = sender
        record._sms_to_conversation(sender)
        return result

    @api.model
    def _sms_sender_number(self, to_number):
        """Our number the customer wrote to, in E.164 when it is a number (a short code stays as given)."""
        raw = (to_number or "").strip()
        if not raw:
            return False
        try:
            return self._normalize_number(raw)
        except Exception:  # noqa: BLE001 - short codes and alphanumeric senders are kept as the provider sent them
            return raw[:64]


class SmsInboundMessage(models.Model):
    _inherit = "sms.inbound.message"

    def _sms_to_conversation(self, sender):
        """Post this inbound SMS in its conversation: always for a reply that is no keyword (the conversation is
        opened), and for a keyword only when the number already has a conversation (with what was done). The
        thread's lines are in the language of its readers (the service's user has its own)."""
        self.ensure_one()
        partners = self.partner_ids or self.env["res.partner"].sudo().with_context(active_test=False).search(
            [("sms_number", "=", self.number)])
        partner = partners[:1]
        readers = self.env["discuss.channel"]._sms_readers_context(
            self.number, sender, partner, partner.company_id or self.company_id)
        return self.with_context(**readers)._sms_to_conversation_for(sender, partner)

    def _sms_to_conversation_for(self, sender, partner):
        Channel = self.env["discuss.channel"].sudo()
        is_reply = self.action in ("none", "review")
        if not is_reply:
            channel = Channel.search([("channel_type", "=", "sms"), ("sms_number", "=", self.number),
                                      ("sms_sender", "=", sender or False)], limit=1)
            if not channel:
                return False
        else:
            answer = self.env["sms.survey"]._sms_record_answer(
                Channel._sms_answered(self.number, partner), self, partner)
            channel = Channel._sms_conversation(self.number, sender, partner, partner.company_id or self.company_id)
            channel._sms_post_context(self.number, partner)
            if answer:
                # A survey answer is counted, and noted quietly in the thread (no unread counter, no notification).
                channel._sms_post_note(_("Survey answer from %(who)s: %(answer)s (%(question)s)",
                                         who=partner.name or self.number, answer=answer.score_label,
                                         question=answer.survey_id.name))
                self.write({"conversation_id": channel.id, "result": "survey_answer"})
                return channel
        channel._sms_post_inbound(self.body, partner, self.number)
        note = self._sms_keyword_note() if not is_reply else False
        if note:
            if self.reply:
                note = _("%(note)s Reply sent: %(reply)s", note=note, reply=self.reply)
            channel._sms_post_note(note)
        if self.action in ("opt_out", "opt_in"):
            channel.invalidate_recordset(["sms_opted_out"])
            channel._sms_notify_opt_out_state()
        if self.action == "review":
            channel._sms_post_note(_("This reply might be an opt-out: it waits in Possible opt-outs for an SMS "
                                     "manager's decision."))
        self.conversation_id = channel
        return channel

    def _sms_keyword_note(self):
        """What the thread says when a keyword arrives in a conversation (the keyword itself is posted first)."""
        return {
            "opt_out": _("Opted out by keyword: the number is in the opt-out register; only the STOP confirmation "
                         "is sent."),
            "opt_in": _("Re-subscribed by keyword: SMS can be sent again."),
            "confirm": _("Keyword confirmation of a pending SMS subscription: %(result)s", result=self.result),
            "help": _("Asked for help by keyword."),
            "join": _("Asked to subscribe by keyword: %(result)s", result=self.result),
        }.get(self.action, False)
