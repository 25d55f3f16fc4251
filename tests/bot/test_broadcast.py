"""`/broadcast` in the real `kassa bot` process: the audience, the text, the preview, then
sent to each recipient once within Telegram's limits (a 429 waited out, a blocked user
counted and not tried again), the progress message edited as it goes, and Stop."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from kassa.services.bot import broadcasts, buyers
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
from tests.emulators.telegram import TelegramEmulator, User
from tests.live import LiveServer

Document = dict[str, Any]


@pytest.fixture(scope="module")
def bots(own_database_url: str, telegram: TelegramEmulator) -> Iterator[BotProcess]:
    """One `kassa bot` for the module: it starts each test's new bot within seconds."""
    with bot_process(own_database_url, telegram) as running:
        eventually(lambda: "kassa.bot.runner" in running.text, what="kassa bot", timeout=120)
        yield running


def audience(hub: LiveServer, telegram: TelegramEmulator, world: ShopBot, n: int) -> list[User]:
    """`n` buyers of the shop's bot, each a Telegram user of the emulator."""
    users = [fresh_user(telegram) for _ in range(n)]
    for user in users:
        hub.call(buyers.register(hub.ctx, shop_id=world.shop.id, telegram_id=user.id))
    return users


def compose(
    telegram: TelegramEmulator, world: ShopBot, owner: User, text: str, chosen: str = "all"
) -> Document:
    """The owner goes through `/broadcast` to the preview; returns the preview message."""
    telegram.send_text(world.bot, owner, "/broadcast")
    menu = waiting_for(telegram, world.bot, owner, containing("Who gets"), what="the audiences")
    telegram.press(world.bot, owner, menu, f"bc:a:{chosen}")
    waiting_for(telegram, world.bot, owner, containing("send me its text"), what="the prompt")
    telegram.send_text(world.bot, owner, text)
    return waiting_for(telegram, world.bot, owner, containing("Send this to"), what="a preview")


def go_data(preview: Document) -> str:
    buttons = [b for row in preview["reply_markup"]["inline_keyboard"] for b in row]
    return next(str(b["callback_data"]) for b in buttons if b["callback_data"].startswith("bc:go:"))


def received(telegram: TelegramEmulator, world: ShopBot, users: list[User], text: str) -> int:
    """How many times `users` together got `text`."""
    return sum(
        message.get("text") == text for user in users for message in telegram.sent(world.bot, user)
    )


def sends(telegram: TelegramEmulator, world: ShopBot, users: list[User]) -> int:
    """sendMessage calls of the bot to `users` (refused ones too)."""
    ids = {str(user.id) for user in users} | {user.id for user in users}
    return sum(
        1
        for bot, method, params in list(telegram.calls)
        if bot == world.bot.username and method == "sendMessage" and params.get("chat_id") in ids
    )


def test_the_audiences_are_counted_from_the_subscriptions(hub: LiveServer) -> None:
    from tests.bot.conftest import bot_shop, buyer

    shop = bot_shop(hub)
    nobody, trying, paying, lapsed = (buyer(hub, shop) for _ in range(4))
    hub.call(buyers.start_trial(hub.ctx, shop_id=shop.id, buyer_id=trying.id))

    async def subscribe(who: buyers.Buyer, now_offset: timedelta) -> None:
        async with hub.ctx.db.write() as conn:
            await buyers.extend(
                conn,
                shop_id=shop.id,
                buyer_id=who.id,
                days=30,
                now=hub.ctx.clock() + now_offset,
                cause=f"test:{who.id}",
                reason="test",
            )

    hub.call(subscribe(paying, timedelta()))
    hub.call(subscribe(lapsed, timedelta(days=-60)))
    sizes = {
        name: hub.call(broadcasts.audience_size(hub.ctx, shop_id=shop.id, audience=name))
        for name in broadcasts.AUDIENCES
    }
    assert sizes == {"all": 4, "active": 2, "expired": 1, "trial": 1}
    assert nobody.id


