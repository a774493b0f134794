import base64
import hashlib
import hmac

import pytest

from sync_service.core.signatures import (
    PlivoMethod,
    PlivoParams,
    VonageMethod,
    plivo_v2_signature,
    plivo_v3_signature,
    plivo_v3_string_to_sign,
    twilio_signature,
    verify_plivo_v2,
    verify_plivo_v3,
    verify_twilio,
    verify_vonage,
    vonage_sig,
    vonage_timestamp_fresh,
)

# --------------------------------------------------------------------------- Twilio

TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"


def _twilio_params(number: str) -> dict[str, str]:
    return {
        "CallSid": "CA1234567890ABCDE",
        "Caller": number,
        "Digits": "1234",
        "From": number,
        "To": "+18005551212",
    }


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        # Current example of twilio.com/docs/usage/security (auth token 12345).
        ("+12349013030", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
        # Earlier revision of the same documentation example.
        ("+14158675310", "GvWf1cFY/Q7PnoempGyD5oXAezc="),
        # twilio-php's validation guide.
        ("+14158675309", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
    ],
)
def test_twilio_documented_examples(number: str, expected: str) -> None:
    params = _twilio_params(number)
    assert twilio_signature("12345", TWILIO_URL, params) == expected
    assert verify_twilio("12345", TWILIO_URL, params, expected)


def test_twilio_signature_ignores_parameter_order() -> None:
    params = _twilio_params("+12349013030")
    reordered = dict(reversed(list(params.items())))
    assert twilio_signature("12345", TWILIO_URL, reordered) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


