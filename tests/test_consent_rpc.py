"""The consent API of the addon, called over JSON-RPC exactly as the sync service calls it."""

from __future__ import annotations

import itertools

import pytest

from sync_service.shell.odoo_client import OdooCallError, OdooClient

_numbers = itertools.count(10)


def fresh_number() -> tuple[str, str]:
    """A new French mobile number per test, as typed (national) and as E.164."""
    n = next(_numbers)
    return f"06 12 34 56 {n:02d}", f"+336123456{n:02d}"


def make_opted_in_contact(client: OdooClient, national: str) -> int:
    france = client.call("res.country", "search", [("code", "=", "FR")])[0]
    return client.call("res.partner", "create", {
        "name": "Camille RPC", "mobile": national, "country_id": france,
        "sms_consent_state": "opted_in", "sms_consent_note": "signed paper form",
    })


def test_opt_out_by_number_is_applied_once(client: OdooClient) -> None:
    national, e164 = fresh_number()
    partner_id = make_opted_in_contact(client, national)
    result = client.call("sms.marketing.api", "apply_inbound_keyword", e164, "opt_out", f"SM-{e164}", "STOP")
    assert result["result"] == "opted_out" and result["duplicate"] is False
    assert result["partner_ids"] == [partner_id]
    assert "unsubscribed" in result["reply"]
    [partner] = client.call(
        "res.partner", "read", [partner_id], ["sms_consent_state", "sms_may_receive_marketing"]
    )
    assert partner["sms_consent_state"] == "opted_out"
    assert partner["sms_may_receive_marketing"] is False
    assert client.call("phone.blacklist", "search_count", [("number", "=", e164)]) == 1
    logs = client.call("sms.consent.log", "search_read", [("partner_id", "=", partner_id)],
                       fields=["event", "source", "inbound_message_id"])
    assert [(log["event"], log["source"], log["inbound_message_id"]) for log in logs] == [
        ("opt_out", "keyword", f"SM-{e164}"), ("opt_in", "agent", False)]

    again = client.call("sms.marketing.api", "apply_inbound_keyword", e164, "opt_out", f"SM-{e164}", "STOP")
    assert again["duplicate"] is True
    assert client.call("sms.consent.log", "search_count", [("partner_id", "=", partner_id)]) == 2


def test_consent_lookup_by_number(client: OdooClient) -> None:
    national, e164 = fresh_number()
    partner_id = make_opted_in_contact(client, national)
    consent = client.call("sms.marketing.api", "get_consent", e164.lstrip("+"))
    assert consent["number"] == e164
    assert consent["may_receive_marketing"] is True
    assert consent["partners"] == [{"id": partner_id, "state": "opted_in", "valid": True}]


def test_log_rows_cannot_be_changed_or_deleted_by_an_administrator(client: OdooClient) -> None:
    national, _e164 = fresh_number()
    partner_id = make_opted_in_contact(client, national)
    [log_id] = client.call("sms.consent.log", "search", [("partner_id", "=", partner_id)])
    with pytest.raises(OdooCallError, match=r"append-only|not allowed"):
        client.call("sms.consent.log", "write", [log_id], {"event": "opt_out"})
    with pytest.raises(OdooCallError, match=r"append-only|not allowed"):
        client.call("sms.consent.log", "unlink", [log_id])
    with pytest.raises(OdooCallError):
        client.call(
            "sms.consent.log", "create", {"event": "opt_in", "source": "api", "number": "+33600000000"}
        )
    [log] = client.call("sms.consent.log", "read", [log_id], ["event"])
    assert log["event"] == "opt_in"


def test_bad_number_is_a_clear_error(client: OdooClient) -> None:
    with pytest.raises(OdooCallError, match="Not a phone number"):
        client.call("sms.marketing.api", "apply_inbound_keyword", "abcd", "opt_out", "SM-bad", "STOP")
