"""Acceptance of the segment count (issue 13): for 1,000 random bodies (French, English, emoji, long links,
placeholders, the unsubscribe link on or off), the segments an SMS mailing shows before sending (its
`sms_segment_count`, the field the mailing form displays) equal the segments the provider simulator records
for the same recipient. Through the real path: Odoo's mailing composer queues, the service's dispatcher claims
(the compliance gate adds the brand and the opt-out footer in the recipient's language) and sends to the
simulator speaking Twilio's wire format, which counts the segments of the body it receives."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from outbox_helpers import (
    RUN,
    cancel_queued,
    deactivate_accounts,
    drain,
    fresh_number,
    make_account,
    odoo_dispatcher,
)

from sync_service.shell.odoo_client import OdooClient
from sync_service.simulator import ProviderSimulator

BODIES = int(os.environ.get("SMSM_SEGMENT_BODIES", 1000))  # fewer while working on it
BATCH = 50
POLICY_FIELDS = ["hour_start", "hour_end", "cap_count", "day_mon", "day_tue", "day_wed", "day_thu", "day_fri",
                 "day_sat", "day_sun"]

_ENGLISH = ("spring sale today only our new collection is here free delivery on every order you deserve a "
            "treat last chance hurry back soon thank you for shopping with us your cart misses you 20% off "
            "{shoes} [new] €10 voucher non-stop deals stop by the shop")
_FRENCH = ("soldes d'été aujourd'hui seulement notre nouvelle collection est arrivée livraison offerte sur "
           "toute commande à très bientôt dernière chance merci pour votre fidélité votre panier vous attend "
           "-20 % remise à 10 € où êtes-vous ? garçon cœur fête châtaigne île côte naïve déjà")
WORDS = {"en": _ENGLISH.split(), "fr": _FRENCH.split()}
EMOJI = ["🎉", "😀", "🛒", "👍", "🔥", "❤️", "✨"]


def random_link(rng: random.Random) -> str:
    path = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-/") for _ in range(rng.randint(5, 140)))
    query = f"?utm_source=sms&ref={rng.randint(1, 10**6)}" if rng.random() < 0.3 else ""
    return f"https://www.example-shop.com/{path.strip('/')}{query}"


def random_body(rng: random.Random) -> tuple[str, bool]:
    """A body a merchant could write, and whether the mailing carries Odoo's unsubscribe link."""
    words = list(WORDS[rng.choice(("en", "fr"))])
    pieces = [rng.choice(words) for _ in range(rng.randint(1, 55))]
    if rng.random() < 0.3:
        pieces.insert(rng.randint(0, len(pieces)), "{{ object.name }}")
    for _ in range(rng.choice((0, 0, 1, 1, 2))):
        pieces.insert(rng.randint(0, len(pieces)), random_link(rng))
    if rng.random() < 0.2:
        pieces.insert(rng.randint(0, len(pieces)), rng.choice(EMOJI))
    if rng.random() < 0.05:
        pieces.append(rng.choice(("Reply STOP to opt out", "Reply STOP SMS to opt out", "STOP SMS")))
    if rng.random() < 0.1:
        pieces.insert(rng.randint(1, len(pieces)), "\n")
    return " ".join(pieces), rng.random() < 0.3


@pytest.fixture(scope="module")
def open_policies(client: OdooClient) -> Iterator[None]:
    """Marketing SMS may go at any hour and day without frequency cap (the test ignores the wall clock); the
    brand and the footers stay as shipped, the French policy's footer in French."""
    policies = client.call("sms.compliance.policy", "search_read", [], POLICY_FIELDS)
    days = {name: True for name in POLICY_FIELDS if name.startswith("day_")}
    client.call("sms.compliance.policy", "write", [p["id"] for p in policies],
                {"hour_start": 0, "hour_end": 24, "cap_count": 0, **days})
    langs = client.call("res.lang", "search", [("code", "=", "fr_FR"), ("active", "in", [True, False])])
    client.call("res.lang", "write", langs, {"active": True})
    french = client.call("ir.model.data", "check_object_reference", "sms_marketing_addon", "policy_fr")[1]
    client.call("sms.compliance.policy", "write", [french], {"optout_footer": "STOP SMS"},
                context={"lang": "fr_FR"})
    yield
    for policy in policies:
        client.call("sms.compliance.policy", "write", [policy["id"]], {f: policy[f] for f in POLICY_FIELDS})


