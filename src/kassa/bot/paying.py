"""Paying in the bot: the ways to pay for a chosen plan (`plan:<id>`), the payment started
through one of them and shown in its shape, Telegram Stars invoices and their
`pre_checkout_query` and `successful_payment`, the "Check payment" button, and the internal
balance (top-ups, renewals from it) of bots with `balance=true`.

Callback data (each within Telegram's 64 bytes: ids are 30-31 characters):

- `plan:<plan id>` (`menu.plan_data`): the plan's ways to pay;
- `pay:<plan id>:<provider>`: start the plan's purchase through that provider;
- `bal:<plan id>`: renew from the balance (once per message: the message is the key);
- `topup`: the amounts to top up by; `top:<kopecks>`: the ways to pay for one;
  `tpay:<kopecks>:<provider>`: start the top-up;
- `check:<payment id>` (`confirmations.check_data`): re-check the payment now.

The check button is rate-limited per buyer in this process (`CHECK_EVERY`): one `kassa bot`
polls a bot, so the limit it keeps is the bot's; a restart forgetting it costs one extra
check. Its purpose is to spare the providers a buyer's repeated taps, not to account for
anything, so it needs no storage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiogram import F, Router
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
    PreCheckoutQuery,
)

from kassa.bot import confirmations, menu, outbox
from kassa.bot.scope import HandleLater, Scope
from kassa.bot.texts import Texts
from kassa.domain import KassaError, Payment, PaymentStatus
from kassa.services.bot import balance, buyers, paying, promo_entry, purchases
from kassa.services.bot.plans import Plan
from kassa.services.providers import telegram_stars

log = logging.getLogger(__name__)

router = Router(name="paying")

PAY_PREFIX = "pay:"
BALANCE_PREFIX = "bal:"
TOPUP = "topup"
TOPUP_PREFIX = "top:"
TOPUP_PAY_PREFIX = "tpay:"
#: Seconds between two checks of one buyer's payments.
CHECK_EVERY = 10.0


class Limiter:
    """At most one use per key every `every` seconds (kept in memory)."""

    def __init__(self, every: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self.clock = clock
        self._last: dict[object, float] = {}

    def allow(self, key: object) -> bool:
        now = self.clock()
        if len(self._last) > 10_000:  # forget the keys whose time is up
            self._last = {k: t for k, t in self._last.items() if now - t < self.every}
        last = self._last.get(key)
        if last is not None and now - last < self.every:
            return False
        self._last[key] = now
        return True


checks = Limiter(CHECK_EVERY)


def _topped_up(texts: Texts, params: Mapping[str, Any]) -> outbox.Rendered:
    """The buyer's message once a top-up is credited (`activation`)."""
    _ = texts.gettext
    return outbox.Rendered(
        _("Your balance is topped up by %(amount)s. It is now %(balance)s.")
        % {
            "amount": texts.money(params["amount"], "RUB"),
            "balance": texts.money(params["balance"], "RUB"),
        },
        menu.main_menu(texts),
    )


outbox.RENDERERS["topup"] = _topped_up


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data)


async def _pending_promo(scope: Scope, buyer: buyers.Buyer) -> str | None:
    """The percent code the buyer entered for their next purchase, for `purchases.start`:
    the one place paying reads it (the buyer's screens keep it: `promo_entry`). None: the
    buyer has none they can still use."""
    found = await promo_entry.pending(scope.ctx, shop_id=scope.shop.id, buyer_id=buyer.id)
    return None if found is None else found.code


def _offer(texts: Texts, plan: Plan, methods: list[paying.Method], wallet: int | None) -> str:
    _ = texts.gettext
    lines = [
        _("%(plan)s: %(days)d days for %(price)s.")
        % {"plan": plan.name, "days": plan.days, "price": texts.money(plan.price, "RUB")}
    ]
    if wallet is not None:
        lines.append(_("Your balance: %(balance)s.") % {"balance": texts.money(wallet, "RUB")})
    if methods or (wallet is not None and wallet >= plan.price):
        lines.append(_("Choose how to pay:"))
    else:
        lines.append(_("The shop takes no payments here yet. Please come back later."))
    return "\n".join(lines)


