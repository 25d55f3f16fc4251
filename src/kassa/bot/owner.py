"""The shop owner's commands: `/stats`, `/find`, and `/refund` with its confirmation.

Only the Telegram ids in the bot's `admins` are answered here (`from_owner`, the router's
filter); anyone else's command goes on to the buyers' routers, which answer it as any
buyer's, or not at all, so nobody else ever sees the owner's figures.

The bot acts as its own caller (`purchases.caller_for`: the shop, in the bot's mode). A
refund is made once however often its Yes is tapped: the refund's id is derived from the
confirmation message, so a second tap (or the update handled twice) finds that refund and
makes none.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    CallbackQuery,
    InaccessibleMessage,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from kassa.bot.scope import Scope
from kassa.bot.texts import Texts
from kassa.domain import KassaError, check_refund
from kassa.domain.money import from_decimal
from kassa.services import analytics
from kassa.services.bot import owner, purchases
from kassa.services.context import Context
from kassa.services.payments import lifecycle, refunds

router = Router(name="owner")


def from_owner(event: Message | CallbackQuery, scope: Scope) -> bool:
    """Whether the update comes from one of the shop's owners (`admins=`)."""
    return scope.is_admin(event.from_user)


router.message.filter(from_owner)
router.callback_query.filter(from_owner)

#: The periods of `/stats`, in days up to today.
PERIODS = (1, 7, 30)
#: `rf:<payment id>:<amount>`: Yes to a refund; `rf:no`: No.
REFUND_PREFIX = "rf:"
REFUND_NO = "rf:no"
#: An edit's keyboard that takes the buttons away (an edit that gives none may keep them).
NO_BUTTONS = InlineKeyboardMarkup(inline_keyboard=[])


def percent(fraction: Decimal | None) -> str:
    """A fraction as a whole percentage ("—" when there is none)."""
    return "—" if fraction is None else f"{fraction * 100:.0f}%"


def _today(ctx: Context, timezone: str) -> date:
    return ctx.clock().astimezone(ZoneInfo(timezone)).date()


def _money(texts: Texts, amounts: dict[str, int]) -> str:
    return ", ".join(texts.money(amount, currency) for currency, amount in amounts.items()) or "0"


def _period_lines(texts: Texts, days: int, report: analytics.Report) -> list[str]:
    _ = texts.gettext
    total = report.total
    title = _("Today") if days == 1 else _("%(days)d days") % {"days": days}
    lines = [
        f"{title}: "
        + _("revenue %(revenue)s; payments %(created)d, paid %(paid)d (%(rate)s)")
        % {
            "revenue": _money(texts, total.revenue),
            "created": total.created,
            "paid": total.succeeded,
            "rate": percent(total.conversion),
        }
    ]
    for provider, figures in report.groups.items():
        if figures.revenue:
            lines.append(f"  · {provider}: {_money(texts, figures.revenue)}")
    if total.average_check:
        lines.append(
            "  " + _("average check %(check)s") % {"check": _money(texts, total.average_check)}
        )
    if report.median_seconds is not None:
        lines.append(
            "  " + _("time to pay: median %(median)d s") % {"median": report.median_seconds}
        )
    return lines


@router.message(Command("stats"))
async def stats(message: Message, scope: Scope) -> None:
    texts = scope.texts(message.from_user)
    _ = texts.gettext
    caller = purchases.caller_for(scope.shop, scope.settings)
    today = _today(scope.ctx, scope.shop.timezone)
    lines = [
        _("Statistics of %(shop)s (test mode)") % {"shop": scope.shop.name}
        if scope.settings.test
        else _("Statistics of %(shop)s") % {"shop": scope.shop.name}
    ]
    for days in PERIODS:
        period = analytics.Period.ending(today, days, scope.shop.timezone)
        report = await analytics.report(scope.ctx, caller, period, group_by="provider")
        lines += _period_lines(texts, days, report)
    subs = await owner.subscription_figures(scope.ctx, shop_id=scope.shop.id)
    lines.append(
        _("Subscriptions: %(active)d active, of them %(trials)d trials")
        % {"active": subs.active, "trials": subs.trials}
    )
    lines.append(
        _("Trial → paid: %(paid)d of %(tried)d (%(rate)s)")
        % {
            "paid": subs.trial_then_paid,
            "tried": subs.trial_buyers,
            "rate": percent(subs.trial_conversion),
        }
    )
    await message.answer("\n".join(lines))


