"""`kassa bot` stopped and started again: the stored update offset means an update that came
while no bot ran is handled once, and one handled before is not handled again.

A module of its own: the other modules' `kassa bot` runs every shop's bot, and two processes
polling one bot would both handle its updates (run one `kassa bot` per bot; Telegram ends
the older of two polls with 409)."""

from __future__ import annotations

from sqlalchemy import select

from kassa.store.tables import bot_settings
from tests.bot.process import bot_process, containing, eventually, fresh_user, shop_bot, waiting_for
from tests.emulators.telegram import TelegramEmulator
from tests.live import LiveServer


def test_a_restart_neither_loses_nor_repeats_an_update(
    hub: LiveServer, telegram: TelegramEmulator, own_database_url: str
) -> None:
    world = shop_bot(hub, telegram)
    user = fresh_user(telegram)
    with bot_process(own_database_url, telegram, [world.shop]) as running:
        telegram.send_text(world.bot, user, "/start")
        waiting_for(telegram, world.bot, user, containing("Welcome"), what="a welcome")
        assert running.stop() == 0
    telegram.send_text(world.bot, user, "/help")  # while no bot runs
    with bot_process(own_database_url, telegram, [world.shop]):
        waiting_for(telegram, world.bot, user, containing("/help: this help"), what="the help")
        telegram.send_text(world.bot, user, "/help")
        eventually(lambda: len(telegram.sent(world.bot, user)) == 3, what="the second help")
    texts = [message["text"] for message in telegram.sent(world.bot, user)]
    assert sum("Welcome" in text for text in texts) == 1
    assert sum("/help: this help" in text for text in texts) == 2

    async def offset() -> int | None:
        query = select(bot_settings.c.update_offset)
        async with hub.ctx.db.read() as conn:
            found = await conn.execute(query.where(bot_settings.c.shop_id == world.shop.id))
            return found.scalar()

    assert hub.call(offset()) is not None
