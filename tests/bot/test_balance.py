"""The internal balance as services: a ledger whose sum is the balance, a top-up credited
once however often its payment's success is handled, and a renewal from the balance that
debits once per request and never spends the same money twice, even when asked at once;
an expired subscription renewed from the balance starts again now."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import delete, update

from kassa.domain import Conflict, ParameterInvalid, Shop
from kassa.services.bot import activation, balance, buyers, purchases
from kassa.services.context import utcnow
from kassa.store.tables import bot_balance_entries, bot_messages, bot_subscriptions
from tests.bot.conftest import bot_shop, buyer, consume, ends_at, plan_id, rows
from tests.helpers import checkout
from tests.live import LiveServer


def top_up(hub: LiveServer, shop: Shop, who: buyers.Buyer, amount: int) -> purchases.Purchase:
    """A top-up by `amount` kopecks, paid at the sandbox's checkout."""
    purchase = hub.call(
        purchases.start_topup(
            hub.ctx,
            shop=shop,
            buyer_id=who.id,
            amount=amount,
            description="Balance top-up",
        )
    )
    assert purchase.payment.confirmation is not None
    checkout(hub, {"confirmation": dict(purchase.payment.confirmation)}, "pay")
    return purchase


def test_a_top_up_is_credited_once_with_one_message(hub: LiveServer) -> None:
    shop = bot_shop(hub, balance="true")
    who = buyer(hub, shop)
    purchase = top_up(hub, shop, who, 24_900)
    consume(hub)  # two workers at once, twice
    consume(hub)
    assert hub.call(balance.of(hub.ctx, buyer_id=who.id)) == 24_900
    (entry,) = rows(hub, bot_balance_entries, bot_balance_entries.c.buyer_id == who.id)
    assert (entry["id"], entry["reason"]) == (f"topup:{purchase.id}", "topup")
    (message,) = rows(hub, bot_messages, bot_messages.c.telegram_id == who.telegram_id)
    assert (message["kind"], message["params"]) == ("topup", {"amount": 24_900, "balance": 24_900})
    assert ends_at(hub, who) is None  # a top-up buys no days


def test_top_ups_are_in_rubles_within_bounds_and_only_where_the_bot_keeps_a_balance(
    hub: LiveServer,
) -> None:
    shop = bot_shop(hub, balance="true")
    who = buyer(hub, shop)
    for amount, provider in ((50, None), (10_000, purchases.STARS)):
        with pytest.raises(ParameterInvalid):
            hub.call(
                purchases.start_topup(
                    hub.ctx,
                    shop=shop,
                    buyer_id=who.id,
                    amount=amount,
                    description="x",
                    provider=provider,
                )
            )
    plain = bot_shop(hub)
    with pytest.raises(Conflict):
        top_up(hub, plain, buyer(hub, plain), 10_000)


def test_two_taps_at_once_debit_once(hub: LiveServer) -> None:
    shop = bot_shop(hub, balance="true")
    who = buyer(hub, shop)
    top_up(hub, shop, who, 10_000)
    consume(hub)
    month = plan_id(hub, shop)

    async def twice() -> list[balance.Renewal]:
        return list(
            await asyncio.gather(
                *(
                    balance.renew(hub.ctx, shop=shop, buyer_id=who.id, plan_id=month, key="m/1")
                    for _ in range(2)
                )
            )
        )

    first, second = hub.call(twice())
    assert sorted([first.new, second.new]) == [False, True]
    assert first.ends_at == second.ends_at == ends_at(hub, who)
    assert hub.call(balance.of(hub.ctx, buyer_id=who.id)) == 0
    debits = [
        e
        for e in rows(hub, bot_balance_entries, bot_balance_entries.c.buyer_id == who.id)
        if e["amount"] < 0
    ]
    assert [(d["amount"], d["reason"], d["plan_id"]) for d in debits] == [(-10_000, "renew", month)]


def test_two_requests_at_once_never_spend_the_money_twice(hub: LiveServer) -> None:
    shop = bot_shop(hub, balance="true")
    who = buyer(hub, shop)
    top_up(hub, shop, who, 10_000)
    consume(hub)
    month = plan_id(hub, shop)

    async def both() -> list[object]:
        return list(
            await asyncio.gather(
                *(
                    balance.renew(hub.ctx, shop=shop, buyer_id=who.id, plan_id=month, key=key)
                    for key in ("m/1", "m/2")
                ),
                return_exceptions=True,
            )
        )

    outcomes = hub.call(both())
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(refused) == 1
    assert refused[0].code == balance.SHORT
    assert hub.call(balance.of(hub.ctx, buyer_id=who.id)) == 0


def test_an_expired_subscription_renewed_from_the_balance_starts_again_now(
    hub: LiveServer,
) -> None:
    shop = bot_shop(hub, balance="true")
    who = buyer(hub, shop)
    top_up(hub, shop, who, 24_900)
    consume(hub)
    three = plan_id(hub, shop, "3 months")
    ends = hub.call(
        balance.renew(hub.ctx, shop=shop, buyer_id=who.id, plan_id=three, key="m/1")
    ).ends_at

    async def expire() -> None:
        async with hub.ctx.db.write() as conn:
            await conn.execute(
                update(bot_subscriptions)
                .where(bot_subscriptions.c.buyer_id == who.id)
                .values(ends_at=ends - timedelta(days=400))
            )

    hub.call(expire())
    top_up(hub, shop, who, 24_900)
    consume(hub)
    now = utcnow()
    ctx = replace(hub.ctx, clock=lambda: now)
    renewal = hub.call(balance.renew(ctx, shop=shop, buyer_id=who.id, plan_id=three, key="m/2"))
    assert renewal.ends_at == now + timedelta(days=90)
    assert renewal.balance == 0


def test_the_audit_finds_a_top_up_activated_without_its_credit(hub: LiveServer) -> None:
    shop = bot_shop(hub, balance="true")
    who = buyer(hub, shop)
    purchase = top_up(hub, shop, who, 10_000)
    consume(hub)

    async def findings() -> list[str]:
        async with hub.ctx.db.read() as conn:
            return [line async for line in activation.audit(conn) if purchase.id in line]

    assert hub.call(findings()) == []

    async def lose_the_credit() -> None:
        async with hub.ctx.db.write() as conn:
            await conn.execute(
                delete(bot_balance_entries).where(bot_balance_entries.c.purchase_id == purchase.id)
            )

    hub.call(lose_the_credit())
    assert hub.call(findings()) == [f"bot-activation:{purchase.id}: a top-up of 10000 credited 0"]
