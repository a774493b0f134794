"""What every provider adapter shares: the message and account types, and the send contract.

``Gateway.send`` never raises for a provider or network problem: a refused connection, a
timeout, an HTTP error or an answer that is not JSON all come back as a :class:`SendResult`
whose :class:`~sync_service.core.errors.Classification` tells the dispatcher what to do.

An HTTP adapter is a functional core between two transports: :meth:`HttpGateway.prepare` builds
the request (URL, body, headers) and :meth:`HttpGateway.answered` classifies the answer
(:class:`HttpAnswer`: status, body, ``Retry-After``), both pure. ``send`` carries them over a
pooled ``requests`` session; :class:`~sync_service.gateways.async_http.AsyncHttpTransport`
carries the very same over libcurl for the dispatcher.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import socket
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar
from urllib.parse import urlencode

import requests
from requests.adapters import HTTPAdapter

from sync_service.core.account_problems import account_refusal
from sync_service.core.errors import (
    Classification,
    FailureKind,
    Outcome,
    classify_exception,
    parse_retry_after,
)
from sync_service.core.segments import count_segments

IDEMPOTENCY_HEADER = "X-Idempotency-Key"


@dataclass(frozen=True)
class OutboundMessage:
    """One SMS to send. ``key`` is the idempotency key (the Odoo sms uuid); ``to`` is E.164."""

    key: str
    to: str
    body: str
    sender: str | None = None
    status_callback: str | None = None
    media_url: str | None = None  # an image for MMS (Twilio, Plivo); Vonage's SMS API sends the text only


@dataclass(frozen=True)
class SendResult:
    key: str
    classification: Classification
    provider_message_id: str | None
    segments: int

    @property
    def outcome(self) -> Outcome:
        return self.classification.outcome


@dataclass(frozen=True)
class ProviderAccount:
    """Credentials and limits of one provider account. ``secret`` never appears in ``repr``."""

    provider: str
    base_url: str
    account_id: str
    secret: str = field(repr=False)
    sender: str | None
    messaging_service_sid: str | None = None
    messages_per_second: float = 10.0
    test_mode: bool = False
    name: str = ""


@dataclass(frozen=True)
class HttpOptions:
    """Timeouts (seconds) and connection-pool size of an HTTP gateway."""

    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    pool_size: int = 32


INVALID_RESPONSE = Classification(Outcome.TRANSIENT, "invalid_response", "answer not understood")


class Gateway(ABC):
    """Sends SMS through one provider account."""

    provider: ClassVar[str]

    def __init__(self, account: ProviderAccount) -> None:
        self.account = account

    @abstractmethod
    def send(self, message: OutboundMessage) -> SendResult:
        """Submit ``message``; never raises for provider or network problems."""

    def check(self) -> Classification:
        """A test call: does the provider accept this ACCOUNT now (credentials, status, credit)?

        Sends no message and bills nothing. ``SENT`` means yes; ``ACCOUNT`` that the provider refuses
        the account itself; anything else (transient) tells nothing. The sandbox always says yes.
        """
        return Classification(Outcome.SENT, "ok", "no provider to ask")

    def close(self) -> None:
        """Release network resources (idempotent); nothing to release by default."""
        return None

    def __enter__(self) -> Gateway:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def make_session(pool_size: int, base_url: str) -> requests.Session:
    """A ``requests.Session`` with a pooled adapter and no automatic retries (POSTs are not idempotent).

    Proxy and CA-bundle environment variables are read once, for ``base_url``, instead of on every
    request (``trust_env`` rescans the environment on every call, hundreds of microseconds each).
    """
    session = requests.Session()
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def caused_by_dns(exc: BaseException) -> bool:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            return True
        reason = getattr(current, "reason", None)
        linked = [current.__cause__, current.__context__, reason, *current.args]
        todo.extend(item for item in linked if isinstance(item, BaseException))
    return False


def classify_transport_error(exc: requests.RequestException) -> Classification:
    """Map a ``requests`` exception to a classification (timeouts and connection errors retry)."""
    if isinstance(exc, requests.exceptions.SSLError):
        return classify_exception(FailureKind.TLS)
    if isinstance(exc, requests.Timeout):
        return classify_exception(FailureKind.TIMEOUT)
    if isinstance(exc, requests.ConnectionError):
        return classify_exception(FailureKind.DNS if caused_by_dns(exc) else FailureKind.CONNECTION)
    if isinstance(
        exc,
        requests.exceptions.InvalidURL
        | requests.exceptions.MissingSchema
        | requests.exceptions.InvalidSchema,
    ):
        return classify_exception("configuration")
    return classify_exception(FailureKind.PROTOCOL)


def decode_json(body: bytes) -> Mapping[str, Any] | None:
    """The JSON object in ``body``, or ``None`` when the body is not a JSON object."""
    try:
        decoded = json.loads(body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return None
    return decoded if isinstance(decoded, Mapping) else None


def with_retry_after(classification: Classification, header: str | None) -> Classification:
    """Add the ``Retry-After`` delay to a retryable classification that has none."""
    if classification.retryable and classification.retry_after is None:
        delay = parse_retry_after(header)
        if delay is not None:
            return dataclasses.replace(classification, retry_after=delay)
    return classification


@dataclass(frozen=True)
class HttpAnswer:
    """What a provider answered, as any transport sees it."""

    status: int
    body: bytes
    retry_after: str | None = None  # the Retry-After header


@dataclass(frozen=True)
class PreparedSend:
    """One POST ready for a transport: URL, encoded body, every header; the message's segments."""

    url: str
    body: bytes
    headers: Mapping[str, str]
    segments: int


