"""Provider simulator: Twilio, Plivo and Vonage send APIs on loopback, with faults and signed callbacks."""

from sync_service.simulator.server import (
    DEFAULT_ACCOUNTS,
    CallbackOptions,
    Fault,
    FaultKind,
    FaultPlan,
    ProviderSimulator,
    ReceivedMessage,
    WebhookDelivery,
)

__all__ = [
    "DEFAULT_ACCOUNTS",
    "CallbackOptions",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "ProviderSimulator",
    "ReceivedMessage",
    "WebhookDelivery",
]
