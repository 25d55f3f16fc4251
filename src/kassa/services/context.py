"""What every service function needs: the database, settings, providers and a clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, TypeVar

from kassa.config import Settings
from kassa.domain import ProviderAccount
from kassa.services.gateways import Gateways
from kassa.store import Database
from kassa.store.keyring import Keyring

K = TypeVar("K")
V = TypeVar("V")


class ShortCache(Generic[K, V]):
    """Values kept for `ttl` seconds. For data read on every request that rarely changes:
    changes made in this process clear it at once, other processes see them within `ttl`.

    At most `max_items` are kept: when it is full, expired items are dropped, and if none
    had expired, everything is (its keys may come from requests, `/hooks/{provider}/{shop}`
    with any shop name, so they must not grow without end)."""

    def __init__(
        self, ttl: float, clock: Callable[[], float] = time.monotonic, max_items: int = 10_000
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self.max_items = max_items
        self._items: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        item = self._items.get(key)
        if item is None or item[0] < self.clock():
            return None
        return item[1]

    def put(self, key: K, value: V) -> None:
        now = self.clock()
        if len(self._items) >= self.max_items and key not in self._items:
            self._items = {k: item for k, item in self._items.items() if item[0] >= now}
            if len(self._items) >= self.max_items:
                self._items.clear()
        self._items[key] = (now + self.ttl, value)

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()


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
    #: The enabled accounts behind each `/hooks/{provider}/{shop}`, read on every notification.
    hook_accounts: ShortCache[tuple[str, str], list[ProviderAccount]] = field(
        default_factory=lambda: ShortCache(ttl=5.0)
    )
    #: Secrets the hub keeps in its database (`hub_secrets`), once read and decrypted; they
    #: never change.
    secrets: dict[str, str] = field(default_factory=dict)

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
