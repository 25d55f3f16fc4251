"""The bots' background jobs: reminders before and at a subscription's end, each once per end
(a clock moved ahead plays the days), and the owners' alerts, told once when a condition
starts and once when it clears."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from kassa.bot import menu, notices
from kassa.bot.outbox import RENDERERS
from kassa.bot.texts import Texts
from kassa.domain import Shop
from kassa.services.bot import alerts, buyers, reminders
from kassa.services.bot import settings as bot_settings
from kassa.services.context import Context, utcnow
from kassa.services.operations import vitals
from kassa.services.payments import expiry
from kassa.store.tables import bot_alerts, bot_messages
from tests.bot.conftest import bot_shop, buyer, plan_id
from tests.helpers import create_payment, make_shop
from tests.live import LiveServer

assert notices  # its renderers are registered

DAY = timedelta(days=1)


def at(hub: LiveServer, when: datetime) -> Context:
    return replace(hub.ctx, clock=lambda: when)


def subscribe(
    hub: LiveServer, shop: Shop, who: buyers.Buyer, *, days: int, now: datetime, **extra: Any
) -> datetime:
    """Lengthen `who`'s subscription by `days` as of `now` (a purchase, or what `extra` says)."""

    async def extend() -> datetime | None:
        async with hub.ctx.db.write() as conn:
            return await buyers.extend(
                conn,
                shop_id=shop.id,
                buyer_id=who.id,
                days=days,
                now=now,
                cause=f"test:{secrets.token_hex(4)}",
                reason="purchase",
                **extra,
            )

    ends_at = hub.call(extend())
    assert ends_at is not None
    return ends_at


def remind(hub: LiveServer, when: datetime) -> None:
    """Two workers run the job at once, twice."""

    async def rounds() -> None:
        ctx = at(hub, when)
        for _ in range(2):
            await asyncio.gather(reminders.remind_due(ctx), reminders.remind_due(ctx))

    hub.call(rounds())


def messages(hub: LiveServer, telegram_id: int) -> list[Any]:
    async def read() -> list[Any]:
        query = (
            select(bot_messages)
            .where(bot_messages.c.telegram_id == telegram_id)
            .order_by(bot_messages.c.created_at, bot_messages.c.id)
        )
        async with hub.ctx.db.read() as conn:
            return list((await conn.execute(query)).mappings())

    return hub.call(read())


def kinds(hub: LiveServer, telegram_id: int) -> list[str]:
    return [message["kind"] for message in messages(hub, telegram_id)]


def test_which_reminder_is_due() -> None:
    end = datetime(2027, 3, 10, 12, tzinfo=UTC)
    month_ago = end - 30 * DAY
    assert reminders.due(end, month_ago, end - 4 * DAY) is None
    assert reminders.due(end, month_ago, end - 3 * DAY) == reminders.ENDS_IN_3D
    assert reminders.due(end, month_ago, end - 2 * DAY) == reminders.ENDS_IN_3D
    assert reminders.due(end, month_ago, end - DAY) == reminders.ENDS_IN_1D
    assert reminders.due(end, month_ago, end) == reminders.EXPIRED
    assert reminders.due(end, month_ago, end + reminders.EXPIRED_WITHIN) is None
    # A 3-day trial: no "3 days left" at its start, the others as usual.
    trial = end - 3 * DAY
    assert reminders.due(end, trial, trial + timedelta(minutes=1)) is None
    assert reminders.due(end, trial, end - DAY) == reminders.ENDS_IN_1D