@pytest.mark.parametrize(
    ("token", "url", "params", "signature"),
    [
        (
            "12345",
            TWILIO_URL,
            {**_twilio_params("+12349013030"), "Digits": "9999"},
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ=",
        ),
        (
            "12345",
            TWILIO_URL.replace("https", "http"),
            _twilio_params("+12349013030"),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ=",
        ),
        ("54321", TWILIO_URL, _twilio_params("+12349013030"), "0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
        ("12345", TWILIO_URL, _twilio_params("+12349013030"), "0/KCTR6DLpKmkAf8muzZqo1nDgQ"),
        ("12345", TWILIO_URL, _twilio_params("+12349013030"), ""),
        ("12345", TWILIO_URL, _twilio_params("+12349013030"), None),
        ("", TWILIO_URL, _twilio_params("+12349013030"), "0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
    ],
)
def test_twilio_rejects(token: str, url: str, params: dict[str, str], signature: str | None) -> None:
    assert not verify_twilio(token, url, params, signature)


# --------------------------------------------------------------------------- Plivo V3

NONCE = "05429567804466091622"
INBOUND = {
    "From": "14155551234",
    "To": "14155550000",
    "Text": "STOP",
    "MessageUUID": "abc-123",
    "Type": "sms",
}


@pytest.mark.parametrize(
    ("url", "params", "method", "expected"),
    [
        (
            "https://example.com/sms/inbound",
            INBOUND,
            "POST",
            "https://example.com/sms/inbound?From14155551234MessageUUIDabc-123TextSTOPTo14155550000Typesms"
            ".05429567804466091622",
        ),
        (
            "https://example.com/sms/inbound?b=2&a=1",
            {"Text": "STOP", "From": "14155551234"},
            "POST",
            "https://example.com/sms/inbound?a=1&b=2.From14155551234TextSTOP.05429567804466091622",
        ),
        (
            "https://example.com/sms/inbound?b=2&a=1",
            {},
            "POST",
            "https://example.com/sms/inbound?a=1&b=2.05429567804466091622",
        ),
        (
            "https://example.com/sms/inbound",
            {},
            "POST",
            "https://example.com/sms/inbound.05429567804466091622",
        ),
        (
            "https://example.com/sms/status?b=2",
            {"Status": "delivered", "MessageUUID": "abc"},
            "GET",
            "https://example.com/sms/status?MessageUUID=abc&Status=delivered&b=2.05429567804466091622",
        ),
        (
            "https://example.com/hook?x=%2B1+2&x=a#frag",
            {"k": ["b", "a"]},
            "POST",
            "https://example.com/hook?x=+1 2&x=a.kakb.05429567804466091622",
        ),
    ],
)
def test_plivo_v3_string_to_sign(url: str, params: PlivoParams, method: PlivoMethod, expected: str) -> None:
    assert plivo_v3_string_to_sign(url, NONCE, params, method) == expected


# Expected values cross-checked against the algorithm of Plivo's Python server SDK
# (plivo.utils.signature_v3.validate_v3_signature) for the same inputs.
@pytest.mark.parametrize(
    ("url", "params", "method", "nonce", "expected"),
    [
        (
            "https://example.com/sms/inbound",
            INBOUND,
            "POST",
            NONCE,
            "Vc89l8mHRXW+L5nh07WmmwQguBtMCYIuCMqj95OzsIk=",
        ),
        (
            "https://example.com/sms/inbound?b=2&a=1",
            {"From": "14155551234", "Text": "STOP"},
            "POST",
            NONCE,
            "+fTHJG4YZX9WZtqM22sY0052FLtf1rEUrqBNLZ6Pt3I=",
        ),
        (
            "https://example.com/sms/inbound?b=2&a=1",
            {},
            "POST",
            NONCE,
            "00VRzYgoa7IvEWF25Ty32p1BgoPWiNONJbPGV+hoCck=",
        ),
        (
            "https://example.com/sms/status?b=2",
            {"Status": "delivered", "MessageUUID": "abc"},
            "GET",
            "12345",
            "a1pRpaKns4V/WOtY432uSnt/asOMYcbwB8b8rwba+AY=",
        ),
    ],
)
def test_plivo_v3_signature(
    url: str, params: PlivoParams, method: PlivoMethod, nonce: str, expected: str
) -> None:
    assert plivo_v3_signature("my_auth_token", url, nonce, params, method) == expected
    assert verify_plivo_v3("my_auth_token", url, nonce, params, expected, method)


GOOD = "Vc89l8mHRXW+L5nh07WmmwQguBtMCYIuCMqj95OzsIk="


@pytest.mark.parametrize(
    ("header", "valid"),
    [
        (GOOD, True),
        (f"c29tZXRoaW5nIGVsc2U=,{GOOD}", True),
        (f"c29tZXRoaW5nIGVsc2U=, {GOOD}", True),
        (f"{GOOD},c29tZXRoaW5nIGVsc2U=", True),
        ("c29tZXRoaW5nIGVsc2U=", False),
        (GOOD[:-1], False),
        ("", False),
        (None, False),
    ],
)
def test_plivo_v3_header_with_several_signatures(header: str | None, valid: bool) -> None:
    url = "https://example.com/sms/inbound"
    assert verify_plivo_v3("my_auth_token", url, NONCE, INBOUND, header) is valid


@pytest.mark.parametrize(
    ("token", "nonce", "params"),
    [
        ("other_token", NONCE, INBOUND),
        ("my_auth_token", "05429567804466091623", INBOUND),
        ("my_auth_token", NONCE, {**INBOUND, "Text": "START"}),
        ("my_auth_token", None, INBOUND),
    ],
)
def test_plivo_v3_rejects_tampering(token: str, nonce: str | None, params: dict[str, str]) -> None:
    assert not verify_plivo_v3(token, "https://example.com/sms/inbound", nonce, params, GOOD)


def test_plivo_v3_rejects_unknown_method() -> None:
    with pytest.raises(ValueError, match="expected GET or POST"):
        plivo_v3_string_to_sign("https://example.com/", NONCE, {}, "PUT")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- Vonage

VONAGE_PARAMS = {"a": "1", "b": "2", "timestamp": "1461605396"}


# Vectors of Vonage's Python SDK test-suite (signature secret "secret").
@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("md5hash", "6af838ef94998832dbfc29020b564830"),
        ("md5", "c15c21ced558c93a226c305f58f902f2"),
        ("sha1", "3e19a4e6880fdc2c1426bfd0587c98b9532f0210"),
        ("sha256", "a321e824b9b816be7c3f28859a31749a098713d39f613c80d455bbaffae1cd24"),
        (
            "sha512",
            "812a18f76680fa0fe1b8bd9ee1625466ceb1bd96242e4d050d2cfd9a7b40166c"
            "63ed26ec9702168781b6edcf1633db8ff95af9341701004eec3fcf9550572ee8",
        ),
    ],
)
def test_vonage_sig_known_vectors(method: VonageMethod, expected: str) -> None:
    assert vonage_sig(VONAGE_PARAMS, "secret", method) == expected
    assert vonage_sig({**VONAGE_PARAMS, "sig": "ignored"}, "secret", method) == expected
    assert verify_vonage({**VONAGE_PARAMS, "sig": expected}, "secret", method)
    assert verify_vonage({**VONAGE_PARAMS, "sig": expected.upper()}, "secret", method)


