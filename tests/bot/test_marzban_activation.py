"""Activation end to end on the Marzban emulator, through the adapter Kassa builds from the
bot's settings (its sealed password opened for it): the panel's user ends exactly when the
subscription does, a renewal moves that end once, and the buyer gets one link per purchase."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from kassa.services.bot import activation
from kassa.store.tables import bot_messages
from tests.bot.conftest import bot_shop, buy, buyer, consume, ends_at, rows
from tests.emulators.marzban import PASSWORD, MarzbanEmulator, running
from tests.live import LiveServer


@pytest.fixture(scope="module")
def marzban() -> Iterator[MarzbanEmulator]:
    with running() as emulator:
        yield emulator


def provision(hub: LiveServer) -> None:
    async def both() -> None:
        await asyncio.gather(activation.provision_due(hub.ctx), activation.provision_due(hub.ctx))

    hub.call(both())


def test_a_purchase_and_its_renewal_on_marzban(hub: LiveServer, marzban: MarzbanEmulator) -> None:
    shop = bot_shop(
        hub,
        panel="marzban",
        panel_url=marzban.url,
        panel_user=marzban.admin,
        panel_password=PASSWORD,
    )
    who = buyer(hub, shop)
    username = f"tg_{who.telegram_id}"
    buy(hub, shop, who)
    consume(hub)
    provision(hub)
    first = ends_at(hub, who)
    assert first is not None
    assert marzban.user(username)["expire"] == int(first.timestamp())

    buy(hub, shop, who)
    consume(hub)
    provision(hub)
    provision(hub)
    second = ends_at(hub, who)
    assert second is not None
    assert (second - first).days == 30
    assert marzban.user(username)["expire"] == int(second.timestamp())
    sent = rows(hub, bot_messages, bot_messages.c.telegram_id == who.telegram_id)
    assert [message["kind"] for message in sent] == ["access", "access"]
    link = marzban.url + marzban.user(username)["subscription_url"]
    assert {message["params"]["link"] for message in sent} == {link}
