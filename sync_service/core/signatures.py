"""Webhook signature computation and constant-time verification.

* Twilio: ``X-Twilio-Signature`` = Base64(HMAC-SHA1(auth token, url + name1 + value1 + ...)) with
  the POST parameters sorted by name.
* Plivo V3: ``X-Plivo-Signature-V3`` = Base64(HMAC-SHA256(auth token, assembled url + "." + nonce)),
  the url assembled as Plivo's server SDKs do (see :func:`plivo_v3_string_to_sign`). The header
  may carry several comma-separated signatures (one per active auth token); any may match.
* Plivo V2: ``X-Plivo-Signature-V2`` = Base64(HMAC-SHA256(auth token, scheme://host/path + nonce)),
  nonce in ``X-Plivo-Signature-V2-Nonce`` (Plivo's messaging webhooks). WEAKER: neither the query
  string nor the body is signed, so a captured V2 request's headers vouch for any body sent to the
  same path; the webhook app therefore accepts each V2 nonce once (see ``signing.py``).
* Plivo ``-Ma-`` variants (``X-Plivo-Signature-Ma-V2``/``-Ma-V3``) are the same signatures made with
  the MAIN account's auth token (a subaccount's webhooks); the nonce header is the same.
* Vonage SMS API signed messages: ``sig`` = hex digest over "&key=value" for the sorted
  parameters (``sig`` itself excluded; "&" and "=" inside values replaced by "_"), either MD5
  with the signature secret appended ("md5hash") or an HMAC keyed with the secret.

Everything here is pure: the caller passes the exact URL Twilio/Plivo called, the decoded
form parameters and, for freshness checks, the current time.
"""

import base64
import hashlib
import hmac
import math
from collections.abc import Mapping, Sequence
from typing import Literal
from urllib.parse import parse_qs, urlsplit, urlunsplit

VonageMethod = Literal["md5hash", "md5", "sha1", "sha256", "sha512"]
PlivoMethod = Literal["GET", "POST"]
PlivoParams = Mapping[str, str | Sequence[str]]

VONAGE_METHODS: tuple[VonageMethod, ...] = ("md5hash", "md5", "sha1", "sha256", "sha512")
VONAGE_TIMESTAMP_TOLERANCE = 300.0


def _constant_time_equal(expected: str, received: str) -> bool:
    return hmac.compare_digest(expected.encode("utf-8"), received.encode("utf-8"))