@dataclass(frozen=True)
class HttpRequest:
    """What an adapter POSTs: the URL, the encoded body and its content type."""

    url: str
    body: bytes
    content_type: str

    @classmethod
    def form(cls, url: str, fields: Mapping[str, str]) -> HttpRequest:
        return cls(url, urlencode(fields).encode("utf-8"), "application/x-www-form-urlencoded")

    @classmethod
    def json(cls, url: str, payload: Mapping[str, Any]) -> HttpRequest:
        return cls(url, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json")


class HttpGateway(Gateway):
    """A gateway speaking to a provider's REST API through a pooled session.

    Bodies are encoded to bytes here so that headers and body leave in one write.
    """

    default_base_url: ClassVar[str]
    basic_auth: ClassVar[bool] = True

    def __init__(self, account: ProviderAccount, options: HttpOptions | None = None) -> None:
        super().__init__(account)
        self.options = options or HttpOptions()
        self.base_url = (account.base_url or self.default_base_url).rstrip("/")
        self.timeout = (self.options.connect_timeout, self.options.read_timeout)
        self._session = make_session(self.options.pool_size, self.base_url)
        self._headers = {"Accept": "application/json"}
        if self.basic_auth:
            token = base64.b64encode(f"{account.account_id}:{account.secret}".encode()).decode("ascii")
            self._headers["Authorization"] = f"Basic {token}"

    @property
    def proxy(self) -> str | None:
        """The proxy the environment sets for ``base_url`` (read once, like the session's)."""
        scheme = self.base_url.partition(":")[0].lower()
        proxies = self._session.proxies
        return proxies.get(scheme) or proxies.get("all") or None

    @property
    def ca_bundle(self) -> str | None:
        """The CA bundle the environment names (``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``), if any."""
        verify = self._session.verify
        return verify if isinstance(verify, str) else None

    # ------------------------------------------------------------------ functional core (pure)

    def prepare(self, message: OutboundMessage) -> PreparedSend:
        """The POST for ``message``: what every transport sends."""
        request = self._request(message)
        headers = {**self._headers, "Content-Type": request.content_type, IDEMPOTENCY_HEADER: message.key}
        return PreparedSend(request.url, request.body, headers, count_segments(message.body).segments)

    def answered(self, prepared: PreparedSend, message: OutboundMessage, answer: HttpAnswer) -> SendResult:
        """The result of ``message`` given the provider's ``answer``."""
        classification, message_id = self._interpret(answer)
        return SendResult(message.key, classification, message_id, prepared.segments)

    @staticmethod
    def unanswered(prepared: PreparedSend, message: OutboundMessage, failure: Classification) -> SendResult:
        """The result of ``message`` when no answer came (``failure`` classifies the transport error)."""
        return SendResult(message.key, failure, None, prepared.segments)

    # ------------------------------------------------------------------ the requests transport

    def send(self, message: OutboundMessage) -> SendResult:
        prepared = self.prepare(message)
        try:
            response = self._session.post(
                prepared.url, data=prepared.body, headers=prepared.headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            return self.unanswered(prepared, message, classify_transport_error(exc))
        answer = HttpAnswer(response.status_code, response.content, response.headers.get("Retry-After"))
        return self.answered(prepared, message, answer)

    # ------------------------------------------------------------------ the test call

    def check(self) -> Classification:
        url, headers = self._check_request()
        try:
            response = self._session.get(url, headers={**self._headers, **headers}, timeout=self.timeout)
        except requests.RequestException as exc:
            return classify_transport_error(exc)
        return self._check_answer(HttpAnswer(response.status_code, response.content,
                                             response.headers.get("Retry-After")))

    def _check_request(self) -> tuple[str, Mapping[str, str]]:
        """The GET of the test call (an account resource that sends nothing): URL, extra headers."""
        raise NotImplementedError

    def _check_answer(self, answer: HttpAnswer) -> Classification:
        """What the test call's answer says about the account (pure)."""
        if 200 <= answer.status < 300:
            return Classification(Outcome.SENT, str(answer.status), "the provider accepts the account")
        if answer.status in (401, 402, 403):
            body = decode_json(answer.body) or {}
            detail = str(body.get("message") or body.get("error") or body.get("error-text") or "")
            code = str(body.get("code") or answer.status)  # Twilio names its error (20003), the others do not
            return Classification(Outcome.ACCOUNT, code, account_refusal(self.provider, code, detail))
        return with_retry_after(
            Classification(Outcome.TRANSIENT, str(answer.status), f"test call: HTTP {answer.status}"),
            answer.retry_after,
        )

    @abstractmethod
    def _request(self, message: OutboundMessage) -> HttpRequest:
        """The provider request for ``message``."""

    @abstractmethod
    def _interpret(self, answer: HttpAnswer) -> tuple[Classification, str | None]:
        """Classification and provider message id of an HTTP answer."""

    def close(self) -> None:
        self._session.close()
