"""The service's only door into Odoo: JSON-RPC through odoorpc, with errors turned into clear types."""

from __future__ import annotations

import socket
import urllib.error
from dataclasses import dataclass
from typing import Any

import odoorpc
import odoorpc.error

from sync_service.shell.config import Settings


class OdooError(Exception):
    """Base of every error talking to Odoo; `str()` is one line for an operator."""


class OdooUnreachable(OdooError):
    """Odoo did not answer (down, wrong URL, network): a transient condition."""


class OdooDatabaseError(OdooError):
    """The configured database does not exist or cannot be opened."""


class OdooAuthError(OdooError):
    """Odoo refused the login or the API key."""


class OdooCallError(OdooError):
    """Odoo answered a call with an error (access right, validation, server bug)."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    protocol: str  # odoorpc's name: "jsonrpc" or "jsonrpc+ssl"

    @classmethod
    def from_url(cls, url: str) -> Endpoint:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        ssl = parts.scheme == "https"
        return cls(parts.hostname, parts.port or (443 if ssl else 80), "jsonrpc+ssl" if ssl else "jsonrpc")


def _describe_rpc_error(exc: odoorpc.error.RPCError) -> str:
    info = exc.info if isinstance(exc.info, dict) else {}
    data = info.get("data") if isinstance(info.get("data"), dict) else {}
    message = str(data.get("message") or exc.args[0] if exc.args else exc)
    return message.strip().splitlines()[0] if message.strip() else type(exc).__name__


class OdooClient:
    """A logged-in JSON-RPC session. Use `OdooClient.connect(settings)`."""

    def __init__(self, odoo: odoorpc.ODOO, settings: Settings) -> None:
        self._odoo = odoo
        self.settings = settings

    @classmethod
    def connect(cls, settings: Settings) -> OdooClient:
        url = str(settings.odoo_url)
        endpoint = Endpoint.from_url(url)
        try:
            odoo = odoorpc.ODOO(
                endpoint.host, protocol=endpoint.protocol, port=endpoint.port, timeout=settings.odoo_timeout
            )
        except (urllib.error.URLError, OSError, odoorpc.error.InternalError) as exc:
            raise OdooUnreachable(f"Odoo is unreachable at {url}: {_reason(exc)}") from exc
        try:
            odoo.login(settings.odoo_db, settings.odoo_login, settings.odoo_password.get_secret_value())
        except (urllib.error.URLError, OSError) as exc:
            raise OdooUnreachable(f"Odoo is unreachable at {url}: {_reason(exc)}") from exc
        except odoorpc.error.RPCError as exc:
            text = _describe_rpc_error(exc)
            if "Wrong login ID or password" in str(exc) or "Access Denied" in text:
                raise OdooAuthError(
                    f"Odoo refused the login {settings.odoo_login!r} on database {settings.odoo_db!r}"
                    " (wrong password or API key)"
                ) from exc
            if "does not exist" in text or "database" in text.lower():
                raise OdooDatabaseError(
                    f"Odoo database {settings.odoo_db!r} cannot be opened at {url}: {text}"
                ) from exc
            raise OdooCallError(f"Odoo refused the login: {text}") from exc
        return cls(odoo, settings)

    @property
    def server_version(self) -> str:
        return str(self._odoo.version)

    @property
    def uid(self) -> int:
        return int(self._odoo.env.uid)

    def call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call a public model method; raises `OdooUnreachable` or `OdooCallError`."""
        try:
            return self._odoo.execute_kw(model, method, list(args), kwargs)
        except (urllib.error.URLError, OSError) as exc:
            raise OdooUnreachable(f"Odoo is unreachable: {_reason(exc)}") from exc
        except odoorpc.error.RPCError as exc:
            raise OdooCallError(f"{model}.{method}: {_describe_rpc_error(exc)}") from exc

    def module_state(self, name: str) -> str | None:
        rows = self.call("ir.module.module", "search_read", [("name", "=", name)], fields=["state"])
        return rows[0]["state"] if rows else None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    return str(exc) or type(exc).__name__
