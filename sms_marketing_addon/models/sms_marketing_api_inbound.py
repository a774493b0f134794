from odoo import api, models

from .sms_marketing_api import REPLY_KEY


class SmsMarketingApiInbound(models.AbstractModel):
    """Inbound replies the sync service could not classify for sure ("review": might be an opt-out) wait in
    the review list of Odoo (`sms.inbound.message`, review state "To review"), as well as on the contact's
    chatter; keyword replies go out in the recipient's language."""

    _inherit = "sms.marketing.api"

    @api.model
    def apply_inbound_keyword(self, number, action, inbound_message_id, body="", provider=""):
        """Also accepts action 'review': applied like any other reply, then put on the review list."""
        if action != "review":
            return super().apply_inbound_keyword(number, action, inbound_message_id, body, provider)
        result = super().apply_inbound_keyword(number, "none", inbound_message_id, body, provider)
        if result.get("duplicate"):
            return result
        record = self.env["sms.inbound.message"].sudo().search(
            [("inbound_message_id", "=", inbound_message_id)], limit=1)
        record.write({"action": "review", "review_state": "to_review", "result": "to_review"})
        return self._inbound_result(record, duplicate=False)

    @api.model
    def _sms_reply_lang(self, partners, number=None):
        """Language of a keyword reply: the recipient's (contact's, else website's, else company's). A number
        no contact has, from France, gets French when French is active (it wrote to a French sender)."""
        if not partners and number and number.startswith("+33") and self.env["res.lang"]._get_data(code="fr_FR"):
            return "fr_FR"
        return self.env["res.partner"]._sms_recipient_lang(partners[:1])

    @api.model
    def _sms_keyword_reply(self, action, number, partners):
        """Queue the reply to a keyword (`REPLY_KEY`) in the recipient's language; returns its text or False."""
        if action not in REPLY_KEY:
            return False
        anchor = partners[:1]
        company = anchor.company_id or self.env.company
        reply = company._sms_text(REPLY_KEY[action], self._sms_reply_lang(anchor, number))
        if reply:
            self.env["sms.sms"].sudo().create({
                "number": number, "body": reply, "sms_kind": "consent", "partner_id": anchor.id or False,
            })
        return reply or False

