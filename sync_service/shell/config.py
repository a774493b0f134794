"""Service configuration: `SMS_SYNC_*` environment variables, or a `.env` file in the working directory."""

from __future__ import annotations

import os
import socket

from pydantic import Field, HttpUrl, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the service needs to run. Secrets are `SecretStr`: never printed, never logged."""

    model_config = SettingsConfigDict(
        env_prefix="SMS_SYNC_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    odoo_url: HttpUrl = Field(
        HttpUrl("http://localhost:8069"), description="Base URL of Odoo (http or https)."
    )
    odoo_db: str = Field("odoo", min_length=1, description="Odoo database name.")
    odoo_login: str = Field("admin", min_length=1, description="Login of the service's Odoo user.")
    odoo_password: SecretStr = Field(
        SecretStr("admin"), description="Password or API key of the service's Odoo user."
    )
    odoo_timeout: float = Field(30.0, gt=0, description="Seconds to wait for one Odoo RPC call.")
    public_base_url: HttpUrl | None = Field(
        None, description="Public base URL of the webhooks, as the providers call them (signatures use it)."
    )
    store_url: str = Field(
        "sqlite:///sms_sync.db",
        description="SQLAlchemy URL of the durable store: SQLite file, or PostgreSQL for several replicas.",
    )
    listen_host: str = Field("127.0.0.1", description="Address the webhook server listens on.")
    listen_port: int = Field(8080, ge=1, le=65535, description="Port the webhook server listens on.")
    log_level: str = Field("INFO", description="Logging level (DEBUG, INFO, WARNING, ERROR).")

    # Dispatcher
    worker_id: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}", min_length=1, max_length=128,
        description="Name of this worker in Odoo's claims (default hostname-pid: unique per process).",
    )
    batch_size: int = Field(100, ge=1, le=1000, description="SMS claimed from Odoo per batch.")
    lease_seconds: int = Field(
        120, ge=5, le=3600, description="Seconds a claimed batch stays reserved to this worker."
    )
    concurrency: int = Field(16, ge=1, le=256, description="Provider calls in flight at once.")
    accounts_refresh_seconds: float = Field(
        60.0, gt=0, description="Seconds between two reads of the gateway accounts from Odoo."
    )
    poll_interval: float = Field(2.0, gt=0, description="Seconds to wait when Odoo has nothing to send.")
    max_attempts: int = Field(
        4, ge=1, le=20,
        description="Provider calls per message and claim; then it is reported 'retry' and stays queued.",
    )
    retry_base_seconds: float = Field(
        0.5, ge=0, description="First retry delay (doubles each retry, jittered)."
    )
    retry_cap_seconds: float = Field(
        30.0, ge=0, description="Longest retry delay (a longer Retry-After wins)."
    )
    stuck_after_seconds: float = Field(
        300.0, gt=0,
        description="A send begun this long ago and never finished belongs to a dead worker: reported as "
        "'unknown outcome', never re-sent.",
    )
    optout_recheck_seconds: float = Field(
        1.0, ge=0, description="Largest age of the opt-out check made just before a marketing SMS leaves."
    )
    metrics_port: int | None = Field(
        None, ge=1, le=65535,
        description="Serve the dispatcher's Prometheus metrics on this port (unset: not served).",
    )


class ConfigError(Exception):
    """The configuration is invalid; the message names the variables at fault."""


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning pydantic's validation errors into one readable line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"SMS_SYNC_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from exc
