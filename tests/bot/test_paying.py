"""Paying in the real `kassa bot` process, against the Bot API emulator: from a chosen plan
to an active subscription with its link, through the sandbox, YooKassa's emulator and
Telegram Stars; a `successful_payment` delivered twice; the "Check payment" button; the
internal balance topped up and spent."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from kassa.bot.menu import plan_data
from kassa.services.bot import activation, balance, buyers
from kassa.services.bot import settings as bot_settings
from kassa.services.shops import shops
from kassa.store.tables import (
    bot_balance_entries,
    bot_messages,
    bot_provisioning,
    bot_purchases,
    notifications,
    payments,
)
from tests.bot.conftest import consume, ends_at, plan_id, rows
from tests.bot.process import (
    BotProcess,
    Document,
    ShopBot,
    bot_process,
    containing,
    eventually,
    fresh_user,
    shop_bot,
    waiting_for,
)
from tests.emulators import yookassa as yookassa_emulator
from tests.emulators.telegram import TelegramEmulator, User
from tests.emulators.yookassa import YooKassaEmulator
from tests.helpers import checkout, make_provider_shop
from tests.live import LiveServer

LINK = "Write to @support"


@pytest.fixture(scope="module")
def bots(
    hub: LiveServer, own_database_url: str, telegram: TelegramEmulator
) -> Iterator[BotProcess]:
    """One `kassa bot` for the module; the sandbox it calls is the hub's. Waited for with a
    first bot, longer than a test waits: a loaded machine takes long to start a process."""
    first = shop_bot(hub, telegram)
    with bot_process(own_database_url, telegram, KASSA_PUBLIC_URL=hub.url) as running:
        polling = f"of shop {first.shop.id}: polling"
        eventually(lambda: polling in running.text, what="the bot process", timeout=90)
        yield running


@pytest.fixture(scope="module")
def yookassa() -> Iterator[YooKassaEmulator]:
    with yookassa_emulator.running() as emulator:
        yield emulator


def catalog(telegram: TelegramEmulator, world: ShopBot, user: User, *plans: str) -> Document:
    """A message of the bot's with a button per plan, as the catalog shows them."""
    buttons = [[{"text": "plan", "callback_data": plan_data(each)}] for each in plans]
    return {
        "message_id": secrets.randbelow(10**6) + 10**6,
        "from": world.bot.document(),
        "chat": user.chat(),
        "date": int(time.time()),
        "text": "Plans",
        "reply_markup": {"inline_keyboard": buttons},
    }


def data_of(message: Document) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b.get("callback_data", "") for row in markup.get("inline_keyboard", []) for b in row]


def url_of(message: Document) -> str:
    markup = message["reply_markup"]["inline_keyboard"]
    return str(next(b["url"] for row in markup for b in row if "url" in b))


def newest(telegram: TelegramEmulator, world: ShopBot, user: User, seen: int) -> Document:
    """The bot's first message to `user` after the `seen` ones before."""
    eventually(lambda: len(telegram.sent(world.bot, user)) > seen, what="the bot's next message")
    return telegram.sent(world.bot, user)[seen]


def offer(telegram: TelegramEmulator, world: ShopBot, user: User, plan: str) -> Document:
    """The buyer taps the plan: the bot offers the ways to pay for it."""
    seen = len(telegram.sent(world.bot, user))
    telegram.press(world.bot, user, catalog(telegram, world, user, plan), plan_data(plan))
    return newest(telegram, world, user, seen)


def tap(
    telegram: TelegramEmulator, world: ShopBot, user: User, message: Document, data: str
) -> Document:
    """The buyer taps a button that makes the bot write a new message; that message."""
    seen = len(telegram.sent(world.bot, user))
    telegram.press(world.bot, user, message, data)
    return newest(telegram, world, user, seen)


def answer_to(telegram: TelegramEmulator, query_id: str) -> Document:
    """The bot's answer to a callback query, once it is there."""
    eventually(lambda: query_id in telegram.callback_answers, what="the callback's answer")
    return telegram.callback_answers[query_id]


def activate(hub: LiveServer) -> None:
    """The hub's background work: the activation consumer, then the provisioning job."""
    consume(hub)
    hub.call(activation.provision_due(hub.ctx))


def buyer_of(hub: LiveServer, world: ShopBot, user: User) -> buyers.Buyer:
    return hub.call(buyers.register(hub.ctx, shop_id=world.shop.id, telegram_id=user.id))


def access_messages(hub: LiveServer, user: User) -> list[Any]:
    return [
        m
        for m in rows(hub, bot_messages, bot_messages.c.telegram_id == user.id)
        if m["kind"] == "access"
    ]


