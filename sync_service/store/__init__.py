"""Durable store of the sync service: webhook inbox, sent log, key/value cursors."""

from sync_service.store.models import EVENT_KINDS, Event, EventKind, SendState, SentRecord
from sync_service.store.store import Clock, Store, StoreError, StoreUnavailable, utcnow

__all__ = [
    "EVENT_KINDS",
    "Clock",
    "Event",
    "EventKind",
    "SendState",
    "SentRecord",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "utcnow",
]
