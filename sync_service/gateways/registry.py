"""The one place that knows which class serves which provider name."""

from __future__ import annotations

from sync_service.gateways.base import Gateway, HttpGateway, HttpOptions, ProviderAccount
from sync_service.gateways.console import ConsoleGateway
from sync_service.gateways.plivo import PlivoGateway
from sync_service.gateways.twilio import TwilioGateway
from sync_service.gateways.vonage import VonageGateway

HTTP_GATEWAYS: dict[str, type[HttpGateway]] = {
    TwilioGateway.provider: TwilioGateway,
    PlivoGateway.provider: PlivoGateway,
    VonageGateway.provider: VonageGateway,
}
PROVIDERS: tuple[str, ...] = (*HTTP_GATEWAYS, ConsoleGateway.provider)


def build_gateway(account: ProviderAccount, options: HttpOptions | None = None) -> Gateway:
    """The gateway of ``account.provider``; ``options`` (timeouts, pool size) apply to HTTP gateways."""
    if account.provider == ConsoleGateway.provider:
        return ConsoleGateway(account)
    gateway_class = HTTP_GATEWAYS.get(account.provider)
    if gateway_class is None:
        raise ValueError(
            f"unknown SMS provider {account.provider!r} for account {account.name or account.account_id!r};"
            f" expected one of {', '.join(PROVIDERS)}"
        )
    return gateway_class(account, options)
