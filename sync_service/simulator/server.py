"""Loopback simulator of the Twilio, Plivo and Vonage SMS APIs, for tests, benchmarks and demos.

One HTTP server (stdlib ``ThreadingHTTPServer``, HTTP/1.1 keep-alive) answers the three providers'
send endpoints at their real paths, so an adapter only needs its ``base_url`` pointed here:

* ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (Twilio, form, Basic auth)
* ``POST /v1/Account/{auth_id}/Message/`` (Plivo, JSON or form, Basic auth)
* ``POST /sms/json`` (Vonage SMS API, form or JSON, ``api_key``/``api_secret``)

``accounts`` maps an account id (AccountSid, auth_id or api_key) to its secret; any account works
on any provider path. Every accepted message is recorded (:meth:`ProviderSimulator.received`) with
its idempotency key: Vonage's ``client-ref`` when given, else the ``X-Idempotency-Key`` request
header (the adapters of :mod:`sync_service.gateways` always send it), else ``None``.
:meth:`~ProviderSimulator.count_by_key` and :meth:`~ProviderSimulator.count_by_content` (per
(to, body)) let a test assert that N messages arrived exactly once each.

Account-wide refusals: :attr:`ProviderSimulator.account_states` maps an account id to
``"suspended"``, ``"no_credit"`` or ``"sender_not_allowed"``; its sends are then refused as the
provider refuses them (Twilio 20005/21606, Plivo 403/402/400, Vonage status 8/9/15), and so is the
provider's test call (``GET`` of the account resource: Twilio ``/2010-04-01/Accounts/{sid}.json``,
Plivo ``/v1/Account/{auth_id}/``, Vonage ``/account/get-balance``), which a wrong secret fails too.
Test calls are counted in :attr:`ProviderSimulator.checks`.

Faults are injected on demand (:meth:`ProviderSimulator.inject`) from a seeded random source.
Status callbacks are posted by background workers, signed like the real providers, with options
for duplicates and reversed order (:class:`CallbackOptions`); Plivo's are signed with V3 by default,
or with V2 only, or with the main-account (``-Ma-``) variants (``CallbackOptions.plivo_signature``).
:meth:`ProviderSimulator.send_inbound` posts a signed inbound-message webhook.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email.utils
import hmac
import json
import logging
import queue
import random
import re
import socket
import socketserver
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from http import HTTPStatus
from typing import Any, ClassVar
from urllib.parse import unquote_plus, urlencode, urlsplit

import phonenumbers
import pycurl

from sync_service.core.segments import count_segments, is_gsm7
from sync_service.core.signatures import (
    VonageMethod,
    plivo_v2_signature,
    plivo_v3_signature,
    twilio_signature,
    vonage_sig,
)

logger = logging.getLogger("sync_service.simulator")

DEFAULT_ACCOUNTS: Mapping[str, str] = {
    "AC00000000000000000000000000000001": "twilio-sim-token",
    "MASIMULATOR00000001": "plivo-sim-token",
    "vonagesimkey": "vonage-sim-secret",
}
MAX_BODY_CHARS = 1600
CALLBACK_TIMEOUT = 5.0


# --------------------------------------------------------------------------- faults


class FaultKind(StrEnum):
    HTTP_500 = "http_500"  # provider-shaped 500, nothing recorded
    HTTP_429 = "http_429"  # provider-shaped 429 with Retry-After, nothing recorded
    TIMEOUT = "timeout"  # sleep `delay` s, then 504 (the client has given up), nothing recorded
    ACCEPTED_TIMEOUT = "accepted_timeout"  # records the message, then sleeps `delay` s before answering
    SLOW = "slow"  # records the message and accepts it, `delay` s late (a slow provider, no error)
    INVALID_NUMBER = "invalid_number"  # the provider's invalid-number refusal
    QUEUE_FULL = "queue_full"  # Twilio 21611, Plivo 429, Vonage status 1
    MALFORMED = "malformed"  # HTTP 200 whose body is not JSON, nothing recorded


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    retry_after: float = 1.0
    delay: float = 2.0


@dataclass
class _FaultRule:
    fault: Fault
    ratio: float
    remaining: int | None
    provider: str | None


class FaultPlan:
    """Thread-safe list of fault rules, drawn in insertion order with a seeded ``random.Random``.

    A rule fires for a matching request with probability ``ratio`` (1.0 = always); a rule with
    ``count`` is removed after firing that many times. The first rule that fires wins.
    """

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._rules: list[_FaultRule] = []

    def add(
        self,
        kind: FaultKind | str,
        *,
        ratio: float | None = None,
        count: int | None = None,
        retry_after: float = 1.0,
        delay: float = 2.0,
        provider: str | None = None,
    ) -> None:
        chance = 1.0 if ratio is None else ratio
        if not 0.0 < chance <= 1.0:
            raise ValueError(f"fault ratio must be in (0, 1], got {ratio}")
        if count is not None and count < 1:
            raise ValueError(f"fault count must be >= 1, got {count}")
        if retry_after < 0 or delay < 0:
            raise ValueError("retry_after and delay must be >= 0")
        rule = _FaultRule(Fault(FaultKind(kind), retry_after, delay), chance, count, provider)
        with self._lock:
            self._rules.append(rule)

    def draw(self, provider: str) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if rule.provider not in (None, provider):
                    continue
                if rule.ratio < 1.0 and self._random.random() >= rule.ratio:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._rules.remove(rule)
                return rule.fault
        return None

    def clear(self, seed: int | None = None) -> None:
        with self._lock:
            self._rules.clear()
            if seed is not None:
                self._random.seed(seed)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class ReceivedMessage:
    """One accepted message. ``to`` is E.164 with '+'; ``params`` are the request's, secret removed."""

    provider: str
    account_id: str
    message_id: str
    to: str
    sender: str | None
    body: str
    key: str | None
    callback_url: str | None
    callback_method: str
    segments: int
    params: Mapping[str, str]
    received_at: float


