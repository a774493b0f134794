"""``sms-sync run``: the service's roles in one process, until SIGTERM/SIGINT.

* ``dispatcher``: claims queued SMS from Odoo and sends them (:mod:`sync_service.dispatch.dispatcher`);
* ``webhooks``: the signed webhook server (:mod:`sync_service.webhooks.role`) and the inbox applier
  that hands what it stored to Odoo (:mod:`sync_service.webhooks.applier`);
* ``carts``: the abandoned-cart watcher (:mod:`sync_service.carts.watcher`).

A role whose module cannot be loaded is reported and left out (asked for alone: exit 2).

A role whose Odoo is unreachable keeps retrying; a role that crashes stops the others (exit 1).
SIGTERM stops claiming, lets the sends in flight finish, reports them, releases unsent claims.
"""

from __future__ import annotations

import importlib
import logging
import signal
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import FrameType

from prometheus_client import CollectorRegistry, start_http_server

from sync_service.dispatch.accounts import AccountCache
from sync_service.dispatch.dispatcher import Dispatcher, DispatchOptions
from sync_service.dispatch.metrics import DispatcherMetrics
from sync_service.dispatch.outbox import OdooOutbox
from sync_service.dispatch.send_journal import SendJournal
from sync_service.gateways import HttpOptions
from sync_service.shell.config import ConfigError, Settings
from sync_service.shell.logging_setup import register_secrets, setup_logging
from sync_service.shell.odoo_session import OdooSession
from sync_service.store import Store, StoreError

logger = logging.getLogger("sync_service.shell.runner")

ROLES: tuple[str, ...] = ("dispatcher", "webhooks", "carts")
ROLE_MODULES: dict[str, str] = {"carts": "sync_service.carts.watcher"}  # roles whose module may be missing
STOP_TIMEOUT = 60.0  # seconds a role may take to finish its in-flight work after SIGTERM


class RoleUnavailable(Exception):
    """None of the requested roles can run in this version."""


@dataclass
class _Role:
    name: str
    target: Callable[[], None]
    cleanup: Callable[[], None] = lambda: None
    stop: Callable[[], None] = lambda: None
    thread: threading.Thread | None = None
    failed: bool = False

    def start(self) -> None:
        def main() -> None:
            try:
                self.target()
            except Exception:
                self.failed = True
                logger.exception("role %s crashed", self.name)
            finally:
                try:
                    self.cleanup()
                except Exception:
                    logger.exception("role %s: cleanup failed", self.name)

        self.thread = threading.Thread(target=main, name=f"role-{self.name}", daemon=True)
        self.thread.start()


def unavailable_roles() -> dict[str, str]:
    """Roles this installation cannot run, with the reason."""
    missing: dict[str, str] = {}
    for role, module in ROLE_MODULES.items():
        try:
            importlib.import_module(module)
        except ImportError as exc:
            missing[role] = f"its module {module} cannot be loaded ({exc})"
    return missing


def runnable_roles(requested: Iterable[str] | None) -> list[str]:
    """The roles to run; unavailable ones are logged, RoleUnavailable when none is left."""
    wanted = list(dict.fromkeys(requested or ROLES))
    unknown = [role for role in wanted if role not in ROLES]
    if unknown:
        raise ValueError(f"unknown role(s) {', '.join(unknown)}; expected {', '.join(ROLES)}")
    missing = unavailable_roles()
    available = [role for role in wanted if role not in missing]
    for role in wanted:
        if role in missing:
            message = f"role {role!r} is not available: {missing[role]}"
            if available:
                logger.warning("%s; running %s", message, ", ".join(available))
            else:
                raise RoleUnavailable(message)
    return available


