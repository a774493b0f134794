"""Signed webhook endpoints (delivery receipts, inbound SMS), /healthz and /metrics."""

from sync_service.webhooks.app import EventCallback, InboundPayload, OdooCheck, StatusPayload, create_app
from sync_service.webhooks.signing import PROVIDERS, Provider, SignatureError, SigningConfig, verify_request

__all__ = [
    "PROVIDERS",
    "EventCallback",
    "InboundPayload",
    "OdooCheck",
    "Provider",
    "SignatureError",
    "SigningConfig",
    "StatusPayload",
    "create_app",
    "verify_request",
]
