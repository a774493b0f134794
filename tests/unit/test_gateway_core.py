"""The HTTP gateways' functional core, shared by both transports: requests built, answers classified."""

from __future__ import annotations

import json
from typing import Any

import pycurl
import pytest

from sync_service.core.errors import Outcome
from sync_service.gateways import HttpAnswer, HttpGateway, OutboundMessage, ProviderAccount, build_gateway
from sync_service.gateways.async_http import classify_curl_error
from sync_service.gateways.base import IDEMPOTENCY_HEADER, decode_json

ACCOUNTS = {
    "twilio": ProviderAccount("twilio", "http://sim", "AC1", "tok", "+14155550100"),
    "plivo": ProviderAccount("plivo", "http://sim", "MA1", "tok", "+14155550100"),
    "vonage": ProviderAccount("vonage", "http://sim", "key1", "secret1", "+14155550100"),
}
MESSAGE = OutboundMessage("key-1", "+33612345678", "Hello")


def gateway(provider: str) -> HttpGateway:
    built = build_gateway(ACCOUNTS[provider])
    assert isinstance(built, HttpGateway)
    return built


def answer(
    status: int, payload: Any = None, retry_after: str | None = None, raw: bytes | None = None
) -> HttpAnswer:
    body = raw if raw is not None else json.dumps(payload).encode()
    return HttpAnswer(status, body, retry_after)


def test_prepare_builds_url_body_and_every_header() -> None:
    twilio = gateway("twilio").prepare(MESSAGE)
    plivo = gateway("plivo").prepare(MESSAGE)
    vonage = gateway("vonage").prepare(OutboundMessage("key-2", "+33612345678", "a" * 161))

    assert twilio.url == "http://sim/2010-04-01/Accounts/AC1/Messages.json"
    assert twilio.body == b"To=%2B33612345678&Body=Hello&From=%2B14155550100"
    assert twilio.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert twilio.headers["Authorization"].startswith("Basic ")
    assert twilio.headers[IDEMPOTENCY_HEADER] == "key-1"
    assert plivo.url == "http://sim/v1/Account/MA1/Message/"
    assert json.loads(plivo.body)["dst"] == "+33612345678"
    assert plivo.headers["Content-Type"] == "application/json"
    assert "Authorization" not in vonage.headers and b"api_secret=secret1" in vonage.body
    assert (twilio.segments, vonage.segments) == (1, 2)


TABLE: list[tuple[str, HttpAnswer, Outcome, str | None, float | None, str | None]] = [
    # provider, answer, outcome, code, retry_after, provider message id
    ("twilio", answer(201, {"sid": "SM1"}), Outcome.SENT, None, None, "SM1"),
    ("twilio", answer(201, {"status": "queued"}), Outcome.TRANSIENT, "invalid_response", None, None),
    ("twilio", answer(400, {"code": 21211, "status": 400}), Outcome.PERMANENT, "21211", None, None),
    ("twilio", answer(400, {"code": 21610, "status": 400}), Outcome.OPTED_OUT, "21610", None, None),
    ("twilio", answer(429, {"code": 20429}, "7"), Outcome.THROTTLED, None, 7.0, None),
    ("twilio", answer(500, {"code": 20500}), Outcome.TRANSIENT, "20500", None, None),
    ("twilio", answer(503, raw=b"<html>down</html>", retry_after="3"), Outcome.TRANSIENT, None, 3.0, None),
    ("twilio", answer(200, raw=b"<html>hiccup</html>"), Outcome.TRANSIENT, "invalid_response", None, None),
    ("plivo", answer(202, {"message_uuid": ["u-1"]}), Outcome.SENT, None, None, "u-1"),
    ("plivo", answer(202, {"message_uuid": []}), Outcome.TRANSIENT, "invalid_response", None, None),
    ("plivo", answer(429, {"error": "too many"}, "2"), Outcome.THROTTLED, None, 2.0, None),
    ("plivo", answer(401, {"error": "auth"}), Outcome.ACCOUNT, "401", None, None),
    ("plivo", answer(500, {"error": "oops"}), Outcome.TRANSIENT, "500", None, None),
    ("vonage", answer(200, {"messages": [{"status": "0", "message-id": "A"}]}), Outcome.SENT, None, None,
     "A"),
    ("vonage", answer(200, {"messages": [{"status": "3"}]}), Outcome.PERMANENT, "3", None, None),
    # Multi-part: part one accepted, part two throttled. Sent (never re-sent whole), under part one's id.
    ("vonage", answer(200, {"messages": [{"status": "0", "message-id": "P1"}, {"status": "1"}]}),
     Outcome.SENT, None, None, "P1"),
    ("vonage", answer(200, {"messages": [{"status": "1"}, {"status": "0", "message-id": "P2"}]}),
     Outcome.SENT, None, None, "P2"),
    ("vonage", answer(200, {"messages": [{"status": "4", "error-text": "Bad Credentials"}]}), Outcome.ACCOUNT,
     "4", None, None),
    ("vonage", answer(200, {"messages": [{"status": "9", "error-text": "Quota Exceeded"}]}), Outcome.ACCOUNT,
     "9", None, None),
    ("vonage", answer(200, {"messages": [{"status": "1"}]}), Outcome.THROTTLED, "1", None, None),
    ("vonage", answer(429, raw=b"", retry_after="4"), Outcome.THROTTLED, None, 4.0, None),
    ("vonage", answer(404, raw=b"not found"), Outcome.PERMANENT, "404", None, None),
    ("vonage", answer(502, raw=b""), Outcome.TRANSIENT, None, None, None),
]


