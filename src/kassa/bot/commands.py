"""The command menu Telegram shows beside the message field (`setMyCommands`), set when a
bot starts: in the bot's language for everyone, and in Russian and English for the buyers
whose Telegram speaks them."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import BotCommand

from kassa.bot.texts import Texts
from kassa.services import i18n


def commands(texts: Texts) -> list[BotCommand]:
    _ = texts.gettext
    return [
        BotCommand(command="start", description=_("Open the menu")),
        BotCommand(command="help", description=_("How to buy and get your access")),
        BotCommand(command="promo", description=_("Use a promo code")),
        BotCommand(command="terms", description=_("Terms of service")),
    ]


async def publish(bot: Bot, *, language: str) -> None:
    """Set the bot's commands (`language`: the bot's own, for users of other languages)."""
    await bot.set_my_commands(commands(Texts(language)))
    for locale in i18n.LOCALES:
        await bot.set_my_commands(commands(Texts(locale)), language_code=locale)
