"""Fixtures of the club's tests: a club of a new shop (KZT, Asia/Almaty) with a Standard and a
VIP zone, and customers with money on their balance."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from kassa.services.club import clubs, customers, ledger
from kassa.services.club.clubs import Club
from kassa.services.context import Context, utcnow
from tests.cli.conftest import kassa  # noqa: F401 - the `kassa …` runner, for the CLI tests
from tests.club.pc import Clock
from tests.helpers import ShopSetup
from tests.live import LiveServer


@pytest.fixture
def club(server: LiveServer, shop: ShopSetup) -> Club:
    async def setup() -> Club:
        made = await clubs.create(
            server.ctx,
            shop=shop.shop,
            name=f"club-{secrets.token_hex(4)}",
            currency="KZT",
            timezone="Asia/Almaty",
        )
        for zone in ("Standard", "VIP"):
            await clubs.add_zone(server.ctx, club=made, name=zone)
        return made

    return server.call(setup())


def customer(server: LiveServer, club: Club, *, balance: int = 0, login: str | None = None) -> str:
    """A new customer of `club` with `balance` (minor units) topped up in cash; its login."""
    name = login or f"c{secrets.token_hex(4)}"

    async def setup() -> None:
        await customers.register(server.ctx, club=club, login=name, password="secret-1")
        if balance:
            await ledger.topup(server.ctx, club=club, login=name, amount=balance, actor="test")

    server.call(setup())
    return name


def at(server: LiveServer, moment: datetime) -> Context:
    """The server's context with its clock stopped at `moment`."""
    return replace(server.ctx, clock=lambda: moment)


@pytest.fixture
def clock(server: LiveServer) -> Iterator[Clock]:
    """The server's clock, stopped two hours ahead (past any reconnect window) until moved."""
    original = server.ctx.clock
    stopped = Clock(utcnow().replace(microsecond=0) + timedelta(hours=2))
    server.ctx.clock = stopped
    try:
        yield stopped
    finally:
        server.ctx.clock = original
