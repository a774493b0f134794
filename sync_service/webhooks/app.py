"""The webhook server: signed delivery receipts and inbound SMS, stored durably before the 200.

Per request: unknown provider → 404; body not form/JSON → 400; bad or missing signature → 403
(nothing stored); missing required field, or a message id / status over 100 characters or with control
characters (they make the dedup key) → 400; store failure → 503 so the provider retries;
otherwise the normalised event is committed to the store, then 200 (a duplicate is a 200 too).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict, cast
from urllib.parse import parse_qsl, urlsplit

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sync_service.store import EventKind, Store, StoreError
from sync_service.webhooks.inbox_journal import InboxJournal
from sync_service.webhooks.signing import (
    PROVIDERS,
    NonceLedger,
    Provider,
    SignatureError,
    SigningConfig,
    verify_request,
)

logger = logging.getLogger("sync_service.webhooks")

MAX_BODY_BYTES = 64 * 1024
MAX_FIELDS = 200
# Message ids and statuses make the inbox's dedup key (255 characters at most in the store): providers' ids
# are 16 to 36 characters, their statuses a word. Longer is not a provider's request: 400, not a store error.
MAX_KEY_FIELD_CHARS = 100
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
STORED, DUPLICATE = b'{"status":"stored"}', b'{"status":"duplicate"}'

EventCallback = Callable[[str, EventKind, Mapping[str, Any]], None]
OdooCheck = Callable[[], bool]


class StatusPayload(TypedDict):
    provider_message_id: str
    status: str  # provider-native
    error_code: str | None
    key: str | None  # the SMS's key, echoed by the provider (callback URL's ``key``, Vonage's ``client-ref``)
    raw: dict[str, str]  # the verified parameters, as received


class InboundPayload(TypedDict):
    inbound_id: str
    from_number: str
    to_number: str | None
    body: str
    raw: dict[str, str]


@dataclass(frozen=True)
class _StatusFields:
    message_id: str
    status: str
    error_code: str


@dataclass(frozen=True)
class _InboundFields:
    message_id: str
    from_number: str
    to_number: str
    body: str


STATUS_FIELDS: dict[Provider, _StatusFields] = {
    "twilio": _StatusFields("MessageSid", "MessageStatus", "ErrorCode"),
    "plivo": _StatusFields("MessageUUID", "Status", "ErrorCode"),
    "vonage": _StatusFields("messageId", "status", "err-code"),
}
INBOUND_FIELDS: dict[Provider, _InboundFields] = {
    "twilio": _InboundFields("MessageSid", "From", "To", "Body"),
    "plivo": _InboundFields("MessageUUID", "From", "To", "Text"),
    "vonage": _InboundFields("messageId", "msisdn", "to", "text"),
}


class BadRequest(Exception):
    """The request cannot be used; ``reason`` goes back to the caller."""

    def __init__(self, reason: str, status_code: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code


# --------------------------------------------------------------------------- parsing


def _form_params(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=True,
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except UnicodeDecodeError as exc:
        raise BadRequest("form body is not valid UTF-8") from exc
    except ValueError as exc:
        raise BadRequest(f"malformed form body: {exc}") from exc
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise BadRequest(f"parameter {name!r} is repeated")
        params[name] = value
    return params


def _json_scalar(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    raise BadRequest(f"JSON field {name!r} must be a string or a number, not {type(value).__name__}")


def _json_params(body: bytes) -> dict[str, str]:
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise BadRequest(f"malformed JSON body: {exc}") from exc
    if not isinstance(document, dict):
        raise BadRequest("JSON body must be an object")
    return {str(name): _json_scalar(str(name), value) for name, value in document.items()}


def parse_params(content_type: str, body: bytes) -> dict[str, str]:
    """Decoded parameters of a form-encoded or JSON webhook body."""
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(f"body larger than {MAX_BODY_BYTES} bytes", 413)
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        return _form_params(body)
    if media_type == "application/json" or media_type.endswith("+json"):
        return _json_params(body)
    raise BadRequest(
        f"unsupported content type {media_type or '(none)'!r}: "
        "expected application/x-www-form-urlencoded or application/json"
    )


async def read_bounded_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, read chunk by chunk and abandoned as soon as it passes ``limit`` bytes, whatever
    the request declared (a chunked body declares nothing): an oversized body never sits in memory."""
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > limit:
            raise BadRequest(f"body larger than {limit} bytes", 413)
    return bytes(received)


def _check_declared_length(content_length: str | None) -> None:
    """Refuse an oversized body before reading it."""
    if content_length is not None and content_length.isdigit() and int(content_length) > MAX_BODY_BYTES:
        raise BadRequest(f"body larger than {MAX_BODY_BYTES} bytes", 413)


