"""Prometheus metrics of the dispatcher, on a registry the caller passes in."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class DispatcherMetrics:
    sent: Counter
    failed: Counter
    retries: Counter
    claim_lag: Histogram
    claimed: Counter
    in_flight: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> DispatcherMetrics:
        return cls(
            sent=Counter("sms_dispatch_sent_total", "SMS accepted by a provider.", ["provider"],
                         registry=registry),
            failed=Counter(
                "sms_dispatch_failed_total",
                "SMS not sent, by outcome reported to Odoo (failed, opted_out, retry, unknown_outcome, "
                "opted_out_before_send, no_account).",
                ["provider", "outcome"], registry=registry),
            retries=Counter("sms_dispatch_retries_total",
                            "Provider calls retried after a transient error or a throttle.", ["provider"],
                            registry=registry),
            claim_lag=Histogram(
                "sms_dispatch_claim_lag_seconds",
                "Seconds from the claim of a message to its first provider call (rate limit and queueing).",
                buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120), registry=registry),
            claimed=Counter("sms_dispatch_claimed_total", "SMS claimed from Odoo.", registry=registry),
            in_flight=Gauge("sms_dispatch_in_flight", "Provider calls in progress.", registry=registry),
        )
