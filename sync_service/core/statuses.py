"""Delivery receipts: provider-native statuses mapped to Odoo's vocabulary.

Odoo (``sms.marketing.api.apply_delivery_statuses``) knows four states: ``sent`` (handed to the
carrier, not final), ``delivered``, ``undelivered`` and ``failed`` (final). Statuses before the
carrier has the message (Twilio ``queued``/``sending``, Plivo ``queued`` ...) tell Odoo nothing:
:func:`map_status` returns ``None`` for them and the receipt is skipped.

``number_invalid`` is set only when the error code says the number itself is wrong or cannot
receive SMS (it makes Odoo flag the contact's number as rejected), never for a temporary
condition such as a handset switched off. ``opted_out`` is set when the code says the recipient
opted out at the provider (Twilio 21610, Vonage 9, Plivo 200): Odoo records the opt-out with the
provider as its source. Both come from :mod:`~sync_service.core.provider_codes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from sync_service.core.provider_codes import Meaning, meaning


class DeliveryStatus(StrEnum):
    """Odoo's delivery states of an SMS handed to a gateway."""

    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"


class UnknownStatus(ValueError):
    """A status this module does not know: the receipt cannot be applied (malformed or new)."""


@dataclass(frozen=True)
class StatusUpdate:
    """What to tell Odoo about one receipt."""

    status: DeliveryStatus
    error_code: str | None = None
    number_invalid: bool = False
    opted_out: bool = False


_S, _D = DeliveryStatus.SENT, DeliveryStatus.DELIVERED
_U, _F = DeliveryStatus.UNDELIVERED, DeliveryStatus.FAILED

# None: an intermediate status, nothing to tell Odoo.
_STATUSES: Mapping[str, Mapping[str, DeliveryStatus | None]] = {
    "twilio": {
        "accepted": None,
        "scheduled": None,
        "queued": None,
        "sending": None,
        "sent": _S,
        "partially_delivered": _S,
        "delivered": _D,
        "read": _D,
        "undelivered": _U,
        "failed": _F,
        "canceled": _F,
    },
    "plivo": {
        "queued": None,
        "sent": _S,
        "delivered": _D,
        "read": _D,
        "undelivered": _U,
        "failed": _F,
        "rejected": _F,
    },
    "vonage": {
        "accepted": _S,  # accepted by the downstream carrier
        "buffered": _S,  # held by the carrier, delivery still to come
        "unknown": None,  # no information: wait for a later receipt
        "delivered": _D,
        "expired": _U,
        "failed": _F,
        "rejected": _F,
    },
}

PROVIDERS: tuple[str, ...] = tuple(_STATUSES)


def normalize_error_code(error_code: str | int | None) -> str | None:
    """The error code as text, ``None`` when there is none ('', '0', '000' all mean no error)."""
    if error_code is None:
        return None
    text = str(error_code).strip()
    if not text or text.strip("0") == "":
        return None
    return text.lstrip("0") if text.isdigit() else text


def map_status(provider: str, status: str, error_code: str | int | None = None) -> StatusUpdate | None:
    """Odoo's update for one provider receipt, ``None`` when the status is intermediate.

    Raises :class:`UnknownStatus` for an unknown provider or status.
    """
    table = _STATUSES.get(provider)
    if table is None:
        raise UnknownStatus(f"no delivery statuses known for provider {provider!r}")
    key = (status or "").strip().lower()
    if key not in table:
        raise UnknownStatus(f"unknown {provider} delivery status {status!r}")
    mapped = table[key]
    if mapped is None:
        return None
    code = normalize_error_code(error_code)
    if mapped in (DeliveryStatus.SENT, DeliveryStatus.DELIVERED):
        return StatusUpdate(mapped, code, False)
    said = meaning(provider, "receipt", code) if code is not None else None
    return StatusUpdate(mapped, code, said is Meaning.INVALID_NUMBER, said is Meaning.OPTED_OUT)