def test_a_paid_subscription_gets_each_reminder_once_and_a_renewal_its_own(
    hub: LiveServer,
) -> None:
    shop = bot_shop(hub)
    who = buyer(hub, shop)
    plan = plan_id(hub, shop)
    start = utcnow()
    end = subscribe(hub, shop, who, days=30, now=start, plan_id=plan)

    remind(hub, start + 10 * DAY)
    assert kinds(hub, who.telegram_id) == []
    remind(hub, end - 3 * DAY + timedelta(hours=1))
    remind(hub, end - 2 * DAY)
    assert kinds(hub, who.telegram_id) == [reminders.ENDS_IN_3D]
    remind(hub, end - timedelta(hours=20))
    remind(hub, end + timedelta(hours=1))
    remind(hub, end + 3 * DAY)
    assert kinds(hub, who.telegram_id) == [
        reminders.ENDS_IN_3D,
        reminders.ENDS_IN_1D,
        reminders.EXPIRED,
    ]
    first = messages(hub, who.telegram_id)[0]
    assert first["params"] == {"ends_at": end.isoformat(), "trial": False, "plan_id": plan}
    assert first["shop_id"] == shop.id

    # Renewed after it expired: the new end gets reminders of its own.
    renewed = end + 3 * DAY
    new_end = subscribe(hub, shop, who, days=30, now=renewed, plan_id=plan)
    remind(hub, renewed + timedelta(minutes=1))
    remind(hub, new_end - 2 * DAY)
    found = messages(hub, who.telegram_id)
    assert [m["kind"] for m in found] == [
        reminders.ENDS_IN_3D,
        reminders.ENDS_IN_1D,
        reminders.EXPIRED,
        reminders.ENDS_IN_3D,
    ]
    assert found[-1]["params"]["ends_at"] == new_end.isoformat()
    assert len({m["id"] for m in found}) == 4


def test_a_trial_is_reminded_the_day_before_and_when_it_ends(hub: LiveServer) -> None:
    shop = bot_shop(hub, trial_days="3")
    who = buyer(hub, shop)
    ends_at = hub.call(buyers.start_trial(hub.ctx, shop_id=shop.id, buyer_id=who.id))
    remind(hub, utcnow() + timedelta(minutes=5))
    assert kinds(hub, who.telegram_id) == []
    remind(hub, ends_at - timedelta(hours=12))
    remind(hub, ends_at + timedelta(minutes=1))
    found = messages(hub, who.telegram_id)
    assert [m["kind"] for m in found] == [reminders.ENDS_IN_1D, reminders.EXPIRED]
    assert found[0]["params"]["trial"] is True
    assert found[0]["params"]["plan_id"] is None


def test_reminders_render_with_a_renew_button() -> None:
    ends_at = datetime(2027, 3, 10, 12, tzinfo=UTC).isoformat()
    paid = {"ends_at": ends_at, "trial": False, "plan_id": "plan_x"}
    russian = RENDERERS[reminders.ENDS_IN_3D](Texts("ru"), paid)
    assert "3 дня" in russian.text
    assert russian.keyboard is not None
    (button,) = russian.keyboard.inline_keyboard[0]
    assert button.callback_data == menu.plan_data("plan_x")
    expired = RENDERERS[reminders.EXPIRED](Texts("en"), {**paid, "trial": True})
    assert expired.text == "Your free trial has ended."
    assert expired.keyboard is not None
    assert expired.keyboard.inline_keyboard[0][0].callback_data == menu.CATALOG


def test_conditions_follow_the_prometheus_thresholds() -> None:
    now = datetime(2027, 3, 10, 12, tzinfo=UTC)
    reading = vitals.Vitals(
        at=now,
        open_payments=[],
        overdue=[],
        endpoints=[
            vitals.EndpointHealth("we_1", "cafe", False, now - timedelta(hours=2), 3, None),
            vitals.EndpointHealth("we_2", "cafe", False, now - timedelta(minutes=30), 1, None),
            vitals.EndpointHealth("we_3", "shop", True, now - timedelta(hours=2), 1, None),
        ],
        disabled_endpoints={False: 0, True: 0},
        waiting_terminals=[
            vitals.WaitingTerminal("cafe", "KIOSK_1", 2, now - timedelta(minutes=2)),
            vitals.WaitingTerminal("cafe", "KIOSK_2", 1, now - timedelta(seconds=10)),
        ],
        disk=vitals.Disk(None, None, None),
        shop_payments=[
            vitals.ShopPayments("cafe", False, 2, now - timedelta(minutes=20), 1, now - DAY),
            vitals.ShopPayments("shop", True, 1, now - timedelta(minutes=20), 0, None),
        ],
    )
    found = {(c.shop, c.key) for c in alerts.conditions(reading, test_shops=frozenset())}
    assert found == {
        ("cafe", "payments_overdue"),
        ("cafe", "webhook_failing:we_1"),
        ("cafe", "terminal_offline:KIOSK_1"),
    }
    with_test = alerts.conditions(reading, test_shops=frozenset({"shop"}))
    assert {(c.shop, c.key) for c in with_test} - found == {
        ("shop", "payments_overdue:test"),
        ("shop", "webhook_failing:we_3"),
    }


