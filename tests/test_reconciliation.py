"""Reconciliation against a real server: open payments re-checked with the provider on a
schedule, with a stopped clock standing in for the time that passes. The module has a database
of its own: the job takes every due payment, and other tests leave many open ones behind."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from kassa.services.context import Context
from kassa.services.payments import reconciliation
from kassa.store.tables import payments, sandbox_payments
from tests.helpers import ShopSetup, create_payment, paid_silently_at_the_sandbox
from tests.live import LiveServer
from tests.test_background_jobs import history


@pytest.fixture(scope="module")
def server(own_database_url: str) -> Iterator[LiveServer]:
    live = LiveServer(own_database_url).start()
    try:
        yield live
    finally:
        live.stop()


def at(server: LiveServer, payment: dict[str, Any], offset: timedelta) -> Context:
    """The server's context with its clock stopped `offset` after the payment's creation."""
    when = datetime.fromisoformat(payment["created_at"]) + offset
    return replace(server.ctx, clock=lambda: when)


def next_check_at(server: LiveServer, payment: dict[str, Any]) -> datetime | None:
    async def read() -> datetime | None:
        query = select(payments.c.next_check_at).where(payments.c.id == payment["id"])
        async with server.ctx.db.read() as conn:
            value: datetime | None = (await conn.execute(query)).scalar_one()
            return value

    return server.call(read())


def reconcile(server: LiveServer, ctx: Context) -> int:
    return server.call(reconciliation.reconcile_due(ctx))


@pytest.fixture
def payment(api: httpx.Client) -> dict[str, Any]:
    return create_payment(api, amount=900, expires_in=86_400)


def test_a_lost_notification_is_made_good_within_minutes(
    server: LiveServer, api: httpx.Client, payment: dict[str, Any]
) -> None:
    start = datetime.fromisoformat(payment["created_at"])
    assert next_check_at(server, payment) == start + timedelta(minutes=1)
    paid_silently_at_the_sandbox(server, payment)
    reconcile(server, at(server, payment, timedelta(seconds=30)))  # not due yet
    assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "pending"
    assert reconcile(server, at(server, payment, timedelta(minutes=1, seconds=5))) >= 1
    after = api.get(f"/v1/payments/{payment['id']}").json()
    assert (after["status"], after["amount_captured"]) == ("succeeded", 900)
    assert history(server, payment["id"])[-1] == ("payment.succeeded", "reconciliation")


def test_a_payment_still_open_is_asked_again_on_schedule(
    server: LiveServer, api: httpx.Client, payment: dict[str, Any]
) -> None:
    start = datetime.fromisoformat(payment["created_at"])
    reconcile(server, at(server, payment, timedelta(minutes=2)))
    assert next_check_at(server, payment) == start + timedelta(minutes=5)
    assert history(server, payment["id"]) == [("payment.created", "api")]
    reconcile(server, at(server, payment, timedelta(minutes=5, seconds=1)))
    assert next_check_at(server, payment) == start + timedelta(minutes=15)


def test_an_unreachable_provider_is_asked_again_when_the_lease_ends(
    server: LiveServer, shop: ShopSetup, api: httpx.Client, payment: dict[str, Any]
) -> None:
    async def break_the_sandbox_account() -> None:
        from kassa.services.shops import shops

        await shops.configure_provider(
            server.ctx,
            shop=shop.shop,
            provider="sandbox",
            settings={"api_url": "http://127.0.0.1:9/nothing-listens-here", "test": "true"},
        )

    server.call(break_the_sandbox_account())
    checked = at(server, payment, timedelta(minutes=2))
    assert reconcile(server, checked) == 0
    assert next_check_at(server, payment) == checked.clock() + reconciliation.LEASE
    assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "pending"


def test_settled_payments_are_not_asked_about(
    server: LiveServer, api: httpx.Client, payment: dict[str, Any]
) -> None:
    assert api.post(f"/v1/payments/{payment['id']}/cancel").json()["status"] == "canceled"

    async def sandbox_says_paid() -> None:
        async with server.ctx.db.write() as conn:
            await conn.execute(
                update(sandbox_payments)
                .where(sandbox_payments.c.order_id == payment["id"])
                .values(status="succeeded", amount_captured=900)
            )

    server.call(sandbox_says_paid())
    reconcile(server, at(server, payment, timedelta(minutes=2)))
    assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "canceled"


def test_concurrent_workers_ask_about_each_payment_once(
    server: LiveServer, api: httpx.Client
) -> None:
    batch = [create_payment(api, amount=100 + n) for n in range(6)]
    for payment in batch:
        paid_silently_at_the_sandbox(server, payment)
    ctx = at(server, batch[-1], timedelta(minutes=1, seconds=5))

    async def four_workers() -> list[int]:
        return list(await asyncio.gather(*(reconciliation.reconcile_due(ctx) for _ in range(4))))

    server.call(four_workers())
    for payment in batch:
        assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "succeeded"
        kinds = [kind for kind, _ in history(server, payment["id"])]
        assert kinds == ["payment.created", "payment.succeeded"]
