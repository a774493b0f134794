"""Provider answers to `report_results` entries, and their round trip through the sent log."""

from __future__ import annotations

from datetime import UTC, datetime

from sync_service.core.account_problems import account_refusal
from sync_service.core.errors import Classification, Outcome
from sync_service.dispatch.outcomes import (
    encode_details,
    entry,
    from_record,
    from_result,
    resendable,
    unknown_outcome,
)
from sync_service.gateways import SendResult
from sync_service.store import SentRecord


def result(outcome: Outcome, code: str, reason: str = "", retry_after: float | None = None) -> SendResult:
    message_id = "SM1" if outcome == "sent" else None
    return SendResult("k", Classification(outcome, code, reason, retry_after), message_id, 2)


def test_answers_become_report_entries() -> None:
    sent = from_result("twilio", result(Outcome.SENT, "201"))
    assert (sent["outcome"], sent["provider_message_id"], sent["segments"]) == ("sent", "SM1", 2)
    invalid = from_result("twilio", result(Outcome.PERMANENT, "21211", "invalid 'To'"))
    assert invalid["outcome"] == "failed" and invalid["number_rejected"] is True
    assert from_result("twilio", result(Outcome.PERMANENT, "21612"))["number_rejected"] is False
    assert from_result("vonage", result(Outcome.PERMANENT, "3", "Invalid to address"))["number_rejected"]
    plivo = from_result("plivo", result(Outcome.PERMANENT, "400", "invalid destination number +331"))
    assert plivo["number_rejected"]
    assert from_result("twilio", result(Outcome.OPTED_OUT, "21610"))["outcome"] == "opted_out"
    throttled = from_result("twilio", result(Outcome.THROTTLED, "20429", "slow down", 3.0))
    assert (throttled["outcome"], throttled["retry_after"]) == ("retry", 3.0)


def record(state: str, report: dict | None) -> SentRecord:
    error = encode_details(report) if report else None  # type: ignore[arg-type]
    return SentRecord("k", "twilio", "SM1" if state == "sent" else None, state,  # type: ignore[arg-type]
                      error, datetime.now(UTC))


def test_the_sent_log_round_trip() -> None:
    failed = entry("k", "failed", error_code="21614", reason="not mobile", number_rejected=True)
    assert from_record(record("failed", dict(failed))) == failed
    sent = entry("k", "sent", provider_message_id="SM1", segments=3)
    assert from_record(record("sent", dict(sent))) == sent
    assert from_record(record("failed", None))["outcome"] == "failed"


def test_a_refused_account_reports_its_sentence_template_and_keeps_it_in_the_sent_log() -> None:
    refusal = account_refusal("plivo", "402")
    held = from_result("plivo", SendResult("k", Classification(Outcome.ACCOUNT, "402", refusal), None, 1))
    assert held["outcome"] == "held"
    assert held["reason"] == "Plivo says the account has no credit left: top it up (402)"
    args = held["reason_args"] or {}
    assert (held["reason_key"], args["name"], args["code"]) == ("no_credit", "Plivo", "402")
    assert from_record(record("failed", dict(held))) == held, "reported again after a crash: translatable"
    words = from_result("twilio", result(Outcome.PERMANENT, "21614", "not mobile"))
    assert (words["reason_key"], words["reason_args"]) == (None, None), "a provider's own words: no template"


def test_only_transient_refusals_may_be_sent_again() -> None:
    assert resendable(record("failed", dict(entry("k", "retry", error_code="500"))))
    assert not resendable(record("failed", dict(unknown_outcome("k"))))
    assert not resendable(record("failed", dict(entry("k", "failed", error_code="21211"))))
    assert not resendable(record("sent", dict(entry("k", "sent"))))
