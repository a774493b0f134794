"""The webhook server, served for real by uvicorn on a loopback port, against real SQLite stores."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import event

from live_server import LiveServer
from sync_service.core.signatures import plivo_v2_signature, plivo_v3_signature, twilio_signature, vonage_sig
from sync_service.store import Store
from sync_service.webhooks import SigningConfig, create_app
from sync_service.webhooks.role import signing_from_accounts

PUBLIC = "https://sms.example.com/hooks"  # behind a proxy that strips /hooks
TWILIO_TOKEN = "twilio-auth-token-0123456789"
PLIVO_TOKEN = "plivo-auth-token-abcdef"
VONAGE_SECRET = "vonage-signature-secret"
SIGNING = SigningConfig(
    twilio_auth_token=TWILIO_TOKEN,
    plivo_auth_token=PLIVO_TOKEN,
    vonage_signature_secret=VONAGE_SECRET,
    vonage_signature_method="sha256",
)
NOW = 1_750_000_000.0
FORM = "application/x-www-form-urlencoded"


ServerFactory = Callable[..., LiveServer]


@pytest.fixture(scope="module")
def stopping() -> Iterator[list[LiveServer]]:
    """Servers asked to stop; joined once per module (uvicorn takes ~0.2 s to wind down each)."""
    servers: list[LiveServer] = []
    yield servers
    for server in servers:
        server.join()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.from_url(f"sqlite:///{tmp_path / 'inbox.db'}")
    yield opened
    opened.close()


@pytest.fixture
def serve(stopping: list[LiveServer]) -> Iterator[ServerFactory]:
    servers: list[LiveServer] = []

    def start(store: Store, **kwargs: Any) -> LiveServer:
        kwargs.setdefault("signing", SIGNING)
        kwargs.setdefault("public_base_url", PUBLIC)
        kwargs.setdefault("clock", lambda: NOW)
        server = LiveServer(create_app(store, **kwargs)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.request_stop()
    stopping.extend(servers)


@pytest.fixture
def server(serve: ServerFactory, store: Store) -> LiveServer:
    return serve(store)


def twilio_post(
    server: LiveServer, path: str, params: Mapping[str, str], *, signed_url: str | None = None
) -> requests.Response:
    signature = twilio_signature(TWILIO_TOKEN, signed_url or PUBLIC + path, params)
    return requests.post(
        server.url + path, data=params, headers={"X-Twilio-Signature": signature}, timeout=10
    )


STATUS = {"MessageSid": "SM0001", "MessageStatus": "delivered", "AccountSid": "AC1", "ErrorCode": ""}
INBOUND = {"MessageSid": "SM0002", "From": "+33612345678", "To": "+33700000000", "Body": "Arrêt"}


def _events(store: Store) -> list[Any]:
    return store.claim_pending("test-reader", 100, 60)


# --------------------------------------------------------------------------- Twilio


def test_twilio_status_is_stored_then_acknowledged(server: LiveServer, store: Store) -> None:
    response = twilio_post(server, "/webhooks/twilio/status", STATUS)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "stored"}
    [stored] = _events(store)
    assert (stored.provider, stored.kind, stored.dedup_key) == ("twilio", "status", "SM0001:delivered")
    assert stored.payload == {
        "provider_message_id": "SM0001",
        "status": "delivered",
        "error_code": None,
        "key": None,
        "raw": STATUS,
    }


def test_the_sms_key_in_the_signed_callback_url_is_kept(server: LiveServer, store: Store) -> None:
    """The dispatcher names the SMS in its status callback URL; the receipt carries it to Odoo."""
    path = "/webhooks/twilio/status?key=5f1c2d"
    assert twilio_post(server, path, {**STATUS, "MessageSid": "SMk"}).status_code == 200
    unkeyed = twilio_signature(TWILIO_TOKEN, PUBLIC + "/webhooks/twilio/status", STATUS)
    forged = {"X-Twilio-Signature": unkeyed}
    response = requests.post(server.url + "/webhooks/twilio/status?key=other", data=STATUS, headers=forged,
                             timeout=10)
    assert response.status_code == 403, "the key is part of the signed URL"
    vonage = _vonage_signed({"messageId": "0Bk", "status": "delivered", "client-ref": "9a8b7c"})
    assert requests.post(server.url + "/webhooks/vonage/status", data=vonage, timeout=10).status_code == 200
    assert {event.payload["provider_message_id"]: event.payload["key"] for event in _events(store)} == {
        "SMk": "5f1c2d", "0Bk": "9a8b7c"
    }


def test_twilio_inbound_answers_empty_twiml(server: LiveServer, store: Store) -> None:
    response = twilio_post(server, "/webhooks/twilio/inbound", INBOUND)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert "<Response/>" in response.text
    [stored] = _events(store)
    assert stored.dedup_key == "SM0002"
    assert {k: v for k, v in stored.payload.items() if k != "raw"} == {
        "inbound_id": "SM0002",
        "from_number": "+33612345678",
        "to_number": "+33700000000",
        "body": "Arrêt",
    }


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}],
    ids=["missing", "forged"],
)
def test_twilio_bad_signature_is_refused_and_nothing_stored(
    server: LiveServer, store: Store, headers: dict[str, str]
) -> None:
    response = requests.post(server.url + "/webhooks/twilio/status", data=STATUS, headers=headers, timeout=10)
    assert response.status_code == 403
    assert "X-Twilio-Signature" in response.json()["error"]
    assert store.backlog() == 0


def test_tampered_params_are_refused(server: LiveServer, store: Store) -> None:
    path = "/webhooks/twilio/status"
    signature = twilio_signature(TWILIO_TOKEN, PUBLIC + path, STATUS)
    tampered = {**STATUS, "MessageStatus": "failed"}
    response = requests.post(
        server.url + path, data=tampered, headers={"X-Twilio-Signature": signature}, timeout=10
    )
    assert response.status_code == 403
    assert store.backlog() == 0


def test_signature_uses_the_public_url_not_the_host_header(server: LiveServer, store: Store) -> None:
    path = "/webhooks/twilio/status?tenant=shop-1"
    # The provider signed the public URL (with the query); the request reaches us on 127.0.0.1.
    proxied = twilio_post(server, path, STATUS)
    assert proxied.status_code == 200, proxied.text
    # A signature over the URL we were reached at (what a Host-header check would accept) is refused.
    naive = twilio_post(server, path, {**STATUS, "MessageSid": "SM9"}, signed_url=server.url + path)
    assert naive.status_code == 403
    spoofed = requests.post(
        server.url + path,
        data=STATUS,
        headers={
            "Host": "evil.example.net",
            "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, "https://evil.example.net" + path, STATUS),
        },
        timeout=10,
    )
    assert spoofed.status_code == 403
    assert store.backlog() == 1


@pytest.mark.parametrize(
    ("path", "params", "missing"),
    [
        ("/webhooks/twilio/status", {"MessageSid": "SM1"}, "MessageStatus"),
        ("/webhooks/twilio/status", {"MessageStatus": "sent"}, "MessageSid"),
        ("/webhooks/twilio/inbound", {"MessageSid": "SM3", "To": "+1", "Body": "hi"}, "From"),
        ("/webhooks/twilio/inbound", {"MessageSid": "SM3", "From": "+1", "To": "+2"}, "Body"),
    ],
)
def test_missing_field_is_a_400_with_the_reason(
    server: LiveServer, store: Store, path: str, params: dict[str, str], missing: str
) -> None:
    response = twilio_post(server, path, params)
    assert response.status_code == 400
    assert response.json() == {"error": f"missing required field {missing!r}"}
    assert store.backlog() == 0


def test_body_that_is_neither_form_nor_json_is_a_400(server: LiveServer, store: Store) -> None:
    response = requests.post(
        server.url + "/webhooks/twilio/status",
        data=b"MessageSid=SM1",
        headers={"Content-Type": "text/plain", "X-Twilio-Signature": "x"},
        timeout=10,
    )
    assert response.status_code == 400
    assert "unsupported content type 'text/plain'" in response.json()["error"]
    broken = requests.post(
        server.url + "/webhooks/vonage/status",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert broken.status_code == 400
    assert "malformed JSON body" in broken.json()["error"]
    assert store.backlog() == 0


def test_unknown_provider_is_a_404(server: LiveServer) -> None:
    response = requests.post(server.url + "/webhooks/sinch/status", data={"a": "b"}, timeout=10)
    assert response.status_code == 404
    assert "unknown provider 'sinch'" in response.json()["error"]
    other = requests.get(server.url + "/nowhere", timeout=10)
    assert other.status_code == 404
    assert "error" in other.json()


def test_duplicate_is_acknowledged_and_stored_once(serve: ServerFactory, store: Store) -> None:
    seen: list[tuple[str, str]] = []
    server = serve(store, on_event=lambda provider, kind, _payload: seen.append((provider, kind)))
    first = twilio_post(server, "/webhooks/twilio/status", STATUS)
    again = twilio_post(server, "/webhooks/twilio/status", STATUS)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == {"status": "duplicate"}
    assert store.backlog() == 1
    assert seen == [("twilio", "status")]
    # The next status of the same message is a new event.
    assert (
        twilio_post(server, "/webhooks/twilio/status", {**STATUS, "MessageStatus": "read"}).status_code == 200
    )
    assert store.backlog() == 2


def test_failing_on_event_callback_does_not_lose_the_event(serve: ServerFactory, store: Store) -> None:
    def explode(*_args: object) -> None:
        raise RuntimeError("apply loop gone")

    server = serve(store, on_event=explode)
    assert twilio_post(server, "/webhooks/twilio/inbound", INBOUND).status_code == 200
    assert store.backlog() == 1


# --------------------------------------------------------------------------- store failures


def test_read_only_store_answers_503_and_unhealthy(serve: ServerFactory, tmp_path: Path) -> None:
    path = tmp_path / "inbox.db"
    writer = Store.from_url(f"sqlite:///{path}")
    read_only = Store.from_url(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        server = serve(read_only)
        response = twilio_post(server, "/webhooks/twilio/status", STATUS)
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "30"
        health = requests.get(server.url + "/healthz", timeout=10)
        assert health.status_code == 503
        assert health.json()["store"] == "error"
        assert "read-only" in health.json()["store_error"]
        assert writer.backlog() == 0
    finally:
        read_only.close()
        writer.close()


def test_full_disk_answers_503_then_recovers(serve: ServerFactory, store: Store) -> None:
    with store.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()

    def cap_size(dbapi_connection: Any, _record: object) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(store.engine, "connect", cap_size)
    store.engine.dispose()
    server = serve(store)
    big = {**INBOUND, "Body": "x" * 20_000}
    assert twilio_post(server, "/webhooks/twilio/inbound", big).status_code == 503
    assert store.backlog() == 0
    event.remove(store.engine, "connect", cap_size)  # space freed
    store.engine.dispose()
    assert twilio_post(server, "/webhooks/twilio/inbound", big).status_code == 200  # the provider's retry
    assert store.backlog() == 1


# --------------------------------------------------------------------------- Plivo and Vonage


def plivo_post(
    server: LiveServer, path: str, params: Mapping[str, str], nonce: str = "12345"
) -> requests.Response:
    signature = plivo_v3_signature(PLIVO_TOKEN, PUBLIC + path, nonce, params)
    headers = {"X-Plivo-Signature-V3": signature, "X-Plivo-Signature-V3-Nonce": nonce}
    return requests.post(server.url + path, data=params, headers=headers, timeout=10)


def test_plivo_status_and_inbound(server: LiveServer, store: Store) -> None:
    status = {"MessageUUID": "pl-1", "Status": "undelivered", "ErrorCode": "30005", "To": "+15550001"}
    assert plivo_post(server, "/webhooks/plivo/status", status).status_code == 200
    inbound = {"MessageUUID": "pl-in-1", "From": "+15550002", "To": "+15550003", "Text": "STOP"}
    assert plivo_post(server, "/webhooks/plivo/inbound?src=plivo", inbound).status_code == 200
    status_event, inbound_event = _events(store)
    assert status_event.dedup_key == "pl-1:undelivered"
    assert status_event.payload["error_code"] == "30005"
    assert inbound_event.payload["body"] == "STOP"
    assert inbound_event.payload["from_number"] == "+15550002"


def test_plivo_wrong_nonce_is_refused(server: LiveServer, store: Store) -> None:
    params = {"MessageUUID": "pl-2", "Status": "sent"}
    signature = plivo_v3_signature(PLIVO_TOKEN, PUBLIC + "/webhooks/plivo/status", "nonce-a", params)
    response = requests.post(
        server.url + "/webhooks/plivo/status",
        data=params,
        headers={"X-Plivo-Signature-V3": signature, "X-Plivo-Signature-V3-Nonce": "nonce-b"},
        timeout=10,
    )
    assert response.status_code == 403
    assert store.backlog() == 0


def _vonage_signed(params: dict[str, str], timestamp: float = NOW) -> dict[str, str]:
    signed = {**params, "timestamp": str(int(timestamp))}
    signed["sig"] = vonage_sig(signed, VONAGE_SECRET, "sha256")
    return signed


def test_vonage_form_status_and_json_inbound(server: LiveServer, store: Store) -> None:
    dlr = _vonage_signed(
        {"messageId": "0B00001", "status": "delivered", "err-code": "0", "msisdn": "447700900001"}
    )
    assert requests.post(server.url + "/webhooks/vonage/status", data=dlr, timeout=10).status_code == 200
    inbound = _vonage_signed(
        {"messageId": "0A00002", "msisdn": "447700900002", "to": "447700900000", "text": "AIDE"}
    )
    response = requests.post(
        server.url + "/webhooks/vonage/inbound",
        data=json.dumps(inbound),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    status_event, inbound_event = _events(store)
    assert status_event.dedup_key == "0B00001:delivered"
    assert inbound_event.payload["from_number"] == "447700900002"
    assert inbound_event.payload["body"] == "AIDE"


def test_vonage_forged_is_refused(server: LiveServer, store: Store) -> None:
    forged = {**_vonage_signed({"messageId": "0B2", "status": "delivered"}), "status": "failed"}
    assert requests.post(server.url + "/webhooks/vonage/status", data=forged, timeout=10).status_code == 403
    assert store.backlog() == 0


def test_vonage_receipt_retried_after_an_outage_is_stored_once(server: LiveServer, store: Store) -> None:
    """A receipt Vonage retries hours later keeps its original signed timestamp: it is stored (no clock
    window), and replaying it stores nothing more (idempotent by message id + status)."""
    params = {"messageId": "0B1", "status": "delivered", "err-code": "0"}
    late = _vonage_signed(params, timestamp=NOW - 6 * 3600)
    first = requests.post(server.url + "/webhooks/vonage/status", data=late, timeout=10)
    assert first.status_code == 200 and first.json()["status"] == "stored", first.text
    again = requests.post(server.url + "/webhooks/vonage/status", data=late, timeout=10)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert [event.dedup_key for event in _events(store)] == ["0B1:delivered"]


def test_vonage_clock_window_when_configured(serve: ServerFactory, store: Store) -> None:
    signing = SigningConfig(vonage_signature_secret=VONAGE_SECRET, vonage_signature_method="sha256",
                            vonage_timestamp_tolerance=300.0)
    server = serve(store, signing=signing)
    stale = _vonage_signed({"messageId": "0B3", "status": "delivered"}, timestamp=NOW - 3600)
    response = requests.post(server.url + "/webhooks/vonage/status", data=stale, timeout=10)
    assert response.status_code == 403 and "timestamp" in response.json()["error"]


def plivo_headers(kind: str, token: str, url: str, nonce: str, params: Mapping[str, str]) -> dict[str, str]:
    """The headers of a Plivo webhook signed as ``kind``: v3, ma-v3, v2 or ma-v2."""
    name = "X-Plivo-Signature-" + ("Ma-" if kind.startswith("ma-") else "")
    if kind.endswith("v2"):
        return {name + "V2": plivo_v2_signature(token, url, nonce), "X-Plivo-Signature-V2-Nonce": nonce}
    return {name + "V3": plivo_v3_signature(token, url, nonce, params), "X-Plivo-Signature-V3-Nonce": nonce}


@pytest.mark.parametrize("kind", ["v2", "ma-v2", "ma-v3"])
def test_plivo_v2_and_main_account_signatures_are_stored(
    server: LiveServer, store: Store, kind: str
) -> None:
    path = "/webhooks/plivo/status?key=sms-uuid-1"
    params = {"MessageUUID": f"pl-{kind}", "Status": "delivered", "ErrorCode": "000"}
    headers = plivo_headers(kind, PLIVO_TOKEN, PUBLIC + path, "83417309418471", params)
    response = requests.post(server.url + path, data=params, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    [event] = _events(store)
    assert event.dedup_key == f"pl-{kind}:delivered" and event.payload["key"] == "sms-uuid-1"


@pytest.mark.parametrize("kind", ["v2", "ma-v2", "ma-v3", "v3"])
def test_plivo_signatures_with_the_wrong_token_are_refused(
    server: LiveServer, store: Store, kind: str
) -> None:
    path = "/webhooks/plivo/inbound"
    params = {"MessageUUID": "pl-in-9", "From": "+15550002", "To": "+15550003", "Text": "STOP"}
    headers = plivo_headers(kind, "not-the-token", PUBLIC + path, "5551", params)
    assert requests.post(server.url + path, data=params, headers=headers, timeout=10).status_code == 403
    assert store.backlog() == 0


def test_plivo_v3_is_judged_alone_when_present(server: LiveServer, store: Store) -> None:
    """A request carrying a bad V3 signature is refused even with a good V2 one: the stronger one decides."""
    path = "/webhooks/plivo/status"
    params = {"MessageUUID": "pl-both", "Status": "delivered"}
    headers = {**plivo_headers("v2", PLIVO_TOKEN, PUBLIC + path, "777", params),
               **plivo_headers("v3", "not-the-token", PUBLIC + path, "777", params)}
    assert requests.post(server.url + path, data=params, headers=headers, timeout=10).status_code == 403
    assert store.backlog() == 0


def test_plivo_v2_signature_reused_on_other_contents_is_refused(server: LiveServer, store: Store) -> None:
    """V2 signs neither the body nor the query: a captured V2 signature must not vouch for a forged body.
    The genuine request, and Plivo's retry of it, are accepted; the same nonce with another body is not."""
    path = "/webhooks/plivo/inbound"
    genuine = {"MessageUUID": "pl-in-10", "From": "+15550002", "To": "+15550003", "Text": "Hello"}
    headers = plivo_headers("v2", PLIVO_TOKEN, PUBLIC + path, "990011", genuine)
    assert requests.post(server.url + path, data=genuine, headers=headers, timeout=10).status_code == 200
    assert requests.post(server.url + path, data=genuine, headers=headers, timeout=10).status_code == 200
    forged = {**genuine, "MessageUUID": "pl-in-11", "Text": "STOP"}
    response = requests.post(server.url + path, data=forged, headers=headers, timeout=10)
    assert response.status_code == 403 and "already used" in response.json()["error"]
    assert [event.payload["body"] for event in _events(store)] == ["Hello"]