def test_sandbox_from_the_plan_to_the_link(
    hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess
) -> None:
    world = shop_bot(hub, telegram)
    user = fresh_user(telegram, language_code="ru")
    bots.polling(world.shop)
    month = plan_id(hub, world.shop)
    offered = offer(telegram, world, user, month)
    assert "Выберите способ оплаты" in offered["text"]
    # A test bot on the test server without a Stars account: the sandbox only.
    assert data_of(offered) == [f"pay:{month}:sandbox"]
    shown = tap(telegram, world, user, offered, f"pay:{month}:sandbox")
    assert "100" in shown["text"]
    payment_id = data_of(shown)[-1].removeprefix("check:")
    waiting = answer_to(telegram, telegram.press(world.bot, user, shown, f"check:{payment_id}"))
    assert "Ещё не оплачен" in waiting["text"]
    # Tapped again at once: the limit answers, the provider is not asked.
    limited = answer_to(telegram, telegram.press(world.bot, user, shown, f"check:{payment_id}"))
    assert "несколько секунд" in limited["text"]

    paid = checkout(hub, {"confirmation": {"url": url_of(shown)}}, "pay")
    assert paid.status_code < 400, paid.text
    activate(hub)
    access = waiting_for(telegram, world.bot, user, containing(LINK), what="the access")
    assert "активна" in access["text"]
    who = buyer_of(hub, world, user)
    (purchase,) = rows(hub, bot_purchases, bot_purchases.c.buyer_id == who.id)
    assert (purchase["status"], purchase["payment_id"]) == ("activated", payment_id)
    assert ends_at(hub, who) == purchase["ends_at"]


def test_yookassa_live_paid_and_found_by_the_check_button(
    hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess, yookassa: YooKassaEmulator
) -> None:
    shop_id, secret_key = yookassa.add_shop()
    settings = {"shop_id": shop_id, "secret_key": secret_key, "api_url": f"{yookassa.base_url}/v3"}
    provider_shop = make_provider_shop(hub, "yookassa", settings, live=True)
    bot = telegram.add_bot(test_environment=False)
    changes = {"token": bot.token, "test": "false", "link_text": LINK}
    hub.call(bot_settings.configure(hub.ctx, shop=provider_shop.shop, changes=changes))
    world = ShopBot(provider_shop.shop, bot)
    user = fresh_user(telegram)
    bots.polling(world.shop)
    month = plan_id(hub, world.shop)
    offered = offer(telegram, world, user, month)
    assert data_of(offered) == [f"pay:{month}:yookassa"]
    assert "YooKassa" in str(offered["reply_markup"])
    shown = tap(telegram, world, user, offered, f"pay:{month}:yookassa")
    payment_id = data_of(shown)[-1].removeprefix("check:")
    (row,) = rows(hub, payments, payments.c.id == payment_id)
    assert (row["provider"], row["test"], row["amount"]) == ("yookassa", False, 10_000)
    assert url_of(shown) == row["confirmation"]["url"]

    # Paid at YooKassa, whose notification never comes: the buyer checks.
    yookassa.pay(row["provider_payment_id"])
    found = answer_to(telegram, telegram.press(world.bot, user, shown, f"check:{payment_id}"))
    assert "Paid!" in found["text"]
    activate(hub)
    waiting_for(telegram, world.bot, user, containing(LINK), what="the access")
    assert len(access_messages(hub, user)) == 1


def test_a_declined_payment_is_told_by_the_check_and_a_stranger_cannot_check_it(
    hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess
) -> None:
    world = shop_bot(hub, telegram)
    user, stranger = fresh_user(telegram), fresh_user(telegram)
    bots.polling(world.shop)
    month = plan_id(hub, world.shop)
    shown = tap(telegram, world, user, offer(telegram, world, user, month), f"pay:{month}:sandbox")
    payment_id = data_of(shown)[-1].removeprefix("check:")
    checkout(hub, {"confirmation": {"url": url_of(shown)}}, "decline")
    failed = answer_to(telegram, telegram.press(world.bot, user, shown, f"check:{payment_id}"))
    assert "did not go through" in failed["text"]
    # Someone else's payment is not theirs to check.
    other = answer_to(telegram, telegram.press(world.bot, stranger, shown, f"check:{payment_id}"))
    assert "could not be checked" in other["text"]