@dataclass(frozen=True)
class WebhookDelivery:
    """One webhook the simulator posted (status callback or inbound message) and what came back."""

    provider: str
    kind: str  # "status" or "inbound"
    url: str
    params: Mapping[str, str]
    headers: Mapping[str, str]
    status_code: int | None
    error: str | None = None


@dataclass(frozen=True)
class CallbackOptions:
    """How status callbacks are sent: ``duplicate`` sends each twice, ``out_of_order`` reverses them."""

    enabled: bool = True
    duplicate: bool = False
    out_of_order: bool = False
    delay: float = 0.0  # seconds between two callbacks of one message
    plivo_signature: str = "v3"  # "v3", "v2", "ma-v3" or "ma-v2": the headers Plivo's webhooks carry
    retries: int = 0  # a callback answered 5xx or not at all is posted again (1 s apart), as providers retry


@dataclass(frozen=True)
class _Account:
    account_id: str
    secret: str = field(repr=False)
    signature_secret: str = field(repr=False)


class _Refusal(StrEnum):
    MISSING = "missing"
    INVALID_NUMBER = "invalid_number"
    NOT_MOBILE = "not_mobile"
    QUEUE_FULL = "queue_full"
    OPTED_OUT = "opted_out"
    TOO_LONG = "too_long"


class AccountState(StrEnum):
    """Why a provider refuses a whole account."""

    SUSPENDED = "suspended"
    NO_CREDIT = "no_credit"
    SENDER_NOT_ALLOWED = "sender_not_allowed"


class _Fate(StrEnum):
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    OPTED_OUT = "opted_out"


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    close: bool = False


@dataclass(frozen=True)
class _Submission:
    to: str
    sender: str
    body: str
    callback_url: str | None
    callback_method: str
    key: str | None


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _json_reply(status: int, payload: Any, retry_after: float | None = None) -> _Reply:
    headers = (("Retry-After", _seconds(retry_after)),) if retry_after is not None else ()
    return _Reply(status, json.dumps(payload).encode("utf-8"), headers=headers)


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def _digits(number: str) -> str:
    return number.removeprefix("+")


def _e164(number: str) -> str:
    number = number.strip()
    return number if number.startswith("+") else "+" + number


