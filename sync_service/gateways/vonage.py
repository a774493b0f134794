"""Vonage SMS API: ``POST /sms/json``, form-encoded, credentials in the body."""

from __future__ import annotations

from ..core.errors import Classification, Outcome, classify_vonage
from ..core.segments import is_gsm7
from .base import (
    INVALID_RESPONSE,
    HttpAnswer,
    HttpGateway,
    HttpRequest,
    OutboundMessage,
    decode_json,
    with_retry_after,
)


class VonageGateway(HttpGateway):
    """``api_key``/``api_secret``, ``from``, ``to`` (digits, no '+'), ``text``, ``client-ref`` = the key.

    ``type=unicode`` is sent when the text is not GSM-7; the first accepted part's ``message-id`` is the
    id (a multi-part message some of whose parts were accepted counts as sent: it is never re-sent).
    The message's ``status_callback`` goes in ``callback`` (otherwise the account's DLR URL applies).
    """

    provider = "vonage"
    default_base_url = "https://rest.nexmo.com"
    basic_auth = False

    def _request(self, message: OutboundMessage) -> HttpRequest:
        account = self.account
        form = {
            "api_key": account.account_id,
            "api_secret": account.secret,
            "to": message.to.removeprefix("+"),
            "text": message.body,
            "client-ref": message.key,
        }
        sender = message.sender or account.sender
        if sender:
            form["from"] = sender.removeprefix("+")
        if not is_gsm7(message.body):
            form["type"] = "unicode"
        if message.status_callback:
            form["callback"] = message.status_callback
        return HttpRequest.form(f"{self.base_url}/sms/json", form)

    def _interpret(self, answer: HttpAnswer) -> tuple[Classification, str | None]:
        body = decode_json(answer.body)
        status = answer.status
        classification = classify_vonage(body, status)
        if classification.code == INVALID_RESPONSE.code and 400 <= status < 500 and status != 429:
            # Not the SMS API's own shape (it answers 200 with per-message statuses): a refusal.
            classification = Classification(Outcome.PERMANENT, str(status), f"HTTP {status}")
        classification = with_retry_after(classification, answer.retry_after)
        if classification.outcome != Outcome.SENT:
            return classification, None
        messages = body.get("messages") if body is not None else None
        parts = messages if isinstance(messages, list) else []
        accepted = [part for part in parts if isinstance(part, dict) and str(part.get("status")) == "0"]
        first = accepted[0] if accepted else None
        message_id = first.get("message-id") if first is not None else None
        if not isinstance(message_id, str) or not message_id:
            return INVALID_RESPONSE, None
        return classification, message_id
