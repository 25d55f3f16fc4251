"""`/start`, with the deep links a buyer arrives by: `t.me/<bot>?start=ref_<code>` (invited
by the buyer with that referral code) and `t.me/<bot>?start=promo_<CODE>` (a promo code to
use at once)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from kassa.bot import promo
from kassa.bot.menu import main_menu
from kassa.bot.scope import Scope

router = Router(name="start")

#: `/start ref_<code>`: the buyer was invited by the buyer with that referral code.
REFERRAL_PREFIX = "ref_"
#: `/start promo_<CODE>`: a promo code, used as `/promo CODE` would.
PROMO_PREFIX = "promo_"


@router.message(CommandStart())
async def start(message: Message, command: CommandObject, scope: Scope, state: FSMContext) -> None:
    if message.from_user is None:
        return
    await state.clear()  # /start leaves whatever the bot was asking for
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
    if argument.startswith(PROMO_PREFIX):
        await promo.redeem(message, message.from_user, scope, argument.removeprefix(PROMO_PREFIX))
