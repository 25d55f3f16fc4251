"""The real `kassa bot` process against the Bot API emulator: `/start`, and the messages
services leave for buyers, sent once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from kassa.services.bot import buyers
from kassa.store.tables import bot_messages
from tests.bot.process import (
    BotProcess,
    bot_process,
    containing,
    eventually,
    fresh_user,
    shop_bot,
    waiting_for,
)
from tests.emulators.telegram import TelegramEmulator
from tests.live import LiveServer


@pytest.fixture(scope="module")
def bots(own_database_url: str, telegram: TelegramEmulator) -> Iterator[BotProcess]:
    """One `kassa bot` for the module: it starts each test's new bot within seconds."""
    with bot_process(own_database_url, telegram) as running:
        yield running


def test_start_registers_the_buyer_with_their_inviter_and_shows_the_menu(
    hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess
) -> None:
    world = shop_bot(hub, telegram)
    inviter = hub.call(buyers.register(hub.ctx, shop_id=world.shop.id, telegram_id=42))
    russian = fresh_user(telegram, language_code="ru")
    bots.polling(world.shop)
    telegram.send_text(world.bot, russian, f"/start ref_{inviter.referral_code}")
    welcome = waiting_for(
        telegram, world.bot, russian, containing(world.shop.name), what="a welcome"
    )
    assert "Добро пожаловать" in welcome["text"]
    buttons = [
        b["callback_data"] for row in welcome["reply_markup"]["inline_keyboard"] for b in row
    ]
    assert "catalog" in buttons
    registered = hub.call(buyers.register(hub.ctx, shop_id=world.shop.id, telegram_id=russian.id))
    assert registered.invited_by == inviter.id
    assert registered.language == "ru"


def test_a_message_left_for_a_buyer_is_sent_once_in_their_language(
    hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess
) -> None:
    world = shop_bot(hub, telegram)
    russian = fresh_user(telegram, language_code="ru")
    hub.call(buyers.register(hub.ctx, shop_id=world.shop.id, telegram_id=russian.id, language="ru"))

    async def leave() -> None:
        async with hub.ctx.db.write() as conn:
            await conn.execute(
                bot_messages.insert().values(
                    id=f"access:test-{russian.id}",
                    shop_id=world.shop.id,
                    telegram_id=russian.id,
                    kind="access",
                    params={"link": "vless://secret-link", "ends_at": "2027-01-05T10:00:00+00:00"},
                    created_at=hub.ctx.clock(),
                )
            )

    hub.call(leave())
    bots.polling(world.shop)
    access = waiting_for(
        telegram, world.bot, russian, containing("vless://secret-link"), what="the access"
    )
    eventually(lambda: _sent_at(hub, f"access:test-{russian.id}"), what="marked sent")
    assert "активна" in access["text"]
    assert len(telegram.sent(world.bot, russian)) == 1


def _sent_at(hub: LiveServer, message_id: str) -> bool:
    async def sent() -> bool:
        async with hub.ctx.db.read() as conn:
            query = select(bot_messages.c.sent_at).where(bot_messages.c.id == message_id)
            return (await conn.execute(query)).scalar() is not None

    return hub.call(sent())
