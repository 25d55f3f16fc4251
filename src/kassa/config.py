"""Settings, read from `KASSA_*` environment variables; every one has an embedded default."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Kassa's configuration. `KASSA_DATABASE_URL=…` overrides `database_url`, and so on."""

    model_config = SettingsConfigDict(env_prefix="KASSA_", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Where the embedded SQLite database lives.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default sqlite+aiosqlite:///<data_dir>/kassa.db. "
        "PostgreSQL: postgresql+asyncpg://user@host/db.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = Field(
        None,
        description="The URL payers and providers reach Kassa at (checkout pages, notification "
        "URLs); default http://<host>:<port>.",
    )
    max_body_bytes: int = Field(1_048_576, description="Largest request body accepted.")
    api_rate_limit: float = Field(100.0, description="Requests per second per API key.")
    api_rate_burst: int = Field(200, description="Requests an API key may burst above the rate.")
    idempotency_ttl_hours: int = Field(24, description="How long Idempotency-Key replays last.")
    payment_expires_in: int = Field(
        86_400, description="Default seconds from creation until an unpaid payment expires."
    )
    provider_timeout: float = Field(15.0, description="Seconds to wait for a provider's API.")
    background: bool = Field(True, description="Run the background loop inside `kassa serve`.")
    log_level: str = "info"

    @property
    def resolved_database_url(self) -> str:
        """The database URL in use: the configured one or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'kassa.db'}"

    @property
    def resolved_public_url(self) -> str:
        """The public base URL without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
