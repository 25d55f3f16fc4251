"""The buyer's screens of a real `kassa bot` process, through the Bot API emulator, in English
and Russian: the catalog, "my subscription" (with its QR code), the trial, promo codes (the
button, `/promo`, the deep link, every refusal), referrals, help and terms, and the command
menu set at start."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
import segno
from sqlalchemy import update

from kassa.panels import PanelDown
from kassa.services import i18n
from kassa.services.bot import activation, buyers, plans, promo_entry, promos
from kassa.services.context import utcnow
from kassa.services.shops import shops
from kassa.store.tables import bot_provisioning, bot_subscriptions
from tests.bot.conftest import rows
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
from tests.emulators.telegram import TelegramEmulator, User
from tests.live import LiveServer

LINK = "https://vpn.example.test/sub/Zm9vYmFy"
TERMS = "Refunds within 14 days of a purchase. Support: @example_support."
#: Not the default time zone (Moscow): the screens' dates must be in the shop's.
ZONE = "Asia/Almaty"


@pytest.fixture(scope="module")
def bots(
    hub: LiveServer, own_database_url: str, telegram: TelegramEmulator
) -> Iterator[BotProcess]:
    """One `kassa bot` for the module (its payments' pages at the hub: the sandbox's)."""
    with bot_process(own_database_url, telegram, KASSA_PUBLIC_URL=hub.url) as running:
        yield running


@pytest.fixture(scope="module")
def world(hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess) -> ShopBot:
    """The module's shop (each test is another Telegram user of its bot): a 3-day trial, the
    access `LINK` (no panel), `TERMS`, and a plan with limits besides the seeds'."""
    made = shop_bot(hub, telegram, link_text=LINK, trial_days="3", terms=TERMS)
    hub.call(shops.set_timezone(hub.ctx, shop=made.shop, timezone=ZONE))
    hub.call(
        plans.add(
            hub.ctx,
            shop_id=made.shop.id,
            name="Family",
            days=30,
            price=30_000,
            stars=225,
            traffic_gb=50,
            devices=3,
        )
    )
    bots.polling(made.shop)
    return made


@pytest.fixture(scope="module")
def bare(hub: LiveServer, telegram: TelegramEmulator, bots: BotProcess) -> ShopBot:
    """A shop that offers nothing yet: no trial, no terms, no plan on sale."""
    made = shop_bot(hub, telegram, trial_days="0")
    for plan in hub.call(plans.list_plans(hub.ctx, shop_id=made.shop.id)):
        hub.call(plans.disable(hub.ctx, shop_id=made.shop.id, name=plan.name))
    bots.polling(made.shop)
    return made


class Chat:
    """A Telegram user talking to one bot: what they do, and the bot's answers."""

    def __init__(self, telegram: TelegramEmulator, world: ShopBot, user: User) -> None:
        self.telegram, self.world, self.user = telegram, world, user

    @property
    def sent(self) -> list[Document]:
        return self.telegram.sent(self.world.bot, self.user)

    def answers(self, act: Callable[[], object], count: int = 1) -> list[Document]:
        """The `count` messages the bot sends after `act`."""
        before = len(self.sent)
        act()
        eventually(lambda: len(self.sent) >= before + count, what=f"{count} answers")
        return self.sent[before:]

    def say(self, text: str, count: int = 1) -> list[Document]:
        return self.answers(lambda: self.telegram.send_text(self.world.bot, self.user, text), count)

    def press(self, message: Document, data: str, count: int = 1) -> list[Document]:
        return self.answers(
            lambda: self.telegram.press(self.world.bot, self.user, message, data), count
        )

    def menu(self) -> Document:
        (welcome,) = self.say("/start")
        return welcome

    def buyer(self, hub: LiveServer) -> buyers.Buyer:
        return hub.call(
            buyers.register(hub.ctx, shop_id=self.world.shop.id, telegram_id=self.user.id)
        )


def chat(telegram: TelegramEmulator, world: ShopBot, language: str = "en") -> Chat:
    return Chat(telegram, world, fresh_user(telegram, language_code=language))


def buttons(message: Document) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


