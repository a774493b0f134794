"""Provider adapters: one class per SMS provider behind the :class:`Gateway` contract."""

from sync_service.gateways.base import (
    Gateway,
    HttpAnswer,
    HttpGateway,
    HttpOptions,
    OutboundMessage,
    ProviderAccount,
    SendResult,
)
from sync_service.gateways.registry import PROVIDERS, build_gateway

__all__ = [
    "PROVIDERS",
    "Gateway",
    "HttpAnswer",
    "HttpGateway",
    "HttpOptions",
    "OutboundMessage",
    "ProviderAccount",
    "SendResult",
    "build_gateway",
]
