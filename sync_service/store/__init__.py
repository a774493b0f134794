"""Durable store of the sync service: webhook inbox, sent log, key/value cursors."""

from .models import EVENT_KINDS, Event, EventKind, SendState, SentRecord
from .store import Clock, Store, StoreError, StoreUnavailable, utcnow

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
