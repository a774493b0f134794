"""Sandbox gateway: logs each message instead of sending it; never touches the network, never bills."""

from __future__ import annotations

import logging

from sync_service.core.errors import Classification, Outcome
from sync_service.core.segments import count_segments
from sync_service.gateways.base import Gateway, OutboundMessage, SendResult

logger = logging.getLogger(__name__)


def mask_number(number: str) -> str:
    """``+33612345678`` → ``+33******678``: enough to recognise a test number, not to dial it."""
    if len(number) <= 6:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 6) + number[-3:]


class ConsoleGateway(Gateway):
    """Answers ``SENT`` with id ``console-<key>`` after logging the message at INFO."""

    provider = "console"

    def send(self, message: OutboundMessage) -> SendResult:
        segments = count_segments(message.body).segments
        logger.info(
            "console SMS key=%s to=%s from=%s segments=%d body=%r",
            message.key,
            mask_number(message.to),
            message.sender or self.account.sender or "-",
            segments,
            message.body,
        )
        classification = Classification(Outcome.SENT, "console", "logged, not sent")
        return SendResult(message.key, classification, f"console-{message.key}", segments)
