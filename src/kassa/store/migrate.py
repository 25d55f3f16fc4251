"""Applying Alembic migrations from code (`kassa migrate`, and `kassa serve` on start)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import make_url

from kassa.store.keyring import Keyring

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str, keyring: Keyring | None = None) -> Config:
    """An Alembic configuration for `url`, with the migrations shipped inside the package and
    the `keyring` of migrations that encrypt or decrypt stored secrets (0012)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = url
    config.attributes["keyring"] = keyring
    return config


def upgrade(url: str, revision: str = "head", *, keyring: Keyring | None = None) -> None:
    """Bring the database at `url` to `revision`. Call it outside a running event loop.
    Without a `keyring`, a database that holds secrets stored as they are (made before
    0012) cannot be upgraded."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url, keyring), revision)
