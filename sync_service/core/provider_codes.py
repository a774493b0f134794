"""What each provider's documented codes mean for us, one table, each code with its source.

A provider answers a send (``stage="send"``: Twilio's error ``code``, Vonage's per-part ``status``,
Plivo's HTTP status) and later a delivery receipt (``stage="receipt"``: Twilio ``ErrorCode``, Vonage
``err-code``, Plivo ``ErrorCode``). Most codes only say "this message failed"; a few say more, and
those are the ones listed here:

* ``opted_out``: the recipient told the provider STOP. Odoo records an opt-out whose source is the
  provider (a later START clears it like any opt-out); the number itself is fine.
* ``invalid_number``: the number is wrong or cannot receive SMS; Odoo flags it on the contact.
* ``account``: the ACCOUNT cannot send (bad credentials, suspended, no credit, sender not allowed):
  nothing is wrong with the message, so it is held, not failed, and the account is marked failing
  until a test call succeeds or its settings change in Odoo.
* ``throttled`` / ``transient``: try again later; ``permanent``: this message fails, nothing else.

A code not listed falls back on the provider's generic rule (HTTP class, Vonage's status list in
:mod:`~sync_service.core.errors`). The ``source`` of each row is the provider page it comes from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Stage = Literal["send", "receipt"]


class Meaning(StrEnum):
    OPTED_OUT = "opted_out"
    INVALID_NUMBER = "invalid_number"
    ACCOUNT = "account"
    THROTTLED = "throttled"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class ProviderCode:
    provider: str
    stage: Stage
    code: str
    meaning: Meaning
    reason: str
    source: str


_TWILIO_DOC = "https://www.twilio.com/docs/api/errors/{}"
_PLIVO_SEND = "https://www.plivo.com/docs/messaging/api/overview/#response-codes"
_PLIVO_RECEIPT = "https://www.plivo.com/docs/messaging/troubleshooting/error-codes"
_VONAGE_SEND = "https://developer.vonage.com/en/messaging/sms/guides/troubleshooting-sms#sms-api-error-codes"
_VONAGE_RECEIPT = "https://developer.vonage.com/en/messaging/sms/guides/delivery-receipts#dlr-error-codes"
_VONAGE_OPT_OUT = "https://developer.vonage.com/en/opt-out-assist/guides/messaging-opted-out-numbers"

_O, _N, _A = Meaning.OPTED_OUT, Meaning.INVALID_NUMBER, Meaning.ACCOUNT
_T, _R = Meaning.THROTTLED, Meaning.TRANSIENT


def _twilio(stage: Stage, code: str, meaning: Meaning, reason: str) -> ProviderCode:
    return ProviderCode("twilio", stage, code, meaning, reason, _TWILIO_DOC.format(code))


PROVIDER_CODES: tuple[ProviderCode, ...] = (
    # ---------------------------------------------------------------- Twilio, send (error "code")
    _twilio("send", "21610", _O, "recipient has opted out (replied STOP)"),
    _twilio("send", "21211", _N, "invalid 'To' phone number"),
    _twilio("send", "21614", _N, "'To' number is not a mobile number"),
    _twilio("send", "21611", _T, "sender queue full (too many queued messages)"),
    _twilio("send", "30001", _T, "queue overflow"),
    _twilio("send", "20429", _T, "too many requests"),
    _twilio("send", "20003", _A, "authentication failed: check the Account SID and Auth Token"),
    _twilio("send", "20005", _A, "the Twilio account is not active (suspended or closed)"),
    _twilio("send", "20008", _A, "test credentials cannot send messages"),
    _twilio("send", "21606", _A, "the sender is not a valid message-capable number of this account"),
    _twilio("send", "21703", _A, "the Messaging Service has no phone number in its sender pool"),
    # ---------------------------------------------------------------- Twilio, receipt (ErrorCode)
    _twilio("receipt", "21610", _O, "recipient has opted out (replied STOP)"),
    _twilio("receipt", "21211", _N, "invalid 'To' phone number"),
    _twilio("receipt", "21614", _N, "'To' number is not a mobile number"),
    _twilio("receipt", "30005", _N, "unknown destination handset"),
    _twilio("receipt", "30006", _N, "landline or unreachable carrier"),
    _twilio("receipt", "30002", _A, "the Twilio account is suspended"),
    # ---------------------------------------------------------------- Plivo, send (HTTP status)
    ProviderCode("plivo", "send", "401", _A, "authentication failed: check the Auth ID and Auth Token",
                 _PLIVO_SEND),
    ProviderCode("plivo", "send", "402", _A, "insufficient credit on the Plivo account", _PLIVO_SEND),
    ProviderCode("plivo", "send", "403", _A, "the Plivo account may not send this (suspended or not allowed)",
                 _PLIVO_SEND),
    # ---------------------------------------------------------------- Plivo, receipt (ErrorCode)
    ProviderCode("plivo", "receipt", "200", _O, "destination opted out (STOP) of this source number",
                 _PLIVO_RECEIPT),
    ProviderCode("plivo", "receipt", "50", _N, "invalid destination number", _PLIVO_RECEIPT),
    ProviderCode("plivo", "receipt", "70", _N, "destination permanently unavailable", _PLIVO_RECEIPT),
    ProviderCode("plivo", "receipt", "900", _A, "insufficient credit on the Plivo account", _PLIVO_RECEIPT),
    # ---------------------------------------------------------------- Vonage, send (per-part status)
    ProviderCode("vonage", "send", "4", _A, "invalid credentials: check the API key and secret",
                 _VONAGE_SEND),
    ProviderCode("vonage", "send", "8", _A, "the Vonage account is barred (suspended)", _VONAGE_SEND),
    ProviderCode("vonage", "send", "9", _A, "insufficient credit: top up the Vonage account", _VONAGE_SEND),
    ProviderCode("vonage", "send", "11", _A, "the Vonage account is not enabled for the SMS API",
                 _VONAGE_SEND),
    ProviderCode("vonage", "send", "14", _A, "invalid request signature (check the signature secret)",
                 _VONAGE_SEND),
    ProviderCode("vonage", "send", "15", _A, "the sender is not allowed for this account", _VONAGE_SEND),
    ProviderCode("vonage", "send", "32", _A, "the account forbids API-secret requests (signature required)",
                 _VONAGE_SEND),
    ProviderCode("vonage", "send", "6", _N, "unroutable destination", _VONAGE_SEND),
    ProviderCode("vonage", "send", "33", _N, "number de-activated", _VONAGE_SEND),
    # ---------------------------------------------------------------- Vonage, receipt (err-code)
    ProviderCode("vonage", "receipt", "9", _O, "the recipient asked not to receive messages from this sender",
                 _VONAGE_OPT_OUT),
    ProviderCode("vonage", "receipt", "3", _N, "absent subscriber (permanent)", _VONAGE_RECEIPT),
)

_BY_KEY: Mapping[tuple[str, Stage, str], ProviderCode] = {
    (row.provider, row.stage, row.code): row for row in PROVIDER_CODES
}

# Vonage status 3 ("invalid parameters") blames the number only when its text names the 'to' parameter.
_VONAGE_TO_PARAM = re.compile(
    r"\binvalid\s+['\"]?(?:to|msisdn)\b|\b(?:to|msisdn)['\"]?\s+(?:address|param(?:eter)?|number)\b"
    r"|\bdestination\b",
    re.I,
)
_VONAGE_INVALID_PARAMS = "3"
# Plivo answers refusals with a text: these words blame the destination number.
_PLIVO_NUMBER_WORDS = ("destination number", "invalid dst", "dst parameter")
_PLIVO_ACCOUNT_WORDS = ("insufficient credit", "insufficient balance", "account is suspended",
                        "account suspended", "src is not allowed", "source number is not allowed")


def lookup(provider: str, stage: Stage, code: str | None) -> ProviderCode | None:
    """The row for ``code`` (as text, leading zeros ignored), ``None`` when the table does not list it."""
    if code is None:
        return None
    text = str(code).strip()
    text = text.lstrip("0") or text if text.isdigit() else text
    return _BY_KEY.get((provider, stage, text))


def meaning(provider: str, stage: Stage, code: str | None, text: str = "") -> Meaning | None:
    """What ``code`` means (with the answer's ``text`` where needed); ``None``: nothing special."""
    if provider == "vonage" and stage == "send" and str(code).strip() == _VONAGE_INVALID_PARAMS:
        return Meaning.INVALID_NUMBER if _VONAGE_TO_PARAM.search(text or "") else None
    row = lookup(provider, stage, code)
    if row is not None:
        return row.meaning
    if provider == "plivo" and stage == "send":
        lowered = (text or "").lower()
        if any(words in lowered for words in _PLIVO_ACCOUNT_WORDS):
            return Meaning.ACCOUNT
        if any(words in lowered for words in _PLIVO_NUMBER_WORDS):
            return Meaning.INVALID_NUMBER
    return None