def public_url(public_base_url: str, request: Request) -> str:
    """The URL the provider called: configured public base + request path + query (never the Host header)."""
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else request.url.path
    query = request.scope.get("query_string", b"").decode("latin-1")
    return public_base_url + path + (f"?{query}" if query else "")


# --------------------------------------------------------------------------- normalisation


def _required(params: Mapping[str, str], name: str, *, allow_empty: bool = False) -> str:
    value = params.get(name)
    if value is None or (not allow_empty and not value.strip()):
        raise BadRequest(f"missing required field {name!r}")
    return value


def _key_field(params: Mapping[str, str], name: str) -> str:
    """A required field that goes into the dedup key, stripped and of a sensible length."""
    value = _required(params, name).strip()
    if len(value) > MAX_KEY_FIELD_CHARS:
        raise BadRequest(f"field {name!r} is longer than {MAX_KEY_FIELD_CHARS} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):  # a NUL cannot even be stored in PostgreSQL text
        raise BadRequest(f"field {name!r} contains control characters")
    return value


def _optional(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name, "").strip()
    return value or None


def normalize_status(
    provider: Provider, params: Mapping[str, str], query_key: str | None = None
) -> tuple[str, StatusPayload]:
    """Dedup key (message id + status) and payload of a delivery receipt.

    ``query_key`` is the ``key`` query parameter of the (signed) callback URL: the dispatcher puts the
    SMS's key there for Twilio and Plivo; Vonage echoes it as ``client-ref``.
    """
    fields = STATUS_FIELDS[provider]
    message_id = _key_field(params, fields.message_id)
    status = _key_field(params, fields.status)
    key = _optional(params, "client-ref") if provider == "vonage" else query_key
    payload = StatusPayload(
        provider_message_id=message_id,
        status=status,
        error_code=_optional(params, fields.error_code),
        key=(key or "").strip() or None,
        raw=dict(params),
    )
    return f"{message_id}:{status}", payload


def normalize_inbound(provider: Provider, params: Mapping[str, str]) -> tuple[str, InboundPayload]:
    """Dedup key (inbound message id) and payload of an inbound SMS."""
    fields = INBOUND_FIELDS[provider]
    message_id = _key_field(params, fields.message_id)
    payload = InboundPayload(
        inbound_id=message_id,
        from_number=_required(params, fields.from_number).strip(),
        to_number=_optional(params, fields.to_number),
        body=_required(params, fields.body, allow_empty=True),
        raw=dict(params),
    )
    return message_id, payload


# --------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class WebhookMetrics:
    """The app's own Prometheus registry (not the global one: several apps may live in one process)."""

    registry: CollectorRegistry
    received: Counter
    backlog: Gauge
    seconds: Histogram

    @classmethod
    def create(cls) -> WebhookMetrics:
        registry = CollectorRegistry(auto_describe=True)
        return cls(
            registry=registry,
            received=Counter(
                "webhooks_received_total",
                "Webhook requests by provider, kind and result "
                "(stored, duplicate, forbidden, bad_request, unavailable, not_found).",
                ["provider", "kind", "result"],
                registry=registry,
            ),
            backlog=Gauge(
                "inbox_backlog",
                "Stored events not yet acknowledged by Odoo (NaN: store unreadable).",
                registry=registry,
            ),
            seconds=Histogram(
                "webhook_seconds",
                "Time to handle one webhook request.",
                ["provider", "kind"],
                registry=registry,
            ),
        )


# --------------------------------------------------------------------------- app


def _error(status_code: int, reason: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status_code, headers=dict(headers or {}))


def _validate_base_url(public_base_url: str) -> str:
    parts = urlsplit(public_base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(
            f"public_base_url must be an http(s) URL without query or fragment, got {public_base_url!r}"
        )
    return public_base_url.rstrip("/")


def create_app(
    store: Store,
    signing: SigningConfig,
    public_base_url: str,
    on_event: EventCallback | None = None,
    *,
    odoo_check: OdooCheck | None = None,
    clock: Callable[[], float] = time.time,
    inbox: InboxJournal | None = None,
) -> Starlette:
    """Build the webhook app: a Starlette app of four routes taking the request as it comes (FastAPI's
    parameter and dependency machinery and its extra middleware had nothing to do; bench_webhooks.py, runs
    interleaved: 2,300-2,400 webhooks/s as FastAPI routes, 2,600-2,970 as plain routes in FastAPI, then
    3,110-3,230 against 3,240-3,330 as a Starlette app).

    ``on_event(provider, kind, payload)`` runs after a NEW event is committed (e.g. to wake the
    Odoo-apply loop); it must be quick, and its errors are logged, never turned into a failure.
    ``odoo_check()`` (optional) reports Odoo reachability in /healthz; it does not make the
    instance unhealthy, since events keep being stored while Odoo is down. Events are committed in
    groups by ``inbox`` (:class:`InboxJournal`; the service passes one that outlives a secret
    change's new app, else the app makes its own).
    """
    base_url = _validate_base_url(public_base_url)
    metrics = WebhookMetrics.create()
    async def _http_error(_request: Request, exc: Exception) -> Response:
        error = cast(StarletteHTTPException, exc)  # registered for that class only
        return _error(error.status_code, str(error.detail), error.headers)

    app = Starlette(exception_handlers={StarletteHTTPException: _http_error})
    app.state.metrics = metrics
    app.state.store = store
    journal = inbox if inbox is not None else InboxJournal(store)

    nonces = NonceLedger()  # Plivo V2 nonces this app accepted (V2 does not sign the body)

    def _respond(provider: Provider, kind: EventKind, created: bool) -> Response:
        if provider == "twilio" and kind == "inbound":
            return Response(EMPTY_TWIML, media_type="text/xml")
        return Response(STORED if created else DUPLICATE, media_type="application/json")  # rendered once

    async def _process(request: Request, provider: Provider, kind: EventKind) -> tuple[str, Response]:
        url = public_url(base_url, request)
        log = {"provider": provider, "kind": kind}
        try:
            _check_declared_length(request.headers.get("content-length"))
            params = parse_params(request.headers.get("content-type", ""), await read_bounded_body(request))
            verify_request(provider, signing, url, params, request.headers, now=clock(), nonces=nonces)
            if kind == "status":
                dedup_key, payload = normalize_status(provider, params, request.query_params.get("key"))
            else:
                dedup_key, payload = normalize_inbound(provider, params)
        except SignatureError as exc:
            logger.warning("webhook refused: %s", exc, extra={**log, "result": "forbidden", "url": url})
            return "forbidden", _error(403, str(exc))
        except BadRequest as exc:
            logger.warning("webhook rejected: %s", exc.reason, extra={**log, "result": "bad_request"})
            return "bad_request", _error(exc.status_code, exc.reason)
        try:
            created = await journal.add(provider, kind, dedup_key, payload)
        except StoreError as exc:
            logger.error("webhook not stored: %s", exc, extra={**log, "result": "unavailable"})
            return "unavailable", _error(503, "store unavailable, retry later", {"Retry-After": "30"})
        result = "stored" if created else "duplicate"
        logger.info("webhook %s", result, extra={**log, "result": result, "dedup_key": dedup_key})
        if created and on_event is not None:
            try:
                on_event(provider, kind, payload)
            except Exception:
                logger.exception("on_event callback failed (the event is stored)", extra=log)
        return result, _respond(provider, kind, created)

    async def _webhook(request: Request, provider: str, kind: EventKind) -> Response:
        started = time.perf_counter()
        if provider not in PROVIDERS:
            metrics.received.labels("unknown", kind, "not_found").inc()
            return _error(404, f"unknown provider {provider[:40]!r}; expected one of {', '.join(PROVIDERS)}")
        known = cast(Provider, provider)  # checked just above
        result, response = await _process(request, known, kind)
        metrics.received.labels(known, kind, result).inc()
        metrics.seconds.labels(known, kind).observe(time.perf_counter() - started)
        return response

    async def status_webhook(request: Request) -> Response:
        return await _webhook(request, request.path_params["provider"], "status")

    async def inbound_webhook(request: Request) -> Response:
        return await _webhook(request, request.path_params["provider"], "inbound")

    app.add_route("/webhooks/{provider}/status", status_webhook, methods=["POST"])
    app.add_route("/webhooks/{provider}/inbound", inbound_webhook, methods=["POST"])

    def _store_health() -> dict[str, Any]:
        try:
            store.check_writable()
            backlog = store.backlog()
            oldest = store.oldest_pending_age()
        except StoreError as exc:
            metrics.backlog.set(math.nan)
            return {"store": "error", "store_error": str(exc), "backlog": None}
        metrics.backlog.set(backlog)
        return {"store": "ok", "backlog": backlog, "oldest_pending_seconds": oldest}

    def _odoo_health() -> dict[str, Any]:
        if odoo_check is None:
            return {}
        try:
            return {"odoo": "ok" if odoo_check() else "error"}
        except Exception as exc:
            return {"odoo": "error", "odoo_error": str(exc) or type(exc).__name__}

    async def healthz(_request: Request) -> JSONResponse:
        health = await run_in_threadpool(_store_health)
        health.update(await run_in_threadpool(_odoo_health))
        return JSONResponse(health, status_code=200 if health["store"] == "ok" else 503)

    def _refresh_backlog() -> None:
        try:
            metrics.backlog.set(store.backlog())
        except StoreError:
            metrics.backlog.set(math.nan)

    async def prometheus_metrics(_request: Request) -> Response:
        await run_in_threadpool(_refresh_backlog)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_route("/healthz", healthz, methods=["GET"])
    app.add_route("/metrics", prometheus_metrics, methods=["GET"])

    return app
