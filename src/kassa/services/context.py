"""What every service function needs: the database, settings, providers and a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kassa.config import Settings
from kassa.services.configuration import Configuration
from kassa.services.gateways import Gateways
from kassa.store import Database
from kassa.store.keyring import Keyring


def keyring_for(settings: Settings) -> Keyring:
    """The keys of `KASSA_SECRET_KEY`, else of the key file in the data directory."""
    secret_key = settings.secret_key.get_secret_value() if settings.secret_key else None
    return Keyring.configured(secret_key, settings.secret_key_file)


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


@dataclass
class Context:
    """Kassa's running state, built once by `kassa serve` (or a CLI command) and passed down."""

    db: Database
    settings: Settings
    gateways: Gateways
    #: The keys stored secrets are encrypted with (`kassa.services.encryption`).
    keyring: Keyring
    clock: Callable[[], datetime] = field(default=utcnow)
    #: What every request reads of shops, keys and provider accounts, kept until one of them
    #: changes (`kassa.services.configuration`); shared by the copies `dataclasses.replace`
    #: makes, which are the same process.
    configuration: Configuration = field(default_factory=Configuration)
    #: Secrets the hub keeps in its database (`hub_secrets`), once read and decrypted; they
    #: never change.
    secrets: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.configuration.follow(self.db)

    @classmethod
    def open(cls, settings: Settings, *, gateways: Gateways | None = None) -> Context:
        """A context on the configured database; `gateways` default to plain HTTP."""
        return cls(
            db=Database(settings.resolved_database_url, pool_size=settings.database_pool_size),
            settings=settings,
            gateways=gateways or Gateways(settings),
            keyring=keyring_for(settings),
        )

    async def close(self) -> None:
        await self.gateways.aclose()
        await self.db.dispose()