@pytest.fixture(scope="module")
def simulator(client: OdooClient) -> Iterator[ProviderSimulator]:
    sim = ProviderSimulator(seed=13).start()
    yield sim
    deactivate_accounts(client)
    sim.stop()


def recipients(client: OdooClient) -> list[int]:
    """A French-speaking contact in France and an English-speaking one in the United States, opted in."""
    countries = {code: client.call("res.country", "search", [("code", "=", code)])[0]
                 for code in ("FR", "US")}
    return [client.call("res.partner", "create", {
        "name": name, "mobile": mobile, "country_id": countries[country], "lang": lang,
        "sms_consent_state": "opted_in", "sms_consent_note": "segment acceptance",
    }) for name, mobile, country, lang in [
        ("Zoé Dupré", fresh_number(), "FR", "fr_FR"),
        ("Jordan Miller", f"+1201555{RUN:04d}", "US", "en_US"),
    ]]


def shown_then_queued(client: OdooClient, mailing_ids: list[int]) -> dict[int, int]:
    """The segments each mailing shows, read just before it is queued (the next SMS id is in its short links:
    when the ids are about to gain a digit, one mailing at a time)."""
    last = client.call("sms.sms", "search_read", [], ["id"], order="id desc", limit=1)
    last_id = last[0]["id"] if last else 0
    if len(str(last_id + 1)) != len(str(last_id + len(mailing_ids) + 50)):
        groups = [[mailing_id] for mailing_id in mailing_ids]
    else:
        groups = [mailing_ids]
    shown = {}
    for group in groups:
        for row in client.call("mailing.mailing", "read", group, ["sms_segment_count"]):
            shown[row["id"]] = row["sms_segment_count"]
        client.call("mailing.mailing", "action_send_sms", group)
    return shown


def test_segments_shown_before_sending_are_the_segments_the_provider_counts(
    client: OdooClient, open_policies: None, simulator: ProviderSimulator, tmp_path: Path
) -> None:
    cancel_queued(client)
    partner_ids = recipients(client)
    numbers = {row["id"]: row["sms_number"] for row in client.call("res.partner", "read", partner_ids,
                                                                    ["sms_number"])}
    prefixes = ",".join(number.lstrip("+") for number in numbers.values())  # the longest prefix wins
    make_account(client, simulator, prefixes=prefixes)
    partner_model = client.call("ir.model", "search", [("model", "=", "res.partner")])[0]
    rng = random.Random(13)
    cases = []
    for index in range(BODIES):
        body, unsubscribe = random_body(rng)
        cases.append({
            "name": f"Segments {RUN}-{index}", "subject": f"Segments {index}",
            "sms_subject": f"Segments {index}",
            "mailing_type": "sms", "mailing_model_id": partner_model, "body_plaintext": body,
            "sms_allow_unsubscribe": unsubscribe,
            "mailing_domain": repr([("id", "=", partner_ids[index % len(partner_ids)])]),
        })
    shown: dict[int, int] = {}
    bodies: dict[int, str] = {}
    for start in range(0, BODIES, BATCH):
        batch = cases[start:start + BATCH]
        ids = client.call("mailing.mailing", "create", batch)
        bodies.update(zip(ids, (values["body_plaintext"] for values in batch), strict=True))
        shown.update(shown_then_queued(client, ids))

    with odoo_dispatcher(client, tmp_path / "sync.db", "test-segments", batch_size=250, concurrency=16,
                         retry_base=0.05, retry_cap=1.0, max_attempts=8, poll_interval=0.2) as dispatcher:
        drain(dispatcher, timeout=600)

    queued = client.call("sms.sms", "search_read", [("mailing_id", "in", list(shown))],
                         ["uuid", "mailing_id"])
    mailing_of = {row["uuid"]: row["mailing_id"][0] for row in queued}
    recorded = {mailing_of[m.key]: (m.segments, m.body) for m in simulator.received() if m.key in mailing_of}
    assert len(recorded) == BODIES, f"{len(recorded)} of {BODIES} SMS reached the simulator"
    wrong = [(shown[mailing], segments, bodies[mailing], sent)
             for mailing, (segments, sent) in recorded.items() if segments != shown[mailing]]
    assert not wrong, f"{len(wrong)} bodies: shown != recorded, e.g. {wrong[:3]}"
    assert len({segments for segments, _body in recorded.values()}) >= 3  # the bodies are not all alike
    assert any("STOP SMS" in sent for _segments, sent in recorded.values())