@lru_cache(maxsize=65536)
def _is_valid_number(number: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return False


def _nonce() -> str:
    return str(random.SystemRandom().randrange(10**19, 10**20))


# --------------------------------------------------------------------------- provider dialects


class _Dialect:
    """Wire format of one provider: routes, errors, answers, callbacks and signatures."""

    name: ClassVar[str]
    route: ClassVar[re.Pattern[str]]
    required: ClassVar[tuple[tuple[str, str], ...]]  # (submission field, provider param name)
    refuses_opted_out: ClassVar[bool] = False

    def authenticate(
        self, match: re.Match[str], headers: Mapping[str, str], params: Mapping[str, str]
    ) -> tuple[str, str] | None:
        credentials = _basic_auth(headers.get("authorization"))
        if credentials is None or credentials[0] != match.group("account"):
            return None
        return credentials

    def submission(self, params: Mapping[str, str], headers: Mapping[str, str]) -> _Submission:
        raise NotImplementedError

    def new_id(self) -> str:
        raise NotImplementedError

    def unauthorized(self) -> _Reply:
        raise NotImplementedError

    def server_error(self) -> _Reply:
        raise NotImplementedError

    def throttled(self, retry_after: float) -> _Reply:
        raise NotImplementedError

    def refuse(self, refusal: _Refusal, detail: str, retry_after: float) -> _Reply:
        raise NotImplementedError

    def accepted(self, message: ReceivedMessage) -> _Reply:
        raise NotImplementedError

    def account_refused(self, state: AccountState) -> _Reply:
        raise NotImplementedError

    check_route: ClassVar[re.Pattern[str]]

    def check(self, match: re.Match[str], headers: Mapping[str, str], params: Mapping[str, str],
              account: _Account | None, state: AccountState | None) -> _Reply:
        """The answer to the test call (GET of the account resource)."""
        raise NotImplementedError

    def statuses(self, fate: _Fate) -> list[tuple[str, str | None]]:
        raise NotImplementedError

    def status_params(self, message: ReceivedMessage, status: str, error_code: str | None) -> dict[str, str]:
        raise NotImplementedError

    def inbound_params(self, account_id: str, from_: str, to: str, body: str) -> dict[str, str]:
        raise NotImplementedError

    def sign(
        self, account: _Account, url: str, params: dict[str, str], method: str, token: str
    ) -> tuple[dict[str, str], dict[str, str]]:
        raise NotImplementedError


class _Twilio(_Dialect):
    name = "twilio"
    route = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")
    required = (("to", "To"), ("sender", "From"), ("body", "Body"))
    refuses_opted_out = True
    _MISSING: ClassVar[dict[str, tuple[int, str]]] = {
        "To": (21604, "A 'To' phone number is required."),
        "From": (21603, "A 'From' phone number is required."),
        "Body": (21602, "Message body is required."),
    }
    _REFUSALS: ClassVar[dict[_Refusal, tuple[int, str]]] = {
        _Refusal.INVALID_NUMBER: (21211, "The 'To' number {} is not a valid phone number."),
        _Refusal.NOT_MOBILE: (21614, "'To' number {} is not a valid mobile number"),
        _Refusal.QUEUE_FULL: (21611, "This 'From' number has exceeded the maximum number of queued messages"),
        _Refusal.OPTED_OUT: (21610, "Attempt to send to unsubscribed recipient {}"),
        _Refusal.TOO_LONG: (21617, "The concatenated message body exceeds the 1600 character limit"),
    }

    @staticmethod
    def _error(http_status: int, code: int, message: str, retry_after: float | None = None) -> _Reply:
        payload = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": http_status,
        }
        return _json_reply(http_status, payload, retry_after)

    def submission(self, params: Mapping[str, str], headers: Mapping[str, str]) -> _Submission:
        return _Submission(
            to=params.get("To", ""),
            sender=params.get("From") or params.get("MessagingServiceSid") or "",
            body=params.get("Body", ""),
            callback_url=params.get("StatusCallback") or None,
            callback_method="POST",
            key=headers.get("x-idempotency-key"),
        )

    def new_id(self) -> str:
        return "SM" + uuid.uuid4().hex

    def unauthorized(self) -> _Reply:
        return self._error(401, 20003, "Authenticate")

    def server_error(self) -> _Reply:
        return self._error(500, 20500, "Internal Server Error")

    def throttled(self, retry_after: float) -> _Reply:
        return self._error(429, 20429, "Too Many Requests", retry_after)

    def refuse(self, refusal: _Refusal, detail: str, retry_after: float) -> _Reply:
        if refusal is _Refusal.MISSING:
            return self._error(400, *self._MISSING[detail])
        code, template = self._REFUSALS[refusal]
        return self._error(400, code, template.format(detail))

    def accepted(self, message: ReceivedMessage) -> _Reply:
        created = _http_date()
        service = message.params.get("MessagingServiceSid")
        payload = {
            "sid": message.message_id,
            "account_sid": message.account_id,
            "messaging_service_sid": service,
            "from": message.params.get("From"),
            "to": message.to,
            "body": message.body,
            "status": "accepted" if service else "queued",
            "num_segments": str(message.segments),
            "num_media": "0",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "price": None,
            "price_unit": "USD",
            "error_code": None,
            "error_message": None,
            "date_created": created,
            "date_updated": created,
            "date_sent": None,
            "uri": f"/2010-04-01/Accounts/{message.account_id}/Messages/{message.message_id}.json",
        }
        return _json_reply(201, payload)

    check_route = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)\.json$")

    def account_refused(self, state: AccountState) -> _Reply:
        if state is AccountState.SENDER_NOT_ALLOWED:
            return self._error(400, 21606, "The 'From' phone number provided is not a valid message-capable "
                                           "Twilio phone number for this destination/account")
        return self._error(401, 20005, "Account not active")

    def check(self, match: re.Match[str], headers: Mapping[str, str], params: Mapping[str, str],
              account: _Account | None, state: AccountState | None) -> _Reply:
        if account is None:
            return self.unauthorized()
        status = "suspended" if state in (AccountState.SUSPENDED, AccountState.NO_CREDIT) else "active"
        return _json_reply(200, {"sid": account.account_id, "status": status, "type": "Full"})

    def statuses(self, fate: _Fate) -> list[tuple[str, str | None]]:
        if fate is _Fate.UNDELIVERED:
            return [("sent", None), ("undelivered", "30003")]
        if fate is _Fate.OPTED_OUT:
            return [("failed", "21610")]
        return [("sent", None), ("delivered", None)]

    def status_params(self, message: ReceivedMessage, status: str, error_code: str | None) -> dict[str, str]:
        params = {
            "MessageSid": message.message_id,
            "SmsSid": message.message_id,
            "MessageStatus": status,
            "SmsStatus": status,
            "AccountSid": message.account_id,
            "From": message.sender or "",
            "To": message.to,
            "ApiVersion": "2010-04-01",
        }
        if "MessagingServiceSid" in message.params:
            params["MessagingServiceSid"] = message.params["MessagingServiceSid"]
        if status in ("delivered", "undelivered"):
            params["RawDlrDoneDate"] = time.strftime("%y%m%d%H%M", time.gmtime())
        if error_code:
            params["ErrorCode"] = error_code
        return params

    def inbound_params(self, account_id: str, from_: str, to: str, body: str) -> dict[str, str]:
        sid = self.new_id()
        return {
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": account_id,
            "From": _e164(from_),
            "To": _e164(to),
            "Body": body,
            "NumMedia": "0",
            "NumSegments": str(max(count_segments(body).segments, 1)),
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }

    def sign(
        self, account: _Account, url: str, params: dict[str, str], method: str, token: str
    ) -> tuple[dict[str, str], dict[str, str]]:
        headers = {
            "X-Twilio-Signature": twilio_signature(account.secret, url, params),
            "I-Twilio-Idempotency-Token": token,
        }
        return params, headers