def test_vonage_values_replace_ampersand_and_equals() -> None:
    # "&a=x_y_z" is what gets hashed for a value "x&y=z".
    assert vonage_sig({"a": "x&y=z"}, "secret") == vonage_sig({"a": "x_y_z"}, "secret")
    assert vonage_sig({"a": "x&y=z"}, "secret") == "585797a9954a73508f484883f2eeb5d1"


@pytest.mark.parametrize(
    ("params", "secret", "method"),
    [
        ({**VONAGE_PARAMS, "sig": "6af838ef94998832dbfc29020b564831"}, "secret", "md5hash"),
        ({**VONAGE_PARAMS, "a": "2", "sig": "6af838ef94998832dbfc29020b564830"}, "secret", "md5hash"),
        ({**VONAGE_PARAMS, "sig": "6af838ef94998832dbfc29020b564830"}, "Secret", "md5hash"),
        ({**VONAGE_PARAMS, "sig": "6af838ef94998832dbfc29020b564830"}, "secret", "sha256"),
        (VONAGE_PARAMS, "secret", "md5hash"),
        ({**VONAGE_PARAMS, "sig": ""}, "secret", "md5hash"),
        ({**VONAGE_PARAMS, "sig": "6af838ef94998832dbfc29020b564830"}, "", "md5hash"),
    ],
)
def test_vonage_rejects(params: dict[str, str], secret: str, method: VonageMethod) -> None:
    assert not verify_vonage(params, secret, method)


def test_vonage_unknown_method() -> None:
    with pytest.raises(ValueError, match="unknown Vonage signature method 'sha3'"):
        vonage_sig(VONAGE_PARAMS, "secret", "sha3")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("params", "now", "tolerance", "fresh"),
    [
        ({"timestamp": "1461605396"}, 1461605396.0, 300.0, True),
        ({"timestamp": "1461605396"}, 1461605696.0, 300.0, True),
        ({"timestamp": "1461605396"}, 1461605697.0, 300.0, False),
        ({"timestamp": "1461605396"}, 1461605096.0, 300.0, True),
        ({"timestamp": "1461605396"}, 1461605095.0, 300.0, False),
        ({"timestamp": "1461605396"}, 1461605456.0, 30.0, False),
        ({"timestamp": "not-a-number"}, 1461605396.0, 300.0, False),
        ({"timestamp": "nan"}, 1461605396.0, 300.0, False),
        ({}, 1461605396.0, 300.0, False),
    ],
)
def test_vonage_timestamp_fresh(params: dict[str, str], now: float, tolerance: float, fresh: bool) -> None:
    assert vonage_timestamp_fresh(params, now=now, tolerance=tolerance) is fresh


def test_vonage_timestamp_default_tolerance_is_five_minutes() -> None:
    assert vonage_timestamp_fresh({"timestamp": "1000"}, now=1300.0)
    assert not vonage_timestamp_fresh({"timestamp": "1000"}, now=1300.5)


