"""`/start`, with the deep links a buyer arrives by (`t.me/<bot>?start=ref_<code>`), and
`/help`."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import Message

from kassa.bot.menu import main_menu
from kassa.bot.scope import Scope

router = Router(name="start")

#: `/start ref_<code>`: the buyer was invited by the buyer with that referral code.
REFERRAL_PREFIX = "ref_"


@router.message(CommandStart())
async def start(message: Message, command: CommandObject, scope: Scope) -> None:
    if message.from_user is None:
        return
    argument = command.args or ""
    referral = (
        argument.removeprefix(REFERRAL_PREFIX) if argument.startswith(REFERRAL_PREFIX) else None
    )
    await scope.buyer(message.from_user, referral_code=referral)
    texts = scope.texts(message.from_user)
    _ = texts.gettext
    await message.answer(
        _("Welcome to %(shop)s! Choose a plan, or try it free first.") % {"shop": scope.shop.name},
        reply_markup=main_menu(texts),
    )


@router.message(Command("help"))
async def help_(message: Message, scope: Scope) -> None:
    texts = scope.texts(message.from_user)
    _ = texts.gettext
    await message.answer(
        _(
            "Buy a plan from the menu and you will get your access link here. "
            "/start opens the menu."
        ),
        reply_markup=main_menu(texts),
    )
