from typing import Any

import pytest

from sync_service.core.errors import (
    Classification,
    FailureKind,
    Outcome,
    backoff_delay,
    classify_exception,
    classify_plivo,
    classify_twilio,
    classify_vonage,
    parse_retry_after,
)


def _twilio_error(code: int, status: int, message: str = "msg") -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        (None, None),
        ("", None),
        ("-1", None),
        ("soon", None),
        ("inf", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


@pytest.mark.parametrize(
    ("status", "body", "retry_after", "expected"),
    [
        (201, {"sid": "SM123", "status": "queued"}, None, Classification(Outcome.SENT, "201", "accepted")),
        (200, None, None, Classification(Outcome.SENT, "200", "accepted")),
        (
            400,
            _twilio_error(21211, 400, "The 'To' number +1555 is not a valid phone number."),
            None,
            Classification(Outcome.PERMANENT, "21211", "The 'To' number +1555 is not a valid phone number."),
        ),
        (400, _twilio_error(21614, 400), None, Classification(Outcome.PERMANENT, "21614", "msg")),
        (400, _twilio_error(21612, 400), None, Classification(Outcome.PERMANENT, "21612", "msg")),
        (400, _twilio_error(21610, 400), None, Classification(Outcome.OPTED_OUT, "21610", "msg")),
        (
            400,
            {"code": "21610"},
            None,
            Classification(Outcome.OPTED_OUT, "21610", "recipient has opted out (replied STOP)"),
        ),
        (400, _twilio_error(21611, 400), "30", Classification(Outcome.THROTTLED, "21611", "msg", 30.0)),
        (429, _twilio_error(20429, 429), "7", Classification(Outcome.THROTTLED, "20429", "msg", 7.0)),
        (400, _twilio_error(30001, 400), None, Classification(Outcome.THROTTLED, "30001", "msg", None)),
        (429, None, "12", Classification(Outcome.THROTTLED, "429", "HTTP 429", 12.0)),
        (429, None, "garbage", Classification(Outcome.THROTTLED, "429", "HTTP 429", None)),
        (500, None, None, Classification(Outcome.TRANSIENT, "500", "HTTP 500")),
        (
            503,
            {"code": 20503, "message": "Service unavailable"},
            "5",
            Classification(Outcome.TRANSIENT, "20503", "Service unavailable", 5.0),
        ),
        (
            401,
            _twilio_error(20003, 401, "Authenticate"),
            None,
            Classification(Outcome.ACCOUNT, "20003", "Twilio refused the credentials: "
                                                     "check the Account SID and the Auth Token (20003)"),
        ),
        (400, _twilio_error(21408, 400), None, Classification(Outcome.PERMANENT, "21408", "msg")),
        (404, None, None, Classification(Outcome.PERMANENT, "404", "HTTP 404")),
        (302, None, None, Classification(Outcome.TRANSIENT, "302", "unexpected HTTP status 302")),
    ],
)
def test_classify_twilio(
    status: int, body: dict[str, Any] | None, retry_after: str | None, expected: Classification
) -> None:
    assert classify_twilio(status, body, retry_after) == expected


@pytest.mark.parametrize(
    ("status", "body", "retry_after", "expected"),
    [
        (
            202,
            {"api_id": "x", "message": "message(s) queued", "message_uuid": ["db3ce55a"]},
            None,
            Classification(Outcome.SENT, "202", "queued"),
        ),
        (
            400,
            {"api_id": "x", "error": "dst parameter is invalid"},
            None,
            Classification(Outcome.PERMANENT, "400", "dst parameter is invalid"),
        ),
        (
            401,
            {"error": "authentication failed"},
            None,
            Classification(Outcome.ACCOUNT, "401",
                           "Plivo refused the credentials: check the Auth ID and the Auth Token (401)"),
        ),
        (
            429,
            {"error": "too many requests"},
            "3",
            Classification(Outcome.THROTTLED, "429", "too many requests", 3.0),
        ),
        (429, None, None, Classification(Outcome.THROTTLED, "429", "HTTP 429", None)),
        (500, None, None, Classification(Outcome.TRANSIENT, "500", "HTTP 500")),
        (502, {"error": "bad gateway"}, "1", Classification(Outcome.TRANSIENT, "502", "bad gateway", 1.0)),
    ],
)
def test_classify_plivo(
    status: int, body: dict[str, Any] | None, retry_after: str | None, expected: Classification
) -> None:
    assert classify_plivo(status, body, retry_after) == expected


def _vonage(*statuses: str, error_text: str | None = None) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    for status in statuses:
        message: dict[str, Any] = {"to": "447700900000", "status": status}
        if status == "0":
            message["message-id"] = "0A0000000123ABCD1"
        elif error_text:
            message["error-text"] = error_text
        messages.append(message)
    return {"message-count": str(len(statuses)), "messages": messages}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (_vonage("0"), Classification(Outcome.SENT, "0", "success")),
        (_vonage("0", "0", "0"), Classification(Outcome.SENT, "0", "success")),
        (
            _vonage("1", error_text="Throughput Rate Exceeded"),
            Classification(Outcome.THROTTLED, "1", "Throughput Rate Exceeded"),
        ),
        (_vonage("1"), Classification(Outcome.THROTTLED, "1", "throttled")),
        (_vonage("2"), Classification(Outcome.PERMANENT, "2", "missing parameters")),
        (_vonage("3"), Classification(Outcome.PERMANENT, "3", "invalid parameters")),
        (_vonage("4"), Classification(Outcome.ACCOUNT, "4", "Vonage refused the credentials: "
                                                           "check the API key and the API secret (4)")),
        (_vonage("5"), Classification(Outcome.TRANSIENT, "5", "internal error")),
        (_vonage("6"), Classification(Outcome.PERMANENT, "6", "invalid message (unroutable)")),
        (_vonage("7"), Classification(Outcome.PERMANENT, "7", "number barred")),
        (_vonage("8"), Classification(Outcome.ACCOUNT, "8", "Vonage says the account is suspended or closed: "
                                                           "see the account in Vonage's console (8)")),
        (
            _vonage("9"),
            Classification(Outcome.ACCOUNT, "9", "Vonage says the account has no credit left: top it up (9)"),
        ),
        (_vonage("10"), Classification(Outcome.THROTTLED, "10", "too many existing binds")),
        (_vonage("11"), Classification(Outcome.ACCOUNT, "11", "Vonage has not enabled this account for "
                                                             "its SMS API: see the account in Vonage's "
                                                             "console (11)")),
        (_vonage("13"), Classification(Outcome.TRANSIENT, "13", "communication failed")),
        (_vonage("29"), Classification(Outcome.PERMANENT, "29", "non-whitelisted destination")),
        (_vonage("99"), Classification(Outcome.PERMANENT, "99", "Vonage status 99")),
        (
            _vonage("0", "5"),  # part one accepted: the message is sent, never sent again whole
            Classification(Outcome.SENT, "0",
                           "1 of 2 parts accepted, the others refused (5: internal error)"),
        ),
        (_vonage("1", "0"), Classification(Outcome.SENT, "0",
                                           "1 of 2 parts accepted, the others refused (1: throttled)")),
        (_vonage("5", "5"), Classification(Outcome.TRANSIENT, "5", "internal error")),
        ({"messages": [{"status": 0}]}, Classification(Outcome.SENT, "0", "success")),
        (
            {"messages": []},
            Classification(Outcome.TRANSIENT, "invalid_response", "no messages in Vonage answer"),
        ),
        (
            {"messages": [{"to": "1"}]},
            Classification(Outcome.TRANSIENT, "invalid_response", "message without status"),
        ),
        (None, Classification(Outcome.TRANSIENT, "invalid_response", "no messages in Vonage answer")),
    ],
)
def test_classify_vonage(body: dict[str, Any] | None, expected: Classification) -> None:
    assert classify_vonage(body) == expected


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(429, Outcome.THROTTLED), (500, Outcome.TRANSIENT), (503, Outcome.TRANSIENT), (200, Outcome.SENT)],
)
def test_classify_vonage_http_status(status: int, outcome: Outcome) -> None:
    assert classify_vonage(_vonage("0"), http_status=status).outcome is outcome


