"""Tables of the durable store and the records its API returns.

Portable across SQLite and PostgreSQL: generic column types only, times stored as naive UTC
(:class:`UTCDateTime` hands out timezone-aware UTC datetimes), JSON through SQLAlchemy's ``JSON``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

EventKind = Literal["status", "inbound"]
EVENT_KINDS: tuple[EventKind, ...] = ("status", "inbound")

SendState = Literal["sending", "sent", "failed"]
FINAL_SEND_STATES: tuple[SendState, ...] = ("sent", "failed")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; stored as naive UTC (sorts and compares everywhere)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the store: pass a timezone-aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


metadata = MetaData()

inbox_events = Table(
    "inbox_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("provider", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("dedup_key", String(255), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("applied_at", UTCDateTime, nullable=True),
    Column("claimed_by", String(128), nullable=True),
    Column("claim_expires_at", UTCDateTime, nullable=True),
    UniqueConstraint("provider", "kind", "dedup_key", name="uq_inbox_events_dedup"),
    Index("ix_inbox_events_pending", "applied_at", "next_attempt_at"),
)

sent_log = Table(
    "sent_log",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("provider", String(32), nullable=True),
    Column("provider_message_id", String(128), nullable=True),
    Column("state", String(16), nullable=False),
    Column("error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("reported_at", UTCDateTime, nullable=True),
    Index("ix_sent_log_unreported", "reported_at", "state"),
)

kv = Table(
    "kv",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("value", Text, nullable=False),
)


@dataclass(frozen=True, slots=True)
class Event:
    """One webhook event held in the inbox until Odoo acknowledged it."""

    id: int
    provider: str
    kind: EventKind
    dedup_key: str
    payload: dict[str, Any]
    received_at: datetime
    attempts: int  # claims so far, this one included
    last_error: str | None


@dataclass(frozen=True, slots=True)
class SentRecord:
    """What the dispatcher handed to a provider under one idempotency key."""

    key: str
    provider: str | None
    provider_message_id: str | None
    state: SendState
    error: str | None
    updated_at: datetime
