"""Plivo Message API: ``POST /v1/Account/{auth_id}/Message/`` with a JSON body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync_service.core.account_problems import account_refusal
from sync_service.core.errors import Classification, Outcome, classify_plivo
from sync_service.gateways.base import (
    INVALID_RESPONSE,
    HttpAnswer,
    HttpGateway,
    HttpRequest,
    OutboundMessage,
    decode_json,
)


class PlivoGateway(HttpGateway):
    """JSON ``{src, dst, text, url, method}`` with Basic auth; the first ``message_uuid`` is the id.

    Without a sender number, the account's ``messaging_service_sid`` is sent as ``powerpack_uuid``.
    """

    provider = "plivo"
    default_base_url = "https://api.plivo.com"

    def _request(self, message: OutboundMessage) -> HttpRequest:
        account = self.account
        payload: dict[str, Any] = {"dst": message.to, "text": message.body}
        sender = message.sender or account.sender
        if sender:
            payload["src"] = sender
        elif account.messaging_service_sid:
            payload["powerpack_uuid"] = account.messaging_service_sid
        if message.status_callback:
            payload["url"] = message.status_callback
            payload["method"] = "POST"
        if message.media_url:
            payload["type"] = "mms"
            payload["media_urls"] = [message.media_url]
        url = f"{self.base_url}/v1/Account/{account.account_id}/Message/"
        return HttpRequest.json(url, payload)

    def _interpret(self, answer: HttpAnswer) -> tuple[Classification, str | None]:
        body = decode_json(answer.body)
        classification = classify_plivo(answer.status, body, answer.retry_after)
        if classification.outcome != Outcome.SENT:
            return classification, None
        uuids = body.get("message_uuid") if body is not None else None
        if not isinstance(uuids, list) or not uuids or not isinstance(uuids[0], str):
            return INVALID_RESPONSE, None
        return classification, uuids[0]

    def _check_request(self) -> tuple[str, Mapping[str, str]]:
        # The account details (https://www.plivo.com/docs/account/api/account): 401 for bad credentials.
        return f"{self.base_url}/v1/Account/{self.account.account_id}/", {}

    def _check_answer(self, answer: HttpAnswer) -> Classification:
        classification = super()._check_answer(answer)
        body = decode_json(answer.body) or {}
        credit = body.get("cash_credits")
        try:
            empty = credit is not None and float(credit) <= 0.0 and not body.get("auto_recharge")
        except (TypeError, ValueError):
            empty = False
        if classification.outcome is Outcome.SENT and empty:
            return Classification(Outcome.ACCOUNT, "402", account_refusal("plivo", "402"))
        return classification
