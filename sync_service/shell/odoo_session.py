"""An Odoo RPC session shared by a role's threads: logs in on first use, again after Odoo went away."""

from __future__ import annotations

import threading
from typing import Any

from sync_service.shell.config import Settings
from sync_service.shell.odoo_client import OdooClient, OdooUnreachable


class OdooSession:
    """``call(model, method, ...)`` like :class:`OdooClient`, one call at a time, (re)connecting lazily.

    A role can start while Odoo is down: the first call that finds Odoo reachable logs in. After an
    ``OdooUnreachable`` the session is dropped, so the next call logs in again (Odoo may have been
    restarted, and its session with it).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._client: OdooClient | None = None

    def client(self) -> OdooClient:
        with self._lock:
            return self._connected()

    def _connected(self) -> OdooClient:
        if self._client is None:
            self._client = OdooClient.connect(self.settings)
        return self._client

    def call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            client = self._connected()
            try:
                return client.call(model, method, *args, **kwargs)
            except OdooUnreachable:
                self._client = None
                raise

    def check(self) -> bool:
        """Odoo answers and the service's user is logged in (for /healthz)."""
        uid = self.client().uid
        return bool(self.call("res.users", "search_count", [("id", "=", uid)]))
