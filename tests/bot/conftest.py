"""Fixtures of the bot's services: a Kassa of the module's own (the provisioning job takes
every row due), shops with a bot, and a fake panel that records what it is asked."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import ColumnElement, RowMapping, Table, select

from kassa.domain import Event, Shop
from kassa.panels import Access, Panel, PanelDown, PanelRefused, PanelUser
from kassa.services.bot import activation, buyers, purchases
from kassa.services.bot import settings as bot_settings
from kassa.services.context import Context
from kassa.services.events.consumers import Registry, dispatch
from kassa.store import records
from kassa.store.tables import bot_subscriptions, events
from tests.emulators import telegram as telegram_emulator
from tests.emulators.telegram import TelegramEmulator
from tests.helpers import checkout, make_shop
from tests.live import LiveServer

ONLY_BOT = Registry()
ONLY_BOT.register(activation.CONSUMER)


@pytest.fixture(scope="module")
def telegram() -> Iterator[TelegramEmulator]:
    """The Bot API emulator, for a module's bots."""
    with telegram_emulator.running() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def hub(own_database_url: str) -> Iterator[LiveServer]:
    live = LiveServer(own_database_url).start()
    live.call(dispatch(live.ctx, ONLY_BOT))  # the consumer starts at the end of the outbox
    try:
        yield live
    finally:
        live.stop()


class Crash(Exception):
    """The worker dies: neither a panel's failure nor anything the job expects."""


@dataclass
class FakePanel(Panel):
    """A panel that keeps its users in memory: `down` makes it fail as an unreachable one,
    `refuse` as one that refuses, `crash_after` makes the job's process die right after the
    panel did the work."""

    name = "fake"
    users: dict[str, datetime] = field(default_factory=dict)
    calls: list[PanelUser] = field(default_factory=list)
    down: bool = False
    refuse: bool = False
    crash_after: bool = False

    def __post_init__(self) -> None:
        super().__init__({}, http=httpx.AsyncClient())

    async def provision(self, user: PanelUser) -> Access:
        if self.down:
            raise PanelDown("the panel did not answer")
        if self.refuse:
            raise PanelRefused("the panel refused the user", code="A019")
        self.calls.append(user)
        self.users[user.username] = user.expires_at
        if self.crash_after:
            raise Crash
        return Access(user.username, f"vless://{user.username}", user.expires_at)

    async def find(self, username: str) -> Access | None:
        if username not in self.users:
            return None
        return Access(username, f"vless://{username}", self.users[username])

    async def factory(self, settings: Mapping[str, str], http: httpx.AsyncClient) -> Panel | None:
        """For shops with `panel=marzban`: this panel; for the others, Kassa's own choice."""
        if settings["panel"] != "marzban":
            return await activation.adapters(settings, http)
        assert settings["panel_password"] == "panel-secret"  # opened for the adapter only
        return self


def bot_shop(hub: LiveServer, **changes: str) -> Shop:
    """A new shop (sandbox in test mode) with a bot configured with `changes`."""
    setup = make_shop(hub)
    settings = {"token": f"123:{secrets.token_hex(8)}", "link_text": "Write to @support", **changes}
    hub.call(bot_settings.configure(hub.ctx, shop=setup.shop, changes=settings))
    return setup.shop


def buyer(hub: LiveServer, shop: Shop, referral_code: str | None = None) -> buyers.Buyer:
    telegram_id = secrets.randbelow(10**9) + 1
    return hub.call(
        buyers.register(
            hub.ctx, shop_id=shop.id, telegram_id=telegram_id, referral_code=referral_code
        )
    )


def plan_id(hub: LiveServer, shop: Shop, name: str = "1 month") -> str:
    from kassa.services.bot import plans

    found = hub.call(plans.list_plans(hub.ctx, shop_id=shop.id))
    return next(plan.id for plan in found if plan.name == name)


def buy(hub: LiveServer, shop: Shop, who: buyers.Buyer, **options: Any) -> purchases.Purchase:
    """Start a purchase of a month and pay it at the sandbox's checkout."""
    purchase = hub.call(
        purchases.start(hub.ctx, shop=shop, buyer_id=who.id, plan_id=plan_id(hub, shop), **options)
    )
    assert purchase.payment.confirmation is not None
    page = {"confirmation": dict(purchase.payment.confirmation)}
    response = checkout(hub, page, "pay")
    assert response.status_code < 400, response.text
    return purchase


def succeeded(hub: LiveServer, payment_id: str) -> Event:
    async def read() -> Event:
        query = select(events).where(
            events.c.payment_id == payment_id, events.c.type == "payment.succeeded"
        )
        async with hub.ctx.db.read() as conn:
            return records.event((await conn.execute(query)).mappings().one())

    return hub.call(read())


def consume(hub: LiveServer, ctx: Context | None = None) -> None:
    """Two workers at once run the consumer, twice."""
    import asyncio

    used = ctx or hub.ctx

    async def rounds() -> None:
        for _ in range(2):
            await asyncio.gather(dispatch(used, ONLY_BOT), dispatch(used, ONLY_BOT))

    hub.call(rounds())


def ends_at(hub: LiveServer, who: buyers.Buyer) -> datetime | None:
    async def read() -> datetime | None:
        query = select(bot_subscriptions.c.ends_at).where(bot_subscriptions.c.buyer_id == who.id)
        async with hub.ctx.db.read() as conn:
            found: datetime | None = (await conn.execute(query)).scalar()
            return found

    return hub.call(read())


def rows(hub: LiveServer, table: Table, *conditions: ColumnElement[bool]) -> Sequence[RowMapping]:
    """The rows of `table` that meet `conditions`."""

    async def read() -> Sequence[RowMapping]:
        async with hub.ctx.db.read() as conn:
            return (await conn.execute(select(table).where(*conditions))).mappings().all()

    return hub.call(read())
