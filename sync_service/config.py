"""Service configuration: `SMS_SYNC_*` environment variables, or a `.env` file in the working directory."""

from __future__ import annotations

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