def when(hub: LiveServer, moment: object, language: str) -> str:
    """A moment as the bot writes it: in the shop's time zone and the buyer's language."""
    return i18n.format_time(moment, ZONE, locale=language)  # type: ignore[arg-type]


async def end(hub: LiveServer, who: buyers.Buyer, moment: datetime) -> None:
    """Make the buyer's subscription end at `moment` (in the past: it ended)."""
    async with hub.ctx.db.write() as conn:
        await conn.execute(
            update(bot_subscriptions)
            .where(bot_subscriptions.c.buyer_id == who.id)
            .values(ends_at=moment)
        )


def provision(hub: LiveServer) -> None:
    """What `kassa serve`'s background work does: provision what is due (no panel here)."""
    hub.call(activation.provision_due(hub.ctx))


def qr_modules(png: bytes, scale: int, border: int) -> list[list[bool]]:
    """The dark modules of a 1-bit greyscale PNG QR code (as `kassa.bot.qr` draws them)."""
    position, data, width = 8, b"", 0
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        body = png[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            width, _, depth, colour = struct.unpack(">IIBB", body[:10])
            assert (depth, colour) == (1, 0)
        elif kind == b"IDAT":
            data += body
    raw, stride = zlib.decompress(data), (width + 7) // 8
    pixels: list[bytes] = []
    previous = bytes(stride)
    for start in range(0, len(raw), stride + 1):
        method, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):  # PNG's filters, one byte per pixel group
            left = line[i - 1] if i else 0
            up, corner = previous[i], previous[i - 1] if i else 0
            if method == 1:
                line[i] = (line[i] + left) & 0xFF
            elif method == 2:
                line[i] = (line[i] + up) & 0xFF
            elif method == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif method == 4:  # Paeth: the nearest of the three to their estimate, in order
                guess = left + up - corner
                nearest = min((left, up, corner), key=lambda near: abs(guess - near))
                line[i] = (line[i] + nearest) & 0xFF
        pixels.append(bytes(line))
        previous = bytes(line)
    size = width // scale - 2 * border

    def dark(x: int, y: int) -> bool:
        return not (pixels[y][x // 8] >> (7 - x % 8)) & 1

    middle = scale // 2
    return [
        [dark((border + c) * scale + middle, (border + r) * scale + middle) for c in range(size)]
        for r in range(size)
    ]


def test_the_catalog_lists_the_plans_on_sale_with_their_prices_and_limits(
    hub: LiveServer, telegram: TelegramEmulator, world: ShopBot, bare: ShopBot
) -> None:
    english = chat(telegram, world)
    (catalog,) = english.press(english.menu(), "catalog")
    text = catalog["text"]
    assert "1 month: 30 days for RUB\u00a0100.00 or 75 Stars" in text
    assert "12 months: 365 days for RUB\u00a0990.00 or 745 Stars" in text
    assert (
        "Family: 30 days for RUB\u00a0300.00 or 225 Stars\ntraffic 50 GB, up to 3 devices" in text
    )
    on_sale = hub.call(plans.list_plans(hub.ctx, shop_id=world.shop.id, active_only=True))
    assert buttons(catalog) == [f"plan:{plan.id}" for plan in on_sale]
    assert all(len(data.encode()) <= 64 for data in buttons(catalog))

    russian = chat(telegram, world, "ru")
    (catalog,) = russian.press(russian.menu(), "catalog")
    assert "1 month: 30 дней за 100,00\u00a0₽ или 75 звёзд" in catalog["text"]
    assert "трафик 50 ГБ, до 3 устройств" in catalog["text"]

    nothing = chat(telegram, bare)
    (empty,) = nothing.press(nothing.menu(), "catalog")
    assert "No plans are on sale right now" in empty["text"]
    assert "catalog" in buttons(empty)  # the menu again, never a dead end


def test_my_subscription_shows_its_state_end_and_access_as_text_and_qr_code(
    hub: LiveServer, telegram: TelegramEmulator, world: ShopBot
) -> None:
    hub.call(promos.add(hub.ctx, shop_id=world.shop.id, code="MONTHFREE", days=30))
    russian = chat(telegram, world, "ru")
    menu = russian.menu()
    (none,) = russian.press(menu, "my")
    assert "У вас пока нет подписки" in none["text"]  # noqa: RUF001
    assert buttons(none) == ["catalog", "trial"]

    russian.say("/promo monthfree")
    who = russian.buyer(hub)
    provision(hub)
    waiting_for(telegram, world.bot, russian.user, containing(LINK), what="the access")
    mine, photo = russian.press(menu, "my", count=2)
    found = hub.call(buyers.subscription(hub.ctx, buyer_id=who.id))
    assert found is not None
    assert f"Ваша подписка активна до {when(hub, found.ends_at, 'ru')}." in mine["text"]
    assert f"Ваш доступ:\n{LINK}" in mine["text"]
    assert buttons(mine) == ["catalog"]  # renew
    assert mine["reply_markup"]["inline_keyboard"][0][0]["text"] == "Продлить"
    assert "Отсканируйте" in photo["caption"]
    image = telegram.photo_bytes(photo["photo"][0]["file_id"])
    expected = segno.make(LINK, error="m", micro=False)
    assert qr_modules(image, scale=8, border=4) == [
        [bool(m) for m in row] for row in expected.matrix
    ]

    ended = utcnow() - timedelta(days=1)
    hub.call(end(hub, who, ended))
    (expired,) = russian.press(menu, "my")  # no QR code for an access that ended
    assert f"Ваша подписка закончилась {when(hub, ended, 'ru')}" in expired["text"]
    assert LINK not in expired["text"]
    assert buttons(expired) == ["catalog"]


def test_the_trial_is_given_once_for_two_quick_taps_and_its_access_follows(
    hub: LiveServer, telegram: TelegramEmulator, world: ShopBot
) -> None:
    english = chat(telegram, world)
    menu = english.menu()
    before = len(english.sent)
    telegram.press(world.bot, english.user, menu, "trial")
    telegram.press(world.bot, english.user, menu, "trial")
    eventually(lambda: len(english.sent) >= before + 2, what="two answers")
    first, second = (m["text"] for m in english.sent[before:])
    who = english.buyer(hub)
    found = hub.call(buyers.subscription(hub.ctx, buyer_id=who.id))
    assert found is not None
    assert found.status == "trial"
    ends = when(hub, found.ends_at, "en")
    assert first.startswith(f"Your free trial runs until {ends}. Your access is being prepared")
    assert second == f"Your free trial is on: it runs until {ends}."
    assert len(rows(hub, bot_provisioning, bot_provisioning.c.buyer_id == who.id)) == 1

    async def down(settings: object, http: object) -> None:
        raise PanelDown("the panel did not answer")

    hub.call(activation.provision_due(hub.ctx, factory=down))
    waiting = containing("Your access is on its way")
    delayed = waiting_for(telegram, world.bot, english.user, waiting, what="delayed")
    assert "payment" not in delayed["text"]  # nothing was paid
    later = replace(hub.ctx, clock=lambda: utcnow() + timedelta(minutes=1))
    hub.call(activation.provision_due(later))
    access = waiting_for(telegram, world.bot, english.user, containing(LINK), what="access")
    assert access["text"] == f"Your free trial is on until {ends}.\n\nYour access:\n{LINK}"
    mine, _ = english.press(menu, "my", count=2)
    assert f"Your free trial runs until {ends}.\n\nYour access:\n{LINK}" in mine["text"]


def test_no_trial_after_a_subscription_after_the_trial_or_where_none_is_offered(
    hub: LiveServer, telegram: TelegramEmulator, world: ShopBot, bare: ShopBot
) -> None:
    hub.call(promos.add(hub.ctx, shop_id=world.shop.id, code="WELCOME", days=7))
    russian = chat(telegram, world, "ru")
    menu = russian.menu()
    russian.say("/promo welcome")
    (refused,) = russian.press(menu, "trial")
    assert refused["text"].startswith("Пробный период — для новых покупателей")
    assert buttons(refused) == ["catalog"]

    english = chat(telegram, world)
    menu = english.menu()
    english.press(menu, "trial")
    hub.call(end(hub, english.buyer(hub), utcnow() - timedelta(minutes=1)))
    (again,) = english.press(menu, "trial")
    assert again["text"] == "You have had your free trial already. Choose a plan:"

    nothing = chat(telegram, bare)
    (none,) = nothing.press(nothing.menu(), "trial")
    assert none["text"] == "This shop offers no free trial. Choose a plan:"


def test_promo_codes_by_the_button_the_command_and_the_deep_link(
    hub: LiveServer, telegram: TelegramEmulator, world: ShopBot
) -> None:
    hub.call(promos.add(hub.ctx, shop_id=world.shop.id, code="SPRING10", days=10))
    hub.call(promos.add(hub.ctx, shop_id=world.shop.id, code="THIRTY", percent=30))
    english = chat(telegram, world)
    menu = english.menu()
    (asked,) = english.press(menu, "promo")
    assert asked["text"] == "Send me your promo code."
    (given,) = english.say(" spring10 ")
    who = english.buyer(hub)
    found = hub.call(buyers.subscription(hub.ctx, buyer_id=who.id))
    assert found is not None
    assert given["text"].startswith(
        f"The code SPRING10 gives you 10 days: your subscription runs until "
        f"{when(hub, found.ends_at, 'en')}."
    )
    (again,) = english.say("/promo SPRING10")
    assert again["text"] == "You have used the promo code SPRING10 already."

    # A percentage waits for the next purchase, which uses it.
    (kept,) = english.say("/promo thirty")
    assert kept["text"] == "The code THIRTY takes 30% off your next purchase. Choose a plan:"
    (catalog,) = english.press(kept, "catalog")
    assert "Your promo code THIRTY takes 30% off your next purchase." in catalog["text"]
    pending = hub.call(promo_entry.pending(hub.ctx, shop_id=world.shop.id, buyer_id=who.id))
    assert pending is not None
    assert (pending.code, pending.percent) == ("THIRTY", 30)
    # Paying (`kassa.bot.paying`) starts the purchase with it.
    month = buttons(catalog)[0].removeprefix("plan:")
    (offer,) = english.press(catalog, f"plan:{month}")
    (payment,) = english.press(offer, f"pay:{month}:sandbox")
    assert "RUB\u00a070.00" in payment["text"]  # 100 ₽ less 30%
    assert hub.call(promo_entry.pending(hub.ctx, shop_id=world.shop.id, buyer_id=who.id)) is None

    # `/promo` alone asks, as the button does; the deep link uses the code at once.
    russian = chat(telegram, world, "ru")
    (asked,) = russian.say("/promo")
    assert asked["text"] == "Пришлите промокод."
    (kept,) = russian.say("Thirty")
    assert kept["text"].startswith("Промокод THIRTY даёт скидку 30% на следующую покупку.")
    newcomer = chat(telegram, world)
    welcome, given = newcomer.say("/start promo_SPRING10", count=2)
    assert "Welcome" in welcome["text"]
    assert given["text"].startswith("The code SPRING10 gives you 10 days")


def test_every_refused_promo_code_gets_its_own_answer(
    hub: LiveServer, telegram: TelegramEmulator, world: ShopBot
) -> None:
    past = utcnow() - timedelta(minutes=1)
    hub.call(promos.add(hub.ctx, shop_id=world.shop.id, code="GONE", days=3, valid_until=past))
    hub.call(promos.add(hub.ctx, shop_id=world.shop.id, code="ONEONLY", days=3, max_uses=1))
    first = chat(telegram, world)
    first.menu()
    first.say("/promo ONEONLY")
    english = chat(telegram, world)
    english.menu()
    (unknown,) = english.say("/promo NOSUCH")
    assert unknown["text"] == "There is no promo code NOSUCH. Check it and send it again."
    assert "catalog" in buttons(unknown)
    (expired,) = english.say("/promo gone")
    assert expired["text"] == "The promo code GONE has expired."
    (used_up,) = english.say("/promo oneonly")
    assert used_up["text"] == "The promo code ONEONLY has been used up."
    (too_long,) = english.say("/promo " + "X" * 300)
    assert too_long["text"].startswith("There is no promo code XXXX")
    russian = chat(telegram, world, "ru")
    russian.menu()
    (unknown,) = russian.say("/promo NOSUCH")
    assert unknown["text"] == "Промокода NOSUCH нет. Проверьте его и пришлите ещё раз."  # noqa: RUF001
    assert hub.call(buyers.subscription(hub.ctx, buyer_id=english.buyer(hub).id)) is None


def test_the_referral_link_and_the_count_of_invited_buyers(
    hub: LiveServer, telegram: TelegramEmulator, world: ShopBot
) -> None:
    russian = chat(telegram, world, "ru")
    menu = russian.menu()
    (screen,) = russian.press(menu, "referral")
    who = russian.buyer(hub)
    link = f"https://t.me/{world.bot.username}?start=ref_{who.referral_code}"
    assert f"Приглашайте друзей по своей ссылке:\n{link}\n" in screen["text"]
    assert "бонусные дни" in screen["text"]  # the seeds' plans give the inviter 7 days
    assert screen["text"].endswith("Вы пригласили 0 друзей.")
    for _ in range(2):
        chat(telegram, world).say(f"/start ref_{who.referral_code}")
    russian.say(f"/start ref_{who.referral_code}")  # not oneself
    (screen,) = russian.press(menu, "referral")
    assert screen["text"].endswith("Вы пригласили 2 друга.")
    assert hub.call(buyers.invited_count(hub.ctx, buyer_id=who.id)) == 2


def test_help_terms_and_the_command_menu(
    telegram: TelegramEmulator, world: ShopBot, bare: ShopBot
) -> None:
    english = chat(telegram, world)
    (shown,) = english.press(english.menu(), "help")
    assert "/promo CODE: use a promo code" in shown["text"]
    assert buttons(shown) == ["catalog", "terms"]
    (terms,) = english.press(shown, "terms")
    assert terms["text"] == TERMS
    (terms,) = english.say("/terms")
    assert terms["text"] == TERMS
    (shown,) = chat(telegram, world, "ru").say("/help")
    assert "/promo КОД — ввести промокод" in shown["text"]
    (none,) = chat(telegram, bare).say("/terms")
    assert none["text"] == "This shop has not published its terms of service yet."

    names = ["start", "help", "promo", "terms"]
    bot = world.bot
    assert [c["command"] for c in bot.commands] == names
    assert bot.commands == bot.localized_commands["ru"]  # the bot's language: Russian
    assert [c["command"] for c in bot.localized_commands["en"]] == names
    assert bot.localized_commands["en"][2]["description"] == "Use a promo code"
    assert bot.localized_commands["ru"][2]["description"] == "Ввести промокод"


def test_a_handler_that_fails_leaves_an_apology_in_the_buyers_language(
    hub: LiveServer, telegram: TelegramEmulator, world: ShopBot
) -> None:
    # The dispatcher's error handler, run here with a real aiogram bot on the emulator: no
    # screen of the bot process fails on purpose.
    from aiogram.types import ErrorEvent, Update

    from kassa.bot import errors
    from kassa.bot.connection import open_bot
    from kassa.bot.scope import Scope
    from kassa.services.bot import settings as bot_settings

    russian = fresh_user(telegram, language_code="ru")
    update = Update.model_validate(
        {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": russian.chat(),
                "from": russian.document(),
                "text": "/start",
            },
        }
    )

    async def fail() -> None:
        settings = await bot_settings.get(hub.ctx, shop_id=world.shop.id)
        scope = Scope(hub.ctx, world.shop, settings, world.bot.username)
        bot = open_bot(world.bot.token, api_url=telegram.api_url, test_server=True)
        try:
            failure = ErrorEvent(update=update, exception=RuntimeError("the database is away"))
            await errors.apologise(failure, bot, scope)
        finally:
            await bot.session.close()

    hub.call(fail())
    (apology,) = telegram.sent(world.bot, russian)
    assert apology["text"].startswith("Извините, у нас что-то пошло не так.")  # noqa: RUF001
    assert "database" not in apology["text"]