@router.callback_query(F.data.startswith(menu.PLAN_PREFIX))
async def choose_plan(query: CallbackQuery, scope: Scope) -> None:
    """The plan's ways to pay (and the balance, where the bot keeps one)."""
    texts = scope.texts(query.from_user)
    _ = texts.gettext
    plan_id = (query.data or "").removeprefix(menu.PLAN_PREFIX)
    try:
        plan = await paying.plan(scope.ctx, shop=scope.shop, plan_id=plan_id)
    except KassaError:
        await query.answer(_("This plan is not sold any more."), show_alert=True)
        return
    buyer = await scope.buyer(query.from_user)
    methods = await paying.methods(
        scope.ctx, shop=scope.shop, settings=scope.settings, stars=plan.stars > 0
    )
    rows = []
    for method in methods:
        price = (
            f"{plan.stars} ⭐"
            if method.provider == paying.STARS
            else texts.money(plan.price, "RUB")
        )
        rows.append(
            [_button(f"{method.title}: {price}", f"{PAY_PREFIX}{plan.id}:{method.provider}")]
        )
    wallet = None
    if scope.settings.balance:
        wallet = await balance.of(scope.ctx, buyer_id=buyer.id)
        if wallet >= plan.price:
            rows.insert(0, [_button(_("Pay from the balance"), f"{BALANCE_PREFIX}{plan.id}")])
        rows.append([_button(_("Top up the balance"), TOPUP)])
    await query.answer()
    if query.message is not None:
        await query.message.answer(
            _offer(texts, plan, methods, wallet),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=rows),
        )


@router.callback_query(F.data.startswith(PAY_PREFIX))
async def pay(query: CallbackQuery, scope: Scope) -> None:
    """Start the plan's purchase through the chosen provider and show its payment."""
    plan_id, _, provider = (query.data or "").removeprefix(PAY_PREFIX).partition(":")
    buyer = await scope.buyer(query.from_user)
    promo = await _pending_promo(scope, buyer)
    await _start(
        query,
        scope,
        provider,
        lambda: purchases.start(
            scope.ctx,
            shop=scope.shop,
            buyer_id=buyer.id,
            plan_id=plan_id,
            provider=provider,
            promo=promo,
            return_url=_return_url(scope),
        ),
    )


@router.callback_query(F.data == TOPUP)
async def top_up(query: CallbackQuery, scope: Scope) -> None:
    """The amounts a buyer may top up by: the prices of the shop's plans."""
    texts = scope.texts(query.from_user)
    _ = texts.gettext
    offered = await paying.topups(scope.ctx, shop=scope.shop)
    rows = [[_button(texts.money(amount, "RUB"), f"{TOPUP_PREFIX}{amount}")] for amount in offered]
    await query.answer()
    if query.message is not None and scope.settings.balance:
        await query.message.answer(
            _("How much would you like to top up your balance by?"),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=rows),
        )


@router.callback_query(F.data.startswith(TOPUP_PREFIX))
async def top_up_by(query: CallbackQuery, scope: Scope) -> None:
    """The ways to pay for a top-up (never Stars: the balance is in rubles)."""
    texts = scope.texts(query.from_user)
    _ = texts.gettext
    amount = (query.data or "").removeprefix(TOPUP_PREFIX)
    methods = await paying.methods(scope.ctx, shop=scope.shop, settings=scope.settings, stars=False)
    rows = [
        [_button(method.title, f"{TOPUP_PAY_PREFIX}{amount}:{method.provider}")]
        for method in methods
    ]
    await query.answer()
    if query.message is not None and amount.isdigit():
        await query.message.answer(
            _("Top-up of %(amount)s. Choose how to pay:")
            % {"amount": texts.money(int(amount), "RUB")},
            reply_markup=InlineKeyboardMarkup(inline_keyboard=rows),
        )