class _Plivo(_Dialect):
    name = "plivo"
    signature_version = "v3"  # what the simulator's webhooks carry (set from CallbackOptions)
    route = re.compile(r"^/v1/Account/(?P<account>[^/]+)/Message/?$")
    required = (("sender", "src"), ("to", "dst"), ("body", "text"))
    _REFUSALS: ClassVar[dict[_Refusal, str]] = {
        _Refusal.INVALID_NUMBER: "invalid destination number {}",
        _Refusal.NOT_MOBILE: "destination number {} is not a mobile number",
        _Refusal.TOO_LONG: "text exceeds the 1600 character limit",
    }

    @staticmethod
    def _error(http_status: int, message: str, retry_after: float | None = None) -> _Reply:
        return _json_reply(http_status, {"api_id": str(uuid.uuid4()), "error": message}, retry_after)

    def submission(self, params: Mapping[str, str], headers: Mapping[str, str]) -> _Submission:
        return _Submission(
            to=params.get("dst", ""),
            sender=params.get("src") or params.get("powerpack_uuid") or "",
            body=params.get("text", ""),
            callback_url=params.get("url") or None,
            callback_method=(params.get("method") or "POST").upper(),
            key=headers.get("x-idempotency-key"),
        )

    def new_id(self) -> str:
        return str(uuid.uuid4())

    def unauthorized(self) -> _Reply:
        return self._error(401, "authentication failed: invalid auth_id or auth_token")

    def server_error(self) -> _Reply:
        return self._error(500, "internal server error")

    def throttled(self, retry_after: float) -> _Reply:
        return self._error(429, "too many requests", retry_after)

    def refuse(self, refusal: _Refusal, detail: str, retry_after: float) -> _Reply:
        if refusal is _Refusal.MISSING:
            return self._error(400, f"{detail} parameter is required")
        if refusal is _Refusal.QUEUE_FULL:
            return self._error(429, "too many requests: message queue full", retry_after)
        return self._error(400, self._REFUSALS[refusal].format(detail))

    def accepted(self, message: ReceivedMessage) -> _Reply:
        payload = {
            "api_id": str(uuid.uuid4()),
            "message": "message(s) queued",
            "message_uuid": [message.message_id],
        }
        return _json_reply(202, payload)

    check_route = re.compile(r"^/v1/Account/(?P<account>[^/]+)/?$")

    def account_refused(self, state: AccountState) -> _Reply:
        if state is AccountState.NO_CREDIT:
            return self._error(402, "insufficient credit")
        if state is AccountState.SENDER_NOT_ALLOWED:
            return self._error(400, "src is not allowed for this account")
        return self._error(403, "account is suspended")

    def check(self, match: re.Match[str], headers: Mapping[str, str], params: Mapping[str, str],
              account: _Account | None, state: AccountState | None) -> _Reply:
        if account is None:
            return self.unauthorized()
        if state is AccountState.SUSPENDED:
            return self._error(403, "account is suspended")
        credits = "0.00000" if state is AccountState.NO_CREDIT else "10.00000"
        return _json_reply(200, {"auth_id": account.account_id, "cash_credits": credits,
                                 "auto_recharge": False, "api_id": str(uuid.uuid4())})

    def statuses(self, fate: _Fate) -> list[tuple[str, str | None]]:
        if fate is _Fate.UNDELIVERED:
            return [("queued", "000"), ("sent", "000"), ("undelivered", "80")]
        if fate is _Fate.OPTED_OUT:
            return [("queued", "000"), ("failed", "200")]
        return [("queued", "000"), ("sent", "000"), ("delivered", "000")]

    def status_params(self, message: ReceivedMessage, status: str, error_code: str | None) -> dict[str, str]:
        return {
            "MessageUUID": message.message_id,
            "ParentMessageUUID": message.message_id,
            "Status": status,
            "ErrorCode": error_code or "",
            "From": _digits(message.sender or ""),
            "To": _digits(message.to),
            "Units": str(message.segments),
            "TotalRate": "0.00500",
            "TotalAmount": f"{0.005 * message.segments:.5f}",
            "MessageTime": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        }

    def inbound_params(self, account_id: str, from_: str, to: str, body: str) -> dict[str, str]:
        return {
            "From": _digits(from_),
            "To": _digits(to),
            "Text": body,
            "Type": "sms",
            "MessageUUID": self.new_id(),
            "Units": str(max(count_segments(body).segments, 1)),
            "TotalRate": "0",
            "TotalAmount": "0",
        }

    def sign(
        self, account: _Account, url: str, params: dict[str, str], method: str, token: str
    ) -> tuple[dict[str, str], dict[str, str]]:
        nonce = _nonce()
        verb = "GET" if method == "GET" else "POST"
        version = self.signature_version
        prefix = "X-Plivo-Signature-Ma-" if version.startswith("ma-") else "X-Plivo-Signature-"
        if version.endswith("v2"):
            return params, {prefix + "V2": plivo_v2_signature(account.secret, url, nonce),
                            "X-Plivo-Signature-V2-Nonce": nonce}
        return params, {prefix + "V3": plivo_v3_signature(account.secret, url, nonce, params, verb),
                        "X-Plivo-Signature-V3-Nonce": nonce}


