from odoo import _, api, models
from odoo.addons.phone_validation.tools.phone_validation import phone_parse
from odoo.exceptions import AccessError, UserError

import phonenumbers

KEYWORD_ACTIONS = ("opt_out", "opt_in", "confirm", "help", "none")
REPLY_KEY = {"opt_out": "stop_reply", "opt_in": "start_reply", "confirm": "confirmed", "help": "help_reply"}


class SmsMarketingApi(models.AbstractModel):
    """RPC API of the sync service (plain model methods, callable over XML-RPC / JSON-RPC).

    Callers need the group SMS Marketing / User; the methods then act with the rights they need."""

    _name = "sms.marketing.api"
    _description = "SMS Marketing API (sync service)"

    def _check_caller(self):
        if not self.env.su and not self.env.user.has_group("sms_marketing_addon.group_sms_marketing_user"):
            raise AccessError(_("The SMS marketing API is reserved to the SMS Marketing groups."))

    @api.model
    def _normalize_number(self, number):
        """E.164 for a number as a provider sends it (with or without '+'); UserError when it is no number."""
        raw = (number or "").strip()
        if raw.startswith("00") and raw.isdigit():
            raw = "+" + raw[2:]
        elif raw and not raw.startswith("+") and raw.isdigit():
            raw = "+" + raw
        try:
            parsed = phone_parse(raw, None)
        except UserError as err:
            raise UserError(_("Not a phone number: %(number)r (%(reason)s)", number=number, reason=err)) from err
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

    @api.model
    def apply_inbound_keyword(self, number, action, inbound_message_id, body="", provider=""):
        """Apply an inbound keyword reply, once per inbound message id.

        :param number: sender's number (E.164, with or without '+')
        :param action: 'opt_out' | 'opt_in' | 'confirm' | 'help' | 'none'
        :param inbound_message_id: the provider's id of the inbound SMS (idempotency key)
        :return: dict(result, action, number, partner_ids, reply, duplicate)
        """
        self._check_caller()
        if action not in KEYWORD_ACTIONS:
            raise UserError(_("Unknown keyword action %(action)r; expected one of %(actions)s",
                              action=action, actions=", ".join(KEYWORD_ACTIONS)))
        if not inbound_message_id:
            raise UserError(_("An inbound message id is required (it makes the call idempotent)."))
        Inbound = self.env["sms.inbound.message"].sudo()
        done = Inbound.search([("inbound_message_id", "=", inbound_message_id)], limit=1)
        if done:
            return self._inbound_result(done, duplicate=True)
        e164 = self._normalize_number(number)
        Partner = self.env["res.partner"].sudo().with_context(active_test=False)
        partners = Partner.search([("sms_number", "=", e164)])
        proof = {"inbound_message_id": inbound_message_id, "note": body or False}
        if action == "opt_out":
            if partners:
                affected = partners._sms_opt_out("keyword", **proof)
            else:
                affected = Partner.browse()
                self.env["sms.consent.log"]._log(affected, "opt_out", "keyword", number=e164, **proof)
                self.env["phone.blacklist"].sudo().with_context(sms_marketing_no_sync=True)._add(
                    [e164], message=_("SMS opt-out (keyword)"))
            result = "opted_out"
        elif action == "opt_in":
            affected = partners.filtered("sms_number_valid")
            if affected:
                for partner in affected:
                    event = "re_subscribe" if partner.sms_consent_state == "opted_out" else "opt_in"
                    partner._sms_opt_in("keyword", event=event, **proof)
            else:
                self.env["sms.consent.log"]._log(affected, "re_subscribe", "keyword", number=e164, **proof)
                self.env["phone.blacklist"].sudo().with_context(sms_marketing_no_sync=True)._remove(
                    [e164], message=_("SMS re-subscribe (keyword)"))
            result = "opted_in"
        elif action == "confirm":
            affected = partners._sms_confirm("keyword", **proof)
            if affected:
                result = "confirmed"
            elif partners.filtered(lambda p: p.sms_consent_state == "pending"):
                result = "expired"
            else:
                result = "nothing_pending"
        elif action == "help":
            affected, result = Partner.browse(), "help"
        else:
            affected, result = Partner.browse(), "received"
            for partner in partners:
                partner.message_post(body=_("SMS reply from %(number)s: %(body)s", number=e164, body=body or ""),
                                     message_type="comment", subtype_xmlid="mail.mt_note", author_id=partner.id)
        reply = False
        if action in REPLY_KEY and (action != "confirm" or result == "confirmed"):
            anchor = (affected or partners)[:1]
            company = anchor.company_id or self.env.company
            lang = anchor.lang or ("fr_FR" if e164.startswith("+33") else None)
            lang = lang if lang and self.env["res.lang"]._get_data(code=lang) else None
            reply = company._sms_text(REPLY_KEY[action], lang)
        record = Inbound.create({
            "inbound_message_id": inbound_message_id, "provider": provider or False, "number": e164,
            "body": body or False, "action": action, "result": result,
            "partner_ids": [(6, 0, (affected or partners).ids)], "reply": reply,
        })
        return self._inbound_result(record, duplicate=False)

    def _inbound_result(self, record, duplicate):
        return {
            "result": record.result, "action": record.action, "number": record.number,
            "partner_ids": record.partner_ids.ids, "reply": record.reply or False, "duplicate": duplicate,
        }

    @api.model
    def get_consent(self, number):
        """Consent of a number: whether marketing SMS may go to it, and the contacts that share it."""
        self._check_caller()
        e164 = self._normalize_number(number)
        partners = self.env["res.partner"].sudo().with_context(active_test=False).search([("sms_number", "=", e164)])
        blacklisted = bool(self.env["phone.blacklist"].sudo().with_context(active_test=True).search_count(
            [("number", "=", e164)]))
        return {
            "number": e164,
            "blacklisted": blacklisted,
            "may_receive_marketing": any(p.sms_may_receive_marketing for p in partners) and not blacklisted,
            "partners": [{"id": p.id, "state": p.sms_consent_state, "valid": p.sms_number_valid} for p in partners],
        }
