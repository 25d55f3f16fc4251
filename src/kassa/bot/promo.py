"""Promo codes entered in the bot: the menu's "Promo code" (the bot asks, the buyer's next
message is the code), `/promo CODE` (`/promo` alone asks too), and the deep link
`t.me/<bot>?start=promo_<CODE>` (`start` passes it here). A code of extra days lengthens
the subscription at once; a percentage is kept for the buyer's next purchase
(`promo_entry`). Every refusal has its own answer."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, User

from kassa.bot import menu
from kassa.bot.outbox import Rendered
from kassa.bot.scope import Scope
from kassa.bot.texts import Texts
from kassa.domain import KassaError
from kassa.services.bot import promo_entry, promos
from kassa.services.bot.promo_entry import Entered

router = Router(name="promo")


class PromoEntry(StatesGroup):
    #: The bot asked for a code: the buyer's next text is one.
    code = State()


def asked(texts: Texts) -> str:
    return texts.gettext("Send me your promo code.")


def render(texts: Texts, entered: Entered) -> Rendered:
    _, ngettext = texts.gettext, texts.ngettext
    promo = entered.promo
    if entered.ends_at is not None and promo.days is not None:
        text = _(
            "The code %(code)s gives you %(days)s: your subscription runs until %(ends_at)s. "
            "Your access is being updated: it comes here in a moment."
        ) % {
            "code": promo.code,
            "days": ngettext("%(num)d day", "%(num)d days", promo.days) % {"num": promo.days},
            "ends_at": texts.time(entered.ends_at),
        }
        return Rendered(text)
    text = _("The code %(code)s takes %(percent)d%% off your next purchase. Choose a plan:") % {
        "code": promo.code,
        "percent": promo.percent,
    }
    button = InlineKeyboardButton(text=_("Plans and prices"), callback_data=menu.CATALOG)
    return Rendered(text, InlineKeyboardMarkup(inline_keyboard=[[button]]))


def refused(texts: Texts, code: str, error: KassaError) -> Rendered:
    """Why the code the buyer entered cannot be used (`error.code`)."""
    _ = texts.gettext
    shown = {"code": code.strip().upper()[: promo_entry.LONGEST]}
    reasons = {
        promos.UNKNOWN: _("There is no promo code %(code)s. Check it and send it again."),
        promos.EXPIRED: _("The promo code %(code)s has expired."),
        promos.USED_UP: _("The promo code %(code)s has been used up."),
        promos.USED_BY_BUYER: _("You have used the promo code %(code)s already."),
    }
    text = reasons.get(error.code, _("The promo code %(code)s cannot be used."))
    return Rendered(text % shown, menu.main_menu(texts))


async def redeem(message: Message, user: User, scope: Scope, code: str) -> None:
    """Use `code` for `user` and tell them what it gave, or why it gave nothing."""
    buyer = await scope.buyer(user)
    texts = scope.texts(user)
    try:
        entered = await promo_entry.enter(
            scope.ctx, shop_id=scope.shop.id, buyer_id=buyer.id, code=code
        )
    except KassaError as error:
        shown = refused(texts, code, error)
    else:
        shown = render(texts, entered)
    await message.answer(shown.text, reply_markup=shown.keyboard)


@router.callback_query(F.data == menu.PROMO)
async def ask(callback: CallbackQuery, bot: Bot, state: FSMContext, scope: Scope) -> None:
    await callback.answer()
    await state.set_state(PromoEntry.code)
    await bot.send_message(callback.from_user.id, asked(scope.texts(callback.from_user)))


@router.message(Command("promo"))
async def promo_command(
    message: Message, command: CommandObject, state: FSMContext, scope: Scope
) -> None:
    if message.from_user is None:
        return
    if not command.args:
        await state.set_state(PromoEntry.code)
        await message.answer(asked(scope.texts(message.from_user)))
        return
    await state.clear()
    await redeem(message, message.from_user, scope, command.args)


@router.message(StateFilter(PromoEntry.code), F.text, ~F.text.startswith("/"))
async def code_sent(message: Message, state: FSMContext, scope: Scope) -> None:
    await state.clear()
    if message.from_user is None or message.text is None:
        return
    await redeem(message, message.from_user, scope, message.text)