# --------------------------------------------------------------------------- Twilio


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Expected ``X-Twilio-Signature`` for a request to ``url`` with form ``params``."""
    payload = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_twilio(auth_token: str, url: str, params: Mapping[str, str], signature: str | None) -> bool:
    """True when ``signature`` (the header value) matches the request."""
    if not signature or not auth_token:
        return False
    return _constant_time_equal(twilio_signature(auth_token, url, params), signature.strip())


# --------------------------------------------------------------------------- Plivo V3


def _values(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _sorted_query(params: Mapping[str, list[str]]) -> str:
    return "&".join(f"{key}={value}" for key in sorted(params) for value in sorted(params[key]))


def _sorted_concat(params: PlivoParams) -> str:
    return "".join(f"{key}{value}" for key in sorted(params) for value in sorted(_values(params[key])))


def plivo_v3_string_to_sign(url: str, nonce: str, params: PlivoParams, method: PlivoMethod = "POST") -> str:
    """The exact string Plivo signs with HMAC-SHA256.

    The url is reduced to scheme://host/path; its query parameters are decoded and re-joined
    as "key=value" sorted by key then value. For POST, when there are POST parameters, "?"
    + query (+ "." when the query is not empty) is followed by the sorted POST parameters as
    name+value with no separator. For GET, the parameters are merged into the query (a query
    parameter wins over a same-named one) and appended as "?" + sorted query. Finally "." +
    nonce is appended.
    """
    verb = method.upper()
    if verb not in ("GET", "POST"):
        raise ValueError(f"unsupported Plivo callback method {method!r}; expected GET or POST")
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    query = {key: list(values) for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
    if verb == "GET":
        merged = {key: _values(value) for key, value in params.items()}
        merged.update(query)
        query_string = _sorted_query(merged)
        signed = base + ("?" + query_string if query_string else "")
    else:
        query_string = _sorted_query(query)
        signed = base
        if query_string or params:
            signed += "?" + query_string
        if query_string and params:
            signed += "."
        signed += _sorted_concat(params)
    return f"{signed}.{nonce}"


def plivo_v3_signature(
    auth_token: str, url: str, nonce: str, params: PlivoParams, method: PlivoMethod = "POST"
) -> str:
    """Expected ``X-Plivo-Signature-V3`` for one auth token."""
    payload = plivo_v3_string_to_sign(url, nonce, params, method)
    digest = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_plivo_v3(
    auth_token: str,
    url: str,
    nonce: str | None,
    params: PlivoParams,
    signature_header: str | None,
    method: PlivoMethod = "POST",
) -> bool:
    """True when any comma-separated signature in ``X-Plivo-Signature-V3`` matches."""
    if not signature_header or not nonce or not auth_token:
        return False
    expected = plivo_v3_signature(auth_token, url, nonce, params, method)
    matched = False
    for candidate in signature_header.split(","):
        # No early exit: every candidate is compared.
        matched |= _constant_time_equal(expected, candidate.strip())
    return matched


# --------------------------------------------------------------------------- Plivo V2


def plivo_v2_signature(auth_token: str, url: str, nonce: str) -> str:
    """Expected ``X-Plivo-Signature-V2``: the url without its query, then the nonce (no body)."""
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    digest = hmac.new(auth_token.encode("utf-8"), (base + nonce).encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_plivo_v2(auth_token: str, url: str, nonce: str | None, signature: str | None) -> bool:
    """True when ``X-Plivo-Signature-V2`` (or ``-Ma-V2``) matches; never for an empty token or nonce."""
    if not signature or not nonce or not auth_token:
        return False
    return _constant_time_equal(plivo_v2_signature(auth_token, url, nonce), signature.strip())


# --------------------------------------------------------------------------- Vonage


def _vonage_payload(params: Mapping[str, str]) -> str:
    return "".join(
        "&{}={}".format(key, str(params[key]).replace("&", "_").replace("=", "_"))
        for key in sorted(params)
        if key != "sig"
    )


def vonage_sig(params: Mapping[str, str], secret: str, method: VonageMethod = "md5hash") -> str:
    """Lower-case hex ``sig`` of Vonage signed parameters (the ``sig`` entry is ignored)."""
    payload = _vonage_payload(params).encode("utf-8")
    if method == "md5hash":
        return hashlib.md5(payload + secret.encode("utf-8")).hexdigest()
    if method in VONAGE_METHODS:
        return hmac.new(secret.encode("utf-8"), payload, method).hexdigest()
    raise ValueError(
        f"unknown Vonage signature method {method!r}; expected one of {', '.join(VONAGE_METHODS)}"
    )


def verify_vonage(params: Mapping[str, str], secret: str, method: VonageMethod = "md5hash") -> bool:
    """True when ``params["sig"]`` matches (hex compared case-insensitively)."""
    received = params.get("sig")
    if not received or not secret:
        return False
    return _constant_time_equal(vonage_sig(params, secret, method), received.strip().lower())


def vonage_timestamp_fresh(
    params: Mapping[str, str], *, now: float, tolerance: float = VONAGE_TIMESTAMP_TOLERANCE
) -> bool:
    """True when the signed ``timestamp`` parameter (Unix seconds) is within ``tolerance`` of ``now``."""
    raw = params.get("timestamp")
    if raw is None:
        return False
    try:
        stamp = float(raw)
    except (TypeError, ValueError):
        return False
    return math.isfinite(stamp) and abs(now - stamp) <= tolerance