@pytest.mark.parametrize(
    ("kind", "outcome"),
    [
        (FailureKind.TIMEOUT, Outcome.TRANSIENT),
        ("timeout", Outcome.TRANSIENT),
        ("Connection", Outcome.TRANSIENT),
        (FailureKind.DNS, Outcome.TRANSIENT),
        (FailureKind.PROTOCOL, Outcome.TRANSIENT),
        (FailureKind.TLS, Outcome.PERMANENT),
        ("mystery", Outcome.PERMANENT),
    ],
)
def test_classify_exception(kind: FailureKind | str, outcome: Outcome) -> None:
    result = classify_exception(kind)
    assert result.outcome is outcome
    assert result.retryable is (outcome is Outcome.TRANSIENT)
    assert result.retry_after is None


@pytest.mark.parametrize(
    ("attempt", "rand", "kwargs", "expected"),
    [
        (0, 0.0, {}, 0.0),
        (0, 0.5, {}, 0.5),
        (1, 0.5, {}, 1.0),
        (3, 0.5, {}, 4.0),
        (5, 0.999, {}, 31.968),
        (6, 0.5, {}, 30.0),  # 64 capped at 60
        (10, 0.25, {}, 15.0),
        (5000, 0.5, {}, 30.0),  # no overflow for huge attempts
        (2, 0.5, {"base": 0.5}, 1.0),
        (4, 0.5, {"cap": 10.0}, 5.0),
        (3, 0.5, {"retry_after": 30.0}, 30.0),  # provider wants longer
        (3, 0.5, {"retry_after": 1.0}, 4.0),  # jitter already longer
        (20, 0.9, {"retry_after": 120.0}, 120.0),  # Retry-After is not capped
        (0, 0.0, {"retry_after": 0.0}, 0.0),
    ],
)
def test_backoff_delay(attempt: int, rand: float, kwargs: dict[str, float], expected: float) -> None:
    assert backoff_delay(attempt, rand=rand, **kwargs) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("attempt", "rand", "message"),
    [(-1, 0.5, "attempt must be >= 0"), (0, 1.0, r"rand must be in \[0, 1\)"), (0, -0.1, "rand must be in")],
)
def test_backoff_delay_rejects(attempt: int, rand: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        backoff_delay(attempt, rand=rand)
