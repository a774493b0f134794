"""The provider simulator on its own: signed status callbacks and inbound webhooks, faults, records, CLI."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from sync_service.core.errors import Outcome
from sync_service.core.signatures import (
    verify_plivo_v2,
    verify_plivo_v3,
    verify_twilio,
    verify_vonage,
    vonage_timestamp_fresh,
)
from sync_service.gateways import HttpOptions, OutboundMessage, ProviderAccount, SendResult, build_gateway
from sync_service.simulator import DEFAULT_ACCOUNTS, FaultKind, FaultPlan, ProviderSimulator

TWILIO = ("AC" + "2" * 32, "twilio-token-abc")
PLIVO = ("MAPLIVOTEST000002", "plivo-token-def")
VONAGE = ("vonagekey2", "vonage-secret-ghi")
VONAGE_SIGNATURE_SECRET = "vonage-signature-secret-jkl"
CREDENTIALS = {"twilio": TWILIO, "plivo": PLIVO, "vonage": VONAGE}
SENDER = "+14155550100"
MOBILE = "+33612345678"
UNDELIVERABLE = "+33698765432"
OPTED_OUT = "+4915112345678"


# --------------------------------------------------------------------------- a webhook receiver


@dataclass(frozen=True)
class Hit:
    method: str
    path: str
    headers: dict[str, str]
    params: dict[str, str]


class Receiver:
    """A tiny real HTTP server recording every webhook it gets."""

    def __init__(self) -> None:
        hits: queue.Queue[Hit] = queue.Queue()
        self.hits = hits

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8") if length else ""
                query = urlsplit(self.path).query if self.command == "GET" else ""
                params = dict(parse_qsl(body or query, keep_blank_values=True))
                hits.put(Hit(self.command, self.path, dict(self.headers.items()), params))
                answer = b"<Response/>"
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_POST = _record
            do_GET = _record

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02})
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def take(self, count: int, timeout: float = 5.0) -> list[Hit]:
        return [self.hits.get(timeout=timeout) for _ in range(count)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def sim() -> Iterator[ProviderSimulator]:
    simulator = ProviderSimulator(
        accounts=dict(CREDENTIALS.values()),
        signature_secrets={VONAGE[0]: VONAGE_SIGNATURE_SECRET},
        undeliverable_numbers={UNDELIVERABLE},
        opted_out_numbers={OPTED_OUT},
    )
    with simulator:
        yield simulator


def send(
    sim: ProviderSimulator, provider: str, key: str, to: str = MOBILE, callback: str | None = None
) -> SendResult:
    account_id, secret = CREDENTIALS[provider]
    account = ProviderAccount(provider, sim.url, account_id, secret, SENDER)
    with build_gateway(account, HttpOptions(read_timeout=2.0)) as gateway:
        result = gateway.send(OutboundMessage(key, to, "Spring sale: 20% off", status_callback=callback))
    assert result.outcome is Outcome.SENT, result
    return result


def statuses(hits: list[Hit], name: str) -> list[str]:
    return [hit.params[name] for hit in hits]


# --------------------------------------------------------------------------- status callbacks


def test_twilio_status_callbacks_are_signed(sim: ProviderSimulator, receiver: Receiver) -> None:
    callback = f"{receiver.url}/webhooks/twilio/status?key=sms-1"
    result = send(sim, "twilio", "sms-1", callback=callback)
    assert sim.wait_callbacks()
    hits = receiver.take(2)

    assert statuses(hits, "MessageStatus") == ["sent", "delivered"]
    for hit in hits:
        assert hit.path == "/webhooks/twilio/status?key=sms-1"
        assert hit.params["MessageSid"] == result.provider_message_id
        assert hit.params["AccountSid"] == TWILIO[0]
        assert (hit.params["To"], hit.params["From"]) == (MOBILE, SENDER)
        assert "ErrorCode" not in hit.params
        signature = hit.headers["X-Twilio-Signature"]
        assert verify_twilio(TWILIO[1], receiver.url + hit.path, hit.params, signature)
        assert not verify_twilio("other-token", receiver.url + hit.path, hit.params, signature)
    assert receiver.hits.empty()
    assert [delivery.status_code for delivery in sim.callbacks()] == [200, 200]


def test_twilio_undelivered_callback_carries_the_error_code(
    sim: ProviderSimulator, receiver: Receiver
) -> None:
    send(sim, "twilio", "sms-2", to=UNDELIVERABLE, callback=f"{receiver.url}/status")
    hits = receiver.take(2)
    assert statuses(hits, "MessageStatus") == ["sent", "undelivered"]
    assert hits[1].params["ErrorCode"] == "30003"


def test_plivo_status_callbacks_are_signed_v3(sim: ProviderSimulator, receiver: Receiver) -> None:
    result = send(sim, "plivo", "sms-3", callback=f"{receiver.url}/webhooks/plivo/status")
    hits = receiver.take(3)

    assert statuses(hits, "Status") == ["queued", "sent", "delivered"]
    for hit in hits:
        assert hit.params["MessageUUID"] == result.provider_message_id
        assert hit.params["To"] == MOBILE.removeprefix("+")
        nonce = hit.headers["X-Plivo-Signature-V3-Nonce"]
        signature = hit.headers["X-Plivo-Signature-V3"]
        assert verify_plivo_v3(PLIVO[1], receiver.url + hit.path, nonce, hit.params, signature)
        assert not verify_plivo_v3(PLIVO[1], receiver.url + "/elsewhere", nonce, hit.params, signature)


def test_plivo_callbacks_asked_with_get_carry_their_signed_parameters_in_the_query(
    sim: ProviderSimulator, receiver: Receiver
) -> None:
    url = f"{receiver.url}/webhooks/plivo/status?shop=1"
    answer = requests.post(
        f"{sim.url}/v1/Account/{PLIVO[0]}/Message/", auth=PLIVO, timeout=5,
        json={"src": SENDER, "dst": MOBILE.removeprefix("+"), "text": "Spring sale", "url": url,
              "method": "GET"},
    )
    assert answer.status_code == 202, answer.text
    hits = receiver.take(3)

    assert [hit.method for hit in hits] == ["GET"] * 3
    assert statuses(hits, "Status") == ["queued", "sent", "delivered"]
    for hit in hits:
        assert hit.path.startswith("/webhooks/plivo/status?shop=1&")
        assert hit.params["MessageUUID"] == answer.json()["message_uuid"][0]
        query = dict(parse_qsl(urlsplit(hit.path).query))
        signed = {name: value for name, value in query.items() if name != "shop"}
        nonce, signature = hit.headers["X-Plivo-Signature-V3-Nonce"], hit.headers["X-Plivo-Signature-V3"]
        assert verify_plivo_v3(PLIVO[1], url, nonce, signed, signature, "GET")


@pytest.mark.parametrize("version", ["v2", "ma-v2", "ma-v3"])
def test_plivo_callbacks_can_carry_v2_or_main_account_signatures_only(
    sim: ProviderSimulator, receiver: Receiver, version: str
) -> None:
    sim.configure_callbacks(plivo_signature=version)
    send(sim, "plivo", f"sms-{version}", callback=f"{receiver.url}/webhooks/plivo/status?key=k1")
    hits = receiver.take(3)
    prefix = "X-Plivo-Signature-Ma-" if version.startswith("ma-") else "X-Plivo-Signature-"
    for hit in hits:
        url = receiver.url + hit.path
        if version.endswith("v2"):
            nonce = hit.headers["X-Plivo-Signature-V2-Nonce"]
            assert verify_plivo_v2(PLIVO[1], url, nonce, hit.headers[prefix + "V2"])
            assert "X-Plivo-Signature-V3" not in hit.headers
        else:
            nonce = hit.headers["X-Plivo-Signature-V3-Nonce"]
            assert verify_plivo_v3(PLIVO[1], url, nonce, hit.params, hit.headers[prefix + "V3"])
            assert "X-Plivo-Signature-V3" not in hit.headers
    with pytest.raises(ValueError, match="plivo_signature"):
        sim.configure_callbacks(plivo_signature="v4")


def test_vonage_opted_out_recipient_fails_with_err_code_9(sim: ProviderSimulator, receiver: Receiver) -> None:
    """Vonage accepts the send, then its receipt says failed with err-code 9: the recipient opted out."""
    send(sim, "vonage", "sms-9", to=OPTED_OUT, callback=f"{receiver.url}/status")
    [hit] = receiver.take(1)
    assert (hit.params["status"], hit.params["err-code"]) == ("failed", "9")


def test_plivo_opted_out_recipient_fails_with_error_200(sim: ProviderSimulator, receiver: Receiver) -> None:
    send(sim, "plivo", "sms-4", to=OPTED_OUT, callback=f"{receiver.url}/status")
    hits = receiver.take(2)
    assert [(hit.params["Status"], hit.params["ErrorCode"]) for hit in hits] == [
        ("queued", "000"),
        ("failed", "200"),
    ]


@pytest.mark.parametrize("method", ["md5hash", "sha256"])
def test_vonage_delivery_receipts_are_signed(receiver: Receiver, method: str) -> None:
    dlr_url = f"{receiver.url}/webhooks/vonage/dlr"
    simulator = ProviderSimulator(
        accounts=dict([VONAGE]),
        signature_secrets={VONAGE[0]: VONAGE_SIGNATURE_SECRET},
        vonage_signature_method=method,  # type: ignore[arg-type]
        vonage_dlr_url=dlr_url,
    )
    with simulator:
        result = send(simulator, "vonage", "sms-5")  # no per-message callback: the account DLR URL
        hits = receiver.take(2)

    assert statuses(hits, "status") == ["accepted", "delivered"]
    for hit in hits:
        assert hit.path == "/webhooks/vonage/dlr"
        assert hit.params["messageId"] == result.provider_message_id
        assert hit.params["client-ref"] == "sms-5"
        assert hit.params["msisdn"] == MOBILE.removeprefix("+")
        assert verify_vonage(hit.params, VONAGE_SIGNATURE_SECRET, method)  # type: ignore[arg-type]
        assert not verify_vonage(hit.params, VONAGE[1], method)  # type: ignore[arg-type]
        assert vonage_timestamp_fresh(hit.params, now=time.time())


def test_duplicate_callbacks_repeat_each_status(sim: ProviderSimulator, receiver: Receiver) -> None:
    sim.configure_callbacks(duplicate=True)
    send(sim, "twilio", "sms-6", callback=f"{receiver.url}/status")
    hits = receiver.take(4)

    assert statuses(hits, "MessageStatus") == ["sent", "sent", "delivered", "delivered"]
    tokens = [hit.headers["I-Twilio-Idempotency-Token"] for hit in hits]
    assert tokens[0] == tokens[1] and tokens[2] == tokens[3] and tokens[0] != tokens[2]
    assert all(
        verify_twilio(TWILIO[1], receiver.url + hit.path, hit.params, hit.headers["X-Twilio-Signature"])
        for hit in hits
    )


def test_out_of_order_callbacks_send_the_final_status_first(
    sim: ProviderSimulator, receiver: Receiver
) -> None:
    sim.configure_callbacks(out_of_order=True)
    send(sim, "plivo", "sms-7", callback=f"{receiver.url}/status")
    assert statuses(receiver.take(3), "Status") == ["delivered", "sent", "queued"]


def test_disabled_callbacks_are_not_sent(sim: ProviderSimulator, receiver: Receiver) -> None:
    sim.configure_callbacks(enabled=False)
    send(sim, "twilio", "sms-8", callback=f"{receiver.url}/status")
    assert sim.wait_callbacks()
    assert receiver.hits.empty() and sim.callbacks() == []


def test_unreachable_callback_url_is_recorded_not_raised(sim: ProviderSimulator) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    send(sim, "twilio", "sms-9", callback=f"http://127.0.0.1:{port}/status")
    assert sim.wait_callbacks()
    deliveries = sim.callbacks()
    assert len(deliveries) == 2
    assert all(d.status_code is None and d.error for d in deliveries)


# --------------------------------------------------------------------------- inbound webhooks


def test_twilio_inbound_is_signed_including_extra_params(sim: ProviderSimulator, receiver: Receiver) -> None:
    url = f"{receiver.url}/webhooks/twilio/inbound"
    delivery = sim.send_inbound(
        "twilio", MOBILE, SENDER, "STOP", url, account_id=TWILIO[0], extra={"OptOutType": "STOP"}
    )
    [hit] = receiver.take(1)

    assert delivery.status_code == 200
    assert (hit.params["From"], hit.params["To"], hit.params["Body"]) == (MOBILE, SENDER, "STOP")
    assert hit.params["OptOutType"] == "STOP"
    assert hit.params["MessageSid"].startswith("SM")
    assert verify_twilio(TWILIO[1], url, hit.params, hit.headers["X-Twilio-Signature"])


def test_plivo_inbound_is_signed(sim: ProviderSimulator, receiver: Receiver) -> None:
    url = f"{receiver.url}/webhooks/plivo/inbound?shop=1"
    sim.send_inbound("plivo", MOBILE, SENDER, "Is it still on sale?", url, account_id=PLIVO[0])
    [hit] = receiver.take(1)

    assert hit.params["Text"] == "Is it still on sale?"
    assert hit.params["From"] == MOBILE.removeprefix("+")
    assert hit.params["MessageUUID"]
    nonce, signature = hit.headers["X-Plivo-Signature-V3-Nonce"], hit.headers["X-Plivo-Signature-V3"]
    assert verify_plivo_v3(PLIVO[1], receiver.url + hit.path, nonce, hit.params, signature)


def test_vonage_inbound_is_signed(sim: ProviderSimulator, receiver: Receiver) -> None:
    sim.send_inbound("vonage", MOBILE, SENDER, "stop please 😀", f"{receiver.url}/in", account_id=VONAGE[0])
    [hit] = receiver.take(1)

    assert (hit.params["msisdn"], hit.params["text"]) == (MOBILE.removeprefix("+"), "stop please 😀")
    assert (hit.params["type"], hit.params["keyword"]) == ("unicode", "STOP")
    assert hit.params["api-key"] == VONAGE[0]
    assert verify_vonage(hit.params, VONAGE_SIGNATURE_SECRET)


def test_send_inbound_rejects_unknown_provider_or_account(sim: ProviderSimulator) -> None:
    with pytest.raises(ValueError, match="unknown provider 'sinch'"):
        sim.send_inbound("sinch", MOBILE, SENDER, "hi", "http://127.0.0.1:9/")
    with pytest.raises(ValueError, match="unknown simulator account"):
        sim.send_inbound("twilio", MOBILE, SENDER, "hi", "http://127.0.0.1:9/", account_id="nope")


# --------------------------------------------------------------------------- faults


def test_fault_count_fires_exactly_that_many_times() -> None:
    plan = FaultPlan(seed=1)
    plan.add("http_500", count=3)
    drawn = [plan.draw("twilio") for _ in range(5)]
    assert [fault.kind if fault else None for fault in drawn] == [FaultKind.HTTP_500] * 3 + [None, None]


def test_fault_ratio_is_reproducible_with_a_seed() -> None:
    def pattern(seed: int) -> list[bool]:
        plan = FaultPlan(seed=seed)
        plan.add("timeout", ratio=0.3)
        return [plan.draw("plivo") is not None for _ in range(200)]

    first = pattern(42)
    assert first == pattern(42)
    assert 30 <= sum(first) <= 90


def test_fault_rules_can_target_one_provider_and_be_cleared() -> None:
    plan = FaultPlan()
    plan.add("queue_full", provider="twilio", retry_after=3)
    assert plan.draw("plivo") is None
    fault = plan.draw("twilio")
    assert fault is not None and (fault.kind, fault.retry_after) == (FaultKind.QUEUE_FULL, 3)
    plan.clear()
    assert plan.draw("twilio") is None


@pytest.mark.parametrize("bad", [{"ratio": 0.0}, {"ratio": 1.5}, {"count": 0}, {"retry_after": -1}])
def test_fault_plan_rejects_bad_settings(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        FaultPlan().add("http_500", **bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        FaultPlan().add("no_such_fault")


# --------------------------------------------------------------------------- records and raw HTTP


def test_reset_forgets_messages_callbacks_and_faults(sim: ProviderSimulator, receiver: Receiver) -> None:
    send(sim, "twilio", "sms-10", callback=f"{receiver.url}/status")
    assert sim.wait_callbacks()
    sim.inject("http_500")
    sim.reset()

    assert sim.received() == [] and sim.callbacks() == [] and sim.count_by_key() == {}
    send(sim, "twilio", "sms-11")  # the fault is gone too


def test_raw_http_answers_provider_shaped_errors(sim: ProviderSimulator) -> None:
    twilio_url = f"{sim.url}/2010-04-01/Accounts/{TWILIO[0]}/Messages.json"
    with requests.Session() as session:
        missing = session.post(twilio_url, data={"From": SENDER, "Body": "x"}, auth=TWILIO)
        too_long = session.post(
            twilio_url, data={"To": MOBILE, "From": SENDER, "Body": "x" * 1601}, auth=TWILIO
        )
        other_account = session.post(
            f"{sim.url}/2010-04-01/Accounts/{PLIVO[0]}/Messages.json", data={"To": MOBILE}, auth=TWILIO
        )
        vonage_missing = session.post(
            f"{sim.url}/sms/json", data={"api_key": VONAGE[0], "api_secret": VONAGE[1]}
        )
        health = session.get(f"{sim.url}/health")
        nowhere = session.post(f"{sim.url}/nowhere", data={})

    assert (missing.status_code, missing.json()["code"]) == (400, 21604)
    assert (too_long.status_code, too_long.json()["code"]) == (400, 21617)
    assert (other_account.status_code, other_account.json()["code"]) == (401, 20003)
    assert vonage_missing.json()["messages"][0]["status"] == "2"
    assert health.json()["status"] == "ok"
    assert nowhere.status_code == 404
    assert sim.received() == []


def test_vonage_accepts_json_and_answers_one_entry_per_part(sim: ProviderSimulator) -> None:
    payload = {
        "api_key": VONAGE[0],
        "api_secret": VONAGE[1],
        "from": "Shop",
        "to": MOBILE[1:],
        "text": "b" * 200,
        "client-ref": "json-1",
    }
    answer = requests.post(f"{sim.url}/sms/json", json=payload, timeout=5).json()

    assert answer["message-count"] == "2"
    assert [part["status"] for part in answer["messages"]] == ["0", "0"]
    assert sim.count_by_key() == {"json-1": 1}


def test_default_accounts_work_out_of_the_box() -> None:
    with ProviderSimulator() as simulator:
        pairs = zip(("twilio", "plivo", "vonage"), DEFAULT_ACCOUNTS.items(), strict=True)
        for provider, (account_id, secret) in pairs:
            account = ProviderAccount(provider, simulator.url, account_id, secret, SENDER)
            with build_gateway(account) as gateway:
                assert gateway.send(OutboundMessage(provider, MOBILE, "hi")).outcome is Outcome.SENT
        assert len(simulator.received()) == 3


def test_command_line_runs_the_simulator_and_logs_each_message() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "sync_service.simulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout or []], daemon=True)
    reader.start()
    try:
        first = lines.get(timeout=15)
        assert "listening on http://127.0.0.1:" in first, first
        url = first.rsplit(" ", 1)[1].strip()
        account_id, secret = next(iter(DEFAULT_ACCOUNTS.items()))
        with build_gateway(ProviderAccount("twilio", url, account_id, secret, SENDER)) as gateway:
            result = gateway.send(OutboundMessage("cli-1", MOBILE, "hello from the CLI"))
        assert result.outcome is Outcome.SENT
        logged = ""
        deadline = time.monotonic() + 10
        while "cli-1" not in logged and time.monotonic() < deadline:
            logged = lines.get(timeout=10)
        assert result.provider_message_id in logged and "hello from the CLI" in logged
    finally:
        process.terminate()
        process.wait(timeout=10)
        reader.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()
    assert process.returncode == 0