@router.callback_query(F.data.startswith(TOPUP_PAY_PREFIX))
async def pay_top_up(query: CallbackQuery, scope: Scope) -> None:
    amount, _, provider = (query.data or "").removeprefix(TOPUP_PAY_PREFIX).partition(":")
    texts = scope.texts(query.from_user)
    buyer = await scope.buyer(query.from_user)
    await _start(
        query,
        scope,
        provider,
        lambda: purchases.start_topup(
            scope.ctx,
            shop=scope.shop,
            buyer_id=buyer.id,
            amount=int(amount) if amount.isdigit() else 0,
            description=texts.gettext("Balance top-up"),
            provider=provider,
            return_url=_return_url(scope),
        ),
    )


def _return_url(scope: Scope) -> str | None:
    """Where a payment page sends the payer back: the bot's chat."""
    return f"https://t.me/{scope.username}" if scope.username else None


async def _start(
    query: CallbackQuery,
    scope: Scope,
    provider: str,
    begin: Callable[[], Awaitable[purchases.Purchase]],
) -> None:
    """Start a purchase (`begin`) through `provider`, if it is one of the ways to pay offered
    (callback data can be forged), and show its payment in the chat."""
    texts = scope.texts(query.from_user)
    _ = texts.gettext
    try:
        await paying.check_offered(
            scope.ctx, shop=scope.shop, settings=scope.settings, provider=provider
        )
        purchase = await begin()
    except KassaError as exc:
        log.info("bot of shop %s: a purchase could not start: %s", scope.shop.id, exc)
        await query.answer(
            _("This way to pay is not available now. Please choose another or try later."),
            show_alert=True,
        )
        return
    await query.answer()
    if query.message is None:
        return
    payment = purchase.payment
    if payment.provider == paying.STARS:
        await _send_invoice(query, scope, payment)
        return
    shown = confirmations.show(
        texts,
        what=payment.description or _("Balance top-up"),
        amount=payment.amount,
        currency=payment.currency,
        payment_id=payment.id,
        confirmation=payment.confirmation,
    )
    if shown.photo is not None:
        await query.message.answer_photo(
            BufferedInputFile(shown.photo, "qr.png"),
            caption=shown.text,
            reply_markup=shown.keyboard,
        )
    else:
        await query.message.answer(shown.text, reply_markup=shown.keyboard)


async def _send_invoice(query: CallbackQuery, scope: Scope, payment: Payment) -> None:
    """The Stars invoice in the chat: Kassa's payment id as its payload, `XTR`, an empty
    provider token; its Pay button first (Telegram's rule), the check button under it."""
    texts = scope.texts(query.from_user)
    _ = texts.gettext
    params = await paying.invoice(scope.ctx, payment=payment)
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("Pay %(stars)d ⭐") % {"stars": payment.amount}, pay=True
                )
            ],
            [confirmations.check_button(texts, payment.id)],
        ]
    )
    assert query.message is not None
    await query.bot.send_invoice(  # type: ignore[union-attr]
        chat_id=query.message.chat.id,
        title=params["title"],
        description=params["description"],
        payload=params["payload"],
        provider_token=params["provider_token"],
        currency=params["currency"],
        prices=[LabeledPrice(**price) for price in params["prices"]],
        reply_markup=keyboard,
    )


