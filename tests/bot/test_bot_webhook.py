"""A bot in webhook mode: the real `kassa bot` sets its webhook at the emulator and still
sends its outbox; the emulator posts the buyers' updates to the live server's
`/telegram/{shop}`, which checks the secret, hands each update to the dispatcher once, and
answers through the Bot API."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from kassa.services.bot import buyers, reminders
from kassa.services.bot import settings as bot_settings
from kassa.services.context import utcnow
from kassa.store.tables import bot_webhook_updates
from tests.bot.process import (
    ROOT,
    BotProcess,
    ShopBot,
    bot_process,
    containing,
    eventually,
    fresh_user,
    shop_bot,
    waiting_for,
)
from tests.bot.test_reminders_and_alerts import at
from tests.emulators.telegram import TelegramEmulator
from tests.emulators.telegram_wire import SECRET_HEADER
from tests.live import LiveServer


@pytest.fixture(scope="module")
def hub(own_database_url: str, telegram: TelegramEmulator) -> Iterator[LiveServer]:
    """Kassa serving the module's database, its bots' answers going to the emulator."""
    live = LiveServer(own_database_url, telegram_api_url=telegram.api_url).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def bots(
    own_database_url: str, telegram: TelegramEmulator, hub: LiveServer
) -> Iterator[BotProcess]:
    """One `kassa bot` for the module, telling Telegram that Kassa is at the live server."""
    with bot_process(own_database_url, telegram, KASSA_PUBLIC_URL=hub.url) as running:
        # Started (on a loaded machine that takes a while) once it looked for bots.
        eventually(lambda: "no shop has a bot" in running.text, what="kassa bot", timeout=90)
        yield running


def webhook_bot(hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess) -> ShopBot:
    """A new shop whose bot is in webhook mode, once `kassa bot` has set its webhook."""
    world = shop_bot(hub, telegram, mode="webhook")
    url = f"{hub.url}/telegram/{world.shop.id}"
    try:
        eventually(lambda: world.bot.webhook_url == url, what="the webhook")
    except AssertionError:
        raise AssertionError(f"no webhook at {url}:\n{bots.text}") from None
    return world


def handled(hub: LiveServer, world: ShopBot) -> int:
    async def count() -> int:
        query = select(func.count()).where(bot_webhook_updates.c.shop_id == world.shop.id)
        async with hub.ctx.db.read() as conn:
            return int((await conn.execute(query)).scalar_one())

    return hub.call(count())


def test_updates_arrive_by_webhook_and_the_outbox_is_still_sent(
    hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess
) -> None:
    world = webhook_bot(hub, telegram, bots)
    # The update types the bot's handlers take: commands, buttons and Stars' pre-checkout.
    assert {"message", "callback_query", "pre_checkout_query"} <= set(
        world.bot.webhook_allowed or ()
    )
    assert world.bot.webhook_secret
    user = fresh_user(telegram, language_code="ru")
    update = telegram.send_text(world.bot, user, "/start")
    welcome = waiting_for(telegram, world.bot, user, containing(world.shop.name), what="welcome")
    assert "Добро пожаловать" in welcome["text"]
    # The answer reaches the emulator after the welcome the handling sent.
    eventually(lambda: len(world.bot.deliveries) == 1, what="the delivery's answer")
    assert [status for _, status in world.bot.deliveries] == [200], bots.text
    assert handled(hub, world) == 1

    # A reminder the job writes is sent by `kassa bot`, which no longer polls this bot.
    buyer = hub.call(buyers.register(hub.ctx, shop_id=world.shop.id, telegram_id=user.id))

    async def subscribe() -> Any:
        async with hub.ctx.db.write() as conn:
            return await buyers.extend(
                conn,
                shop_id=world.shop.id,
                buyer_id=buyer.id,
                days=30,
                now=utcnow() - timedelta(days=28),
                cause=f"test:{buyer.id}",
                reason="purchase",
            )

    hub.call(subscribe())
    assert hub.call(reminders.remind_due(at(hub, utcnow()))) >= 1
    reminder = waiting_for(
        telegram, world.bot, user, containing("закончится через 3 дня"), what="the reminder"
    )
    assert reminder["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "catalog"
    assert update["message_id"]  # the buyer's own message is not among the bot's
    assert not any(
        method == "getUpdates" for name, method, _ in telegram.calls if name == world.bot.username
    )


def test_a_repeated_update_has_one_effect(
    hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess
) -> None:
    world = webhook_bot(hub, telegram, bots)
    user = fresh_user(telegram)
    telegram.send_text(world.bot, user, "/start")
    waiting_for(telegram, world.bot, user, containing(world.shop.name), what="welcome")
    eventually(lambda: len(world.bot.deliveries) == 1, what="the delivery's answer")
    ((update_id, status),) = world.bot.deliveries
    assert status == 200
    # Telegram posts it again (its connection broke before the answer), twice at once.
    answers: list[int | None] = []

    def repost() -> None:
        answers.append(telegram.repost(world.bot, update_id))

    threads = [threading.Thread(target=repost) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200, 200]
    time.sleep(0.5)  # an effect would be a second welcome, sent by now
    assert len(telegram.sent(world.bot, user)) == 1
    assert handled(hub, world) == 1


def test_a_new_update_posted_twice_at_once_is_handled_once(
    hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess
) -> None:
    world = webhook_bot(hub, telegram, bots)
    user = fresh_user(telegram)
    update = {
        "update_id": 900_001,
        "message": {
            "message_id": 1,
            "from": user.document(),
            "chat": user.chat(),
            "date": int(time.time()),
            "text": "/help",
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
        },
    }
    headers = {SECRET_HEADER: world.bot.webhook_secret or ""}
    answers: list[int] = []

    def post() -> None:
        with httpx.Client(timeout=30) as http:
            response = http.post(world.bot.webhook_url, json=update, headers=headers)
            answers.append(response.status_code)

    threads = [threading.Thread(target=post) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One handled it; the others found it handled (200) or in hand (503: Telegram retries).
    assert 200 in answers
    assert set(answers) <= {200, 503}
    waiting_for(telegram, world.bot, user, containing("/start"), what="the help")
    time.sleep(0.5)
    assert len(telegram.sent(world.bot, user)) == 1


def test_a_wrong_or_missing_secret_is_refused_and_telegram_retries(
    hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess
) -> None:
    world = webhook_bot(hub, telegram, bots)
    polled = shop_bot(hub, telegram)
    secret = world.bot.webhook_secret
    assert secret
    update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": 1}}}
    with httpx.Client(base_url=hub.url, timeout=30) as http:
        for shop_id, headers in (
            (world.shop.id, {SECRET_HEADER: secret[:-1] + ("A" if secret[-1] != "A" else "B")}),
            (world.shop.id, {}),
            (polled.shop.id, {SECRET_HEADER: secret}),
            ("shop_nosuchshop", {SECRET_HEADER: secret}),
        ):
            refused = http.post(f"/telegram/{shop_id}", json=update, headers=headers)
            assert refused.status_code == 401, refused.text
            assert refused.json()["error"]["code"] == "authentication_failed"
        assert handled(hub, world) == 0
        bad = http.post(
            f"/telegram/{world.shop.id}", content=b"[]", headers={SECRET_HEADER: secret}
        )
        assert bad.status_code == 422
        assert bad.json()["error"]["code"] == "invalid_request"

    # Telegram with a secret Kassa does not know is refused, and tries again until it is told
    # the right one.
    world.bot.webhook_secret = "not-the-secret"
    user = fresh_user(telegram)
    telegram.send_text(world.bot, user, "/start")
    eventually(lambda: len(world.bot.deliveries) >= 2, what="the retries")
    assert {status for _, status in world.bot.deliveries} == {401}
    info = httpx.get(f"{telegram.bot_url(world.bot)}/getWebhookInfo").json()["result"]
    assert info["pending_update_count"] == 1
    assert "401" in info["last_error_message"]
    assert telegram.sent(world.bot, user) == []
    world.bot.webhook_secret = secret
    waiting_for(telegram, world.bot, user, containing(world.shop.name), what="welcome")
    eventually(lambda: world.bot.deliveries[-1][1] == 200, what="the delivery's answer")


def test_a_polled_bot_has_its_webhook_deleted(
    hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess
) -> None:
    bot = telegram.add_bot()
    set_before = httpx.post(
        f"{telegram.bot_url(bot)}/setWebhook", json={"url": "https://example.com/old"}
    )
    assert set_before.json()["result"] is True
    world = shop_bot(hub, telegram, bot=bot)
    bots.polling(world.shop)
    assert bot.webhook_url == ""
    user = fresh_user(telegram)
    telegram.send_text(bot, user, "/start")
    waiting_for(telegram, bot, user, containing(world.shop.name), what="welcome by polling")


def test_a_bot_switched_to_polling_is_polled_and_back_to_webhook(
    hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess
) -> None:
    world = webhook_bot(hub, telegram, bots)
    url = world.bot.webhook_url
    hub.call(bot_settings.configure(hub.ctx, shop=world.shop, changes={"mode": "polling"}))
    eventually(lambda: world.bot.webhook_url == "", what="the webhook deleted")
    user = fresh_user(telegram)
    telegram.send_text(world.bot, user, "/start")
    waiting_for(telegram, world.bot, user, containing(world.shop.name), what="welcome by polling")
    assert world.bot.deliveries == []
    hub.call(bot_settings.configure(hub.ctx, shop=world.shop, changes={"mode": "webhook"}))
    eventually(lambda: world.bot.webhook_url == url, what="the webhook set again")


def test_kassa_serve_starts_without_aiogram() -> None:
    """The route imports the bot's code when an update comes, not before."""
    script = (
        "import sys\n"
        "from kassa.web.app import create_app\n"
        "create_app()\n"
        "print(sorted(m for m in sys.modules if m.startswith(('aiogram', 'kassa.bot'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout
