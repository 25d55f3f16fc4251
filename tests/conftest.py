"""Fixtures shared by every test.

Every test that needs a database runs on SQLite and, when `KASSA_TEST_DATABASE_URL` points at
a PostgreSQL server, on PostgreSQL too (in a fresh database created for the session). Tests
isolate themselves by creating their own shop, so one server per backend serves them all.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import make_url

from kassa.store.keyring import new_key
from tests.helpers import ShopSetup, make_shop
from tests.live import LiveServer, fresh_postgres, sqlite_url

# Stored secrets are encrypted: every Kassa of the session, in this process or one of its
# own, has this key, as several hosts sharing one database would.
os.environ.setdefault("KASSA_SECRET_KEY", new_key())

BACKENDS = ["sqlite"]
if os.environ.get("KASSA_TEST_DATABASE_URL"):
    BACKENDS.append("postgresql")


def new_database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A new migrated database on `backend` ("sqlite" or "postgresql"), dropped afterwards."""
    if backend == "sqlite":
        yield sqlite_url(str(tmp_path_factory.mktemp("sqlite")))
    else:
        yield from fresh_postgres(os.environ["KASSA_TEST_DATABASE_URL"])


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    yield from new_database(request.param, tmp_path_factory)


@pytest.fixture(scope="module")
def own_database_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of `database_url`'s kind for one test module alone: for background jobs
    that must not meet other tests' data, and for tables of the tests' own."""
    yield from new_database(make_url(database_url).get_backend_name(), tmp_path_factory)


@pytest.fixture(scope="session")
def server(database_url: str) -> Iterator[LiveServer]:
    live = LiveServer(database_url).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def shop(server: LiveServer) -> ShopSetup:
    """A new shop with the sandbox provider and a test API key."""
    return make_shop(server)


@pytest.fixture
def api(server: LiveServer, shop: ShopSetup) -> Iterator[httpx.Client]:
    """An HTTP client for the merchant API, authenticated as `shop`."""
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {shop.key}"}, timeout=30
    ) as client:
        yield client