def test_an_alert_is_told_to_each_admin_once_when_it_starts_and_once_when_it_clears(
    hub: LiveServer,
) -> None:
    owners = (secrets.randbelow(10**9) + 1, secrets.randbelow(10**9) + 1)
    with_bot = make_shop(hub)
    shop = with_bot.shop
    changes = {"token": f"123:{secrets.token_hex(8)}", "admins": ",".join(map(str, owners))}
    hub.call(bot_settings.configure(hub.ctx, shop=shop, changes=changes))
    without = make_shop(hub)  # a shop without a bot: its payments alert no one
    with httpx.Client(base_url=hub.url, timeout=30) as api:
        for key in (with_bot.key, without.key):
            api.headers["Authorization"] = f"Bearer {key}"
            create_payment(api, expires_in=600)
    overdue = utcnow() + timedelta(minutes=30)

    def round_at(when: datetime) -> None:
        async def rounds() -> None:
            ctx = at(hub, when)
            for _ in range(2):
                await asyncio.gather(alerts.alert_owners(ctx), alerts.alert_owners(ctx))

        hub.call(rounds())

    round_at(overdue)
    round_at(overdue + timedelta(minutes=1))
    for owner in owners:
        assert kinds(hub, owner) == [alerts.STARTED]
        (started,) = messages(hub, owner)
        assert started["params"]["kind"] == "payments_overdue"
        assert started["params"]["shop"] == shop.name
        assert started["params"]["test"] is True  # the bot sells in test mode
    assert len(_alerts(hub, shop)) == 1
    assert _alerts(hub, without.shop) == []
    text = RENDERERS[alerts.STARTED](Texts("en"), started["params"]).text
    assert f"{shop.name}: 1 pending payments are past their expiry" in text
    assert "(test mode)" in text

    # Expiry settles the payments: the alert clears, once.
    hub.call(expiry.expire_due(at(hub, overdue)))
    round_at(overdue + timedelta(minutes=2))
    round_at(overdue + timedelta(minutes=3))
    for owner in owners:
        assert kinds(hub, owner) == [alerts.STARTED, alerts.CLEARED]
    assert _alerts(hub, shop) == []
    cleared = messages(hub, owners[0])[1]
    assert "✅" in RENDERERS[alerts.CLEARED](Texts("ru"), cleared["params"]).text


def _alerts(hub: LiveServer, shop: Shop) -> list[Any]:
    async def read() -> list[Any]:
        async with hub.ctx.db.read() as conn:
            query = select(bot_alerts).where(bot_alerts.c.shop_id == shop.id)
            return list((await conn.execute(query)).mappings())

    return hub.call(read())


def test_a_bot_in_webhook_mode_gets_a_sealed_secret_once(hub: LiveServer) -> None:
    shop = bot_shop(hub)
    assert hub.call(bot_settings.get(hub.ctx, shop_id=shop.id)).webhook_secret is None
    first = hub.call(bot_settings.configure(hub.ctx, shop=shop, changes={"mode": "webhook"}))
    assert first.mode == "webhook"
    assert first.webhook_secret is not None
    assert first.shown()["mode"] == "webhook"
    assert "webhook_secret" not in first.shown()
    again = hub.call(
        bot_settings.configure(hub.ctx, shop=shop, changes={"mode": "polling", "test": "true"})
    )
    assert again.webhook_secret == first.webhook_secret
