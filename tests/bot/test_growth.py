"""Trial, promo codes and referrals: each given as often as it may be and no more, also when
asked for at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from kassa.domain import Conflict, KassaError
from kassa.services.bot import buyers, promos, purchases
from kassa.services.context import utcnow
from kassa.store.tables import bot_promo_codes, bot_provisioning, bot_purchases
from tests.bot.conftest import bot_shop, buy, buyer, consume, ends_at, plan_id, rows, succeeded
from tests.live import LiveServer


def test_the_trial_is_once_and_only_for_who_never_subscribed(hub: LiveServer) -> None:
    shop = bot_shop(hub, trial_days="5")
    newcomer, customer = buyer(hub, shop), buyer(hub, shop)
    before = utcnow()
    ends = hub.call(buyers.start_trial(hub.ctx, shop_id=shop.id, buyer_id=newcomer.id))
    assert before + timedelta(days=5) <= ends <= utcnow() + timedelta(days=5)
    with pytest.raises(Conflict):
        hub.call(buyers.start_trial(hub.ctx, shop_id=shop.id, buyer_id=newcomer.id))
    assert ends_at(hub, newcomer) == ends
    buy(hub, shop, customer)
    consume(hub)
    with pytest.raises(Conflict):
        hub.call(buyers.start_trial(hub.ctx, shop_id=shop.id, buyer_id=customer.id))
    # The same Telegram account seen again is the same buyer: no second trial.
    again = hub.call(buyers.register(hub.ctx, shop_id=shop.id, telegram_id=newcomer.telegram_id))
    assert again.id == newcomer.id


def test_concurrent_trials_of_one_buyer_give_one(hub: LiveServer) -> None:
    shop = bot_shop(hub)
    who = buyer(hub, shop)

    async def both() -> list[object]:
        ask = buyers.start_trial(hub.ctx, shop_id=shop.id, buyer_id=who.id)
        again = buyers.start_trial(hub.ctx, shop_id=shop.id, buyer_id=who.id)
        return list(await asyncio.gather(ask, again, return_exceptions=True))

    outcomes = hub.call(both())
    assert sum(isinstance(each, Conflict) for each in outcomes) == 1
    assert len(rows(hub, bot_provisioning, bot_provisioning.c.buyer_id == who.id)) == 1


def test_a_promo_codes_limit_holds_under_concurrent_uses(hub: LiveServer) -> None:
    shop = bot_shop(hub)
    hub.call(promos.add(hub.ctx, shop_id=shop.id, code="spring", days=10, max_uses=3))
    many = [buyer(hub, shop) for _ in range(6)]

    async def all_at_once() -> list[object]:
        uses = [
            promos.redeem_days(hub.ctx, shop_id=shop.id, buyer_id=who.id, code="SPRING")
            for who in many
        ]
        return await asyncio.gather(*uses, return_exceptions=True)

    outcomes = hub.call(all_at_once())
    assert sum(isinstance(each, Conflict) for each in outcomes) == 3
    (code,) = rows(hub, bot_promo_codes, bot_promo_codes.c.shop_id == shop.id)
    assert code["uses"] == 3
    lengthened = [who for who in many if ends_at(hub, who) is not None]
    assert len(lengthened) == 3


def test_a_promo_code_once_per_buyer_and_not_after_its_expiry(hub: LiveServer) -> None:
    shop = bot_shop(hub)
    hub.call(promos.add(hub.ctx, shop_id=shop.id, code="ONCE", days=3))
    past = utcnow() - timedelta(minutes=1)
    hub.call(promos.add(hub.ctx, shop_id=shop.id, code="GONE", days=3, valid_until=past))
    who = buyer(hub, shop)
    first = hub.call(promos.redeem_days(hub.ctx, shop_id=shop.id, buyer_id=who.id, code="once"))
    with pytest.raises(Conflict, match="used this promo code already"):
        hub.call(promos.redeem_days(hub.ctx, shop_id=shop.id, buyer_id=who.id, code="once"))
    with pytest.raises(Conflict, match="expired"):
        hub.call(promos.redeem_days(hub.ctx, shop_id=shop.id, buyer_id=who.id, code="gone"))
    assert ends_at(hub, who) == first
    once = next(
        r
        for r in rows(hub, bot_promo_codes, bot_promo_codes.c.shop_id == shop.id)
        if r["code"] == "ONCE"
    )
    assert once["uses"] == 1  # the refused second use was rolled back


def test_a_percentage_code_lowers_the_price_of_a_purchase(hub: LiveServer) -> None:
    shop = bot_shop(hub)
    hub.call(promos.add(hub.ctx, shop_id=shop.id, code="THIRTY", percent=30))
    who = buyer(hub, shop)
    with pytest.raises(Conflict):
        hub.call(promos.redeem_days(hub.ctx, shop_id=shop.id, buyer_id=who.id, code="THIRTY"))
    purchase = hub.call(
        purchases.start(
            hub.ctx, shop=shop, buyer_id=who.id, plan_id=plan_id(hub, shop), promo="thirty"
        )
    )
    assert (purchase.payment.amount, purchase.payment.currency) == (7_000, "RUB")
    assert purchase.payment.metadata == {"bot_purchase": purchase.id}
    assert purchase.payment.test


def test_the_inviter_gets_the_bonus_once_on_the_first_paid_purchase(hub: LiveServer) -> None:
    shop = bot_shop(hub)
    inviter = buyer(hub, shop)
    invited = buyer(hub, shop, referral_code=inviter.referral_code)
    assert invited.invited_by == inviter.id
    assert hub.call(buyers.invited_count(hub.ctx, buyer_id=inviter.id)) == 1
    # A buyer already known keeps who invited them (or that nobody did).
    again = hub.call(
        buyers.register(
            hub.ctx,
            shop_id=shop.id,
            telegram_id=inviter.telegram_id,
            referral_code=invited.referral_code,
        )
    )
    assert again.invited_by is None
    first = buy(hub, shop, invited)
    consume(hub)
    bonus_end = ends_at(hub, inviter)
    assert bonus_end == succeeded(hub, first.payment.id).created_at + timedelta(days=7)
    buy(hub, shop, invited)
    consume(hub)
    assert ends_at(hub, inviter) == bonus_end


def test_a_plan_no_longer_sold_cannot_be_bought(hub: LiveServer) -> None:
    from kassa.services.bot import plans

    shop = bot_shop(hub)
    who = buyer(hub, shop)
    hub.call(plans.disable(hub.ctx, shop_id=shop.id, name="1 month"))
    with pytest.raises(KassaError, match="not sold"):
        hub.call(purchases.start(hub.ctx, shop=shop, buyer_id=who.id, plan_id=plan_id(hub, shop)))


def test_a_buyer_of_another_shop_can_neither_buy_nor_use_a_code_here(hub: LiveServer) -> None:
    shop, other = bot_shop(hub), bot_shop(hub)
    hub.call(promos.add(hub.ctx, shop_id=shop.id, code="HERE", days=1))
    stranger = buyer(hub, other)
    with pytest.raises(KassaError, match="no buyer"):
        hub.call(
            purchases.start(hub.ctx, shop=shop, buyer_id=stranger.id, plan_id=plan_id(hub, shop))
        )
    with pytest.raises(KassaError, match="no buyer"):
        hub.call(promos.redeem_days(hub.ctx, shop_id=shop.id, buyer_id=stranger.id, code="HERE"))


def test_a_payment_that_cannot_be_created_fails_the_purchase_and_gives_the_code_back(
    hub: LiveServer,
) -> None:
    shop = bot_shop(hub)
    hub.call(promos.add(hub.ctx, shop_id=shop.id, code="HALF", percent=50, max_uses=1))
    who = buyer(hub, shop)
    with pytest.raises(KassaError):
        hub.call(
            purchases.start(
                hub.ctx,
                shop=shop,
                buyer_id=who.id,
                plan_id=plan_id(hub, shop),
                provider="yookassa",  # the shop has no such account
                promo="HALF",
            )
        )
    (failed,) = rows(hub, bot_purchases, bot_purchases.c.buyer_id == who.id)
    assert failed["status"] == "failed"
    (code,) = rows(hub, bot_promo_codes, bot_promo_codes.c.shop_id == shop.id)
    assert code["uses"] == 0
    bought = hub.call(
        purchases.start(
            hub.ctx, shop=shop, buyer_id=who.id, plan_id=plan_id(hub, shop), promo="HALF"
        )
    )
    assert bought.payment.amount == 5_000