# --------------------------------------------------------------------------- defaults and edge cases
# (each kills a mutant that survived `make mutation`; the case-only changes of codec names, "UTF-8" for
# "utf-8" and "ASCII" for "ascii", are equivalent: Python's codec names are case-insensitive)


def test_plivo_callbacks_are_posts_unless_told_otherwise() -> None:
    url = "https://example.com/sms/inbound"
    as_post = plivo_v3_string_to_sign(url, NONCE, INBOUND, "POST")
    assert plivo_v3_string_to_sign(url, NONCE, INBOUND) == as_post
    assert plivo_v3_signature("my_auth_token", url, NONCE, INBOUND) == GOOD
    assert verify_plivo_v3("my_auth_token", url, NONCE, INBOUND, GOOD)


def test_plivo_keeps_a_blank_query_parameter_in_what_it_signs() -> None:
    # Plivo's SDK parses the callback URL's query with blank values kept: "?a=&b=1" signs "a=" too.
    signed = plivo_v3_string_to_sign("https://example.com/cb?b=1&a=", NONCE, {"Text": "HI"})
    assert signed == f"https://example.com/cb?a=&b=1.TextHI.{NONCE}"


def test_plivo_get_callback_without_any_parameter_has_no_question_mark() -> None:
    assert plivo_v3_string_to_sign("https://example.com/cb", NONCE, {}, "GET") == f"https://example.com/cb.{NONCE}"


def test_vonage_signatures_are_md5hash_unless_told_otherwise() -> None:
    assert vonage_sig(VONAGE_PARAMS, "secret") == "6af838ef94998832dbfc29020b564830"
    assert verify_vonage({**VONAGE_PARAMS, "sig": "6af838ef94998832dbfc29020b564830"}, "secret")


def test_vonage_unknown_method_lists_the_known_ones() -> None:
    with pytest.raises(ValueError) as raised:
        vonage_sig(VONAGE_PARAMS, "secret", "sha3")  # type: ignore[arg-type]
    assert str(raised.value).endswith("expected one of md5hash, md5, sha1, sha256, sha512")


# --------------------------------------------------------------------------- Plivo V2


def test_plivo_v2_signs_the_url_without_query_then_the_nonce() -> None:
    url = "https://example.com/webhooks/plivo/status?key=abc"
    expected = base64.b64encode(hmac.new(b"token", b"https://example.com/webhooks/plivo/status" + b"12345",
                                          hashlib.sha256).digest()).decode()
    assert plivo_v2_signature("token", url, "12345") == expected
    assert verify_plivo_v2("token", url, "12345", expected)
    assert verify_plivo_v2("token", url.replace("abc", "other"), "12345", expected)  # query not signed
    assert not verify_plivo_v2("token", url, "12346", expected)
    assert not verify_plivo_v2("token", "https://example.com/webhooks/plivo/inbound", "12345", expected)
    assert not verify_plivo_v2("other", url, "12345", expected)


def test_an_empty_secret_verifies_nothing() -> None:
    """A signature made with an empty key is refused for every provider (an unset token is no token)."""
    url, params = "https://example.com/hook", {"MessageSid": "SM1", "MessageStatus": "delivered"}
    assert not verify_twilio("", url, params, twilio_signature("", url, params))
    assert not verify_plivo_v3("", url, "1", params, plivo_v3_signature("", url, "1", params))
    assert not verify_plivo_v2("", url, "1", plivo_v2_signature("", url, "1"))
    assert not verify_vonage({**params, "sig": vonage_sig(params, "", "md5hash")}, "", "md5hash")


def test_plivo_v2_without_its_nonce_verifies_nothing() -> None:
    # Even signed over an empty nonce: a V2 callback without X-Plivo-Signature-V2-Nonce is not Plivo's.
    url = "https://example.com/webhooks/plivo/status"
    assert not verify_plivo_v2("token", url, "", plivo_v2_signature("token", url, ""))
    assert not verify_plivo_v2("token", url, None, plivo_v2_signature("token", url, ""))
