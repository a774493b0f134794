"""The webhook role: the signed-webhook app, with its secrets read from the gateway accounts in Odoo.

Secrets live in Odoo (``sms.provider.account``, readable by administrators only) and reach the
service through ``accounts_provider`` (``sms.marketing.api.get_provider_accounts``). Twilio and
Plivo sign with the account's auth token (``secret``), Vonage with ``webhook_secret``.

The accounts are fetched again every ``refresh_seconds`` and shortly after a request failed its
signature check (a secret rotated in Odoo), in a background thread: a request never waits for
Odoo. When the secrets change, a new inner app (:func:`sync_service.webhooks.create_app`) replaces
the old one (its Prometheus counters start again). While Odoo is unreachable the last secrets keep
serving, so events are still stored; before any secret is known, webhooks get 503 + Retry-After
(the providers retry) instead of a 403 that would lose them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from sync_service.core.signatures import VONAGE_METHODS, VonageMethod
from sync_service.shell.config import ConfigError, Settings
from sync_service.shell.logging_setup import register_secrets
from sync_service.store import Store
from sync_service.webhooks import EventCallback, SigningConfig, create_app
from sync_service.webhooks.inbox_journal import InboxJournal
from sync_service.webhooks.signing import PROVIDERS, Provider

logger = logging.getLogger("sync_service.webhooks.role")

AccountsProvider = Callable[[], list[dict[str, Any]]]
MIN_REFRESH_INTERVAL = 5.0  # seconds between two fetches of the accounts, whatever triggers them


def public_base_url(settings: Settings) -> str:
    """The configured public base URL of the webhooks; ConfigError when it is missing."""
    if settings.public_base_url is None:
        raise ConfigError(
            "invalid configuration: SMS_SYNC_PUBLIC_BASE_URL is required to serve webhooks: the public "
            "https URL the providers call (signatures are computed on it), e.g. https://sms.example.com"
        )
    return str(settings.public_base_url).rstrip("/")


def _secret(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def signing_from_accounts(
    accounts: Sequence[Mapping[str, Any]], *, vonage_signature_method: VonageMethod = "md5hash"
) -> SigningConfig:
    """Webhook secrets of every account, by provider (Odoo's order: sequence, id).

    The first account of a provider gives the primary secret; the others (several Twilio
    sub-accounts, a second Vonage key ...) are accepted too: a webhook is taken when any secret of
    its provider signs it. A Vonage account may name its own ``webhook_signature_method``.
    """
    primary: dict[str, tuple[str, VonageMethod]] = {}
    others: list[tuple[Provider, str, VonageMethod | None]] = []
    for account in accounts:
        provider = account.get("provider")
        secret = _webhook_secret(account)
        if provider not in PROVIDERS or not secret:
            continue
        method = _vonage_method(account, vonage_signature_method) if provider == "vonage" else None
        if provider not in primary:
            primary[provider] = (secret, method or vonage_signature_method)
        elif (secret, method or vonage_signature_method) != primary[provider]:
            others.append((cast(Provider, provider), secret, method))
    return SigningConfig(
        twilio_auth_token=primary.get("twilio", (None,))[0],
        plivo_auth_token=primary.get("plivo", (None,))[0],
        vonage_signature_secret=primary.get("vonage", (None,))[0],
        vonage_signature_method=primary.get("vonage", (None, vonage_signature_method))[1],
        other_secrets=tuple(others),
    )


def _vonage_method(account: Mapping[str, Any], default: VonageMethod) -> VonageMethod:
    method = account.get("webhook_signature_method") or default
    if method not in VONAGE_METHODS:
        logger.warning("unknown Vonage signature method %r on account %s: using %s",
                       method, account.get("id"), default)
        return default
    return cast(VonageMethod, method)


def _webhook_secret(account: Mapping[str, Any]) -> str | None:
    if account.get("provider") == "vonage":
        return _secret(account.get("webhook_secret"))
    return _secret(account.get("secret"))


class _SigningSource:
    """The current secrets, refreshed from Odoo in the background."""

    def __init__(
        self,
        accounts_provider: AccountsProvider,
        build: Callable[[SigningConfig], Starlette],
        *,
        refresh_seconds: float,
        vonage_signature_method: VonageMethod,
    ) -> None:
        self._accounts_provider = accounts_provider
        self._build = build
        self._refresh_seconds = refresh_seconds
        self._vonage_method = vonage_signature_method
        self._lock = threading.Lock()
        self._busy = False
        self._last_attempt = float("-inf")
        self.signing: SigningConfig | None = None
        self.app: Starlette | None = None

    def refresh(self) -> bool:
        """Fetch the accounts now; True when the secrets changed. Never raises."""
        self._last_attempt = time.monotonic()
        try:
            accounts = self._accounts_provider()
            signing = signing_from_accounts(accounts, vonage_signature_method=self._vonage_method)
        except Exception as exc:
            state = "keeping the previous secrets" if self.signing else "webhooks answer 503 until then"
            logger.warning("cannot read the gateway accounts from Odoo (%s): %s", exc, state)
            return False
        if signing == self.signing:
            return False
        with contextlib.suppress(RuntimeError):  # no redactor when logging is not the service's (tests)
            register_secrets(*signing.secrets())
        app = self._build(signing)
        self.signing, self.app = signing, app
        served = [p for p, s in zip(PROVIDERS, _secrets_by_provider(signing), strict=True) if s]
        logger.info("webhook secrets loaded from Odoo", extra={"providers": served})
        return True

    def refresh_soon(self, *, force: bool = False) -> None:
        """Start a background refresh when one is due (or ``force``d), at most every few seconds."""
        elapsed = time.monotonic() - self._last_attempt
        due = elapsed >= (self._refresh_seconds if self.signing else MIN_REFRESH_INTERVAL)
        if not (due or (force and elapsed >= MIN_REFRESH_INTERVAL)):
            return
        with self._lock:
            if self._busy:
                return
            self._busy = True
            self._last_attempt = time.monotonic()
        threading.Thread(target=self._refresh_then_release, name="webhook-secrets", daemon=True).start()

    def _refresh_then_release(self) -> None:
        try:
            self.refresh()
        finally:
            with self._lock:
                self._busy = False


def _secrets_by_provider(signing: SigningConfig) -> tuple[int, ...]:
    return tuple(len(signing.keys(name)) for name in PROVIDERS)


class WebhookRoleApp(Starlette):
    """Hands every HTTP request to the inner app built for the current secrets."""

    def __init__(self, source: _SigningSource, inbox: InboxJournal | None = None) -> None:
        super().__init__()
        self.source = source
        self.inbox = inbox

    def close(self) -> None:
        """Commit the events still queued and stop the inbox's committer (after the server stopped)."""
        if self.inbox is not None:
            self.inbox.close()

    @property
    def inner(self) -> Starlette | None:
        return self.source.app

    def refresh_signing(self) -> bool:
        """Re-read the accounts from Odoo now (blocking); True when the secrets changed."""
        return self.source.refresh()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        self.source.refresh_soon()
        inner = self.source.app
        if inner is None:
            response = JSONResponse(
                {"error": "webhook secrets not loaded from Odoo yet, retry later"},
                status_code=503, headers={"Retry-After": "30"},
            )
            await response(scope, receive, send)
            return

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 403:
                self.source.refresh_soon(force=True)  # maybe a secret rotated in Odoo
            await send(message)

        await inner(scope, receive, watch)


def build_webhook_app(
    settings: Settings,
    store: Store,
    accounts_provider: AccountsProvider,
    odoo_check: Callable[[], bool],
    *,
    on_event: EventCallback | None = None,
    refresh_seconds: float = 60.0,
    vonage_signature_method: VonageMethod = "md5hash",
    clock: Callable[[], float] = time.time,
) -> WebhookRoleApp:
    """The webhook server of the service (serve it with uvicorn).

    ``accounts_provider()`` returns ``sms.marketing.api.get_provider_accounts()``; it is called
    once here (a failure is logged, not raised: Odoo may start later) and then in the background.
    ``on_event`` runs after each new stored event (e.g. ``InboxApplier.wake``). Raises
    :class:`ConfigError` when ``settings.public_base_url`` is missing.
    """
    base_url = public_base_url(settings)
    if refresh_seconds <= 0:
        raise ValueError("refresh_seconds must be positive")

    inbox = InboxJournal(store)  # one per store, kept when a secret change rebuilds the inner app

    def build(signing: SigningConfig) -> Starlette:
        return create_app(store, signing, base_url, on_event, odoo_check=odoo_check, clock=clock, inbox=inbox)

    source = _SigningSource(
        accounts_provider, build, refresh_seconds=refresh_seconds,
        vonage_signature_method=vonage_signature_method,
    )
    source.refresh()
    return WebhookRoleApp(source, inbox)


__all__ = ["WebhookRoleApp", "build_webhook_app", "public_base_url", "signing_from_accounts"]
