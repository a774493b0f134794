"""Provider adapters against the real simulator over loopback HTTP: ids, refusals, faults, encodings.

Every test of the ``gateway`` fixture runs twice: through ``Gateway.send`` (requests) and through the
dispatcher's :class:`AsyncHttpTransport` (libcurl), which must classify everything the same way.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sync_service.core.errors import Outcome
from sync_service.gateways import (
    PROVIDERS,
    Gateway,
    HttpGateway,
    HttpOptions,
    OutboundMessage,
    ProviderAccount,
    SendResult,
    build_gateway,
)
from sync_service.gateways.async_http import AsyncHttpTransport
from sync_service.gateways.console import ConsoleGateway, mask_number
from sync_service.gateways.plivo import PlivoGateway
from sync_service.gateways.twilio import TwilioGateway
from sync_service.gateways.vonage import VonageGateway
from sync_service.shell.loop_thread import LoopThread
from sync_service.simulator import ProviderSimulator

CREDENTIALS = {
    "twilio": ("AC" + "1" * 32, "twilio-token-123"),
    "plivo": ("MAPLIVOTEST000001", "plivo-token-456"),
    "vonage": ("vonagekey1", "vonage-secret-789"),
}
HTTP_PROVIDERS = ("twilio", "plivo", "vonage")
SENDER = "+14155550100"
MOBILE = "+33612345678"
INVALID = "+1555"  # phonenumbers: not a valid number
LANDLINE = "+33123456789"
OPTED_OUT = "+4915112345678"
ID_PATTERNS = {
    "twilio": r"SM[0-9a-f]{32}",
    "plivo": r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "vonage": r"[0-9A-F]{16}",
}
FAST = HttpOptions(connect_timeout=1.0, read_timeout=0.25, pool_size=16)

TRANSPORTS = ("requests", "curl")


class AsyncSending:
    """An HTTP gateway sending through :class:`AsyncHttpTransport` on its own event loop thread."""

    def __init__(self, gateway: Gateway) -> None:
        assert isinstance(gateway, HttpGateway)
        self.gateway = gateway
        self._transport = AsyncHttpTransport()
        self._loop = LoopThread("test-gateway-loop")

    def send(self, message: OutboundMessage) -> SendResult:
        return self._loop.run(self._transport.send(self.gateway, message))

    def close(self) -> None:
        self._loop.run(self._transport.close())
        self._loop.stop()
        self.gateway.close()

    def __enter__(self) -> AsyncSending:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


Sender = Gateway | AsyncSending
GatewayFactory = Callable[..., Sender]


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def open_gateway(transport: str, account: ProviderAccount, options: HttpOptions | None = None) -> Sender:
    built = build_gateway(account, options)
    return AsyncSending(built) if transport == "curl" else built


@pytest.fixture
def sim() -> Iterator[ProviderSimulator]:
    simulator = ProviderSimulator(
        accounts=dict(CREDENTIALS.values()),
        not_mobile_numbers={LANDLINE},
        opted_out_numbers={OPTED_OUT},
        seed=7,
    )
    with simulator:
        yield simulator


def make_account(base_url: str, provider: str, **changes: Any) -> ProviderAccount:
    account_id, secret = CREDENTIALS.get(provider, ("console", "unused"))
    fields: dict[str, Any] = {
        "provider": provider,
        "base_url": base_url,
        "account_id": account_id,
        "secret": secret,
        "sender": SENDER,
        "name": f"{provider} test",
    }
    fields.update(changes)
    return ProviderAccount(**fields)


@pytest.fixture
def gateway(sim: ProviderSimulator, transport: str) -> Iterator[GatewayFactory]:
    opened: list[Sender] = []

    def factory(provider: str, options: HttpOptions = FAST, **changes: Any) -> Sender:
        built = open_gateway(transport, make_account(sim.url, provider, **changes), options)
        opened.append(built)
        return built

    yield factory
    for built in opened:
        built.close()


def msg(key: str, to: str = MOBILE, body: str = "Hello from the shop", **changes: Any) -> OutboundMessage:
    return OutboundMessage(key=key, to=to, body=body, **changes)


# --------------------------------------------------------------------------- success


@pytest.mark.parametrize("provider", HTTP_PROVIDERS)
def test_send_returns_provider_id_and_simulator_records_it_once(
    sim: ProviderSimulator, gateway: GatewayFactory, provider: str
) -> None:
    result = gateway(provider).send(msg(f"uuid-{provider}"))

    assert result.outcome is Outcome.SENT, result
    assert result.key == f"uuid-{provider}"
    assert result.segments == 1
    assert re.fullmatch(ID_PATTERNS[provider], result.provider_message_id or "")
    [received] = sim.received()
    assert received.provider == provider
    assert received.message_id == result.provider_message_id
    assert received.account_id == CREDENTIALS[provider][0]
    assert (received.to, received.body, received.key) == (MOBILE, "Hello from the shop", f"uuid-{provider}")
    assert received.sender is not None and received.sender.removeprefix("+") == SENDER.removeprefix("+")
    assert sim.count_by_key() == {f"uuid-{provider}": 1}
    assert sim.count_by_content() == {(MOBILE, "Hello from the shop"): 1}
    assert "api_secret" not in received.params


def test_an_mms_reaches_the_provider_with_its_image(sim: ProviderSimulator, gateway: GatewayFactory) -> None:
    image = "https://shop.example/web/image/product.product/7/image_512"
    for provider in ("twilio", "plivo"):
        assert gateway(provider).send(msg(f"mms-{provider}", media_url=image)).outcome is Outcome.SENT
    twilio, plivo = sim.received()
    assert twilio.params["MediaUrl"] == image
    assert (plivo.params["type"], json.loads(plivo.params["media_urls"])) == ("mms", [image])


def test_twilio_uses_messaging_service_when_no_sender(
    sim: ProviderSimulator, gateway: GatewayFactory
) -> None:
    service = "MG" + "a" * 32
    result = gateway("twilio", sender=None, messaging_service_sid=service).send(msg("k"))

    assert result.outcome is Outcome.SENT
    [received] = sim.received()
    assert received.params["MessagingServiceSid"] == service
    assert "From" not in received.params


def test_message_sender_overrides_account_sender(sim: ProviderSimulator, gateway: GatewayFactory) -> None:
    gateway("twilio").send(msg("k", sender="ShopName"))
    assert sim.received()[0].params["From"] == "ShopName"


def test_plivo_sends_json_with_callback_method(sim: ProviderSimulator, gateway: GatewayFactory) -> None:
    gateway("plivo").send(msg("k", status_callback="http://127.0.0.1:9/plivo"))
    params = sim.received()[0].params
    assert params["dst"] == MOBILE
    assert params["url"] == "http://127.0.0.1:9/plivo"
    assert params["method"] == "POST"


def test_vonage_sends_unicode_type_for_emoji(sim: ProviderSimulator, gateway: GatewayFactory) -> None:
    vonage = gateway("vonage")
    emoji = vonage.send(msg("emoji", body="Sale starts now 😀"))
    plain = vonage.send(msg("plain", body="Sale starts now"))

    assert emoji.outcome is Outcome.SENT and plain.outcome is Outcome.SENT
    by_key = {message.key: message.params for message in sim.received()}
    assert by_key["emoji"]["type"] == "unicode"
    assert "type" not in by_key["plain"]
    assert by_key["emoji"]["to"] == MOBILE.removeprefix("+")
    assert by_key["emoji"]["client-ref"] == "emoji"


def test_segments_are_counted_for_long_texts(gateway: GatewayFactory) -> None:
    gsm = gateway("twilio").send(msg("gsm", body="a" * 161))
    ucs2 = gateway("vonage").send(msg("ucs2", body="😀" * 36))
    assert (gsm.segments, ucs2.segments) == (2, 2)


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(("provider", "code"), [("twilio", "20003"), ("plivo", "401"), ("vonage", "4")])
def test_wrong_credentials_are_account_wide_and_nothing_is_recorded(
    sim: ProviderSimulator, gateway: GatewayFactory, provider: str, code: str
) -> None:
    result = gateway(provider, secret="wrong-secret").send(msg("k"))

    assert result.outcome is Outcome.ACCOUNT  # held, not failed: the account is wrong, not the message
    assert result.classification.code == code
    assert result.provider_message_id is None
    assert sim.received() == []


@pytest.mark.parametrize(
    ("provider", "state", "code"),
    [
        ("twilio", "suspended", "20005"), ("twilio", "sender_not_allowed", "21606"),
        ("plivo", "suspended", "403"), ("plivo", "no_credit", "402"), ("plivo", "sender_not_allowed", "400"),
        ("vonage", "suspended", "8"), ("vonage", "no_credit", "9"), ("vonage", "sender_not_allowed", "15"),
    ],
)
def test_an_account_the_provider_refuses_is_account_wide(
    sim: ProviderSimulator, gateway: GatewayFactory, provider: str, state: str, code: str
) -> None:
    sim.set_account_state(CREDENTIALS[provider][0], state)
    result = gateway(provider).send(msg("k"))
    assert (result.outcome, result.classification.code) == (Outcome.ACCOUNT, code)
    assert sim.received() == []


@pytest.mark.parametrize("provider", ["twilio", "plivo", "vonage"])
def test_the_test_call_tells_a_working_account_from_a_refused_one(
    sim: ProviderSimulator, provider: str
) -> None:
    """The test call (an account resource, nothing sent) is what resumes a failing account."""
    account_id = CREDENTIALS[provider][0]
    with build_gateway(make_account(sim.url, provider)) as working:
        assert working.check().outcome is Outcome.SENT
    with build_gateway(make_account(sim.url, provider, secret="wrong-secret")) as wrong:
        assert wrong.check().outcome is Outcome.ACCOUNT
    for state in ("suspended", "no_credit"):
        sim.set_account_state(account_id, state)
        with build_gateway(make_account(sim.url, provider)) as refused:
            verdict = refused.check()
        assert verdict.outcome is Outcome.ACCOUNT, (state, verdict)
    assert sim.checks[account_id] == 4 and sim.received() == []
    with build_gateway(make_account(sim.url, "console")) as sandbox:
        assert sandbox.check().outcome is Outcome.SENT


@pytest.mark.parametrize(("provider", "code"), [("twilio", "21211"), ("plivo", "400"), ("vonage", "3")])
def test_invalid_number_is_permanent(
    sim: ProviderSimulator, gateway: GatewayFactory, provider: str, code: str
) -> None:
    result = gateway(provider).send(msg("k", to=INVALID))

    assert result.outcome is Outcome.PERMANENT
    assert result.classification.code == code
    assert sim.received() == []


@pytest.mark.parametrize(("provider", "code"), [("twilio", "21614"), ("plivo", "400"), ("vonage", "6")])
def test_not_mobile_number_is_permanent(gateway: GatewayFactory, provider: str, code: str) -> None:
    result = gateway(provider).send(msg("k", to=LANDLINE))
    assert (result.outcome, result.classification.code) == (Outcome.PERMANENT, code)


def test_twilio_opted_out_recipient_is_reported_as_opted_out(gateway: GatewayFactory) -> None:
    result = gateway("twilio").send(msg("k", to=OPTED_OUT))
    assert (result.outcome, result.classification.code) == (Outcome.OPTED_OUT, "21610")


def test_twilio_missing_sender_is_permanent(gateway: GatewayFactory) -> None:
    result = gateway("twilio", sender=None).send(msg("k"))
    assert (result.outcome, result.classification.code) == (Outcome.PERMANENT, "21603")


# --------------------------------------------------------------------------- injected faults


@pytest.mark.parametrize(("provider", "code"), [("twilio", "20500"), ("plivo", "500"), ("vonage", "500")])
def test_http_500_is_transient(
    sim: ProviderSimulator, gateway: GatewayFactory, provider: str, code: str
) -> None:
    sim.inject("http_500", count=1)
    first, second = (gateway(provider).send(msg(key)) for key in ("a", "b"))

    assert (first.outcome, first.classification.code) == (Outcome.TRANSIENT, code)
    assert second.outcome is Outcome.SENT
    assert sim.count_by_key() == {"b": 1}


@pytest.mark.parametrize("provider", HTTP_PROVIDERS)
def test_http_429_is_throttled_with_retry_after(
    sim: ProviderSimulator, gateway: GatewayFactory, provider: str
) -> None:
    sim.inject("http_429", count=1, retry_after=7)
    result = gateway(provider).send(msg("k"))

    assert result.outcome is Outcome.THROTTLED
    assert result.classification.retry_after == 7.0
    assert sim.received() == []


@pytest.mark.parametrize(("provider", "code"), [("twilio", "21611"), ("plivo", "429"), ("vonage", "1")])
def test_queue_full_is_throttled(
    sim: ProviderSimulator, gateway: GatewayFactory, provider: str, code: str
) -> None:
    sim.inject("queue_full", count=1)
    result = gateway(provider).send(msg("k"))
    assert (result.outcome, result.classification.code) == (Outcome.THROTTLED, code)


@pytest.mark.parametrize(("provider", "code"), [("twilio", "21211"), ("plivo", "400"), ("vonage", "3")])
def test_injected_invalid_number_is_permanent(
    sim: ProviderSimulator, gateway: GatewayFactory, provider: str, code: str
) -> None:
    sim.inject("invalid_number", count=1)
    result = gateway(provider).send(msg("k"))
    assert (result.outcome, result.classification.code) == (Outcome.PERMANENT, code)


@pytest.mark.parametrize("provider", HTTP_PROVIDERS)
def test_timeout_is_transient(sim: ProviderSimulator, gateway: GatewayFactory, provider: str) -> None:
    sim.inject("timeout", count=1, delay=0.6)
    result = gateway(provider).send(msg("k"))

    assert (result.outcome, result.classification.code) == (Outcome.TRANSIENT, "timeout")
    assert result.classification.retryable
    assert sim.received() == []


@pytest.mark.parametrize("provider", HTTP_PROVIDERS)
def test_malformed_answer_is_transient(
    sim: ProviderSimulator, gateway: GatewayFactory, provider: str
) -> None:
    sim.inject("malformed", count=1)
    result = gateway(provider).send(msg("k"))
    assert (result.outcome, result.classification.code) == (Outcome.TRANSIENT, "invalid_response")
    assert result.provider_message_id is None


def test_connection_refused_is_transient(transport: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gateway = open_gateway(transport, make_account(f"http://127.0.0.1:{port}", "twilio"), FAST)
    with gateway:
        result = gateway.send(msg("k"))
    assert (result.outcome, result.classification.code) == (Outcome.TRANSIENT, "connection")


def test_timeout_after_acceptance_shows_up_as_a_duplicate(
    sim: ProviderSimulator, gateway: GatewayFactory
) -> None:
    """The ambiguous case: the provider took the message but the answer never came back."""
    sim.inject("accepted_timeout", count=1, delay=0.6)
    twilio = gateway("twilio")
    first = twilio.send(msg("k"))
    retry = twilio.send(msg("k"))

    assert first.outcome is Outcome.TRANSIENT and retry.outcome is Outcome.SENT
    assert sim.count_by_key() == {"k": 2}


def test_a_slow_answer_within_the_read_timeout_is_a_send(
    sim: ProviderSimulator, gateway: GatewayFactory
) -> None:
    sim.inject("slow", count=1, delay=0.6)
    patient = gateway("twilio", HttpOptions(connect_timeout=1.0, read_timeout=2.0, pool_size=4))
    started = time.monotonic()
    result = patient.send(msg("k"))

    assert result.outcome is Outcome.SENT and time.monotonic() - started >= 0.6
    assert sim.count_by_key() == {"k": 1}


# --------------------------------------------------------------------------- concurrency


def test_concurrent_sends_with_retries_deliver_each_message_exactly_once(
    sim: ProviderSimulator, gateway: GatewayFactory
) -> None:
    sim.inject("http_500", ratio=0.1)
    sim.inject("http_429", ratio=0.05, retry_after=0)
    # Patient timeouts: only the injected 500s and 429s are retried here. A client-side read timeout on a
    # busy machine (16 client threads and the simulator in one process) would retry a message the simulator
    # had taken: the documented duplicate risk of timeouts, not what this test is about.
    twilio = gateway("twilio", HttpOptions(connect_timeout=5.0, read_timeout=10.0, pool_size=16))

    def deliver(index: int) -> SendResult:
        message = msg(f"sms-{index:04d}", body=f"Offer {index}")
        for _ in range(20):
            result = twilio.send(message)
            if not result.classification.retryable:
                return result
        raise AssertionError(f"{message.key} still failing after 20 attempts")

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(deliver, range(1000)))

    assert all(result.outcome is Outcome.SENT for result in results)
    counts = sim.count_by_key()
    assert len(counts) == 1000
    assert set(counts.values()) == {1}
    assert len({result.provider_message_id for result in results}) == 1000


# --------------------------------------------------------------------------- console, registry, types

_watched_thread: int | None = None
_socket_events: list[str] = []


def _audit(event: str, _args: tuple[Any, ...]) -> None:
    if event.startswith("socket.") and threading.get_ident() == _watched_thread:
        _socket_events.append(event)


sys.addaudithook(_audit)


def _socket_events_during(action: Callable[[], object]) -> list[str]:
    global _watched_thread
    _socket_events.clear()
    _watched_thread = threading.get_ident()
    try:
        action()
    finally:
        _watched_thread = None
    return list(_socket_events)


def test_console_gateway_never_opens_a_socket(
    sim: ProviderSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    console = build_gateway(make_account("", "console"))
    results: list[SendResult] = []
    caplog.set_level(logging.INFO, logger="sync_service.gateways.console")

    events = _socket_events_during(lambda: results.append(console.send(msg("abc-1"))))

    assert events == []
    [result] = results
    assert result.outcome is Outcome.SENT
    assert result.provider_message_id == "console-abc-1"
    assert MOBILE not in caplog.text and mask_number(MOBILE) in caplog.text
    # The probe does see sockets: an HTTP gateway in the same thread opens one.
    with build_gateway(make_account(sim.url, "twilio"), FAST) as twilio:
        assert "socket.connect" in _socket_events_during(lambda: twilio.send(msg("probe")))


def test_mask_number_keeps_only_the_ends() -> None:
    assert mask_number("+33612345678") == "+33******678"
    assert mask_number("12345") == "*****"


def test_build_gateway_picks_the_provider_class() -> None:
    classes = {provider: type(build_gateway(make_account("", provider))) for provider in PROVIDERS}
    assert classes == {
        "twilio": TwilioGateway,
        "plivo": PlivoGateway,
        "vonage": VonageGateway,
        "console": ConsoleGateway,
    }


def test_build_gateway_rejects_an_unknown_provider() -> None:
    with pytest.raises(ValueError, match=r"unknown SMS provider 'sinch'.*twilio, plivo, vonage, console"):
        build_gateway(make_account("", "sinch"))


def test_http_gateway_defaults_to_the_real_api_url() -> None:
    with build_gateway(make_account("", "vonage")) as vonage:
        assert isinstance(vonage, VonageGateway)
        assert vonage.base_url == "https://rest.nexmo.com"


def test_account_repr_hides_the_secret() -> None:
    account = make_account("http://x", "twilio")
    assert account.secret not in repr(account)
    assert account.account_id in repr(account)


def test_unresolvable_host_is_transient_dns_and_bad_url_is_permanent(transport: str) -> None:
    with open_gateway(transport, make_account("http://provider.invalid", "plivo"), FAST) as unresolvable:
        dns = unresolvable.send(msg("k"))
    with open_gateway(transport, make_account("not-a-url", "plivo"), FAST) as misconfigured:
        bad_url = misconfigured.send(msg("k"))
    assert (dns.outcome, dns.classification.code) == (Outcome.TRANSIENT, "dns")
    assert (bad_url.outcome, bad_url.classification.code) == (Outcome.PERMANENT, "configuration")


# --------------------------------------------------------------------------- TLS and proxy


class _TlsProvider:
    """A Twilio-shaped HTTPS endpoint on loopback with a self-signed certificate (openssl CLI)."""

    def __init__(self, directory: Path) -> None:
        self.cert, key = directory / "cert.pem", directory / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-keyout", str(key), "-out", str(self.cert)],
            check=True, capture_output=True)
        self.requests: list[str] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                provider.requests.append(self.headers.get("X-Idempotency-Key", ""))
                body = json.dumps({"sid": "SM" + "a" * 32, "status": "queued"}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_https_trusts_the_configured_ca_bundle_and_refuses_an_unknown_certificate(
    transport: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = _TlsProvider(tmp_path)
    try:
        with open_gateway(transport, make_account(provider.url, "twilio"), FAST) as default_trust:
            refused = default_trust.send(msg("untrusted"))
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(provider.cert))
        with open_gateway(transport, make_account(provider.url, "twilio"), FAST) as trusting:
            accepted = trusting.send(msg("trusted"))
    finally:
        provider.close()
    # A certificate nobody vouches for is a configuration problem, not something to retry.
    assert (refused.outcome, refused.classification.code) == (Outcome.PERMANENT, "tls")
    assert (accepted.outcome, accepted.provider_message_id) == (Outcome.SENT, "SM" + "a" * 32)
    assert provider.requests == ["trusted"]  # the refused one never reached it


def test_the_environment_proxy_is_used_and_no_proxy_respected(
    sim: ProviderSimulator, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as closed:  # a port where nothing listens: a proxy that refuses connections
        closed.bind(("127.0.0.1", 0))
        dead_proxy = f"http://127.0.0.1:{closed.getsockname()[1]}"
    monkeypatch.setenv("http_proxy", dead_proxy)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with open_gateway(transport, make_account(sim.url, "twilio"), FAST) as proxied:
        through_proxy = proxied.send(msg("via-proxy"))
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    with open_gateway(transport, make_account(sim.url, "twilio"), FAST) as direct:
        straight = direct.send(msg("direct"))
    assert (through_proxy.outcome, through_proxy.classification.code) == (Outcome.TRANSIENT, "connection")
    assert straight.outcome == Outcome.SENT
    assert sim.count_by_key() == {"direct": 1}
