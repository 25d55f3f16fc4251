"""Telegram Stars in Kassa: what the shop's bot calls when Telegram asks about a payment.

The bot (`kassa.bot.paying`; a webhook route could do the same) receives two updates
about a Stars payment, over its own authenticated channel (reference providers.md §4.4):

- `pre_checkout_query`: Telegram asks whether to take the payment and waits 10 s for the
  answer. `pre_checkout` says `ok` only if the payload names a Stars payment of this shop
  that is still pending and unexpired, for exactly the currency and amount Telegram shows;
  otherwise a message for the buyer (in their language). A payment about to expire (within
  `EXPIRY_MARGIN`) is refused too. It reads one row, and gives up with
  a "try again" answer rather than miss Telegram's window.
- `successful_payment`: the money is taken. `paid` hands the update, exactly as received, to
  the core's notification path (`inbound.receive`: stored raw, verified, de-duplicated on the
  `telegram_payment_charge_id`, applied through the transition table with its event), signed
  with the account's `notice_secret` as the USDT-TRC20 watcher signs its notices, so the
  provider's `parse_notification` believes only what came this way. Copies of one update,
  even at once, have one effect: the core's de-duplication on the event key.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from kassa.domain import NotFound, Payment, PaymentStatus, ProviderAccount
from kassa.domain.translatable import N_
from kassa.providers import InboundRequest
from kassa.providers.telegram_stars import (
    CURRENCY,
    TelegramStarsProvider,
    read_successful_payment,
)
from kassa.services import i18n
from kassa.services.context import Context
from kassa.services.payments import lifecycle
from kassa.services.shops import shops

if TYPE_CHECKING:
    from kassa.services.notifications.inbound import Result

NAME = TelegramStarsProvider.name
#: How long `pre_checkout` may take before it answers "try again": well inside Telegram's
#: 10 s, leaving the bot time to send the answer.
PRE_CHECKOUT_BUDGET = 6.0
#: How long before its expiry a payment is no longer offered: Telegram takes the Stars after
#: the bot's `ok`, and a payment expired in between could not succeed any more (the
#: transition table has no way back from `expired`), leaving Stars taken for nothing.
EXPIRY_MARGIN = timedelta(minutes=1)

UNKNOWN = N_("This order is unknown. Please start the purchase again.")
NOT_PAYABLE = N_("This order can no longer be paid.")
ALREADY_PAID = N_("This order is already paid.")
EXPIRED = N_("This order has expired. Please start the purchase again.")
PRICE_CHANGED = N_("The price of this order has changed. Please start the purchase again.")
TRY_AGAIN = N_("The shop could not check this order in time. Please try again.")

#: The catalogs, read once: an answer must not wait for a catalog to be compiled again.
_catalog = functools.cache(i18n.translations)


@dataclass(frozen=True, slots=True)
class PreCheckoutAnswer:
    """The bot's answer to `answerPreCheckoutQuery`: `ok`, or not with `error_message` (the
    buyer's language)."""

    ok: bool
    error_message: str | None = None


async def pre_checkout(ctx: Context, *, shop: str, query: Mapping[str, Any]) -> PreCheckoutAnswer:
    """Whether Telegram should take the payment `query` (a `pre_checkout_query`, as received)
    asks about, for the bot of shop `shop`."""
    language = _language(query)
    try:
        problem = await asyncio.wait_for(_problem(ctx, shop, query), PRE_CHECKOUT_BUDGET)
    except TimeoutError:
        problem = TRY_AGAIN
    if problem is None:
        return PreCheckoutAnswer(ok=True)
    return PreCheckoutAnswer(ok=False, error_message=_catalog(language).gettext(problem))


async def _problem(ctx: Context, shop: str, query: Mapping[str, Any]) -> str | None:
    """Why the payment cannot be taken (a message to translate), or None."""
    payment = await _payment(ctx, shop, query.get("invoice_payload"))
    if payment is None:
        return UNKNOWN
    if payment.status == PaymentStatus.SUCCEEDED:
        return ALREADY_PAID
    if payment.status != PaymentStatus.PENDING:
        return NOT_PAYABLE
    if payment.expires_at is not None and payment.expires_at <= ctx.clock() + EXPIRY_MARGIN:
        return EXPIRED
    if query.get("currency") != CURRENCY or query.get("total_amount") != payment.amount:
        return PRICE_CHANGED
    return None


async def _payment(ctx: Context, shop: str, payload: Any) -> Payment | None:
    """The Stars payment of shop `shop` that `payload` names, or None."""
    if not isinstance(payload, str) or not payload:
        return None
    try:
        payment = await lifecycle.find_payment(ctx, payment_id=payload)
    except NotFound:
        return None
    accounts = await shops.hook_accounts(ctx, shop_name=shop, provider=NAME)
    if payment.provider != NAME or payment.shop_id not in {a.shop_id for a in accounts}:
        return None
    return payment


def _language(query: Mapping[str, Any]) -> str:
    sender = query.get("from")
    code = sender.get("language_code") if isinstance(sender, dict) else None
    language = str(code or "").split("-")[0].lower()
    return language if language in i18n.LOCALES else i18n.DEFAULT_LOCALE


async def paid(ctx: Context, *, shop: str, update: Mapping[str, Any]) -> Result:
    """Ingest `update` (a Bot API update whose message holds a `successful_payment`, as
    received) as the shop's Telegram Stars notification; returns the core's `Result` (its
    verdict: accepted, duplicate, pending or rejected). The bot confirms the update to
    Telegram only after this returns, so a crash in between has Telegram give it again."""
    from kassa.services.notifications import inbound  # it imports what imports this module

    account = await _account(ctx, shop, update)
    if account is None:
        # No Stars account to sign it: refused (and kept, as every refusal is).
        body = json.dumps(dict(update), separators=(",", ":"), ensure_ascii=False).encode()
        request = InboundRequest(method="POST", headers={}, body=body)
    else:
        gateway = cast(TelegramStarsProvider, ctx.gateways.for_account(account))
        notice = gateway.notice(update)
        request = InboundRequest(method=notice.method, headers=notice.headers, body=notice.body)
    return await inbound.receive(ctx, provider=NAME, shop_ref=shop, request=request)


async def _account(ctx: Context, shop: str, update: Mapping[str, Any]) -> ProviderAccount | None:
    """The account whose payment the update pays, or else any enabled Stars account of the
    shop (a payment Kassa does not know is still stored, under it)."""
    accounts = await shops.hook_accounts(ctx, shop_name=shop, provider=NAME)
    try:
        _, found = read_successful_payment(dict(update))
        payment = await _payment(ctx, shop, found["invoice_payload"])
    except (ValueError, KeyError, TypeError):
        payment = None
    if payment is not None:
        for account in accounts:
            if account.id == payment.provider_account_id:
                return account
    return accounts[0] if accounts else None
