"""What every service function needs: the database, settings, providers and a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kassa.config import Settings
from kassa.services.gateways import Gateways
from kassa.store import Database


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


@dataclass
class Context:
    """Kassa's running state, built once by `kassa serve` (or a CLI command) and passed down."""

    db: Database
    settings: Settings
    gateways: Gateways
    clock: Callable[[], datetime] = field(default=utcnow)

    @classmethod
    def open(cls, settings: Settings, *, gateways: Gateways | None = None) -> Context:
        """A context on the configured database; `gateways` default to plain HTTP."""
        return cls(
            db=Database(settings.resolved_database_url),
            settings=settings,
            gateways=gateways
            or Gateways(public_url=settings.resolved_public_url, timeout=settings.provider_timeout),
        )

    async def close(self) -> None:
        await self.gateways.aclose()
        await self.db.dispose()
