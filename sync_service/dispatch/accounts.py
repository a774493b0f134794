"""Provider accounts as Odoo configures them, cached and refreshed every N seconds.

Each account comes with its gateway (one pooled HTTP session, reused by every send through the
account) and its rate limiter. A refresh that fails (Odoo down) keeps the last good snapshot; an
account whose settings changed gets a new gateway, the old one is closed when the cache closes
(sends in flight may still be using it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sync_service.dispatch.rate_limit import RateLimiter, RateLimiters
from sync_service.gateways import Gateway, HttpOptions, ProviderAccount, build_gateway

logger = logging.getLogger("sync_service.dispatch.accounts")

AccountsFetcher = Callable[[], Sequence[Mapping[str, Any]]]
GatewayFactory = Callable[[ProviderAccount], Gateway]
RETRY_AFTER_FAILED_REFRESH = 5.0


class AccountsUnavailable(Exception):
    """The accounts could never be loaded (the message says why)."""


@dataclass(frozen=True)
class Route:
    """Everything needed to send through one account."""

    id: int
    provider: str  # what the gateway speaks: 'console' for an account in test mode
    account: ProviderAccount
    gateway: Gateway
    limiter: RateLimiter
    raw: Mapping[str, Any] = field(repr=False)


def provider_account(raw: Mapping[str, Any]) -> ProviderAccount:
    """The gateway's view of one `get_provider_accounts()` entry; test mode means the console sandbox."""
    provider = "console" if raw.get("test_mode") else str(raw.get("provider") or "console")
    return ProviderAccount(
        provider=provider,
        base_url=str(raw.get("base_url") or ""),
        account_id=str(raw.get("account_id") or ""),
        secret=str(raw.get("secret") or ""),
        sender=str(raw.get("sender") or "") or None,
        messaging_service_sid=str(raw.get("messaging_service_sid") or "") or None,
        messages_per_second=float(raw.get("messages_per_second") or 10.0),
        test_mode=bool(raw.get("test_mode")),
        name=str(raw.get("name") or ""),
    )


def _fingerprint(raw: Mapping[str, Any]) -> tuple[Any, ...]:
    keys = ("provider", "base_url", "account_id", "secret", "sender", "messaging_service_sid", "test_mode",
            "health_version")
    return tuple(raw.get(key) for key in keys)


class AccountCache:
    """Thread-safe cache of the provider accounts; ``get(account_id)`` refreshes it when stale."""

    def __init__(
        self,
        fetch: AccountsFetcher,
        *,
        refresh_seconds: float = 60.0,
        gateway_options: HttpOptions | None = None,
        gateway_factory: GatewayFactory | None = None,
        limiters: RateLimiters | None = None,
        on_secrets: Callable[..., object] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._refresh_seconds = refresh_seconds
        options = gateway_options
        self._factory = gateway_factory or (lambda account: build_gateway(account, options))
        self._limiters = limiters or RateLimiters()
        self._on_secrets = on_secrets
        self._clock = clock
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._routes: dict[int, Route] = {}
        self._fingerprints: dict[int, tuple[Any, ...]] = {}
        self._retired: list[Gateway] = []
        self._next_refresh: float | None = None
        self._loaded = False

    def refresh(self) -> None:
        """Load the accounts from Odoo now; raises what the fetcher raises."""
        raws = [dict(raw) for raw in self._fetch()]
        with self._lock:
            self._apply(raws)
            self._loaded = True
            self._next_refresh = self._clock() + self._refresh_seconds

    def _apply(self, raws: list[dict[str, Any]]) -> None:
        seen: set[int] = set()
        for raw in raws:
            account_id = int(raw["id"])
            seen.add(account_id)
            if self._on_secrets is not None:
                self._on_secrets(raw.get("secret"), raw.get("webhook_secret"))
            account = provider_account(raw)
            limiter = self._limiters.for_account(account_id, account.messages_per_second)
            current = self._routes.get(account_id)
            if current is not None and self._fingerprints.get(account_id) == _fingerprint(raw):
                self._routes[account_id] = Route(account_id, account.provider, account, current.gateway,
                                                 limiter, raw)
                continue
            try:
                gateway = self._factory(account)
            except ValueError as exc:  # unknown provider: leave the account out, say why
                logger.error("provider account %s (%s) ignored: %s", account_id, account.name, exc)
                continue
            if current is not None:
                self._retired.append(current.gateway)
            self._routes[account_id] = Route(account_id, account.provider, account, gateway, limiter, raw)
            self._fingerprints[account_id] = _fingerprint(raw)
        for gone in set(self._routes) - seen:
            self._retired.append(self._routes.pop(gone).gateway)
            self._fingerprints.pop(gone, None)

    def _ensure_fresh(self) -> None:
        if self._next_refresh is not None and self._clock() < self._next_refresh:
            return
        # One thread refreshes; the others go on with the current snapshot (or wait for the first one).
        if not self._refresh_lock.acquire(blocking=not self._loaded):
            return
        try:
            if self._next_refresh is not None and self._clock() < self._next_refresh:
                return
            self.refresh()
        except Exception as exc:
            if not self._loaded:
                raise AccountsUnavailable(f"cannot load the provider accounts from Odoo: {exc}") from exc
            logger.warning("provider accounts not refreshed (keeping the last ones): %s", exc)
            with self._lock:
                self._next_refresh = self._clock() + RETRY_AFTER_FAILED_REFRESH
        finally:
            self._refresh_lock.release()

    def expire(self) -> None:
        """Reload the accounts at the next look-up (their settings may have changed in Odoo)."""
        with self._lock:
            if self._next_refresh is not None:
                self._next_refresh = min(self._next_refresh, self._clock())

    def get(self, account_id: int | None) -> Route | None:
        """The route of an account id (None: unknown or no id); refreshes the cache when it is stale."""
        self._ensure_fresh()
        if not account_id:
            return None
        with self._lock:
            return self._routes.get(int(account_id))

    def routes(self) -> list[Route]:
        self._ensure_fresh()
        with self._lock:
            return list(self._routes.values())

    def accounts(self) -> list[dict[str, Any]]:
        """The raw account dicts as Odoo returned them (secrets included: never log them)."""
        return [dict(route.raw) for route in self.routes()]

    def close(self) -> None:
        with self._lock:
            gateways = [route.gateway for route in self._routes.values()] + self._retired
            self._routes.clear()
            self._retired.clear()
            self._fingerprints.clear()
            self._next_refresh = None
            self._loaded = False
        for gateway in gateways:
            gateway.close()