@pytest.mark.parametrize(("provider", "given", "outcome", "code", "retry_after", "message_id"), TABLE)
def test_answers_are_classified(
    provider: str, given: HttpAnswer, outcome: Outcome, code: str | None, retry_after: float | None,
    message_id: str | None,
) -> None:
    http = gateway(provider)
    result = http.answered(http.prepare(MESSAGE), MESSAGE, given)

    assert result.outcome is outcome, result
    if code is not None:
        assert result.classification.code == code
    if retry_after is not None:
        assert result.classification.retry_after == retry_after
    assert result.provider_message_id == message_id
    assert (result.key, result.segments) == ("key-1", 1)


@pytest.mark.parametrize(
    ("body", "expected"),
    [(b'{"a": 1}', {"a": 1}), (b"[1]", None), (b"", None), (b"<html>", None), (b"\xff\xfe", None)],
)
def test_decode_json_takes_objects_only(body: bytes, expected: Any) -> None:
    assert decode_json(body) == expected


def test_an_mms_image_goes_where_the_provider_takes_it() -> None:
    mms = OutboundMessage("key-3", "+12015550123", "Your cart", media_url="https://shop.example/p/1.png")
    twilio = gateway("twilio").prepare(mms)
    assert b"MediaUrl=https%3A%2F%2Fshop.example%2Fp%2F1.png" in twilio.body
    plivo = json.loads(gateway("plivo").prepare(mms).body)
    assert (plivo["type"], plivo["media_urls"]) == ("mms", ["https://shop.example/p/1.png"])
    vonage = gateway("vonage").prepare(mms)  # the SMS API has no MMS: the text goes, with its link
    assert b"shop.example" not in vonage.body and b"Your+cart" in vonage.body
    assert b"MediaUrl" not in gateway("twilio").prepare(MESSAGE).body
    assert "type" not in json.loads(gateway("plivo").prepare(MESSAGE).body)


@pytest.mark.parametrize(
    ("curl_error", "outcome", "code"),
    [
        (pycurl.E_OPERATION_TIMEDOUT, Outcome.TRANSIENT, "timeout"),
        (pycurl.E_COULDNT_CONNECT, Outcome.TRANSIENT, "connection"),
        (pycurl.E_GOT_NOTHING, Outcome.TRANSIENT, "connection"),  # the server closed without answering
        (pycurl.E_RECV_ERROR, Outcome.TRANSIENT, "connection"),
        (pycurl.E_COULDNT_RESOLVE_HOST, Outcome.TRANSIENT, "dns"),
        (pycurl.E_PEER_FAILED_VERIFICATION, Outcome.PERMANENT, "tls"),
        (pycurl.E_SSL_CONNECT_ERROR, Outcome.PERMANENT, "tls"),
        (pycurl.E_URL_MALFORMAT, Outcome.PERMANENT, "configuration"),
        (pycurl.E_UNSUPPORTED_PROTOCOL, Outcome.PERMANENT, "configuration"),
        (pycurl.E_HTTP2, Outcome.TRANSIENT, "protocol"),
    ],
)
def test_libcurl_errors_are_classified_like_the_requests_ones(
    curl_error: int, outcome: Outcome, code: str
) -> None:
    classification = classify_curl_error(curl_error)
    assert (classification.outcome, classification.code) == (outcome, code)


@pytest.mark.parametrize(
    ("provider", "status", "payload", "outcome", "code", "reason"),
    [
        # Twilio's account resource (https://www.twilio.com/docs/iam/api/account) and its 401 body.
        ("twilio", 401, {"code": 20003, "message": "Authenticate", "status": 401}, Outcome.ACCOUNT, "20003",
         "Twilio refused the credentials: check the Account SID and the Auth Token (20003)"),
        ("twilio", 200, {"sid": "AC1", "status": "suspended"}, Outcome.ACCOUNT, "20005",
         "Twilio says the account is suspended or closed: see the account in Twilio's console (20005)"),
        ("twilio", 200, {"sid": "AC1", "status": "active"}, Outcome.SENT, "200",
         "the provider accepts the account"),
        ("plivo", 401, {"error": "authentication failed"}, Outcome.ACCOUNT, "401",
         "Plivo refused the credentials: check the Auth ID and the Auth Token (401)"),
        ("plivo", 200, {"cash_credits": "0.00000", "auto_recharge": False}, Outcome.ACCOUNT, "402",
         "Plivo says the account has no credit left: top it up (402)"),
        ("vonage", 401, {"error-text": "Bad Credentials"}, Outcome.ACCOUNT, "401",
         "Vonage refused the credentials: check the API key and the API secret (401)"),
        ("vonage", 200, {"value": 0.0, "autoReload": False}, Outcome.ACCOUNT, "9",
         "Vonage says the account has no credit left: top it up (9)"),
        ("vonage", 503, None, Outcome.TRANSIENT, "503", "test call: HTTP 503"),
    ],
)
def test_the_test_call_answer_in_plain_words(
    provider: str, status: int, payload: Any, outcome: Outcome, code: str, reason: str
) -> None:
    verdict = gateway(provider)._check_answer(answer(status, payload))
    assert (verdict.outcome, verdict.code, verdict.reason) == (outcome, code, reason)
