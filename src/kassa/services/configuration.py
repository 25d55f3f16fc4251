"""What every request reads and rarely changes, kept in memory until it changes.

Creating a payment reads the API key (and with it the shop and the mode), and the shop's
enabled provider accounts; a notification reads the accounts behind its URL. These rows change
a few times a year and are read on every request, so each process keeps what it read
(`Configuration`, one per `Context`) and drops all of it when any of them changes:

- **in this process, at once**: a service that writes `shops`, `api_keys` or
  `provider_accounts` calls `changed(conn)` in its transaction; once it commits, the
  `Context`'s cache is cleared (`Database.on_commit`);
- **in every other process, within `CHECK_EVERY`**: triggers on the three tables (migration
  `0014_configuration_version`) bump the `configuration` row of `change_counters` in the
  writing transaction, whoever writes: Kassa's services, `kassa keys revoke` in a process of
  its own, or a person at `psql`. A process reads that one row at most every `CHECK_EVERY`,
  and only when it is asked for a cached value: the request that finds the last check too
  old reads it (one row by its key) and those that come meanwhile wait for that reading;
  between checks no request waits, and an idle process reads nothing. When the counter
  moved, the cache is cleared. So no request is answered from what its process knew more
  than `CHECK_EVERY` (plus one check's round trip) before it came, on SQLite as on
  PostgreSQL, with any number of processes.

A value read from the database while the cache was cleared (the read may have begun before
the change committed) is not kept: each clear starts a new `epoch`, and a value is kept only
if the epoch it was read in is still the current one.

Every kind of value is kept in a `Cached` of its own, bounded by `max_items` (when full, it
is emptied: keys may come from requests). Lookups that find nothing (an unknown API key) are
not kept at all.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import ProviderAccount, Shop
from kassa.store.db import Database, touch
from kassa.store.tables import change_counters

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: The `change_counters` row the triggers bump with every change to the three tables.
COUNTER = "configuration"
#: The topic of a transaction that changed them, heard by this process's caches on commit.
TOPIC = "configuration"
#: How long a process answers from its cache before it looks at the counter again (seconds).
CHECK_EVERY = 0.25

_VERSION = select(change_counters.c.value).where(change_counters.c.name == COUNTER)


def changed(conn: AsyncConnection) -> None:
    """Call in a transaction that writes `shops`, `api_keys` or `provider_accounts`: once it
    commits, this process's caches forget what they read (other processes learn through the
    triggers' counter)."""
    touch(conn, TOPIC)


class ConfigurationCache:
    """One process's cached configuration: the `Cached` kinds of values it made, the
    counter's value they were read at, and when it was last looked at."""

    def __init__(
        self, *, check_every: float = CHECK_EVERY, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.check_every = check_every
        self.clock = clock
        #: Starts anew with every clear; a value read in an older epoch is not kept.
        self.epoch = 0
        self._kinds: list[Cached[Any, Any]] = []
        self._version: int | None = None
        self._checked_until = float("-inf")
        #: Set when the reading in flight is done.
        self._checking: asyncio.Event | None = None
        self._following: Database | None = None

    def kind(self, *, max_items: int = 10_000) -> Cached[K, V]:
        """A new kind of cached value (API keys, accounts by id …), cleared with the others."""
        cached: Cached[K, V] = Cached(self, max_items)
        self._kinds.append(cached)
        return cached

    def clear(self) -> None:
        """Forget every value (what a change does)."""
        self.epoch += 1
        for cached in self._kinds:
            cached.items.clear()

    def follow(self, db: Database) -> None:
        """Clear the cache whenever a transaction of this process on `db` changes them."""
        if self._following is not db:
            self._following = db
            db.on_commit(self.heard)

    def heard(self, topics: frozenset[str]) -> None:
        """A `Database.on_commit` listener: a transaction of this process changed them."""
        if TOPIC in topics:
            self.clear()

    async def check(self, db: Database) -> None:
        """Clear the cache if the counter moved since it was last read, reading it at most
        every `check_every` seconds. When the last reading is too old, one task reads it and
        the others wait for that reading (never answering from a cache not checked since)."""
        while (started := self.clock()) >= self._checked_until:
            if self._checking is not None:
                await self._checking.wait()
                continue  # checked meanwhile, unless that check failed: then check again
            self._checking = asyncio.Event()
            try:
                async with db.read() as conn:
                    version = (await conn.execute(_VERSION)).scalar_one_or_none()
            finally:
                self._checking.set()
                self._checking = None
            self._checked_until = started + self.check_every
            if version != self._version:
                self._version = version
                self.clear()


class Cached(Generic[K, V]):
    """Values of one kind, kept until the configuration changes; at most `max_items`."""

    def __init__(self, cache: ConfigurationCache, max_items: int) -> None:
        self.cache = cache
        self.max_items = max_items
        self.items: dict[K, V] = {}

    async def get(self, db: Database, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The value kept for `key`, else what `load()` reads, kept unless it is `None` (found
        nothing) or the configuration changed while it was read."""
        await self.cache.check(db)
        try:
            return self.items[key]
        except KeyError:
            pass
        epoch = self.cache.epoch
        value = await load()
        if value is not None and epoch == self.cache.epoch:
            if len(self.items) >= self.max_items:
                self.items.clear()
            self.items[key] = value
        return value

    def __len__(self) -> int:
        return len(self.items)


class Configuration(ConfigurationCache):
    """What is kept: every kind of value a request reads of shops, keys and accounts."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        #: Each active API key's shop, mode (True: test) and id, by the SHA-256 of its secret.
        self.api_keys: Cached[str, tuple[Shop, bool, str] | None] = self.kind()
        #: Provider accounts by id (disabled ones too: payments made through them refer to
        #: them).
        self.accounts: Cached[str, ProviderAccount | None] = self.kind()
        #: A shop's enabled accounts in one mode, by (shop id, test): a new payment's choice.
        self.enabled_accounts: Cached[tuple[str, bool], list[ProviderAccount]] = self.kind()
        #: The enabled accounts behind each `/hooks/{provider}/{shop}`, by (shop name,
        #: provider).
        self.hook_accounts: Cached[tuple[str, str], list[ProviderAccount]] = self.kind()