def _buyer_text(texts: Texts, found: owner.FoundBuyer) -> str:
    _ = texts.gettext
    buyer = found.buyer
    lines = [f"{buyer.name or '—'} · tg {buyer.telegram_id} · ref_{buyer.referral_code}"]
    if found.ends_at is None:
        lines.append(_("No subscription"))
    else:
        kind = _("trial") if found.status == "trial" else _("paid")
        lines.append(
            _("Subscription (%(kind)s) until %(ends_at)s")
            % {"kind": kind, "ends_at": texts.time(found.ends_at)}
        )
    for bought in found.purchases:
        lines.append(
            f"  · {bought.plan}: {texts.money(bought.amount, bought.currency)}, "
            f"{bought.status} ({bought.payment_id})"
        )
    if not found.purchases:
        lines.append(_("No purchases"))
    return "\n".join(lines)


def _payment_text(texts: Texts, found: owner.FoundPayment) -> str:
    _ = texts.gettext
    payment = found.payment
    buyer = (
        f"{found.buyer.name or '—'} (tg {found.buyer.telegram_id})"
        if found.buyer
        else payment.customer or "—"
    )
    return _("Payment %(id)s: %(status)s, %(amount)s through %(provider)s\nBuyer: %(buyer)s") % {
        "id": payment.id,
        "status": payment.status.value,
        "amount": texts.money(payment.amount, payment.currency),
        "provider": payment.provider,
        "buyer": buyer,
    }


@router.message(Command("find"))
async def find(message: Message, command: CommandObject, scope: Scope) -> None:
    texts = scope.texts(message.from_user)
    _ = texts.gettext
    if not command.args:
        await message.answer(_("Usage: /find <telegram id | @name | payment id | referral code>"))
        return
    caller = purchases.caller_for(scope.shop, scope.settings)
    try:
        found = await owner.find(scope.ctx, caller=caller, query=command.args)
    except KassaError:
        await message.answer(_("Nothing found for %(query)s") % {"query": command.args})
        return
    await message.answer(
        "\n\n".join(
            _payment_text(texts, each)
            if isinstance(each, owner.FoundPayment)
            else _buyer_text(texts, each)
            for each in found
        )
    )


def refund_id(shop_id: str, chat_id: int, message_id: int) -> str:
    """The id of the refund a confirmation message asks for: the same for every tap on it."""
    digest = hashlib.sha256(f"bot-refund:{shop_id}:{chat_id}:{message_id}".encode()).hexdigest()
    return f"re_{digest[:26]}"


@router.message(Command("refund"))
async def refund(message: Message, command: CommandObject, scope: Scope) -> None:
    texts = scope.texts(message.from_user)
    _ = texts.gettext
    words = (command.args or "").split()
    if not 1 <= len(words) <= 2:
        await message.answer(_("Usage: /refund <payment id> [amount]"))
        return
    caller = purchases.caller_for(scope.shop, scope.settings)
    try:
        payment = await lifecycle.get_payment(scope.ctx, caller=caller, payment_id=words[0])
        asked = from_decimal(words[1], payment.currency) if len(words) == 2 else None
        amount = check_refund(payment, asked)
    except KassaError as exc:
        await message.answer(_("Cannot refund: %(reason)s") % {"reason": exc.message})
        return
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("Yes, refund"), callback_data=f"{REFUND_PREFIX}{payment.id}:{amount}"
                ),
                InlineKeyboardButton(text=_("No"), callback_data=REFUND_NO),
            ]
        ]
    )
    await message.answer(
        _("Refund %(amount)s of payment %(id)s (%(provider)s)?")
        % {
            "amount": texts.money(amount, payment.currency),
            "id": payment.id,
            "provider": payment.provider,
        },
        reply_markup=keyboard,
    )


@router.callback_query(F.data == REFUND_NO)
async def refund_no(query: CallbackQuery, scope: Scope) -> None:
    _ = scope.texts(query.from_user).gettext
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(_("Refund cancelled."), reply_markup=NO_BUTTONS)


@router.callback_query(F.data.startswith(REFUND_PREFIX))
async def refund_yes(query: CallbackQuery, scope: Scope) -> None:
    texts = scope.texts(query.from_user)
    _ = texts.gettext
    message = query.message
    payment_id, _sep, amount = (query.data or "").removeprefix(REFUND_PREFIX).rpartition(":")
    if message is None or isinstance(message, InaccessibleMessage) or not amount.isdigit():
        await query.answer()
        return
    caller = purchases.caller_for(scope.shop, scope.settings)
    try:
        done = await refunds.create_refund(
            scope.ctx,
            caller=caller,
            payment_id=payment_id,
            amount=int(amount),
            reason=f"refunded by the owner in Telegram ({query.from_user.id})",
            refund_id=refund_id(scope.shop.id, message.chat.id, message.message_id),
        )
    except KassaError as exc:
        await query.answer(exc.message[:200], show_alert=True)
        return
    await query.answer()
    result = _("Refund %(id)s of %(amount)s: %(status)s") % {
        "id": done.id,
        "amount": texts.money(done.amount, done.currency),
        "status": done.status.value,
    }
    if message.text != result:
        await message.edit_text(result, reply_markup=NO_BUTTONS)