def test_a_broadcast_reaches_each_once_through_a_429_and_a_blocked_user(
    hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess
) -> None:
    owner = fresh_user(telegram)
    world = shop_bot(hub, telegram, admins=str(owner.id), language="en")
    users = audience(hub, telegram, world, 12)
    blocked = users[3]
    telegram.block(world.bot, blocked)
    bots.polling(world.shop)
    preview = compose(telegram, world, owner, "Big news: new servers")
    assert "everyone (12)" in preview["text"]
    assert received(telegram, world, users, "Big news: new servers") == 0  # only previewed
    # The sixth message of the broadcast is refused with a 429: waited out, then sent.
    telegram.limit(retry_after=1, method="sendMessage", after=5)
    telegram.press(world.bot, owner, preview, go_data(preview))
    done = waiting_for(telegram, world.bot, owner, containing("Broadcast sent."), what="the end")
    assert "12 of 12: sent 11, blocked 1, failed 0" in done["text"]
    assert done["reply_markup"]["inline_keyboard"] == []  # no Stop any more
    others = [user for user in users if user is not blocked]
    assert all(received(telegram, world, [user], "Big news: new servers") == 1 for user in others)
    assert telegram.sent(world.bot, blocked) == []
    assert sends(telegram, world, users) == 12 + 1  # the refused one again; the blocked once
    progress_edits = [
        params
        for bot, method, params in telegram.calls
        if bot == world.bot.username
        and method == "editMessageText"
        and str(params.get("message_id")) == str(preview["message_id"])
    ]
    assert len(progress_edits) >= 2  # as it went, and at the end
    (stored,) = [
        each
        for each in hub.call(broadcasts.list_broadcasts(hub.ctx, shop_id=world.shop.id))
        if each.state == broadcasts.DONE
    ]
    assert stored.counts == Counts(pending=0, sent=11, blocked=1, failed=0)


def test_stop_leaves_the_rest_unsent(
    hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess
) -> None:
    owner = fresh_user(telegram)
    world = shop_bot(hub, telegram, admins=str(owner.id), language="en")
    users = audience(hub, telegram, world, 8)
    bots.polling(world.shop)
    preview = compose(telegram, world, owner, "Maintenance tonight")
    # The fourth message waits 3 s: long enough to press Stop meanwhile.
    telegram.limit(retry_after=3, method="sendMessage", after=3)
    telegram.press(world.bot, owner, preview, go_data(preview))
    eventually(lambda: sends(telegram, world, users) == 4, what="the refused fourth message")
    progress = next(
        m for m in telegram.sent(world.bot, owner) if m["message_id"] == preview["message_id"]
    )
    stop = progress["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert stop.startswith("bc:stop:")
    telegram.press(world.bot, owner, progress, stop)
    waiting_for(telegram, world.bot, owner, containing("Broadcast stopped."), what="stopped")

    def edits() -> int:
        return sum(
            1
            for bot, method, _ in list(telegram.calls)
            if bot == world.bot.username and method == "editMessageText"
        )

    # The sender's last edit, once its wait is over and it sees the stop.
    seen = edits()
    eventually(lambda: edits() > seen, what="the sender's last progress edit")
    assert received(telegram, world, users, "Maintenance tonight") == 3
    (stored,) = hub.call(broadcasts.list_broadcasts(hub.ctx, shop_id=world.shop.id))
    assert stored.state == broadcasts.STOPPED
    assert stored.counts == Counts(pending=5, sent=3)


def test_a_stranger_cannot_broadcast_nor_cancel(
    hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess
) -> None:
    owner, stranger = fresh_user(telegram), fresh_user(telegram)
    world = shop_bot(hub, telegram, admins=str(owner.id), language="en")
    audience(hub, telegram, world, 2)
    bots.polling(world.shop)
    telegram.send_text(world.bot, stranger, "/broadcast")
    telegram.send_text(world.bot, stranger, "/help")
    waiting_for(telegram, world.bot, stranger, containing("/start opens"), what="the help")
    assert len(telegram.sent(world.bot, stranger)) == 1
    preview = compose(telegram, world, owner, "For owners' eyes")
    cancel = go_data(preview).replace("bc:go:", "bc:no:")
    telegram.press(world.bot, owner, preview, cancel)
    waiting_for(telegram, world.bot, owner, containing("Broadcast cancelled"), what="cancelled")
    (stored,) = hub.call(broadcasts.list_broadcasts(hub.ctx, shop_id=world.shop.id))
    assert stored.state == broadcasts.CANCELLED
