"""Vonage SMS API: ``POST /sms/json``, form-encoded, credentials in the body."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from sync_service.core.account_problems import account_refusal
from sync_service.core.errors import Classification, Outcome, classify_vonage
from sync_service.core.segments import is_gsm7
from sync_service.gateways.base import (
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

    def _check_request(self) -> tuple[str, Mapping[str, str]]:
        # The balance (https://developer.vonage.com/en/api/account#getAccountBalance): 401 for bad
        # credentials, a value of zero or less without auto-reload for an account without credit.
        query = urlencode({"api_key": self.account.account_id, "api_secret": self.account.secret})
        return f"{self.base_url}/account/get-balance?{query}", {}

    def _check_answer(self, answer: HttpAnswer) -> Classification:
        classification = super()._check_answer(answer)
        body = decode_json(answer.body) or {}
        try:
            empty = float(body.get("value", 1.0)) <= 0.0 and not body.get("autoReload")
        except (TypeError, ValueError):
            empty = False
        if classification.outcome is Outcome.SENT and empty:
            return Classification(Outcome.ACCOUNT, "9", account_refusal("vonage", "9"))
        return classification