def test_stars_invoice_paid_once_though_successful_payment_comes_twice(
    hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess
) -> None:
    world = shop_bot(hub, telegram)
    stars = {"bot_token": world.bot.token, "api_url": telegram.api_url, "test": "true"}
    hub.call(
        shops.configure_provider(
            hub.ctx, shop=world.shop, provider="telegram_stars", settings=stars
        )
    )
    user = fresh_user(telegram)
    bots.polling(world.shop)
    month = plan_id(hub, world.shop)
    offered = offer(telegram, world, user, month)
    assert data_of(offered) == [f"pay:{month}:sandbox", f"pay:{month}:telegram_stars"]
    assert "75 ⭐" in str(offered["reply_markup"])
    invoice = tap(telegram, world, user, offered, f"pay:{month}:telegram_stars")
    assert invoice["invoice"]["currency"] == "XTR"
    assert invoice["invoice"]["total_amount"] == 75
    payment_id = data_of(invoice)[-1].removeprefix("check:")
    assert telegram.invoices[f"{user.id}/{invoice['message_id']}"]["payload"] == payment_id

    paid = telegram.pay(world.bot, user, invoice)
    assert paid.ok, paid.error_message
    waiting_for(telegram, world.bot, user, containing("Payment received"), what="the thanks")
    assert paid.message is not None
    telegram.deliver_again(world.bot, paid.message)
    # The copy is handled (the bot confirmed it) before the link is sent.
    eventually(
        lambda: (
            len(rows(hub, notifications, notifications.c.provider == "telegram_stars")) >= 2 * 1
        ),
        what="both copies stored",
    )
    activate(hub)
    waiting_for(telegram, world.bot, user, containing(LINK), what="the access")
    who = buyer_of(hub, world, user)
    (purchase,) = rows(hub, bot_purchases, bot_purchases.c.buyer_id == who.id)
    (payment,) = rows(hub, payments, payments.c.id == payment_id)
    assert payment["status"] == "succeeded"
    assert purchase["ends_at"] == ends_at(hub, who)
    assert len(rows(hub, bot_provisioning, bot_provisioning.c.buyer_id == who.id)) == 1
    assert len(access_messages(hub, user)) == 1
    thanks = [m for m in telegram.sent(world.bot, user) if "Payment received" in m.get("text", "")]
    assert len(thanks) == 1

    # Paid now: Telegram asking again about the same invoice is refused.
    again = telegram.pay(world.bot, user, invoice)
    assert again.ok is False
    assert again.error_message == "This order is already paid."


def test_balance_topped_up_then_spent_on_a_renewal_once(
    hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess
) -> None:
    world = shop_bot(hub, telegram, balance="true")
    user = fresh_user(telegram)
    bots.polling(world.shop)
    month = plan_id(hub, world.shop)
    offered = offer(telegram, world, user, month)
    assert "Your balance: RUB 0.00" in offered["text"].replace("\xa0", " ")
    assert "topup" in data_of(offered)
    assert f"bal:{month}" not in data_of(offered)
    amounts = tap(telegram, world, user, offered, "topup")
    assert data_of(amounts) == ["top:10000", "top:24900", "top:44900", "top:99000"]
    ways = tap(telegram, world, user, amounts, "top:10000")
    assert data_of(ways) == ["tpay:10000:sandbox"]
    shown = tap(telegram, world, user, ways, "tpay:10000:sandbox")
    checkout(hub, {"confirmation": {"url": url_of(shown)}}, "pay")
    consume(hub)
    consume(hub)  # replayed: credited once
    waiting_for(telegram, world.bot, user, containing("topped up by"), what="the top-up")
    who = buyer_of(hub, world, user)
    assert hub.call(balance.of(hub.ctx, buyer_id=who.id)) == 10_000

    offered = offer(telegram, world, user, month)
    assert data_of(offered)[0] == f"bal:{month}"
    seen = len(telegram.sent(world.bot, user))
    first = telegram.press(world.bot, user, offered, f"bal:{month}")
    second = telegram.press(world.bot, user, offered, f"bal:{month}")
    answer_to(telegram, first)
    assert "Already paid" in answer_to(telegram, second)["text"]
    renewed = newest(telegram, world, user, seen)
    assert "Paid from your balance" in renewed["text"]
    entries = rows(hub, bot_balance_entries, bot_balance_entries.c.buyer_id == who.id)
    assert sorted(entry["amount"] for entry in entries) == [-10_000, 10_000]
    hub.call(activation.provision_due(hub.ctx))
    waiting_for(telegram, world.bot, user, containing(LINK), what="the access")
    assert len(access_messages(hub, user)) == 1
    (provisioned,) = rows(hub, bot_provisioning, bot_provisioning.c.buyer_id == who.id)
    assert provisioned["reason"] == "balance"
    end = ends_at(hub, who)
    assert end is not None
    assert timedelta(days=29) < end - provisioned["created_at"] <= timedelta(days=30)
