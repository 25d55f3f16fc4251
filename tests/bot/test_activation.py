"""Activation exactly once: a paid purchase lengthens the subscription once, by an absolute
end recorded with it, however often and however concurrently `payment.succeeded` is handled;
the panel is told that absolute end, and the buyer gets one access message, through a panel
that is down for a while and a worker that dies after the panel's answer."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import delete

from kassa.services.bot import activation
from kassa.services.context import utcnow
from kassa.store.tables import bot_messages, bot_provisioning, bot_purchases, consumer_receipts
from tests.bot.conftest import (
    Crash,
    FakePanel,
    bot_shop,
    buy,
    buyer,
    consume,
    ends_at,
    rows,
    succeeded,
)
from tests.live import LiveServer


def provision(hub: LiveServer, panel: FakePanel, *, ahead: timedelta = timedelta(0)) -> None:
    """Two workers at once run the provisioning job, with the clock `ahead`."""
    ctx = replace(hub.ctx, clock=lambda: utcnow() + ahead)

    async def both() -> None:
        await asyncio.gather(
            activation.provision_due(ctx, factory=panel.factory),
            activation.provision_due(ctx, factory=panel.factory),
        )

    hub.call(both())


def test_a_paid_purchase_extends_once_and_the_buyer_gets_one_link(hub: LiveServer) -> None:
    panel = FakePanel()
    shop = bot_shop(hub, panel="marzban", panel_url="https://panel", panel_password="panel-secret")
    who = buyer(hub, shop)
    purchase = buy(hub, shop, who)
    event = succeeded(hub, purchase.payment.id)
    consume(hub)

    async def replay() -> None:
        # The same event handed to the handler again, twice at once (as a second
        # payment.succeeded would be): the purchase is activated already.
        async def once() -> None:
            async with hub.ctx.db.write() as conn:
                await activation.record(conn, event)

        await asyncio.gather(once(), once())

    hub.call(replay())
    end = ends_at(hub, who)
    assert end == event.created_at + timedelta(days=30)
    (bought,) = rows(hub, bot_purchases, bot_purchases.c.id == purchase.id)
    assert (bought["status"], bought["ends_at"]) == ("activated", end)

    provision(hub, panel)
    provision(hub, panel)
    assert [(call.username, call.expires_at) for call in panel.calls] == [
        (f"tg_{who.telegram_id}", end)
    ]
    (message,) = rows(hub, bot_messages, bot_messages.c.telegram_id == who.telegram_id)
    assert message["kind"] == "access"
    assert message["params"] == {
        "link": f"vless://tg_{who.telegram_id}",
        "ends_at": end.isoformat(),
        "reason": "purchase",
    }
    assert hub.call(activation.mark_sent(hub.ctx, message_id=message["id"]))
    assert not hub.call(activation.mark_sent(hub.ctx, message_id=message["id"]))
    assert hub.call(activation.unsent(hub.ctx, shop_id=shop.id)) == []


def test_a_renewal_adds_the_days_to_the_end_not_to_now(hub: LiveServer) -> None:
    shop = bot_shop(hub)
    who = buyer(hub, shop)
    buy(hub, shop, who)
    consume(hub)
    first = ends_at(hub, who)
    assert first is not None
    second = buy(hub, shop, who)
    consume(hub)
    assert ends_at(hub, who) == first + timedelta(days=30)
    (bought,) = rows(hub, bot_purchases, bot_purchases.c.id == second.id)
    assert bought["ends_at"] == first + timedelta(days=30)


def test_without_a_panel_the_link_is_the_shops_text(hub: LiveServer) -> None:
    shop = bot_shop(hub)
    who = buyer(hub, shop)
    buy(hub, shop, who)
    consume(hub)
    provision(hub, FakePanel())
    (message,) = rows(hub, bot_messages, bot_messages.c.telegram_id == who.telegram_id)
    assert message["params"]["link"] == "Write to @support"


def test_a_panel_down_is_retried_then_stuck_and_the_buyer_told_once(hub: LiveServer) -> None:
    panel = FakePanel(down=True)
    shop = bot_shop(hub, panel="marzban", panel_password="panel-secret")
    who = buyer(hub, shop)
    purchase = buy(hub, shop, who)
    consume(hub)
    provision(hub, panel)
    provision(hub, panel, ahead=timedelta(seconds=11))
    (row,) = rows(hub, bot_provisioning, bot_provisioning.c.id == purchase.id)
    assert (row["status"], row["attempts"]) == ("pending", 2)
    assert "did not answer" in row["error"]
    provision(hub, panel, ahead=activation.STUCK_AFTER + timedelta(hours=1))
    (row,) = rows(hub, bot_provisioning, bot_provisioning.c.id == purchase.id)
    assert (row["status"], row["attempts"]) == ("stuck", 3)
    (stuck,) = hub.call(activation.list_provisioning(hub.ctx, shop_id=shop.id, status="stuck"))
    assert (stuck.id, stuck.reason) == (purchase.id, "purchase")
    panel.down = False
    provision(hub, panel, ahead=timedelta(days=1))
    (row,) = rows(hub, bot_provisioning, bot_provisioning.c.id == purchase.id)
    assert (row["status"], row["error"]) == ("done", None)
    sent = rows(hub, bot_messages, bot_messages.c.telegram_id == who.telegram_id)
    assert sorted(message["kind"] for message in sent) == ["access", "delayed"]


def test_a_panel_that_refuses_is_stuck_at_once_and_not_retried(hub: LiveServer) -> None:
    panel = FakePanel(refuse=True)
    shop = bot_shop(hub, panel="marzban", panel_password="panel-secret")
    purchase = buy(hub, shop, buyer(hub, shop))
    consume(hub)
    provision(hub, panel)
    panel.refuse = False
    provision(hub, panel, ahead=timedelta(days=1))
    (row,) = rows(hub, bot_provisioning, bot_provisioning.c.id == purchase.id)
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("stuck", 1, None)
    assert "refused" in row["error"]
    assert panel.calls == []


def test_a_worker_dying_after_the_panel_answered_gives_one_end_and_one_link(
    hub: LiveServer,
) -> None:
    panel = FakePanel(crash_after=True)
    shop = bot_shop(hub, panel="marzban", panel_password="panel-secret")
    who = buyer(hub, shop)
    buy(hub, shop, who)
    consume(hub)

    async def dies() -> None:
        try:
            await activation.provision_due(hub.ctx, factory=panel.factory)
        except Crash:
            return
        raise AssertionError("the worker was to die")

    hub.call(dies())
    panel.crash_after = False
    provision(hub, panel)  # within the lease: nobody takes the row
    assert len(panel.calls) == 1
    provision(hub, panel, ahead=activation.LEASE + timedelta(seconds=1))
    end = ends_at(hub, who)
    assert [call.expires_at for call in panel.calls] == [end, end]
    assert panel.users == {f"tg_{who.telegram_id}": end}
    (message,) = rows(hub, bot_messages, bot_messages.c.telegram_id == who.telegram_id)
    assert message["kind"] == "access"


def test_the_audit_finds_an_activation_without_its_receipt(hub: LiveServer) -> None:
    shop = bot_shop(hub)
    purchase = buy(hub, shop, buyer(hub, shop))
    consume(hub)

    async def findings() -> list[str]:
        async with hub.ctx.db.read() as conn:
            return [line async for line in activation.audit(conn) if purchase.id in line]

    assert hub.call(findings()) == []
    event = succeeded(hub, purchase.payment.id)

    async def lose_the_receipt() -> None:
        async with hub.ctx.db.write() as conn:
            await conn.execute(
                delete(consumer_receipts).where(
                    consumer_receipts.c.consumer == activation.NAME,
                    consumer_receipts.c.event_id == event.id,
                )
            )

    hub.call(lose_the_receipt())
    assert hub.call(findings()) == [
        f"bot-activation:{purchase.id}: activated without the receipt of its payment's event"
    ]
