"""What every service function needs: the database, settings, providers and a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kassa.config import Settings
from kassa.domain import ProviderAccount, Shop
from kassa.services.configuration import Cached, ConfigurationCache
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
    #: changes (`kassa.services.configuration`), and its kinds below.
    configuration: ConfigurationCache = field(default_factory=ConfigurationCache)
    #: Each active API key's shop, mode (True: test) and id, by the SHA-256 of its secret.
    api_keys: Cached[str, tuple[Shop, bool, str] | None] = field(init=False)
    #: Provider accounts by id (disabled ones too: payments made through them refer to them).
    accounts: Cached[str, ProviderAccount | None] = field(init=False)
    #: A shop's enabled accounts in one mode, by (shop id, test): a new payment's choice.
    enabled_accounts: Cached[tuple[str, bool], list[ProviderAccount]] = field(init=False)
    #: The enabled accounts behind each `/hooks/{provider}/{shop}`, by (shop name, provider).
    hook_accounts: Cached[tuple[str, str], list[ProviderAccount]] = field(init=False)
    #: Secrets the hub keeps in its database (`hub_secrets`), once read and decrypted; they
    #: never change.
    secrets: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.api_keys = self.configuration.kind()
        self.accounts = self.configuration.kind()
        self.enabled_accounts = self.configuration.kind()
        self.hook_accounts = self.configuration.kind()
        self._unsubscribe = self.db.on_commit(self.configuration.heard)

    @classmethod
    def open(cls, settings: Settings, *, gateways: Gateways | None = None) -> Context:
        """A context on the configured database; `gateways` default to plain HTTP."""
        return cls(
            db=Database(settings.resolved_database_url),
            settings=settings,
            gateways=gateways or Gateways(settings),
            keyring=keyring_for(settings),
        )

    async def close(self) -> None:
        self._unsubscribe()
        await self.gateways.aclose()
        await self.db.dispose()
