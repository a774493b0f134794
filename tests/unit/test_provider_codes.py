"""The provider-code table: what each documented code means, and that every row names its source."""

from __future__ import annotations

import pytest

from sync_service.core.errors import Classification, Outcome, classify_plivo, classify_twilio, classify_vonage
from sync_service.core.provider_codes import PROVIDER_CODES, Meaning, lookup, meaning
from sync_service.core.statuses import map_status
from sync_service.dispatch.outcomes import from_result
from sync_service.gateways import SendResult

OPT, N, A = Meaning.OPTED_OUT, Meaning.INVALID_NUMBER, Meaning.ACCOUNT


def test_every_row_is_sourced_and_unique() -> None:
    keys = [(row.provider, row.stage, row.code) for row in PROVIDER_CODES]
    assert len(keys) == len(set(keys))
    for row in PROVIDER_CODES:
        assert row.source.startswith("https://"), row
        assert row.reason and row.provider in ("twilio", "plivo", "vonage")


@pytest.mark.parametrize(
    ("provider", "stage", "code", "text", "expected"),
    [
        # opted out at the provider
        ("twilio", "send", "21610", "", OPT),
        ("twilio", "receipt", "21610", "", OPT),
        ("vonage", "receipt", "9", "", OPT),
        ("vonage", "receipt", "009", "", OPT),
        ("plivo", "receipt", "200", "", OPT),
        # the number is wrong
        ("twilio", "send", "21211", "", N),
        ("twilio", "receipt", "30005", "", N),
        ("plivo", "receipt", "50", "", N),
        ("vonage", "receipt", "3", "", N),
        ("plivo", "send", "400", "invalid destination number +331", N),
        # Vonage status 3 flags the number only when the parameter at fault is the number
        ("vonage", "send", "3", "Invalid to address: +331", N),
        ("vonage", "send", "3", "Invalid To Param", N),
        ("vonage", "send", "3", "Invalid from param", None),
        ("vonage", "send", "3", "Invalid message type", None),
        ("vonage", "send", "3", "Unable to process the ttl parameter", None),
        ("vonage", "send", "3", "", None),
        # the account cannot send
        ("twilio", "send", "20003", "", A),
        ("twilio", "send", "21606", "", A),
        ("vonage", "send", "4", "", A),
        ("vonage", "send", "9", "", A),  # the SEND status 9 is "no credit", not the receipt's opt-out
        ("vonage", "send", "15", "", A),
        ("plivo", "send", "401", "", A),
        ("plivo", "send", "400", "Insufficient credit to send this message", A),
        # nothing special
        ("twilio", "send", "21612", "", None),
        ("twilio", "receipt", "30003", "", None),  # handset off: temporary, the number is fine
        ("vonage", "receipt", "4", "", None),
        ("plivo", "receipt", "80", "", None),
        ("twilio", "send", None, "", None),
    ],
)
def test_meanings(provider: str, stage: str, code: str | None, text: str, expected: Meaning | None) -> None:
    assert meaning(provider, stage, code, text) is expected  # type: ignore[arg-type]


def test_lookup_ignores_leading_zeros_but_not_other_codes() -> None:
    row = lookup("plivo", "receipt", "0200")
    assert row is not None and row.meaning is OPT
    assert lookup("plivo", "receipt", "2000") is None


@pytest.mark.parametrize(
    ("classification", "provider"),
    [
        (classify_twilio(401, {"code": 20003, "message": "Authenticate"}), "twilio"),
        (classify_twilio(401, None), "twilio"),
        (classify_twilio(400, {"code": 21606, "message": "From is not yours"}), "twilio"),
        (classify_plivo(401, {"error": "authentication failed"}), "plivo"),
        (classify_plivo(402, None), "plivo"),
        (classify_vonage({"messages": [{"status": "9", "error-text": "Partner quota exceeded"}]}), "vonage"),
        (classify_vonage({"messages": [{"status": "4", "error-text": "Bad Credentials"}]}), "vonage"),
        (classify_vonage(None, 401), "vonage"),
    ],
)
def test_account_wide_answers_hold_the_message_instead_of_failing_it(
    classification: Classification, provider: str
) -> None:
    assert classification.outcome is Outcome.ACCOUNT
    assert not classification.retryable
    report = from_result(provider, SendResult("k", classification, None, 1))
    assert report["outcome"] == "held" and not report["number_rejected"]


def test_vonage_invalid_parameter_flags_the_number_only_for_the_to_parameter() -> None:
    def report(text: str) -> bool:
        c = classify_vonage({"messages": [{"status": "3", "error-text": text}]})
        return from_result("vonage", SendResult("k", c, None, 1))["number_rejected"]

    assert report("Invalid to address: 33") is True
    assert report("Invalid from param") is False


def test_receipts_carry_the_opt_out_and_never_flag_an_opted_out_number() -> None:
    update = map_status("vonage", "failed", "9")
    assert update is not None and update.opted_out and not update.number_invalid
    update = map_status("vonage", "rejected", "3")
    assert update is not None and update.number_invalid and not update.opted_out
