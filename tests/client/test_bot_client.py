"""The Python client's bot plans and promo codes, against a real Kassa on loopback."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime

import pytest

from kassa.client import AsyncKassa, BotPlan, ConflictError, Kassa, PermissionDeniedError
from kassa.services.bot import settings as bot_settings
from tests.helpers import ShopSetup
from tests.live import LiveServer


def with_bot(server: LiveServer, shop: ShopSetup, **changes: str) -> None:
    settings = {"token": f"123:{secrets.token_hex(8)}", **changes}
    server.call(bot_settings.configure(server.ctx, shop=shop.shop, changes=settings))


def test_plans_and_promo_codes(server: LiveServer, shop: ShopSetup) -> None:
    with_bot(server, shop)
    with Kassa(shop.key, server.url) as kassa:
        assert [plan.days for plan in kassa.bot_plans.list().data] == [30, 90, 180, 365]
        week = kassa.bot_plans.add("Week", days=7, price=3_990, devices=2, idempotency_key="w")
        assert isinstance(week, BotPlan)
        assert (week.stars, week.devices, week.active) == (30, 2, True)
        assert (
            kassa.bot_plans.add("Week", days=7, price=3_990, devices=2, idempotency_key="w") == week
        )
        with pytest.raises(ConflictError):
            kassa.bot_plans.add("Week", days=7, price=3_990)
        assert kassa.bot_plans.disable(week.id).active is False

        until = datetime(2027, 8, 31, tzinfo=UTC)
        promo = kassa.bot_promo_codes.add("summer", days=7, max_uses=10, valid_until=until)
        assert (promo.code, promo.days, promo.uses, promo.valid_until) == ("SUMMER", 7, 0, until)
        assert [p.id for p in kassa.bot_promo_codes.list().data] == [promo.id]


def test_the_async_client_and_a_live_bot(server: LiveServer, shop: ShopSetup) -> None:
    with_bot(server, shop, test="false")

    async def work() -> None:
        async with AsyncKassa(shop.key, server.url) as kassa:
            assert len((await kassa.bot_plans.list()).data) == 4
            with pytest.raises(PermissionDeniedError) as refused:
                await kassa.bot_promo_codes.add("HALF", percent=50)
            assert refused.value.code == "live_key_required"
            assert (await kassa.bot_promo_codes.list()).data == []

    asyncio.run(work())
