"""What the bot needs to take a buyer's payment: the ways the shop can be paid from
Telegram, the Stars invoice for the chat, and the "check payment" button's re-check.

The ways to pay are the shop's enabled provider accounts in the bot's mode that can serve a
buyer in Telegram (`methods`):

- in test mode, the sandbox, and Telegram Stars only for a bot in Telegram's test
  environment (`server=test`, whose Stars cost nothing: a test Stars account calls it);
- live, every live account whose provider takes rubles (the plans' prices are in rubles),
  and Telegram Stars only from a bot on Telegram's production servers;
- never a provider a payment must name on purpose (the shop's own kiosk terminals).

Telegram Stars is offered for a plan only (it has a Stars price), never for a top-up of the
balance, which is in rubles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from kassa.domain import NotFound, Payment, PaymentStatus, ProviderNotConfigured, Shop
from kassa.providers import provider_class
from kassa.providers.telegram_stars import DEFAULT_TITLE, invoice_params
from kassa.services.bot import plans, purchases
from kassa.services.bot.settings import BotSettings
from kassa.services.context import Context
from kassa.services.payments import lifecycle
from kassa.services.shops import shops
from kassa.store.tables import bot_purchases

STARS = purchases.STARS
SANDBOX = "sandbox"


@dataclass(frozen=True, slots=True)
class Method:
    """A way to pay: the provider's name (what `purchases.start` takes) and its title."""

    provider: str
    title: str


async def methods(
    ctx: Context, *, shop: Shop, settings: BotSettings, stars: bool = True
) -> list[Method]:
    """The ways the bot's buyer can pay the shop, Telegram Stars last; without Stars if
    `stars` is false (a top-up)."""
    accounts = await shops.list_accounts(
        ctx, shop_id=shop.id, test=settings.test, enabled_only=True
    )
    found: dict[str, Method] = {}
    for account in accounts:
        kind = provider_class(account.provider)
        if kind.named_only or account.provider in found:
            continue
        if account.provider == STARS:
            # Test Stars are the test environment's; live ones, production's.
            if not stars or settings.test != settings.test_server:
                continue
        elif not _serves(account.provider, kind.currencies, test=settings.test):
            continue
        found[account.provider] = Method(account.provider, kind.title)
    return sorted(found.values(), key=lambda method: method.provider == STARS)


async def check_offered(ctx: Context, *, shop: Shop, settings: BotSettings, provider: str) -> None:
    """`ProviderNotConfigured` unless `provider` is one of the ways the bot offers (a plan's:
    a top-up's refuses Stars by itself)."""
    offered = await methods(ctx, shop=shop, settings=settings)
    if provider not in {method.provider for method in offered}:
        raise ProviderNotConfigured(
            f"{provider!r} is not a way to pay this bot offers", param="provider"
        )


def _serves(provider: str, currencies: frozenset[str] | None, *, test: bool) -> bool:
    """Whether a provider other than Stars can take a plan's rubles in the bot's mode."""
    if test:
        return provider == SANDBOX
    return currencies is None or "RUB" in currencies


async def plan(ctx: Context, *, shop: Shop, plan_id: str) -> plans.Plan:
    """The shop's plan `plan_id` if it is still sold; `NotFound` otherwise."""
    async with ctx.db.read() as conn:
        found = await plans.get(conn, shop_id=shop.id, plan_id=plan_id)
    if not found.active:
        raise NotFound(f"the plan {found.name!r} is not sold any more")
    return found


async def topups(ctx: Context, *, shop: Shop) -> list[int]:
    """The amounts (kopecks) a buyer is offered to top up by: the prices of the shop's plans
    on sale, so that each top-up pays for one."""
    sold = await plans.list_plans(ctx, shop_id=shop.id, active_only=True)
    return sorted({each.price for each in sold})


async def invoice(ctx: Context, *, payment: Payment) -> dict[str, Any]:
    """The parameters of `sendInvoice` (all but `chat_id`) for a Telegram Stars payment: the
    invoice its account would link to, Kassa's payment id as the payload."""
    account = await shops.get_account(ctx, account_id=payment.provider_account_id)
    return invoice_params(
        payment_id=payment.id,
        amount=payment.amount,
        title=account.credentials.get("title") or DEFAULT_TITLE,
        description=payment.description,
    )


@dataclass(frozen=True, slots=True)
class Checked:
    """What the check found: the payment's status, and whether it was a top-up."""

    status: PaymentStatus
    topup: bool


async def check(
    ctx: Context, *, shop: Shop, settings: BotSettings, buyer_id: str, payment_id: str
) -> Checked:
    """Ask the provider about the buyer's own purchase's payment now, as reconciliation does,
    and apply what it says (`lifecycle.refresh_payment`). `NotFound` for anyone else's."""
    query = select(bot_purchases.c.kind).where(
        bot_purchases.c.payment_id == payment_id,
        bot_purchases.c.buyer_id == buyer_id,
        bot_purchases.c.shop_id == shop.id,
    )
    async with ctx.db.read() as conn:
        kind = (await conn.execute(query)).scalar()
    if kind is None:
        raise NotFound(f"No payment {payment_id!r}", param="id")
    payment = await lifecycle.refresh_payment(
        ctx, caller=purchases.caller_for(shop, settings), payment_id=payment_id
    )
    return Checked(payment.status, kind == purchases.TOPUP)
