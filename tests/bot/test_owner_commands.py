"""The owner's commands in the real `kassa bot` process: `/stats`, `/find`, `/refund` (a
double tap on Yes refunds once) and the kiosk owner's commands; a stranger gets none of it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from kassa.bot.owner import refund_id
from kassa.services.bot import buyers, purchases
from kassa.services.bot import settings as bot_settings
from kassa.services.callers import Caller
from kassa.services.devices import terminals, tokens
from kassa.services.payments import lifecycle, refunds
from tests.bot.conftest import buy
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


@pytest.fixture(scope="module")
def bots(
    own_database_url: str, telegram: TelegramEmulator, hub: LiveServer
) -> Iterator[BotProcess]:
    """One `kassa bot` for the module: it starts each test's new bot within seconds. It
    reaches the sandbox (to refund) at the hub's URL, as a real one does at Kassa's."""
    with bot_process(own_database_url, telegram, KASSA_PUBLIC_URL=hub.url) as running:
        # Started before any shop has a bot; a loaded machine may take a while to get there.
        eventually(lambda: "kassa.bot.runner" in running.text, what="kassa bot", timeout=120)
        yield running


def owned_bot(
    hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess
) -> tuple[ShopBot, User]:
    owner = fresh_user(telegram)
    world = shop_bot(hub, telegram, admins=str(owner.id))
    bots.polling(world.shop)
    return world, owner


def ask(telegram: TelegramEmulator, world: ShopBot, user: User, text: str, expect: str) -> str:
    """`user` writes `text`; the text of the bot's first answer since containing `expect`."""
    before = len(telegram.sent(world.bot, user))

    def answer() -> list[str]:
        texts = [m.get("text", "") for m in telegram.sent(world.bot, user)[before:]]
        return [each for each in texts if expect in each]

    telegram.send_text(world.bot, user, text)
    eventually(lambda: bool(answer()), what=f"{expect!r} in answer to {text}")
    return answer()[0]


def paid_purchase(hub: LiveServer, world: ShopBot, user: User) -> purchases.Purchase:
    who = hub.call(
        buyers.register(hub.ctx, shop_id=world.shop.id, telegram_id=user.id, name="Anna Petrova")
    )
    return buy(hub, world.shop, who)


def test_a_stranger_gets_none_of_the_owners_answers(
    hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess
) -> None:
    world, _owner = owned_bot(hub, telegram, bots)
    stranger = fresh_user(telegram)
    payment = paid_purchase(hub, world, stranger).payment
    commands = [
        "/stats",
        f"/find {stranger.id}",
        f"/refund {payment.id}",
        "/broadcast",
        "/kiosks",
        "/add_kiosk KIOSK_X",
        "/regenerate_token KIOSK_X",
        "/send_payment KIOSK_X 10",
    ]
    for command in commands:
        telegram.send_text(world.bot, stranger, command)
    telegram.send_text(world.bot, stranger, "/help")  # updates are handled in order
    waiting_for(telegram, world.bot, stranger, containing("/start opens"), what="the help")
    assert len(telegram.sent(world.bot, stranger)) == 1
    assert hub.call(terminals.list_terminals(hub.ctx, shop_id=world.shop.id)) == []
    assert hub.call(refunds.payment_refunds(hub.ctx, payment_id=payment.id)) == []


def test_stats_shows_revenue_payments_and_subscriptions(
    hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess
) -> None:
    world, owner = owned_bot(hub, telegram, bots)
    paid_purchase(hub, world, fresh_user(telegram))
    tried = hub.call(buyers.register(hub.ctx, shop_id=world.shop.id, telegram_id=owner.id + 1))
    hub.call(buyers.start_trial(hub.ctx, shop_id=world.shop.id, buyer_id=tried.id))
    text = ask(telegram, world, owner, "/stats", "Statistics")
    assert "(test mode)" in text
    today = text.split("\n")[1]
    assert "RUB\xa0100.00" in today
    assert "payments 1, paid 1 (100%)" in today
    assert "sandbox: RUB\xa0100.00" in text
    assert "average check RUB\xa0100.00" in text
    assert "1 active, of them 1 trials" in text
    assert "Trial → paid: 0 of 1" in text


def test_find_a_buyer_and_a_payment(
    hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess
) -> None:
    world, owner = owned_bot(hub, telegram, bots)
    customer = fresh_user(telegram)
    payment = paid_purchase(hub, world, customer).payment
    who = hub.call(buyers.register(hub.ctx, shop_id=world.shop.id, telegram_id=customer.id))
    by_id = ask(telegram, world, owner, f"/find {customer.id}", "Anna Petrova")
    assert "1 month: RUB\xa0100.00" in by_id
    assert payment.id in by_id
    by_code = ask(telegram, world, owner, f"/find ref_{who.referral_code}", f"tg {customer.id}")
    assert "Anna Petrova" in by_code
    assert "Anna Petrova" in ask(telegram, world, owner, "/find @anna", "Anna")
    by_payment = ask(telegram, world, owner, f"/find {payment.id}", f"Payment {payment.id}")
    assert "succeeded" in by_payment
    assert "sandbox" in by_payment
    assert "Anna Petrova" in by_payment
    assert "Nothing found" in ask(telegram, world, owner, "/find 12345", "Nothing found")