@dataclass
class Service:
    """The roles of one process sharing one store, one metrics registry and one stop event."""

    settings: Settings
    store: Store
    stop: threading.Event = field(default_factory=threading.Event)
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    roles: list[_Role] = field(default_factory=list)

    def add_dispatcher(self) -> Dispatcher:
        settings = self.settings
        session = OdooSession(settings)
        outbox = OdooOutbox(session, claim_client=OdooSession(settings))
        accounts = AccountCache(
            outbox.provider_accounts,
            refresh_seconds=settings.accounts_refresh_seconds,
            gateway_options=HttpOptions(pool_size=settings.concurrency),
            on_secrets=_register_secrets,
        )
        journal = SendJournal(self.store)
        dispatcher = Dispatcher(
            outbox, accounts, journal,
            worker_id=settings.worker_id,
            options=DispatchOptions.from_settings(settings),
            metrics=DispatcherMetrics.create(self.registry),
            callback_base_url=str(settings.public_base_url).rstrip("/") if settings.public_base_url else None,
        )

        def cleanup() -> None:
            dispatcher.close()
            journal.close()
            accounts.close()

        self.roles.append(_Role("dispatcher", lambda: dispatcher.run(self.stop), cleanup))
        return dispatcher

    def add_webhooks(self) -> None:
        import uvicorn

        from sync_service.webhooks.applier import InboxApplier
        from sync_service.webhooks.role import build_webhook_app

        settings = self.settings
        session = OdooSession(settings)
        applier = InboxApplier(self.store, session, worker_id=settings.worker_id)

        def accounts() -> list[dict[str, object]]:
            return list(session.call("sms.marketing.api", "get_provider_accounts"))

        app = build_webhook_app(
            settings, self.store, accounts, session.check,
            on_event=applier.on_event,
            refresh_seconds=settings.accounts_refresh_seconds,
        )
        config = uvicorn.Config(
            app, host=settings.listen_host, port=settings.listen_port, log_config=None,
            access_log=False, lifespan="off",
        )
        server = uvicorn.Server(config)

        def stop_server() -> None:
            server.should_exit = True

        self.roles.append(_Role("webhooks", server.run, app.close, stop=stop_server))
        self.roles.append(_Role("applier", lambda: applier.run(self.stop)))

    def add_carts(self) -> None:
        from sync_service.carts.watcher import CartWatcher

        session = OdooSession(self.settings)
        watcher = CartWatcher(self.store, session, worker_id=f"{self.settings.worker_id}-carts")
        self.roles.append(_Role("carts", lambda: watcher.run(self.stop)))

    def start(self) -> None:
        if self.settings.metrics_port:
            start_http_server(
                self.settings.metrics_port, addr=self.settings.listen_host, registry=self.registry
            )
        for role in self.roles:
            role.start()

    def wait(self) -> int:
        """Block until ``stop`` is set or a role dies; stop every role; the exit code."""
        exit_code = 0
        while not self.stop.wait(0.5):
            dead = [role for role in self.roles if role.thread is not None and not role.thread.is_alive()]
            if dead:
                names = ", ".join(role.name for role in dead)
                logger.error("role(s) %s ended unexpectedly: stopping the service", names)
                exit_code = 1
                self.stop.set()
        for role in self.roles:
            role.stop()
        for role in self.roles:
            if role.thread is not None:
                role.thread.join(STOP_TIMEOUT)
                if role.thread.is_alive():
                    logger.error("role %s did not stop within %.0f s", role.name, STOP_TIMEOUT)
                    exit_code = 1
        if any(role.failed for role in self.roles):
            exit_code = 1
        self.store.close()
        logger.info("sms-sync stopped", extra={"exit_code": exit_code})
        return exit_code


def _register_secrets(*secrets: str | None) -> None:
    try:
        register_secrets(*secrets)
    except RuntimeError:  # logging not set up by the service (tests, embedding)
        return


def build_service(settings: Settings, roles: Sequence[str]) -> Service:
    service = Service(settings, Store.from_url(settings.store_url))
    if "dispatcher" in roles:
        service.add_dispatcher()
    if "webhooks" in roles:
        service.add_webhooks()
    if "carts" in roles:
        service.add_carts()
    return service


def run(settings: Settings, requested: Iterable[str] | None = None) -> int:
    """Run the roles until SIGTERM/SIGINT; 0 after a clean stop, 1 on failure, 2 when no role can run."""
    setup_logging(settings.log_level, secrets=[settings.odoo_password.get_secret_value()])
    try:
        roles = runnable_roles(requested)
    except RoleUnavailable as exc:
        logger.error("%s", exc)
        print(f"error: {exc}", flush=True)
        return 2
    try:
        service = build_service(settings, roles)
    except (ConfigError, StoreError) as exc:
        logger.error("cannot start: %s", exc)
        print(f"error: {exc}", flush=True)
        return 1

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s: stopping (finishing the sends in flight)", signal.Signals(signum).name)
        service.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    logger.info("sms-sync started", extra={"roles": roles, "worker": settings.worker_id})
    service.start()
    return service.wait()
