"""A promo code entered in the bot (`promo_entry`): days at once, a percentage pending until a
purchase uses it, and each refusal with its code; the trial's refusals; the terms setting."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from kassa.domain import Conflict, KassaError, NotFound, ParameterInvalid
from kassa.services.bot import buyers, promo_entry, promos, purchases
from kassa.services.bot import settings as bot_settings
from kassa.services.context import utcnow
from kassa.store.tables import bot_pending_promos
from tests.bot.conftest import bot_shop, buy, buyer, consume, plan_id, rows
from tests.live import LiveServer


def test_a_percentage_is_pending_until_a_purchase_uses_it_and_again_if_none_could_be_made(
    hub: LiveServer,
) -> None:
    shop = bot_shop(hub)
    hub.call(promos.add(hub.ctx, shop_id=shop.id, code="TEN", percent=10))
    hub.call(promos.add(hub.ctx, shop_id=shop.id, code="HALF", percent=50))
    who = buyer(hub, shop)

    def pending() -> str | None:
        found = hub.call(promo_entry.pending(hub.ctx, shop_id=shop.id, buyer_id=who.id))
        return None if found is None else found.code

    assert pending() is None
    entered = hub.call(promo_entry.enter(hub.ctx, shop_id=shop.id, buyer_id=who.id, code="ten"))
    assert (entered.promo.percent, entered.ends_at) == (10, None)
    hub.call(promo_entry.enter(hub.ctx, shop_id=shop.id, buyer_id=who.id, code=" half "))
    assert pending() == "HALF"  # the newer code replaces the older
    with pytest.raises(KassaError):  # the shop has no YooKassa: no payment, the use given back
        hub.call(
            purchases.start(
                hub.ctx,
                shop=shop,
                buyer_id=who.id,
                plan_id=plan_id(hub, shop),
                provider="yookassa",
                promo="HALF",
            )
        )
    assert pending() == "HALF"
    bought = hub.call(
        purchases.start(
            hub.ctx, shop=shop, buyer_id=who.id, plan_id=plan_id(hub, shop), promo=pending()
        )
    )
    assert bought.payment.amount == 5_000
    assert pending() is None
    with pytest.raises(Conflict) as refused:
        hub.call(promo_entry.enter(hub.ctx, shop_id=shop.id, buyer_id=who.id, code="HALF"))
    assert refused.value.code == promos.USED_BY_BUYER


def test_concurrent_entries_of_codes_keep_one_pending_code(hub: LiveServer) -> None:
    shop = bot_shop(hub)
    for code in ("A5", "B15", "C25"):
        hub.call(promos.add(hub.ctx, shop_id=shop.id, code=code, percent=int(code[1:])))
    who = buyer(hub, shop)

    async def at_once() -> None:
        await asyncio.gather(
            *(
                promo_entry.enter(hub.ctx, shop_id=shop.id, buyer_id=who.id, code=code)
                for code in ("A5", "B15", "C25", "A5")
            )
        )

    hub.call(at_once())
    (kept,) = rows(hub, bot_pending_promos, bot_pending_promos.c.buyer_id == who.id)
    found = hub.call(promo_entry.pending(hub.ctx, shop_id=shop.id, buyer_id=who.id))
    assert found is not None
    assert found.id == kept["promo_id"]


def test_days_at_once_and_every_refusal_with_its_code(hub: LiveServer) -> None:
    shop = bot_shop(hub)
    past = utcnow() - timedelta(minutes=1)
    hub.call(promos.add(hub.ctx, shop_id=shop.id, code="WEEK", days=7, max_uses=1))
    hub.call(promos.add(hub.ctx, shop_id=shop.id, code="OLD", percent=20, valid_until=past))
    first, second = buyer(hub, shop), buyer(hub, shop)
    before = utcnow()
    entered = hub.call(promo_entry.enter(hub.ctx, shop_id=shop.id, buyer_id=first.id, code="week"))
    assert entered.ends_at is not None
    assert entered.ends_at >= before + timedelta(days=7)

    def refusal(who: buyers.Buyer, code: str) -> str:
        with pytest.raises((Conflict, NotFound)) as refused:
            hub.call(promo_entry.enter(hub.ctx, shop_id=shop.id, buyer_id=who.id, code=code))
        return refused.value.code

    assert refusal(first, "WEEK") == promos.USED_BY_BUYER
    assert refusal(second, "WEEK") == promos.USED_UP
    assert refusal(second, "OLD") == promos.EXPIRED
    assert refusal(second, "NONE") == promos.UNKNOWN
    assert refusal(second, "") == promos.UNKNOWN
    assert refusal(second, "X" * 65) == promos.UNKNOWN
    # An expired percentage once pending is pending no more.
    assert hub.call(promo_entry.pending(hub.ctx, shop_id=shop.id, buyer_id=second.id)) is None


def test_the_trials_refusals_say_why(hub: LiveServer) -> None:
    shop, none = bot_shop(hub), bot_shop(hub, trial_days="0")

    def refusal(shop_id: str, who: buyers.Buyer) -> str:
        with pytest.raises(Conflict) as refused:
            hub.call(buyers.start_trial(hub.ctx, shop_id=shop_id, buyer_id=who.id))
        return refused.value.code

    tried, customer = buyer(hub, shop), buyer(hub, shop)
    hub.call(buyers.start_trial(hub.ctx, shop_id=shop.id, buyer_id=tried.id))
    assert refusal(shop.id, tried) == buyers.TRIAL_USED
    buy(hub, shop, customer)
    consume(hub)
    assert refusal(shop.id, customer) == buyers.SUBSCRIBED_BEFORE
    assert refusal(none.id, buyer(hub, none)) == buyers.NO_TRIAL
    found = hub.call(buyers.subscription(hub.ctx, buyer_id=customer.id))
    assert found is not None
    assert (found.state(utcnow()), found.plan) == (buyers.ACTIVE, "1 month")
    assert found.state(found.ends_at) == buyers.EXPIRED


def test_the_terms_setting(hub: LiveServer) -> None:
    shop = bot_shop(hub, terms="  Refunds within 14 days.  ")
    found = hub.call(bot_settings.get(hub.ctx, shop_id=shop.id))
    assert found.terms == "Refunds within 14 days."
    assert found.shown()["terms"] == "Refunds within 14 days."
    with pytest.raises(ParameterInvalid):
        hub.call(bot_settings.configure(hub.ctx, shop=shop, changes={"terms": "x" * 4001}))
    cleared = hub.call(bot_settings.configure(hub.ctx, shop=shop, changes={"terms": ""}))
    assert cleared.terms is None
