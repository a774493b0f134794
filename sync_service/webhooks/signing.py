"""Per-provider webhook secrets, and the check of one request's signature against them.

The URL given here must be the PUBLIC URL the provider called (configured base URL + path + query),
never one rebuilt from the Host header: behind a proxy the two differ and the signature would fail.

Plivo: whichever signature the request carries is verified, the strongest first: V3
(``X-Plivo-Signature-V3`` or, signed with the main account's token, ``X-Plivo-Signature-Ma-V3``; nonce
in ``X-Plivo-Signature-V3-Nonce``), else V2 (``X-Plivo-Signature-V2`` / ``-Ma-V2``; nonce in
``X-Plivo-Signature-V2-Nonce``). A request carrying a V3 header is judged on V3 alone. V2 signs the
URL's scheme, host and path and the nonce, NOT the query or the body: :class:`NonceLedger` accepts
a V2 nonce again only with the same contents (a provider retry), never with other contents.

Vonage: no clock window. A signed receipt or inbound message retried after an outage of this
service carries its original timestamp, and the SDKs apply no window; replays are harmless because
events are idempotent (receipt: provider message id + status; inbound: message id) and final
delivery states are never downgraded. ``vonage_timestamp_tolerance`` restores a window if wanted.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from sync_service.core.signatures import (
    VONAGE_METHODS,
    VonageMethod,
    verify_plivo_v2,
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
PLIVO_MA_SIGNATURE_HEADER = "X-Plivo-Signature-Ma-V3"
PLIVO_V2_SIGNATURE_HEADER = "X-Plivo-Signature-V2"
PLIVO_V2_MA_SIGNATURE_HEADER = "X-Plivo-Signature-Ma-V2"
PLIVO_V2_NONCE_HEADER = "X-Plivo-Signature-V2-Nonce"


class SignatureError(Exception):
    """The request is not signed by the provider (the message says why, without any secret)."""


@dataclass(frozen=True)
class SigningConfig:
    """Webhook secrets. A provider without a secret has its webhooks refused (fail closed)."""

    twilio_auth_token: str | None = field(default=None, repr=False)
    plivo_auth_token: str | None = field(default=None, repr=False)
    vonage_signature_secret: str | None = field(default=None, repr=False)
    vonage_signature_method: VonageMethod = "md5hash"
    vonage_timestamp_tolerance: float | None = None  # seconds; None: no clock window (see the module doc)
    # Further accounts of the same providers (several Twilio sub-accounts, say): (provider, secret,
    # Vonage method or None). A request is accepted when any secret of its provider signs it.
    other_secrets: tuple[tuple[Provider, str, VonageMethod | None], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if self.vonage_signature_method not in VONAGE_METHODS:
            raise ValueError(
                f"unknown Vonage signature method {self.vonage_signature_method!r}; "
                f"expected one of {', '.join(VONAGE_METHODS)}"
            )
        if self.vonage_timestamp_tolerance is not None and self.vonage_timestamp_tolerance <= 0:
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


class NonceLedger:
    """V2 nonces already accepted, with a digest of what they came with (bounded, oldest forgotten first).

    A nonce seen again with the same URL and parameters is a provider retry (accepted: the event store
    de-duplicates it); with anything else it is a captured signature on forged contents (refused).
    One ledger per process: several webhook processes each keep their own.
    """

    def __init__(self, max_entries: int = 200_000, ttl: float = 86_400.0) -> None:
        self._seen: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._max, self._ttl = max_entries, ttl

    @staticmethod
    def _digest(url: str, params: Mapping[str, str]) -> str:
        text = url + "\x1e" + "\x1f".join(f"{k}={params[k]}" for k in sorted(params))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def admit(self, nonce: str, url: str, params: Mapping[str, str], now: float | None = None) -> bool:
        moment = time.monotonic() if now is None else now
        digest = self._digest(url, params)
        with self._lock:
            while self._seen and (len(self._seen) >= self._max
                                  or next(iter(self._seen.values()))[1] < moment - self._ttl):
                self._seen.popitem(last=False)
            known = self._seen.get(nonce)
            if known is not None:
                return known[0] == digest
            self._seen[nonce] = (digest, moment)
            return True


DEFAULT_NONCE_LEDGER = NonceLedger()


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
    nonces: NonceLedger | None = None,
) -> None:
    """Raise :class:`SignatureError` unless the request carries a valid signature of ``provider``.

    ``nonces``: the ledger of Plivo V2 nonces (the process-wide one when not given).
    """
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
        _verify_plivo(keys, public_url, params, headers, nonces or DEFAULT_NONCE_LEDGER)
    elif provider == "vonage":
        if not keys:
            raise SignatureError("no Vonage signature secret configured: Vonage webhooks are refused")
        if not params.get("sig"):
            raise SignatureError("missing Vonage 'sig' parameter")
        if not any(verify_vonage(params, secret, method) for secret, method in keys):
            methods = "/".join(sorted({method for _, method in keys}))
            raise SignatureError(f"invalid Vonage 'sig' ({methods})")
        tolerance = signing.vonage_timestamp_tolerance
        if tolerance is not None and not vonage_timestamp_fresh(params, now=now, tolerance=tolerance):
            raise SignatureError(
                f"Vonage 'timestamp' missing or more than {tolerance:g} s from now (replay or clock skew)"
            )
    else:  # pragma: no cover - Provider is a closed Literal
        raise SignatureError(f"unknown provider {provider!r}")


def _verify_plivo(
    keys: list[tuple[str, VonageMethod]],
    public_url: str,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    nonces: NonceLedger,
) -> None:
    """V3 (or -Ma-V3) when the request carries it, else V2 (or -Ma-V2); see the module doc."""
    v3 = [value for name in (PLIVO_SIGNATURE_HEADER, PLIVO_MA_SIGNATURE_HEADER)
          if (value := _header(headers, name))]
    if v3:
        nonce = _header(headers, PLIVO_NONCE_HEADER)
        if not nonce:
            raise SignatureError(f"missing {PLIVO_NONCE_HEADER} header")
        if not any(verify_plivo_v3(secret, public_url, nonce, params, signature, "POST")
                   for secret, _ in keys for signature in v3):
            raise SignatureError(f"invalid {PLIVO_SIGNATURE_HEADER} for {public_url}")
        return
    v2 = [value for name in (PLIVO_V2_SIGNATURE_HEADER, PLIVO_V2_MA_SIGNATURE_HEADER)
          if (value := _header(headers, name))]
    if not v2:
        raise SignatureError(f"missing {PLIVO_SIGNATURE_HEADER} (or V2) signature header")
    nonce = _header(headers, PLIVO_V2_NONCE_HEADER)
    if not nonce:
        raise SignatureError(f"missing {PLIVO_V2_NONCE_HEADER} header")
    if not any(verify_plivo_v2(secret, public_url, nonce, signature)
               for secret, _ in keys for signature in v2):
        raise SignatureError(f"invalid {PLIVO_V2_SIGNATURE_HEADER} for {public_url}")
    if not nonces.admit(nonce, public_url, params):
        raise SignatureError(f"{PLIVO_V2_NONCE_HEADER} already used with other contents (replayed signature)")
