"""The admin UI under test: a Kassa that believes X-Forwarded-* from loopback (so every test
client can come from an address of its own, and rate limits per address stay per test), its
users of each role, and a client that signs in and fills in forms as a browser would."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from kassa.domain import Payment, PaymentStatus, Role, new_id
from kassa.services.admin import audit
from kassa.services.admin import users as admins
from kassa.services.context import utcnow
from kassa.store import records
from kassa.store.tables import payments
from tests.helpers import ShopSetup
from tests.live import LiveServer, fresh_postgres, sqlite_url

PASSWORD = "correct-horse-battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class People:
    owner: str
    operator: str
    viewer: str


def new_user(server: LiveServer, role: Role, password: str = PASSWORD) -> str:
    """A new admin user with `role`; returns the name."""
    name = f"{role.value}-{secrets.token_hex(4)}"
    server.call(
        admins.create_user(server.ctx, name=name, role=role, password=password, actor=audit.CLI)
    )
    return name


@pytest.fixture(scope="session")
def admin_database_url(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database of the admin tests' own, on the same backend: the open payments, users and
    audit entries they leave stay out of the way of tests that count what is due."""
    if database_url.startswith("sqlite"):
        yield sqlite_url(str(tmp_path_factory.mktemp("admin-sqlite")))
    else:
        yield from fresh_postgres(os.environ["KASSA_TEST_DATABASE_URL"])


@pytest.fixture(scope="session")
def admin_server(admin_database_url: str) -> Iterator[LiveServer]:
    live = LiveServer(admin_database_url, trusted_proxies=["127.0.0.1"]).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="session")
def people(admin_server: LiveServer) -> People:
    return People(
        owner=new_user(admin_server, Role.OWNER),
        operator=new_user(admin_server, Role.OPERATOR),
        viewer=new_user(admin_server, Role.VIEWER),
    )


def new_address() -> str:
    """An IPv6 address in a /64 network of its own (sign-in limits count an IPv6 address by
    its /64)."""
    return f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::{secrets.token_hex(2)}"


class Visitor(httpx.Client):
    """A browser without script: keeps cookies, comes from its own address (or `address`),
    reads each form's CSRF token from the page it is on."""

    def __init__(self, server: LiveServer, address: str | None = None, **headers: str) -> None:
        address = address or new_address()
        super().__init__(
            base_url=server.url,
            headers={"X-Forwarded-For": address, **headers},
            timeout=30,
        )
        self.address = address

    def login(self, name: str, password: str = PASSWORD, next: str = "") -> httpx.Response:
        page = self.get("/admin/login")
        token = CSRF.search(page.text)
        assert token, page.text
        form = {"name": name, "password": password, "csrf_token": token.group(1)}
        if next:
            form["next"] = next
        return self.post("/admin/login", data=form)

    def token(self, page: str) -> str:
        found = CSRF.search(self.get(page).text)
        assert found, f"no CSRF token on {page}"
        return found.group(1)

    def submit(self, page: str, action: str | None = None, **fields: Any) -> httpx.Response:
        """Open `page` and send its form (to `action`, default the page itself)."""
        data = {"csrf_token": self.token(page), **fields}
        return self.post(action or page, data=data)


@pytest.fixture
def visitor(admin_server: LiveServer) -> Iterator[Visitor]:
    with Visitor(admin_server) as client:
        yield client


def signed_in(server: LiveServer, name: str) -> Visitor:
    client = Visitor(server)
    response = client.login(name)
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
def owner(admin_server: LiveServer, people: People) -> Iterator[Visitor]:
    client = signed_in(admin_server, people.owner)
    yield client
    client.close()


@pytest.fixture
def operator(admin_server: LiveServer, people: People) -> Iterator[Visitor]:
    client = signed_in(admin_server, people.operator)
    yield client
    client.close()


@pytest.fixture
def viewer(admin_server: LiveServer, people: People) -> Iterator[Visitor]:
    client = signed_in(admin_server, people.viewer)
    yield client
    client.close()


def text_of(html: str) -> str:
    """A page's text, tags dropped and whitespace collapsed (no-break spaces kept)."""
    text = re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", html)).strip()
    return unescape(text)


def insert_payments(
    server: LiveServer, shop: ShopSetup, count: int, **fields: Any
) -> list[Payment]:
    """`count` payments of `shop` written straight to the database (no provider): fast
    bulk data for lists and exports. Oldest first; ids increase."""
    now = utcnow()
    made = [
        Payment(
            **{
                "id": new_id("pay"),
                "shop_id": shop.shop.id,
                "test": True,
                "provider": "sandbox",
                "provider_account_id": shop.sandbox.id,
                "status": PaymentStatus.SUCCEEDED,
                "amount": 10_000 + number,
                "amount_captured": 10_000 + number,
                "currency": "RUB",
                "capture": True,
                "customer": f"bulk-{number}",
                "created_at": now,
                "updated_at": now,
                **fields,
            }
        )
        for number in range(count)
    ]

    async def write() -> None:
        async with server.ctx.db.write() as conn:
            await conn.execute(insert(payments), [records.payment_values(p) for p in made])

    server.call(write())
    return made
