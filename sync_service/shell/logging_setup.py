"""JSON log lines with secrets redacted.

One JSON object per line: ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``msg``, every ``extra``
field, and ``exc`` (the traceback) when there is one. :class:`RedactingFilter` masks, before any
formatting: the secret values registered with it (auth tokens, passwords), the values of extras
whose key names a secret (password, token, secret, api_key, auth ...) and the quoted values of such keys
inside the text (the RPC library's DEBUG lines carry whole requests and answers), credentials inside URLs
(``https://user:pass@host``) and ``Bearer``/``Basic`` authorization values.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

REDACTED = "***"
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words everywhere
SECRET_KEY = re.compile(r"password|passwd|token|secret|api_?key|auth|credential", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^/\s:@]*):[^/\s@]+@", re.IGNORECASE)
_AUTH_VALUE = re.compile(r"\b(?P<kind>Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
# A secret-named key and its quoted value inside text (a dict's repr or JSON, as the RPC library logs its
# requests and answers at DEBUG before any secret is known): 'secret': 'x', "password": "x", "auth_token":"x".
_KEYED_VALUE = re.compile(
    r"""(?P<key>(?P<q>["'])[\w.-]*(?:password|passwd|token|secret|api_?key|auth|credential)[\w.-]*(?P=q)\s*:\s*)"""
    r"""(?P<vq>["'])(?:\\.|(?!(?P=vq)).)*(?P=vq)""",
    re.IGNORECASE,
)

# Attributes every LogRecord has: anything else on a record came from ``extra=``.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_HANDLER_NAME = "sync_service.json"
_active: RedactingFilter | None = None


class RedactingFilter(logging.Filter):
    """Masks secrets in the message, the extras and the traceback of every record it sees."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        self.register(*secrets)

    def register(self, *secrets: str | None) -> None:
        """Add secret values to mask (empty and very short values are ignored)."""
        with self._lock:
            known = set(self._secrets)
            known.update(s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH)
            # Longest first, so a secret containing another is masked whole.
            self._secrets = tuple(sorted(known, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        text = _KEYED_VALUE.sub(lambda m: f"{m['key']}{m['vq']}{REDACTED}{m['vq']}", text)
        text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
        return _AUTH_VALUE.sub(lambda m: f"{m['kind']} {REDACTED}", text)

    def _value(self, key: str, value: Any) -> Any:
        if SECRET_KEY.search(key):
            return REDACTED
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {str(k): self._value(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._value("", v) for v in value]
        if isinstance(value, bool | int | float) or value is None:
            return value
        return self.redact(str(value))

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # bad format arguments must not break the caller
            message = f"{record.msg!r} (unformattable arguments {record.args!r})"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
            record.exc_info = None  # the redacted text replaces it
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key in [k for k in vars(record) if k not in _RECORD_ATTRS]:
            setattr(record, key, self._value(key, getattr(record, key)))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, msg, the extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and key not in entry:
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup_logging(
    level: str | int = "INFO", secrets: Iterable[str | None] = (), stream: TextIO | None = None
) -> RedactingFilter:
    """Send every log record (root logger) as redacted JSON lines to ``stream`` (stderr by default).

    Idempotent: a second call replaces the handler of the first. Returns the filter, whose
    ``register()`` adds secrets learnt later. Run uvicorn with ``log_config=None`` so its loggers
    propagate here.
    """
    if isinstance(level, str):
        numeric = logging.getLevelName(level.strip().upper())
        if not isinstance(numeric, int):
            raise ValueError(f"unknown log level {level!r}; expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
        level = numeric
    redactor = RedactingFilter()
    redactor.register(*secrets)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level)
    global _active
    _active = redactor
    return redactor


def register_secrets(*secrets: str | None) -> None:
    """Mask these values in every log line of the handler installed by :func:`setup_logging`."""
    if _active is None:
        raise RuntimeError("setup_logging() has not been called: no log redactor to register secrets with")
    _active.register(*secrets)