def test_provider_without_secret_is_refused(serve: ServerFactory, store: Store) -> None:
    server = serve(store, signing=SigningConfig(twilio_auth_token=TWILIO_TOKEN))
    response = plivo_post(server, "/webhooks/plivo/status", {"MessageUUID": "x", "Status": "sent"})
    assert response.status_code == 403
    assert "no Plivo auth token configured" in response.json()["error"]


# --------------------------------------------------------------------------- health and metrics


def test_healthz_reports_store_backlog_and_odoo(serve: ServerFactory, store: Store) -> None:
    def odoo_down() -> bool:
        raise ConnectionError("odoo unreachable")

    healthy = serve(store, odoo_check=lambda: True)
    twilio_post(healthy, "/webhooks/twilio/status", STATUS)
    response = requests.get(healthy.url + "/healthz", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert (body["store"], body["backlog"], body["odoo"]) == ("ok", 1, "ok")
    # Odoo down is reported, but the instance stays healthy: events keep being stored.
    degraded = requests.get(serve(store, odoo_check=odoo_down).url + "/healthz", timeout=10)
    assert degraded.status_code == 200
    assert degraded.json()["odoo"] == "error"
    assert degraded.json()["odoo_error"] == "odoo unreachable"


def test_metrics_count_results_per_app(serve: ServerFactory, store: Store, tmp_path: Path) -> None:
    server = serve(store)
    twilio_post(server, "/webhooks/twilio/status", STATUS)
    twilio_post(server, "/webhooks/twilio/status", STATUS)
    requests.post(server.url + "/webhooks/twilio/inbound", data=INBOUND, timeout=10)  # unsigned
    text = requests.get(server.url + "/metrics", timeout=10).text
    assert 'webhooks_received_total{kind="status",provider="twilio",result="stored"} 1.0' in text
    assert 'webhooks_received_total{kind="status",provider="twilio",result="duplicate"} 1.0' in text
    assert 'webhooks_received_total{kind="inbound",provider="twilio",result="forbidden"} 1.0' in text
    assert "inbox_backlog 1.0" in text
    assert 'webhook_seconds_count{kind="status",provider="twilio"} 2.0' in text
    # A second app in the same process has its own registry, starting from zero.
    other = Store.from_url(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        fresh = requests.get(serve(other).url + "/metrics", timeout=10).text
        assert 'result="stored"' not in fresh
        assert "inbox_backlog 0.0" in fresh
    finally:
        other.close()


def test_public_base_url_is_validated(store: Store) -> None:
    with pytest.raises(ValueError, match="public_base_url"):
        create_app(store, SIGNING, "sms.example.com")
    with pytest.raises(ValueError, match="public_base_url"):
        create_app(store, SIGNING, "https://sms.example.com/?x=1")


def test_oversized_body_is_refused_unread(server: LiveServer, store: Store) -> None:
    response = twilio_post(server, "/webhooks/twilio/inbound", {**INBOUND, "Body": "x" * 70_000})
    assert response.status_code == 413
    assert "body larger than" in response.json()["error"]
    assert store.backlog() == 0


# --------------------------------------------------------------------------- several accounts per provider


SECOND_TWILIO_TOKEN = "second-subaccount-auth-token"
SECOND_VONAGE_SECRET = "second-vonage-signature-secret"
ACCOUNTS = [  # what sms.marketing.api.get_provider_accounts returns, in Odoo's order
    {"id": 1, "provider": "twilio", "secret": TWILIO_TOKEN},
    {"id": 2, "provider": "twilio", "secret": SECOND_TWILIO_TOKEN},
    {"id": 3, "provider": "twilio", "secret": TWILIO_TOKEN},  # same token as account 1
    {"id": 4, "provider": "vonage", "webhook_secret": VONAGE_SECRET, "webhook_signature_method": "sha256"},
    {"id": 5, "provider": "vonage", "webhook_secret": SECOND_VONAGE_SECRET,
     "webhook_signature_method": "md5"},
    {"id": 6, "provider": "plivo", "secret": "  "},  # no secret: serves nothing
    {"id": 7, "provider": "console", "secret": "ignored"},
]


def test_signing_from_accounts_keeps_every_account_of_a_provider() -> None:
    signing = signing_from_accounts(ACCOUNTS)
    assert [secret for secret, _ in signing.keys("twilio")] == [TWILIO_TOKEN, SECOND_TWILIO_TOKEN]
    assert signing.keys("vonage") == [(VONAGE_SECRET, "sha256"), (SECOND_VONAGE_SECRET, "md5")]
    assert signing.keys("plivo") == []
    assert set(signing.secrets()) == {TWILIO_TOKEN, SECOND_TWILIO_TOKEN, VONAGE_SECRET, SECOND_VONAGE_SECRET}
    assert SECOND_TWILIO_TOKEN not in repr(signing)


def test_webhooks_signed_by_any_account_of_the_provider_are_stored(
    serve: ServerFactory, store: Store
) -> None:
    server = serve(store, signing=signing_from_accounts(ACCOUNTS))
    path = "/webhooks/twilio/status"
    for sid, token in (("SMfirst", TWILIO_TOKEN), ("SMsecond", SECOND_TWILIO_TOKEN)):
        params = {**STATUS, "MessageSid": sid}
        signature = twilio_signature(token, PUBLIC + path, params)
        response = requests.post(
            server.url + path, data=params, headers={"X-Twilio-Signature": signature}, timeout=10
        )
        assert response.status_code == 200, response.text
    stranger = {**STATUS, "MessageSid": "SMstranger"}
    forged = twilio_signature("a-token-of-nobody-here", PUBLIC + path, stranger)
    response = requests.post(
        server.url + path, data=stranger, headers={"X-Twilio-Signature": forged}, timeout=10
    )
    assert response.status_code == 403
    second_vonage = {"messageId": "0B9", "status": "delivered", "timestamp": str(int(NOW))}
    second_vonage["sig"] = vonage_sig(second_vonage, SECOND_VONAGE_SECRET, "md5")
    response = requests.post(server.url + "/webhooks/vonage/status", data=second_vonage, timeout=10)
    assert response.status_code == 200, response.text
    assert sorted(event.dedup_key for event in _events(store)) == [
        "0B9:delivered", "SMfirst:delivered", "SMsecond:delivered"
    ]


# --------------------------------------------------------------------------- a huge chunked body

_WEBHOOK_PROCESS = """
import sys, uvicorn
from sync_service.store import Store
from sync_service.webhooks import SigningConfig, create_app
store = Store.from_url(sys.argv[1])
app = create_app(store, SigningConfig(twilio_auth_token="t0ken-for-size-test"), "https://sms.example.com")
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def _rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} missing from /proc/{pid}/status")


def test_a_100_mb_chunked_body_is_refused_without_being_read(tmp_path: Path) -> None:
    """A script streams 100 MB, chunked (no Content-Length), unsigned: the service answers 413 and its memory
    stays within a few MB of where it was (it stops reading at the limit)."""
    import http.client
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-c", _WEBHOOK_PROCESS, f"sqlite:///{tmp_path / 'inbox.db'}", str(port)]
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the webhook server did not start"
                time.sleep(0.2)
        Path(f"/proc/{process.pid}/clear_refs").write_text("5")  # peak RSS := current RSS
        before = _rss_kib(process.pid, "VmRSS")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.putrequest("POST", "/webhooks/twilio/inbound")
        connection.putheader("Content-Type", "application/x-www-form-urlencoded")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        chunk = b"Body=" + b"x" * (1024 * 1024 - 5)
        sent = 0
        try:
            for _ in range(100):
                connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            connection.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading and closed: what we want
        response = connection.getresponse()
        assert response.status == 413
        assert b"body larger than" in response.read()
        peak = _rss_kib(process.pid, "VmHWM")
        grown_mb = (peak - before) // 1024
        assert peak - before < 8 * 1024, f"memory grew by {grown_mb} MB after {sent >> 20} MB sent"
    finally:
        process.terminate()
        process.wait(timeout=30)
