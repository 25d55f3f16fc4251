"""A broadcast being sent when `kassa bot` is killed is taken up again by the next process,
and nobody gets it twice.

A module of its own: the process here runs the module's one shop's bot and is killed (two processes
polling one bot would both handle its updates). The kill comes while the sender waits out a
429, so no message is between Telegram and its mark: the one recipient a kill at that moment
could make get it twice (`kassa.services.bot.broadcasts`) is not in play.
"""

from __future__ import annotations

from kassa.services.bot import broadcasts
from kassa.services.bot.broadcasts import Counts
from tests.bot.process import (
    BotProcess,
    ShopBot,
    bot_process,
    containing,
    eventually,
    fresh_user,
    shop_bot,
    waiting_for,
)
from tests.bot.test_broadcast import audience, compose, go_data, received, sends
from tests.emulators.telegram import TelegramEmulator
from tests.live import LiveServer


def polling(running: BotProcess, world: ShopBot) -> None:
    """Wait for the module's one bot (its only shop's) to poll: a loaded machine may take a
    while to start `kassa bot`."""
    line = f"of shop {world.shop.id}: polling"
    eventually(lambda: line in running.text, what="the bot", timeout=120)


def test_a_killed_process_resumes_the_broadcast_without_sending_anyone_twice(
    hub: LiveServer, telegram: TelegramEmulator, own_database_url: str
) -> None:
    owner = fresh_user(telegram)
    world = shop_bot(hub, telegram, admins=str(owner.id), language="en")
    users = audience(hub, telegram, world, 9)
    text = "Prices change on Monday"
    with bot_process(own_database_url, telegram) as running:
        polling(running, world)
        preview = compose(telegram, world, owner, text)
        # The sixth message waits a minute: the process is killed meanwhile.
        telegram.limit(retry_after=60, method="sendMessage", after=5)
        telegram.press(world.bot, owner, preview, go_data(preview))
        eventually(lambda: sends(telegram, world, users) == 6, what="the refused sixth message")
        running.kill()
    assert received(telegram, world, users, text) == 5
    (stored,) = hub.call(broadcasts.list_broadcasts(hub.ctx, shop_id=world.shop.id))
    assert stored.state == broadcasts.SENDING
    assert stored.counts == Counts(pending=4, sent=5)
    with bot_process(own_database_url, telegram) as again:
        polling(again, world)
        waiting_for(telegram, world.bot, owner, containing("Broadcast sent."), what="the end")
    assert all(received(telegram, world, [user], text) == 1 for user in users)
    done = hub.call(broadcasts.get(hub.ctx, broadcast_id=stored.id))
    assert done.state == broadcasts.DONE
    assert done.counts == Counts(sent=9)
