"""The catalog (the menu's "Plans and prices", and the renew buttons): the shop's plans on
sale with their days, prices in rubles and in Stars, and limits, each a button
`menu.plan_data(plan.id)` that the paying router answers."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup

from kassa.bot import menu
from kassa.bot.outbox import Rendered
from kassa.bot.scope import Scope
from kassa.bot.texts import Texts
from kassa.services.bot import plans, promo_entry
from kassa.services.bot.plans import Plan
from kassa.services.bot.promos import Promo

router = Router(name="catalog")


def render(texts: Texts, on_sale: list[Plan], pending: Promo | None = None) -> Rendered:
    """The catalog of `on_sale`, with the buyer's pending percentage code if they have one."""
    _, ngettext = texts.gettext, texts.ngettext
    if not on_sale:
        return Rendered(
            _("No plans are on sale right now. Please look again later."),
            menu.main_menu(texts),
        )
    lines = [_("Plans and prices:")]
    for plan in on_sale:
        lines.append("")
        lines.append(
            _("%(plan)s: %(days)s for %(price)s or %(stars)s")
            % {
                "plan": plan.name,
                "days": ngettext("%(num)d day", "%(num)d days", plan.days) % {"num": plan.days},
                "price": texts.money(plan.price, "RUB"),
                "stars": ngettext("%(num)d Star", "%(num)d Stars", plan.stars)
                % {"num": plan.stars},
            }
        )
        limits = []
        if plan.traffic_gb:
            limits.append(_("traffic %(num)d GB") % {"num": plan.traffic_gb})
        if plan.devices:
            limits.append(
                ngettext("up to %(num)d device", "up to %(num)d devices", plan.devices)
                % {"num": plan.devices}
            )
        if limits:
            lines.append(", ".join(limits))
    if pending is not None and pending.percent is not None:
        lines.append("")
        lines.append(
            _("Your promo code %(code)s takes %(percent)d%% off your next purchase.")
            % {"code": pending.code, "percent": pending.percent}
        )
    lines += ["", _("Choose a plan:")]
    buttons = [
        [
            InlineKeyboardButton(
                text=f"{plan.name} · {texts.money(plan.price, 'RUB')}",
                callback_data=menu.plan_data(plan.id),
            )
        ]
        for plan in on_sale
    ]
    return Rendered("\n".join(lines), InlineKeyboardMarkup(inline_keyboard=buttons))


@router.callback_query(F.data == menu.CATALOG)
async def catalog(callback: CallbackQuery, bot: Bot, scope: Scope) -> None:
    await callback.answer()
    buyer = await scope.buyer(callback.from_user)
    on_sale = await plans.list_plans(scope.ctx, shop_id=scope.shop.id, active_only=True)
    pending = await promo_entry.pending(scope.ctx, shop_id=scope.shop.id, buyer_id=buyer.id)
    shown = render(scope.texts(callback.from_user), on_sale, pending)
    await bot.send_message(callback.from_user.id, shown.text, reply_markup=shown.keyboard)