class _Vonage(_Dialect):
    name = "vonage"
    route = re.compile(r"^/sms/json$")
    required = (("sender", "from"), ("to", "to"), ("body", "text"))
    _REFUSALS: ClassVar[dict[_Refusal, tuple[str, str]]] = {
        _Refusal.INVALID_NUMBER: ("3", "Invalid to address: {}"),
        _Refusal.NOT_MOBILE: ("6", "Unroutable message - rejected ({})"),
        _Refusal.QUEUE_FULL: ("1", "Throughput Rate Exceeded - please wait and retry"),
        _Refusal.TOO_LONG: ("12", "Message too long"),
    }

    def __init__(self, signature_method: VonageMethod, dlr_url: str | None) -> None:
        self.signature_method = signature_method
        self.dlr_url = dlr_url

    @staticmethod
    def _error(status: str, text: str, http_status: int = 200, retry_after: float | None = None) -> _Reply:
        payload = {"message-count": "1", "messages": [{"status": status, "error-text": text}]}
        return _json_reply(http_status, payload, retry_after)

    def authenticate(
        self, match: re.Match[str], headers: Mapping[str, str], params: Mapping[str, str]
    ) -> tuple[str, str] | None:
        if "api_key" in params:
            return params["api_key"], params.get("api_secret", "")
        return _basic_auth(headers.get("authorization"))

    def submission(self, params: Mapping[str, str], headers: Mapping[str, str]) -> _Submission:
        return _Submission(
            to=params.get("to", ""),
            sender=params.get("from", ""),
            body=params.get("text", ""),
            callback_url=params.get("callback") or self.dlr_url,
            callback_method="POST",
            key=params.get("client-ref") or headers.get("x-idempotency-key"),
        )

    def new_id(self) -> str:
        return uuid.uuid4().hex[:16].upper()

    def unauthorized(self) -> _Reply:
        # The SMS API answers HTTP 200 with a per-message status, also for bad credentials.
        return self._error("4", "Bad Credentials")

    def server_error(self) -> _Reply:
        return self._error("5", "Internal Error", http_status=500)

    def throttled(self, retry_after: float) -> _Reply:
        return self._error("1", "Throughput Rate Exceeded - please wait and retry", 429, retry_after)

    def refuse(self, refusal: _Refusal, detail: str, retry_after: float) -> _Reply:
        if refusal is _Refusal.MISSING:
            return self._error("2", f"Missing {detail} param")
        status, template = self._REFUSALS[refusal]
        return self._error(status, template.format(detail))

    def accepted(self, message: ReceivedMessage) -> _Reply:
        parts = []
        for index in range(message.segments):
            part = {
                "to": _digits(message.to),
                "message-id": message.message_id if index == 0 else self.new_id(),
                "status": "0",
                "remaining-balance": "100.00000000",
                "message-price": "0.03330000",
                "network": "20801",
            }
            if message.key and "client-ref" in message.params:
                part["client-ref"] = message.key
            parts.append(part)
        return _json_reply(200, {"message-count": str(len(parts)), "messages": parts})

    check_route = re.compile(r"^/account/get-balance$")
    _ACCOUNT_REFUSALS: ClassVar[dict[AccountState, tuple[str, str]]] = {
        AccountState.SUSPENDED: ("8", "Account barred"),
        AccountState.NO_CREDIT: ("9", "Partner quota exceeded"),
        AccountState.SENDER_NOT_ALLOWED: ("15", "Illegal Sender Address - rejected"),
    }

    def account_refused(self, state: AccountState) -> _Reply:
        return self._error(*self._ACCOUNT_REFUSALS[state])

    def check(self, match: re.Match[str], headers: Mapping[str, str], params: Mapping[str, str],
              account: _Account | None, state: AccountState | None) -> _Reply:
        if account is None:
            return _json_reply(401, {"type": "https://developer.nexmo.com/api-errors#unauthorized",
                                     "title": "Unauthorized", "error-text": "Bad Credentials"})
        if state is AccountState.SUSPENDED:
            return _json_reply(403, {"title": "Forbidden", "error-text": "Account barred"})
        value = 0.0 if state is AccountState.NO_CREDIT else 10.5
        return _json_reply(200, {"value": value, "autoReload": False})

    def statuses(self, fate: _Fate) -> list[tuple[str, str | None]]:
        if fate is _Fate.UNDELIVERED:
            return [("accepted", "0"), ("failed", "2")]
        if fate is _Fate.OPTED_OUT:
            # Vonage's opted-out receipt: "failed" or "rejected" with err-code 9
            # (https://developer.vonage.com/en/opt-out-assist/guides/messaging-opted-out-numbers).
            return [("failed", "9")]
        return [("accepted", "0"), ("delivered", "0")]

    def status_params(self, message: ReceivedMessage, status: str, error_code: str | None) -> dict[str, str]:
        params = {
            "msisdn": _digits(message.to),
            "to": message.sender or "",
            "network-code": "20801",
            "messageId": message.message_id,
            "price": "0.03330000",
            "status": status,
            "scts": time.strftime("%y%m%d%H%M", time.gmtime()),
            "err-code": error_code or "0",
            "api-key": message.account_id,
            "message-timestamp": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        }
        if message.key:
            params["client-ref"] = message.key
        return params

    def inbound_params(self, account_id: str, from_: str, to: str, body: str) -> dict[str, str]:
        words = body.split()
        return {
            "msisdn": _digits(from_),
            "to": _digits(to),
            "messageId": self.new_id(),
            "text": body,
            "type": "text" if is_gsm7(body) else "unicode",
            "keyword": words[0].upper() if words else "",
            "api-key": account_id,
            "message-timestamp": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        }

    def sign(
        self, account: _Account, url: str, params: dict[str, str], method: str, token: str
    ) -> tuple[dict[str, str], dict[str, str]]:
        signed = {**params, "timestamp": str(int(time.time())), "nonce": str(uuid.uuid4())}
        signed["sig"] = vonage_sig(signed, account.signature_secret, self.signature_method)
        return signed, {}


# --------------------------------------------------------------------------- webhook sender


@dataclass(frozen=True)
class _CallbackJob:
    dialect: _Dialect
    account: _Account
    message: ReceivedMessage
    steps: tuple[tuple[dict[str, str], str], ...]  # (params, idempotency token); duplicates share a token
    delay: float
    retries: int = 0


