"""The runner stores a bot's update offset only past updates whose handler returned: one whose
handler raised `HandleLater` (Kassa could not record a Stars payment) is asked for again and
handled then, once; one whose handler failed otherwise is passed over. The runner runs here
in-process with a real dispatcher, and Telegram's `getUpdates` played by the test."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram import Dispatcher, Router
from aiogram.types import Chat, Message, Update

from kassa.bot import runner
from kassa.bot.scope import HandleLater, Scope
from kassa.services.bot import settings as bot_settings
from tests.bot.process import shop_bot
from tests.emulators.telegram import TelegramEmulator
from tests.live import LiveServer


def update(update_id: int, text: str) -> Update:
    chat = Chat(id=1, type="private")
    message = Message(message_id=update_id, date=datetime.now(UTC), chat=chat, text=text)
    return Update(update_id=update_id, message=message)


def test_an_update_to_handle_later_is_not_confirmed_and_comes_again(
    hub: LiveServer, telegram: TelegramEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "BACKOFF", (0.01,))
    world = shop_bot(hub, telegram)
    settings = hub.call(bot_settings.get(hub.ctx, shop_id=world.shop.id))
    handled: list[str] = []
    router = Router()

    @router.message()
    async def handle(message: Message, scope: Scope) -> None:
        handled.append(message.text or "")
        if message.text == "paid" and handled.count("paid") == 1:
            raise HandleLater("the database did not answer")
        if message.text == "broken":
            raise RuntimeError("a bug")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    bot = runner.ShopBot(hub.ctx, settings, dispatcher)
    stop = asyncio.Event()
    pending = [update(7, "broken"), update(8, "paid"), update(9, "after")]
    asked: list[int | None] = []

    async def get_updates(offset: int | None = None, **_: Any) -> list[Update]:
        asked.append(offset)
        if len(asked) > 3:
            stop.set()
        return [u for u in pending if offset is None or u.update_id >= offset]

    bot.bot.get_updates = get_updates  # type: ignore[method-assign,assignment]

    async def poll() -> None:
        try:
            await bot._poll(stop)
        finally:
            await bot.bot.session.close()

    hub.call(poll())
    # The broken one passed over; "paid" not confirmed, so asked for again from 8, then done.
    assert handled[:4] == ["broken", "paid", "paid", "after"]
    assert asked[:3] == [None, 8, 10]
    assert hub.call(bot_settings.update_offset(hub.ctx, shop_id=world.shop.id)) == 10