def test_a_double_tap_on_yes_refunds_once(
    hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess
) -> None:
    world, owner = owned_bot(hub, telegram, bots)
    payment = paid_purchase(hub, world, fresh_user(telegram)).payment
    refused = ask(telegram, world, owner, f"/refund {payment.id} 500", "Cannot refund")
    assert "exceeds" in refused
    ask(telegram, world, owner, f"/refund {payment.id} 40", "Refund RUB\xa040.00")
    confirmation = telegram.sent(world.bot, owner)[-1]
    data = f"rf:{payment.id}:4000"
    first = telegram.press(world.bot, owner, confirmation, data)
    second = telegram.press(world.bot, owner, confirmation, data)
    eventually(
        lambda: {first, second} <= telegram.callback_answers.keys(), what="both taps answered"
    )
    done = waiting_for(telegram, world.bot, owner, containing("succeeded"), what="the refund")
    made = hub.call(refunds.payment_refunds(hub.ctx, payment_id=payment.id))
    assert [refund.amount for refund in made] == [4000]
    assert made[0].id in done["text"]
    caller = Caller.system(shop=world.shop)
    after = hub.call(lifecycle.get_payment(hub.ctx, caller=caller, payment_id=payment.id))
    assert after.amount_refunded == 4000
    # No: nothing refunded.
    ask(telegram, world, owner, f"/refund {payment.id}", "Refund RUB\xa060.00")
    telegram.press(world.bot, owner, telegram.sent(world.bot, owner)[-1], "rf:no")
    waiting_for(telegram, world.bot, owner, containing("Refund cancelled"), what="cancelled")
    assert len(hub.call(refunds.payment_refunds(hub.ctx, payment_id=payment.id))) == 1


def test_kiosks_added_listed_given_a_new_token_and_sent_a_test_payment(
    hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess
) -> None:
    world, owner = owned_bot(hub, telegram, bots)
    group = telegram.group()
    telegram.send_text(world.bot, owner, "/add_kiosk KIOSK_001", chat=group)
    eventually(lambda: bool(telegram.sent(world.bot, group)), what="the refusal in the group")
    assert "private chat only" in telegram.sent(world.bot, group)[0]["text"]
    assert ask(telegram, world, owner, "/kiosks", "No kiosks")

    added = ask(telegram, world, owner, "/add_kiosk KIOSK_001", "shown once")
    token = added.split("\n\n")[1]
    claims = hub.call(tokens.verify(hub.ctx, token))
    assert claims.device_id == "KIOSK_001"
    assert "KIOSK_001: offline" in ask(telegram, world, owner, "/kiosks", "KIOSK_001")

    renewed = ask(telegram, world, owner, "/regenerate_token KIOSK_001", "stops working")
    new_token = renewed.split("\n\n")[2]
    kiosk = hub.call(
        terminals.get_terminal(hub.ctx, shop_id=world.shop.id, terminal_id="KIOSK_001")
    )
    # The old token's version is revoked: only the new one's is the terminal's.
    assert hub.call(tokens.verify(hub.ctx, new_token)).version == kiosk.token_version
    assert claims.version < kiosk.token_version

    sent = ask(telegram, world, owner, "/send_payment KIOSK_001 150", "Test payment")
    assert "RUB\xa0150.00" in sent
    assert "kiosk KIOSK_001: pending" in sent
    payment_id = sent.split()[2]
    test_caller = Caller.system(shop=world.shop, test=True)
    payment = hub.call(lifecycle.get_payment(hub.ctx, caller=test_caller, payment_id=payment_id))
    assert payment.provider == "terminal"
    assert payment.amount == 15000
    assert payment.test
    assert "Refused" in ask(telegram, world, owner, "/send_payment NOPE 150", "Refused")


def test_two_taps_at_once_refund_once(hub: LiveServer, telegram: TelegramEmulator) -> None:
    """Two workers taking the same Yes at once (the id derived from the confirmation): the
    refund's unique id lets one through; the other fails or finds it made."""
    world = shop_bot(hub, telegram)
    payment = paid_purchase(hub, world, fresh_user(telegram)).payment
    caller = purchases.caller_for(world.shop, hub.call(_settings(hub, world)))
    same = refund_id(world.shop.id, 42, 7)

    async def both() -> list[object]:
        taps = [
            refunds.create_refund(
                hub.ctx, caller=caller, payment_id=payment.id, amount=1000, refund_id=same
            )
            for _ in range(2)
        ]
        return list(await asyncio.gather(*taps, return_exceptions=True))

    outcomes = hub.call(both())
    assert any(not isinstance(each, BaseException) for each in outcomes)
    made = hub.call(refunds.payment_refunds(hub.ctx, payment_id=payment.id))
    assert [(refund.id, refund.amount) for refund in made] == [(same, 1000)]
    after = hub.call(lifecycle.get_payment(hub.ctx, caller=caller, payment_id=payment.id))
    assert (after.amount_refunded, after.amount_refund_pending) == (1000, 0)


async def _settings(hub: LiveServer, world: ShopBot) -> bot_settings.BotSettings:
    return await bot_settings.get(hub.ctx, shop_id=world.shop.id)
