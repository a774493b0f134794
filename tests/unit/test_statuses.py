import pytest

from sync_service.core.statuses import (
    DeliveryStatus,
    StatusUpdate,
    UnknownStatus,
    map_status,
    normalize_error_code,
)

S, D, U, F = DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.UNDELIVERED, DeliveryStatus.FAILED


@pytest.mark.parametrize(
    ("provider", "status", "error_code", "expected"),
    [
        # Twilio: nothing before the carrier has it
        ("twilio", "queued", None, None),
        ("twilio", "accepted", None, None),
        ("twilio", "sending", None, None),
        ("twilio", "scheduled", None, None),
        ("twilio", "sent", None, StatusUpdate(S)),
        ("twilio", "delivered", "", StatusUpdate(D)),
        ("twilio", "Delivered", None, StatusUpdate(D)),
        ("twilio", "read", None, StatusUpdate(D)),
        ("twilio", "undelivered", "30003", StatusUpdate(U, "30003", False)),  # handset off: temporary
        ("twilio", "undelivered", "30005", StatusUpdate(U, "30005", True)),  # unknown handset
        ("twilio", "undelivered", "30006", StatusUpdate(U, "30006", True)),  # landline
        ("twilio", "undelivered", "30007", StatusUpdate(U, "30007", False)),  # carrier filtering
        ("twilio", "undelivered", "30008", StatusUpdate(U, "30008", False)),
        ("twilio", "failed", "30004", StatusUpdate(F, "30004", False)),  # blocked
        ("twilio", "failed", "21211", StatusUpdate(F, "21211", True)),
        ("twilio", "failed", "21614", StatusUpdate(F, "21614", True)),
        ("twilio", "failed", "21610", StatusUpdate(F, "21610", False, True)),  # opted out at Twilio
        ("twilio", "failed", None, StatusUpdate(F)),
        ("twilio", "canceled", None, StatusUpdate(F)),
        # Plivo
        ("plivo", "queued", "000", None),
        ("plivo", "sent", "000", StatusUpdate(S)),
        ("plivo", "delivered", "000", StatusUpdate(D)),
        ("plivo", "undelivered", "80", StatusUpdate(U, "80", False)),  # temporarily unavailable
        ("plivo", "undelivered", "70", StatusUpdate(U, "70", True)),
        ("plivo", "failed", "50", StatusUpdate(F, "50", True)),
        ("plivo", "failed", "200", StatusUpdate(F, "200", False, True)),  # opted out at Plivo
        ("plivo", "rejected", "30", StatusUpdate(F, "30", False)),  # spam
        # Vonage DLR
        ("vonage", "accepted", "0", StatusUpdate(S)),
        ("vonage", "buffered", "0", StatusUpdate(S)),
        ("vonage", "unknown", "1", None),
        ("vonage", "delivered", "0", StatusUpdate(D)),
        ("vonage", "expired", "2", StatusUpdate(U, "2", False)),  # absent subscriber, temporary
        ("vonage", "expired", "3", StatusUpdate(U, "3", True)),  # absent subscriber, permanent
        ("vonage", "failed", "9", StatusUpdate(F, "9", False, True)),  # opted out (not an invalid number)
        ("vonage", "failed", "2", StatusUpdate(F, "2", False)),
        ("vonage", "rejected", "4", StatusUpdate(F, "4", False)),  # barred by the user
        ("vonage", "rejected", "0", StatusUpdate(F)),
        # A receipt that went through still carries the provider's code, for the record (never "invalid").
        ("twilio", "sent", "30008", StatusUpdate(S, "30008", False)),
        ("plivo", "delivered", "70", StatusUpdate(D, "70", False)),
    ],
)
def test_map_status(
    provider: str, status: str, error_code: str | None, expected: StatusUpdate | None
) -> None:
    assert map_status(provider, status, error_code) == expected


@pytest.mark.parametrize(
    ("provider", "status"),
    [("twilio", "exploded"), ("twilio", ""), ("plivo", "accepted"), ("vonage", "sent"), ("console", "sent")],
)
def test_unknown_status_or_provider_raises(provider: str, status: str) -> None:
    with pytest.raises(UnknownStatus):
        map_status(provider, status, None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, None), ("", None), ("  ", None), ("0", None), ("000", None), (0, None), (30003, "30003"),
     (" 21211 ", "21211"), ("080", "80"), ("E12", "E12"),
     # a code that is not a number is kept as it is, leading zeros included
     ("0E12", "0E12"), ("X", "X"), ("XX0", "XX0")],
)
def test_normalize_error_code(raw: str | int | None, expected: str | None) -> None:
    assert normalize_error_code(raw) == expected


def test_statuses_are_odoo_vocabulary() -> None:
    assert {s.value for s in DeliveryStatus} == {"sent", "delivered", "undelivered", "failed"}


def test_unknown_status_or_provider_is_named_in_the_error() -> None:
    # What the operator reads in the log of a receipt that could not be applied.
    with pytest.raises(UnknownStatus, match=r"^unknown twilio delivery status 'exploded'$"):
        map_status("twilio", "exploded")
    with pytest.raises(UnknownStatus, match=r"^no delivery statuses known for provider 'console'$"):
        map_status("console", "sent")