class _WebhookSender:
    """Posts signed webhooks; status callbacks run on background workers, one message per job."""

    def __init__(self, workers: int) -> None:
        # One libcurl handle per thread (keep-alive connections, straight to the given URL, never a proxy): a
        # provider's side, light on the machine it shares with the service in benchmarks (requests took
        # ~0.8 ms of CPU per callback, http.client ~0.19 ms, pycurl ~0.12 ms against a bare uvicorn server;
        # bench_end_to_end.py prints the simulator's share).
        self._local = threading.local()
        self._queue: queue.SimpleQueue[_CallbackJob | None] = queue.SimpleQueue()
        self._pending = 0
        self._idle = threading.Condition()
        self._lock = threading.Lock()
        self._deliveries: list[WebhookDelivery] = []
        self._threads = [
            threading.Thread(target=self._work, name=f"sim-callbacks-{index}", daemon=True)
            for index in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, job: _CallbackJob) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put(job)

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def deliveries(self) -> list[WebhookDelivery]:
        with self._lock:
            return list(self._deliveries)

    def clear(self) -> None:
        with self._lock:
            self._deliveries.clear()

    def post(
        self,
        dialect: _Dialect,
        account: _Account,
        kind: str,
        url: str,
        params: dict[str, str],
        method: str = "POST",
        token: str = "",
    ) -> WebhookDelivery:
        signed, headers = dialect.sign(account, url, params, method, token or uuid.uuid4().hex)
        status_code: int | None = None
        error: str | None = None
        try:
            status_code = self._send(method, url, signed, headers)
        except OSError as exc:
            error = f"{type(exc).__name__}: {exc}"
        delivery = WebhookDelivery(dialect.name, kind, url, signed, headers, status_code, error)
        with self._lock:
            self._deliveries.append(delivery)
        return delivery

    def _send(self, method: str, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> int:
        """One request on this thread's libcurl handle (pycurl: it keeps the connection to each server alive
        and replaces one the server closed while idle); its HTTP status. A transport failure is an OSError."""
        curl = self._local.__dict__.get("curl")
        if curl is None:
            curl = self._local.curl = pycurl.Curl()
            curl.setopt(pycurl.NOPROXY, "*")  # straight to the given URL, never a proxy
            curl.setopt(pycurl.TIMEOUT_MS, int(CALLBACK_TIMEOUT * 1000))
            curl.setopt(pycurl.NOSIGNAL, 1)
            curl.setopt(pycurl.WRITEFUNCTION, len)  # the answer's body is not kept
        sent = [f"{name}: {value}" for name, value in headers.items()] + ["Expect:"]
        if method == "GET":
            query = "&".join(filter(None, (urlsplit(url).query, urlencode(params))))
            curl.setopt(pycurl.URL, url.split("?", 1)[0] + (f"?{query}" if query else ""))
            curl.setopt(pycurl.HTTPGET, 1)
        else:
            curl.setopt(pycurl.URL, url)
            curl.setopt(pycurl.POSTFIELDS, urlencode(params))
            sent.append("Content-Type: application/x-www-form-urlencoded")
            curl.setopt(pycurl.CUSTOMREQUEST, None if method == "POST" else method)
        curl.setopt(pycurl.HTTPHEADER, sent)
        try:
            curl.perform()
        except pycurl.error as exc:
            code, message = exc.args if len(exc.args) == 2 else (0, str(exc))
            raise OSError(f"callback to {url} failed: {message} (libcurl {code})") from exc
        return int(curl.getinfo(pycurl.RESPONSE_CODE))

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            try:
                url = job.message.callback_url or ""
                for index, (params, token) in enumerate(job.steps):
                    if index and job.delay:
                        time.sleep(job.delay)
                    method = job.message.callback_method
                    for attempt in range(job.retries + 1):
                        if attempt:
                            time.sleep(1.0)
                        delivery = self.post(job.dialect, job.account, "status", url, params, method, token)
                        if delivery.status_code is not None and delivery.status_code < 500:
                            break
            except Exception:
                logger.exception("status callback to %s failed", job.message.callback_url)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def stop(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=CALLBACK_TIMEOUT)


# --------------------------------------------------------------------------- HTTP server


class _Server(socketserver.ThreadingTCPServer):
    """Thread per connection; tracks open connections so that ``stop()`` can cut idle keep-alives."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

    def __init__(self, address: tuple[str, int], simulator: ProviderSimulator) -> None:
        self.simulator = simulator
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        logger.exception("simulator error serving %s", client_address)


_REASONS = {status.value: status.phrase for status in HTTPStatus}
_MAX_LINE = 65536
_MAX_HEADERS = 100


class _Handler(socketserver.StreamRequestHandler):
    """A lean HTTP/1.1 server side: persistent connections, Content-Length bodies, one write per answer.

    ``http.server.BaseHTTPRequestHandler`` parses headers with the ``email`` package, which costs
    more CPU than the simulated provider itself; this parser keeps the simulator well above
    1,000 requests/s from a pooled client. Chunked request bodies are refused (411).
    """

    disable_nagle_algorithm = True
    timeout = 60
    server: _Server

    def handle(self) -> None:
        with contextlib.suppress(ConnectionError, TimeoutError):
            while self._handle_one():
                pass

    def _handle_one(self) -> bool:
        line = self.rfile.readline(_MAX_LINE + 1)
        if not line:
            return False
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._send(_json_reply(400, {"error": "bad request line"}), keep_alive=False)
            return False
        method, target, version = parts
        headers: dict[str, str] = {}
        while True:
            raw = self.rfile.readline(_MAX_LINE + 1)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
            if len(headers) > _MAX_HEADERS:
                self._send(_json_reply(431, {"error": "too many headers"}), keep_alive=False)
                return False
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        if "transfer-encoding" in headers:
            self._send(_json_reply(411, {"error": "Content-Length required"}), keep_alive=False)
            return False
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            self._send(_json_reply(400, {"error": "invalid Content-Length"}), keep_alive=False)
            return False
        body = self.rfile.read(length) if length > 0 else b""
        if method == "POST":
            reply = self.server.simulator._handle(target, headers, body)
        elif method == "GET" and target in ("/", "/health"):
            reply = _json_reply(200, {"status": "ok", "providers": ["twilio", "plivo", "vonage"]})
        elif method == "GET" and (test := self.server.simulator._handle_check(target, headers)) is not None:
            reply = test
        else:
            reply = _json_reply(404 if method == "GET" else 405, {"error": f"no {method} {target}"})
        keep_alive = keep_alive and not reply.close
        self._send(reply, keep_alive)
        return keep_alive

    def _send(self, reply: _Reply, keep_alive: bool) -> None:
        lines = [
            f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Unknown')}",
            f"Content-Type: {reply.content_type}",
            f"Content-Length: {len(reply.body)}",
            f"Date: {_http_date()}",
            "Server: ProviderSimulator/1.0",
            *(f"{name}: {value}" for name, value in reply.headers),
        ]
        if not keep_alive:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + reply.body)


_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    """IMF-fixdate of now, computed at most once a second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, email.utils.formatdate(now, usegmt=True))
    return _date_cache[1]


def _parse_body(content_type: str, raw: bytes) -> dict[str, str]:
    """First value of each parameter of a form or JSON body; ``{}`` when it cannot be parsed."""
    try:
        if content_type.split(";")[0].strip().lower() == "application/json":
            decoded = json.loads(raw or b"{}")
            if not isinstance(decoded, dict):
                return {}
            return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in decoded.items()}
        text = raw.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return {}
    params: dict[str, str] = {}
    for pair in text.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            params.setdefault(unquote_plus(name), unquote_plus(value))
    return params


# --------------------------------------------------------------------------- simulator


