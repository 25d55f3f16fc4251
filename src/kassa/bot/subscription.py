""" "My subscription": its state (active, a trial, ended, or none yet), its end in the
buyer's language and the shop's time zone, and the access link as text and as a QR code to
scan, with a renew button to the catalog."""

from __future__ import annotations

from datetime import datetime

import segno
from aiogram import Bot, F, Router
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
)

from kassa.bot import menu, qr
from kassa.bot.outbox import Rendered
from kassa.bot.scope import Scope
from kassa.bot.texts import Texts
from kassa.services.bot import buyers
from kassa.services.bot.buyers import Subscription

router = Router(name="subscription")


def render(texts: Texts, subscription: Subscription | None, now: datetime) -> Rendered:
    _ = texts.gettext

    def button(text: str, data: str) -> list[InlineKeyboardButton]:
        return [InlineKeyboardButton(text=text, callback_data=data)]

    if subscription is None:
        return Rendered(
            _("You have no subscription yet: choose a plan, or try it free first."),
            InlineKeyboardMarkup(
                inline_keyboard=[
                    button(_("Plans and prices"), menu.CATALOG),
                    button(_("Free trial"), menu.TRIAL),
                ]
            ),
        )
    renew = InlineKeyboardMarkup(inline_keyboard=[button(_("Renew"), menu.CATALOG)])
    ends_at = texts.time(subscription.ends_at)
    state = subscription.state(now)
    if state == buyers.EXPIRED:
        text = _("Your subscription ended on %(ends_at)s. Renew it to get your access back.")
        return Rendered(text % {"ends_at": ends_at}, renew)
    if state == buyers.TRIAL:
        lines = [_("Your free trial runs until %(ends_at)s.") % {"ends_at": ends_at}]
    else:
        lines = [_("Your subscription is active until %(ends_at)s.") % {"ends_at": ends_at}]
        if subscription.plan:
            lines.append(_("Plan: %(plan)s") % {"plan": subscription.plan})
    lines.append("")
    if subscription.link:
        lines.append(_("Your access:\n%(link)s") % {"link": subscription.link})
    else:
        lines.append(_("Your access is being prepared: it comes here in a moment."))
    return Rendered("\n".join(lines), renew)


def qr_code(subscription: Subscription | None, now: datetime) -> bytes | None:
    """The access link as a QR image, if the subscription runs and its access is a link
    (not the text of a bot without a panel, nor one too long for a QR code)."""
    if subscription is None or subscription.state(now) == buyers.EXPIRED:
        return None
    link = subscription.link
    if not link or "://" not in link:
        return None
    try:
        return qr.png(link)
    except segno.DataOverflowError:
        return None


@router.callback_query(F.data == menu.MY_SUBSCRIPTION)
async def my_subscription(callback: CallbackQuery, bot: Bot, scope: Scope) -> None:
    await callback.answer()
    user = callback.from_user
    buyer = await scope.buyer(user)
    found = await buyers.subscription(scope.ctx, buyer_id=buyer.id)
    now = scope.ctx.clock()
    texts = scope.texts(user)
    shown = render(texts, found, now)
    await bot.send_message(user.id, shown.text, reply_markup=shown.keyboard)
    image = qr_code(found, now)
    if image is not None:
        await bot.send_photo(
            user.id,
            BufferedInputFile(image, filename="access.png"),
            caption=texts.gettext("Scan it in your app to add your access."),
        )
