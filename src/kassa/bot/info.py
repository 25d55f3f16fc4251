"""Help and the shop's terms of service: `/help` and the menu's "Help", `/terms` and the
help's "Terms of service" (the text of `kassa bot configure SHOP terms=…`)."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from kassa.bot import menu
from kassa.bot.outbox import Rendered
from kassa.bot.scope import Scope
from kassa.bot.texts import Texts

router = Router(name="info")


def help_screen(texts: Texts) -> Rendered:
    _ = texts.gettext
    text = _(
        "Choose a plan in the menu and pay for it: your access link comes here.\n\n"
        "/start: the menu\n"
        "/promo CODE: use a promo code\n"
        "/terms: the terms of service\n"
        "/help: this help"
    )
    buttons = [
        [InlineKeyboardButton(text=_("Plans and prices"), callback_data=menu.CATALOG)],
        [InlineKeyboardButton(text=_("Terms of service"), callback_data=menu.TERMS)],
    ]
    return Rendered(text, InlineKeyboardMarkup(inline_keyboard=buttons))


def terms_screen(texts: Texts, terms: str | None) -> Rendered:
    if terms:
        return Rendered(terms)
    return Rendered(texts.gettext("This shop has not published its terms of service yet."))


@router.message(Command("help"))
async def help_command(message: Message, scope: Scope) -> None:
    shown = help_screen(scope.texts(message.from_user))
    await message.answer(shown.text, reply_markup=shown.keyboard)


@router.callback_query(F.data == menu.HELP)
async def help_button(callback: CallbackQuery, bot: Bot, scope: Scope) -> None:
    await callback.answer()
    shown = help_screen(scope.texts(callback.from_user))
    await bot.send_message(callback.from_user.id, shown.text, reply_markup=shown.keyboard)


@router.message(Command("terms"))
async def terms_command(message: Message, scope: Scope) -> None:
    shown = terms_screen(scope.texts(message.from_user), scope.settings.terms)
    await message.answer(shown.text)


@router.callback_query(F.data == menu.TERMS)
async def terms_button(callback: CallbackQuery, bot: Bot, scope: Scope) -> None:
    await callback.answer()
    shown = terms_screen(scope.texts(callback.from_user), scope.settings.terms)
    await bot.send_message(callback.from_user.id, shown.text)