class ProviderSimulator:
    """The three providers' send APIs on one loopback port, with faults, records and callbacks."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        accounts: Mapping[str, str] | None = None,
        *,
        signature_secrets: Mapping[str, str] | None = None,
        vonage_signature_method: VonageMethod = "md5hash",
        vonage_dlr_url: str | None = None,
        undeliverable_numbers: Iterable[str] = (),
        not_mobile_numbers: Iterable[str] = (),
        opted_out_numbers: Iterable[str] = (),
        seed: int = 0,
        callback_workers: int = 4,
        log_messages: bool = False,
    ) -> None:
        secrets = dict(DEFAULT_ACCOUNTS if accounts is None else accounts)
        signing = dict(signature_secrets or {})
        self._accounts = {
            account_id: _Account(account_id, secret, signing.get(account_id, secret))
            for account_id, secret in secrets.items()
        }
        self._host, self._port = host, port
        self._dialects: tuple[_Dialect, ...] = (
            _Twilio(),
            _Plivo(),
            _Vonage(vonage_signature_method, vonage_dlr_url),
        )
        self._by_name = {dialect.name: dialect for dialect in self._dialects}
        self.undeliverable_numbers: set[str] = set(undeliverable_numbers)
        self.not_mobile_numbers: set[str] = set(not_mobile_numbers)
        self.opted_out_numbers: set[str] = set(opted_out_numbers)
        self.account_states: dict[str, AccountState] = {}
        self.checks: Counter[str] = Counter()  # test calls per account id (whatever the answer)
        self.faults = FaultPlan(seed)
        self.callback_options = CallbackOptions()
        self.log_messages = log_messages
        self._callback_workers = callback_workers
        self._lock = threading.Lock()
        self._messages: list[ReceivedMessage] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._webhooks: _WebhookSender | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> ProviderSimulator:
        if self._server is not None:
            return self
        self._webhooks = _WebhookSender(self._callback_workers)
        self._server = _Server((self._host, self._port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="provider-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.close_connections()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        webhooks, self._webhooks = self._webhooks, None
        if webhooks is not None:
            webhooks.stop()

    def __enter__(self) -> ProviderSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL to give the adapters (``ProviderAccount.base_url``)."""
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # ----------------------------------------------------------------- configuration

    def inject(
        self,
        kind: FaultKind | str,
        *,
        ratio: float | None = None,
        count: int | None = None,
        retry_after: float = 1.0,
        delay: float = 2.0,
        provider: str | None = None,
    ) -> None:
        """Add a fault rule (see :class:`FaultPlan`); ``provider`` limits it to one provider."""
        self.faults.add(
            kind, ratio=ratio, count=count, retry_after=retry_after, delay=delay, provider=provider
        )

    def clear_faults(self) -> None:
        self.faults.clear()

    def configure_callbacks(
        self,
        *,
        enabled: bool | None = None,
        duplicate: bool | None = None,
        out_of_order: bool | None = None,
        delay: float | None = None,
        plivo_signature: str | None = None,
        retries: int | None = None,
    ) -> CallbackOptions:
        """Change the webhook options (status callbacks of messages accepted from now on; Plivo's
        signature headers for every webhook from now on)."""
        current = self.callback_options
        if plivo_signature is not None and plivo_signature not in ("v3", "v2", "ma-v3", "ma-v2"):
            raise ValueError(f"plivo_signature must be v3, v2, ma-v3 or ma-v2, not {plivo_signature!r}")
        self.callback_options = CallbackOptions(
            enabled=current.enabled if enabled is None else enabled,
            duplicate=current.duplicate if duplicate is None else duplicate,
            out_of_order=current.out_of_order if out_of_order is None else out_of_order,
            delay=current.delay if delay is None else delay,
            plivo_signature=current.plivo_signature if plivo_signature is None else plivo_signature,
            retries=current.retries if retries is None else max(0, int(retries)),
        )
        plivo = self._by_name["plivo"]
        assert isinstance(plivo, _Plivo)
        plivo.signature_version = self.callback_options.plivo_signature
        return self.callback_options

    def set_account_state(self, account_id: str, state: AccountState | str | None) -> None:
        """Make the provider refuse (or, with ``None``, accept again) a whole account."""
        if state is None:
            self.account_states.pop(account_id, None)
        else:
            self.account_states[account_id] = AccountState(state)

    # ----------------------------------------------------------------- records

    def received(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self._messages)

    def count_by_key(self) -> Counter[str]:
        """Accepted messages per idempotency key (messages without a key are left out)."""
        with self._lock:
            return Counter(message.key for message in self._messages if message.key is not None)

    def count_by_content(self) -> Counter[tuple[str, str]]:
        """Accepted messages per (to, body)."""
        with self._lock:
            return Counter((message.to, message.body) for message in self._messages)

    def callbacks(self) -> list[WebhookDelivery]:
        """Webhooks posted so far (status callbacks and inbound messages), in order of completion."""
        return self._webhooks.deliveries() if self._webhooks is not None else []

    def wait_callbacks(self, timeout: float = 5.0) -> bool:
        """Wait until every queued status callback has been posted; False on timeout."""
        return self._webhooks.wait_idle(timeout) if self._webhooks is not None else True

    def reset(self) -> None:
        """Forget recorded messages and webhooks, and remove every fault rule."""
        with self._lock:
            self._messages.clear()
        if self._webhooks is not None:
            self._webhooks.clear()
        self.faults.clear()
        self.account_states.clear()
        self.checks.clear()

    # ----------------------------------------------------------------- inbound

    def send_inbound(
        self,
        provider: str,
        from_: str,
        to: str,
        body: str,
        url: str,
        *,
        account_id: str | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> WebhookDelivery:
        """POST a signed inbound-message webhook to ``url`` now; ``account_id`` defaults to the first one."""
        dialect = self._dialect(provider)
        account = self._account(account_id)
        if self._webhooks is None:
            raise RuntimeError("the simulator is not started")
        params = {**dialect.inbound_params(account.account_id, from_, to, body), **(extra or {})}
        return self._webhooks.post(dialect, account, "inbound", url, params)

    def _dialect(self, provider: str) -> _Dialect:
        try:
            return self._by_name[provider]
        except KeyError:
            known = ", ".join(self._by_name)
            raise ValueError(f"unknown provider {provider!r}; expected one of {known}") from None

    def _account(self, account_id: str | None) -> _Account:
        if account_id is None:
            if not self._accounts:
                raise ValueError("the simulator has no account")
            return next(iter(self._accounts.values()))
        try:
            return self._accounts[account_id]
        except KeyError:
            raise ValueError(f"unknown simulator account {account_id!r}") from None

    # ----------------------------------------------------------------- request handling

    def _handle_check(self, path: str, headers: Mapping[str, str]) -> _Reply | None:
        """The providers' test call (GET of the account resource); ``None``: not such a path."""
        route, _, query = path.partition("?")
        for dialect in self._dialects:
            match = dialect.check_route.match(route)
            if match is not None:
                break
        else:
            return None
        params = {unquote_plus(k): unquote_plus(v) for k, _, v in
                  (pair.partition("=") for pair in query.split("&") if pair)}
        if dialect.name == "vonage":
            credentials: tuple[str, str] | None = (params.get("api_key", ""), params.get("api_secret", ""))
        else:
            credentials = dialect.authenticate(match, headers, params)
        account = self._accounts.get(credentials[0]) if credentials else None
        if account is not None and credentials is not None:
            with self._lock:
                self.checks[account.account_id] += 1
            if not hmac.compare_digest(account.secret.encode("utf-8"), credentials[1].encode("utf-8")):
                account = None
        state = self.account_states.get(account.account_id) if account is not None else None
        return dialect.check(match, headers, params, account, state)

    def _handle(self, path: str, headers: Mapping[str, str], raw: bytes) -> _Reply:
        route = path.partition("?")[0]
        for dialect in self._dialects:
            match = dialect.route.match(route)
            if match is not None:
                break
        else:
            return _json_reply(404, {"error": f"no provider endpoint at {route}"})
        params = _parse_body(headers.get("content-type", ""), raw)
        credentials = dialect.authenticate(match, headers, params)
        account = self._accounts.get(credentials[0]) if credentials else None
        if (
            account is None
            or credentials is None
            or not hmac.compare_digest(account.secret.encode("utf-8"), credentials[1].encode("utf-8"))
        ):
            return dialect.unauthorized()
        state = self.account_states.get(account.account_id)
        if state is not None:
            return dialect.account_refused(state)
        fault = self.faults.draw(dialect.name)
        early = self._early_fault(dialect, fault)
        if early is not None:
            return early
        submission = dialect.submission(params, headers)
        refusal = self._refusal(dialect, submission, fault)
        if refusal is not None:
            return refusal
        message = self._record(dialect, account, submission, params)
        if fault is not None and fault.kind is FaultKind.ACCEPTED_TIMEOUT:
            time.sleep(fault.delay)
            return _Reply(504, b"", close=True)
        if fault is not None and fault.kind is FaultKind.SLOW:
            time.sleep(fault.delay)
        return dialect.accepted(message)

    @staticmethod
    def _early_fault(dialect: _Dialect, fault: Fault | None) -> _Reply | None:
        if fault is None:
            return None
        if fault.kind is FaultKind.HTTP_500:
            return dialect.server_error()
        if fault.kind is FaultKind.HTTP_429:
            return dialect.throttled(fault.retry_after)
        if fault.kind is FaultKind.MALFORMED:
            return _Reply(200, b"<html>upstream hiccup</html>")
        if fault.kind is FaultKind.TIMEOUT:
            time.sleep(fault.delay)
            return _Reply(504, b"", close=True)
        return None

    def _refusal(self, dialect: _Dialect, submission: _Submission, fault: Fault | None) -> _Reply | None:
        retry_after = fault.retry_after if fault is not None else 1.0
        for attribute, param in dialect.required:
            if not getattr(submission, attribute):
                return dialect.refuse(_Refusal.MISSING, param, retry_after)
        to = _e164(submission.to)
        if (fault is not None and fault.kind is FaultKind.INVALID_NUMBER) or not _is_valid_number(to):
            return dialect.refuse(_Refusal.INVALID_NUMBER, to, retry_after)
        if to in self.not_mobile_numbers:
            return dialect.refuse(_Refusal.NOT_MOBILE, to, retry_after)
        if fault is not None and fault.kind is FaultKind.QUEUE_FULL:
            return dialect.refuse(_Refusal.QUEUE_FULL, to, retry_after)
        if len(submission.body) > MAX_BODY_CHARS:
            return dialect.refuse(_Refusal.TOO_LONG, to, retry_after)
        if dialect.refuses_opted_out and to in self.opted_out_numbers:
            return dialect.refuse(_Refusal.OPTED_OUT, to, retry_after)
        return None

    def _record(
        self, dialect: _Dialect, account: _Account, submission: _Submission, params: Mapping[str, str]
    ) -> ReceivedMessage:
        to = _e164(submission.to)
        message = ReceivedMessage(
            provider=dialect.name,
            account_id=account.account_id,
            message_id=dialect.new_id(),
            to=to,
            sender=submission.sender,
            body=submission.body,
            key=submission.key,
            callback_url=submission.callback_url,
            callback_method=submission.callback_method,
            segments=max(count_segments(submission.body).segments, 1),
            params={name: value for name, value in params.items() if name != "api_secret"},
            received_at=time.time(),
        )
        with self._lock:
            self._messages.append(message)
        if self.log_messages:
            logger.info(
                "%s %s from=%s to=%s key=%s segments=%d body=%r",
                dialect.name,
                message.message_id,
                message.sender,
                to,
                message.key,
                message.segments,
                message.body,
            )
        self._schedule_callbacks(dialect, account, message)
        return message

    def _schedule_callbacks(self, dialect: _Dialect, account: _Account, message: ReceivedMessage) -> None:
        options = self.callback_options
        if not message.callback_url or not options.enabled or self._webhooks is None:
            return
        if message.to in self.opted_out_numbers:
            fate = _Fate.OPTED_OUT
        elif message.to in self.undeliverable_numbers:
            fate = _Fate.UNDELIVERED
        else:
            fate = _Fate.DELIVERED
        statuses = dialect.statuses(fate)
        if options.out_of_order:
            statuses.reverse()
        copies = 2 if options.duplicate else 1
        steps = tuple(
            (dialect.status_params(message, status, code), token)
            for status, code in statuses
            for token in [uuid.uuid4().hex] * copies
        )
        self._webhooks.submit(_CallbackJob(dialect, account, message, steps, options.delay, options.retries))