@router.callback_query(F.data.startswith(BALANCE_PREFIX))
async def pay_from_balance(query: CallbackQuery, scope: Scope) -> None:
    """Renew from the balance: once per message (two taps on its button renew once)."""
    texts = scope.texts(query.from_user)
    _ = texts.gettext
    plan_id = (query.data or "").removeprefix(BALANCE_PREFIX)
    if query.message is None:
        await query.answer()
        return
    buyer = await scope.buyer(query.from_user)
    key = f"{query.message.chat.id}/{query.message.message_id}"
    try:
        renewal = await balance.renew(
            scope.ctx, shop=scope.shop, buyer_id=buyer.id, plan_id=plan_id, key=key
        )
    except KassaError as exc:
        short = exc.code == balance.SHORT
        await query.answer(
            _("Your balance is not enough for this plan. Top it up first.")
            if short
            else _("This plan cannot be paid from the balance now."),
            show_alert=True,
        )
        return
    if not renewal.new:
        await query.answer(_("Already paid from your balance."))
        return
    await query.answer()
    await query.message.answer(
        _(
            "Paid from your balance: your subscription now runs until %(ends_at)s. "
            "Left on the balance: %(balance)s. Your access comes here in a moment."
        )
        % {"ends_at": texts.time(renewal.ends_at), "balance": texts.money(renewal.balance, "RUB")}
    )


@router.callback_query(F.data.startswith(confirmations.CHECK_PREFIX))
async def check(query: CallbackQuery, scope: Scope) -> None:
    """Ask Kassa to re-check the payment with its provider now (once per `CHECK_EVERY`)."""
    texts = scope.texts(query.from_user)
    _ = texts.gettext
    if not checks.allow((scope.shop.id, query.from_user.id)):
        await query.answer(
            _("Checked a moment ago. Please wait a few seconds before checking again."),
            show_alert=True,
        )
        return
    buyer = await scope.buyer(query.from_user)
    payment_id = (query.data or "").removeprefix(confirmations.CHECK_PREFIX)
    try:
        checked = await paying.check(
            scope.ctx,
            shop=scope.shop,
            settings=scope.settings,
            buyer_id=buyer.id,
            payment_id=payment_id,
        )
    except KassaError as exc:
        log.info("bot of shop %s: check of %s failed: %s", scope.shop.id, payment_id, exc)
        await query.answer(
            _("The payment could not be checked now. Please try again in a minute."),
            show_alert=True,
        )
        return
    if checked.status == PaymentStatus.SUCCEEDED:
        answer = (
            _("Paid! Your balance is topped up in a moment.")
            if checked.topup
            else _("Paid! Your access comes here in a moment.")
        )
    elif checked.status in (PaymentStatus.PENDING, PaymentStatus.REQUIRES_CAPTURE):
        answer = _("Not paid yet. Once you have paid, it can take a minute to arrive.")
    else:
        answer = _("This payment did not go through. Please choose a plan and pay again.")
    await query.answer(answer, show_alert=True)


@router.pre_checkout_query()
async def pre_checkout(query: PreCheckoutQuery, scope: Scope) -> None:
    """Telegram asks whether to take a Stars payment: Kassa answers within its budget."""
    answer = await telegram_stars.pre_checkout(
        scope.ctx, shop=scope.shop.name, query=query.model_dump(mode="json", by_alias=True)
    )
    await query.answer(ok=answer.ok, error_message=answer.error_message)


@router.message(F.successful_payment)
async def successful_payment(message: Message, scope: Scope) -> None:
    """The Stars are taken: the payment enters Kassa as the provider's notification (stored,
    de-duplicated on its charge id, through the transition table). Kassa must have it before
    Telegram is told the update was handled."""
    update = {"message": message.model_dump(mode="json", by_alias=True, exclude_none=True)}
    try:
        result = await telegram_stars.paid(scope.ctx, shop=scope.shop.name, update=update)
    except Exception as exc:
        raise HandleLater(f"the Stars payment could not be recorded: {exc}") from exc
    if result.verdict in ("duplicate", "rejected"):
        log.info("bot of shop %s: a Stars payment: %s", scope.shop.id, result.outcome)
        return
    texts = scope.texts(message.from_user)
    _ = texts.gettext
    await message.answer(_("Thank you! Payment received: your access comes here in a moment."))
