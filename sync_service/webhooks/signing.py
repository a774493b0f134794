"""Per-provider webhook secrets, and the check of one request's signature against them.

The URL given here must be the PUBLIC URL the provider called (configured base URL + path + query),
never one rebuilt from the Host header: behind a proxy the two differ and the signature would fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from sync_service.core.signatures import (
    VONAGE_METHODS,
    VONAGE_TIMESTAMP_TOLERANCE,
    VonageMethod,
    verify_plivo_v3,
    verify_twilio,
    verify_vonage,
    vonage_timestamp_fresh,
)

Provider = Literal["twilio", "plivo", "vonage"]
PROVIDERS: tuple[Provider, ...] = get_args(Provider)

TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"
PLIVO_SIGNATURE_HEADER = "X-Plivo-Signature-V3"
PLIVO_NONCE_HEADER = "X-Plivo-Signature-V3-Nonce"


class SignatureError(Exception):
    """The request is not signed by the provider (the message says why, without any secret)."""


@dataclass(frozen=True)
class SigningConfig:
    """Webhook secrets. A provider without a secret has its webhooks refused (fail closed)."""

    twilio_auth_token: str | None = field(default=None, repr=False)
    plivo_auth_token: str | None = field(default=None, repr=False)
    vonage_signature_secret: str | None = field(default=None, repr=False)
    vonage_signature_method: VonageMethod = "md5hash"
    vonage_timestamp_tolerance: float = VONAGE_TIMESTAMP_TOLERANCE

    def __post_init__(self) -> None:
        if self.vonage_signature_method not in VONAGE_METHODS:
            raise ValueError(
                f"unknown Vonage signature method {self.vonage_signature_method!r}; "
                f"expected one of {', '.join(VONAGE_METHODS)}"
            )
        if self.vonage_timestamp_tolerance <= 0:
            raise ValueError("vonage_timestamp_tolerance must be positive")

    def secrets(self) -> list[str]:
        """The configured secret values (to register with the log redactor)."""
        values = (self.twilio_auth_token, self.plivo_auth_token, self.vonage_signature_secret)
        return [value for value in values if value]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # Starlette's Headers is case-insensitive; a plain dict from elsewhere may not be.
    value = headers.get(name)
    return value if value is not None else headers.get(name.lower())


def verify_request(
    provider: Provider,
    signing: SigningConfig,
    public_url: str,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    *,
    now: float,
) -> None:
    """Raise :class:`SignatureError` unless the request carries a valid signature of ``provider``."""
    if provider == "twilio":
        if not signing.twilio_auth_token:
            raise SignatureError("no Twilio auth token configured: Twilio webhooks are refused")
        signature = _header(headers, TWILIO_SIGNATURE_HEADER)
        if not signature:
            raise SignatureError(f"missing {TWILIO_SIGNATURE_HEADER} header")
        if not verify_twilio(signing.twilio_auth_token, public_url, params, signature):
            raise SignatureError(f"invalid {TWILIO_SIGNATURE_HEADER} for {public_url}")
    elif provider == "plivo":
        if not signing.plivo_auth_token:
            raise SignatureError("no Plivo auth token configured: Plivo webhooks are refused")
        signature, nonce = _header(headers, PLIVO_SIGNATURE_HEADER), _header(headers, PLIVO_NONCE_HEADER)
        if not signature or not nonce:
            raise SignatureError(f"missing {PLIVO_SIGNATURE_HEADER} or {PLIVO_NONCE_HEADER} header")
        if not verify_plivo_v3(signing.plivo_auth_token, public_url, nonce, params, signature, "POST"):
            raise SignatureError(f"invalid {PLIVO_SIGNATURE_HEADER} for {public_url}")
    elif provider == "vonage":
        if not signing.vonage_signature_secret:
            raise SignatureError("no Vonage signature secret configured: Vonage webhooks are refused")
        if not params.get("sig"):
            raise SignatureError("missing Vonage 'sig' parameter")
        if not verify_vonage(params, signing.vonage_signature_secret, signing.vonage_signature_method):
            raise SignatureError(f"invalid Vonage 'sig' ({signing.vonage_signature_method})")
        if not vonage_timestamp_fresh(params, now=now, tolerance=signing.vonage_timestamp_tolerance):
            raise SignatureError(
                f"Vonage 'timestamp' missing or more than {signing.vonage_timestamp_tolerance:g} s "
                "from now (replay or clock skew)"
            )
    else:  # pragma: no cover - Provider is a closed Literal
        raise SignatureError(f"unknown provider {provider!r}")
