"""Twilio Programmable Messaging: ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``."""

from __future__ import annotations

from collections.abc import Mapping

from sync_service.core.account_problems import account_refusal
from sync_service.core.errors import Classification, Outcome, classify_twilio
from sync_service.gateways.base import (
    INVALID_RESPONSE,
    HttpAnswer,
    HttpGateway,
    HttpRequest,
    OutboundMessage,
    decode_json,
)


class TwilioGateway(HttpGateway):
    """Form-encoded POST with Basic auth ``AccountSid:AuthToken``; the answer's ``sid`` is the id.

    The sender is the message's own ``sender``, else the account's Messaging Service, else the
    account's ``sender`` number.
    """

    provider = "twilio"
    default_base_url = "https://api.twilio.com"

    def _request(self, message: OutboundMessage) -> HttpRequest:
        account = self.account
        form = {"To": message.to, "Body": message.body}
        if message.sender:
            form["From"] = message.sender
        elif account.messaging_service_sid:
            form["MessagingServiceSid"] = account.messaging_service_sid
        elif account.sender:
            form["From"] = account.sender
        if message.status_callback:
            form["StatusCallback"] = message.status_callback
        if message.media_url:
            form["MediaUrl"] = message.media_url
        url = f"{self.base_url}/2010-04-01/Accounts/{account.account_id}/Messages.json"
        return HttpRequest.form(url, form)

    def _interpret(self, answer: HttpAnswer) -> tuple[Classification, str | None]:
        body = decode_json(answer.body)
        classification = classify_twilio(answer.status, body, answer.retry_after)
        if classification.outcome != Outcome.SENT:
            return classification, None
        sid = body.get("sid") if body is not None else None
        if not isinstance(sid, str) or not sid:
            return INVALID_RESPONSE, None
        return classification, sid

    def _check_request(self) -> tuple[str, Mapping[str, str]]:
        # The account resource: 401 for bad credentials, "status": "suspended"/"closed" for an account
        # that cannot send (https://www.twilio.com/docs/iam/api/account).
        return f"{self.base_url}/2010-04-01/Accounts/{self.account.account_id}.json", {}

    def _check_answer(self, answer: HttpAnswer) -> Classification:
        classification = super()._check_answer(answer)
        body = decode_json(answer.body) or {}
        status = str(body.get("status") or "active").lower()
        if classification.outcome is Outcome.SENT and status != "active":
            return Classification(Outcome.ACCOUNT, "20005", account_refusal("twilio", "20005"))
        return classification
