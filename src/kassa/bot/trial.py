"""The free trial (the menu's "Free trial"): once per Telegram account, and only for a buyer
who never had a subscription (`buyers.start_trial`, a conditional update: two quick taps give
one trial). The access then comes as after a purchase: the provisioning job (`kassa serve`'s
background work or `kassa worker`) gives the panel the trial's end and leaves the `access`
message the bot sends."""

from __future__ import annotations

from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup

from kassa.bot import menu
from kassa.bot.outbox import Rendered
from kassa.bot.scope import Scope
from kassa.bot.texts import Texts
from kassa.domain import Conflict
from kassa.services.bot import buyers
from kassa.services.bot.buyers import Subscription

router = Router(name="trial")


def _go(text: str, data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=text, callback_data=data)]]
    )


def started(texts: Texts, ends_at: datetime) -> Rendered:
    _ = texts.gettext
    text = _(
        "Your free trial runs until %(ends_at)s. Your access is being prepared: "
        "it comes here in a moment."
    )
    return Rendered(text % {"ends_at": texts.time(ends_at)})


def refused(texts: Texts, code: str, subscription: Subscription | None, now: datetime) -> Rendered:
    """Why the buyer gets no trial (`buyers.start_trial`'s `Conflict` code), and where to go
    instead."""
    _ = texts.gettext
    to_catalog = _go(_("Plans and prices"), menu.CATALOG)
    if code == buyers.NO_TRIAL:
        return Rendered(_("This shop offers no free trial. Choose a plan:"), to_catalog)
    if code == buyers.TRIAL_USED:
        if subscription is not None and subscription.state(now) == buyers.TRIAL:
            # Most often the same tap twice: the trial it gave is running.
            text = _("Your free trial is on: it runs until %(ends_at)s.") % {
                "ends_at": texts.time(subscription.ends_at)
            }
            return Rendered(text, _go(_("My subscription"), menu.MY_SUBSCRIPTION))
        return Rendered(_("You have had your free trial already. Choose a plan:"), to_catalog)
    return Rendered(
        _("The free trial is for new customers, and you have had a subscription. Choose a plan:"),
        to_catalog,
    )


@router.callback_query(F.data == menu.TRIAL)
async def trial(callback: CallbackQuery, bot: Bot, scope: Scope) -> None:
    await callback.answer()
    user = callback.from_user
    buyer = await scope.buyer(user)
    texts = scope.texts(user)
    try:
        ends_at = await buyers.start_trial(scope.ctx, shop_id=scope.shop.id, buyer_id=buyer.id)
    except Conflict as refusal:
        found = await buyers.subscription(scope.ctx, buyer_id=buyer.id)
        shown = refused(texts, refusal.code, found, scope.ctx.clock())
    else:
        shown = started(texts, ends_at)
    await bot.send_message(user.id, shown.text, reply_markup=shown.keyboard)
