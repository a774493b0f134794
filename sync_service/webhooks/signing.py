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
    # Further accounts of the same providers (several Twilio sub-accounts, say): (provider, secret,
    # Vonage method or None). A request is accepted when any secret of its provider signs it.
    other_secrets: tuple[tuple[Provider, str, VonageMethod | None], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if self.vonage_signature_method not in VONAGE_METHODS:
            raise ValueError(
                f"unknown Vonage signature method {self.vonage_signature_method!r}; "
                f"expected one of {', '.join(VONAGE_METHODS)}"
            )
        if self.vonage_timestamp_tolerance <= 0:
            raise ValueError("vonage_timestamp_tolerance must be positive")
        for provider, secret, method in self.other_secrets:
            if provider not in PROVIDERS or not secret:
                raise ValueError(f"other_secrets: unknown provider {provider!r} or empty secret")
            if method is not None and method not in VONAGE_METHODS:
                raise ValueError(f"unknown Vonage signature method {method!r} in other_secrets")

    def keys(self, provider: Provider) -> list[tuple[str, VonageMethod]]:
        """Every (secret, Vonage method) that may sign ``provider``'s webhooks, the primary one first.

        The method only means something for Vonage; Twilio and Plivo have one signature scheme each.
        """
        primary = {
            "twilio": self.twilio_auth_token,
            "plivo": self.plivo_auth_token,
            "vonage": self.vonage_signature_secret,
        }[provider]
        found = [(primary, self.vonage_signature_method)] if primary else []
        for other, secret, method in self.other_secrets:
            key = (secret, method or self.vonage_signature_method)
            if other == provider and key not in found:
                found.append(key)
        return found

    def secrets(self) -> list[str]:
        """The configured secret values (to register with the log redactor)."""
        values = (self.twilio_auth_token, self.plivo_auth_token, self.vonage_signature_secret)
        return [value for value in values if value] + [secret for _, secret, _ in self.other_secrets]


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
    keys = signing.keys(provider) if provider in PROVIDERS else []
    if provider == "twilio":
        if not keys:
            raise SignatureError("no Twilio auth token configured: Twilio webhooks are refused")
        signature = _header(headers, TWILIO_SIGNATURE_HEADER)
        if not signature:
            raise SignatureError(f"missing {TWILIO_SIGNATURE_HEADER} header")
        if not any(verify_twilio(secret, public_url, params, signature) for secret, _ in keys):
            raise SignatureError(f"invalid {TWILIO_SIGNATURE_HEADER} for {public_url}")
    elif provider == "plivo":
        if not keys:
            raise SignatureError("no Plivo auth token configured: Plivo webhooks are refused")
        signature, nonce = _header(headers, PLIVO_SIGNATURE_HEADER), _header(headers, PLIVO_NONCE_HEADER)
        if not signature or not nonce:
            raise SignatureError(f"missing {PLIVO_SIGNATURE_HEADER} or {PLIVO_NONCE_HEADER} header")
        if not any(
            verify_plivo_v3(secret, public_url, nonce, params, signature, "POST") for secret, _ in keys
        ):
            raise SignatureError(f"invalid {PLIVO_SIGNATURE_HEADER} for {public_url}")
    elif provider == "vonage":
        if not keys:
            raise SignatureError("no Vonage signature secret configured: Vonage webhooks are refused")
        if not params.get("sig"):
            raise SignatureError("missing Vonage 'sig' parameter")
        if not any(verify_vonage(params, secret, method) for secret, method in keys):
            methods = "/".join(sorted({method for _, method in keys}))
            raise SignatureError(f"invalid Vonage 'sig' ({methods})")
        if not vonage_timestamp_fresh(params, now=now, tolerance=signing.vonage_timestamp_tolerance):
            raise SignatureError(
                f"Vonage 'timestamp' missing or more than {signing.vonage_timestamp_tolerance:g} s "
                "from now (replay or clock skew)"
            )
    else:  # pragma: no cover - Provider is a closed Literal
        raise SignatureError(f"unknown provider {provider!r}")
