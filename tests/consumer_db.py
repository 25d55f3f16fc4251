"""A database for the event-consumer tests: a shop, payment events written for it, and what
consumers did with them (receipts, failures, and the effects of `tests.consumer_plugin`)."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import RowMapping, select

from kassa.config import Settings
from kassa.domain import EventType, new_id
from kassa.services.context import Context
from kassa.services.shops import shops
from kassa.services.webhooks import endpoints as webhooks
from kassa.store.tables import consumer_failures, consumer_receipts
from tests import consumer_plugin

T = TypeVar("T")


def run_on(database_url: str, work: Callable[[Context], Awaitable[T]]) -> T:
    """Run `work` in a context of its own on `database_url`, from synchronous code."""

    async def main() -> T:
        ctx = Context.open(Settings(database_url=database_url))
        try:
            return await work(ctx)
        finally:
            await ctx.close()

    return asyncio.run(main())


async def prepare(ctx: Context) -> str:
    """Create the test consumer's table unless it exists, and a new shop; returns its id."""
    async with ctx.db.write() as conn:
        await conn.run_sync(consumer_plugin.metadata.create_all)
    shop = await shops.create_shop(ctx, name=f"t-{secrets.token_hex(5)}")
    return shop.id


async def write_events(
    ctx: Context,
    shop_id: str,
    *objects: dict[str, Any],
    type: EventType = EventType.PAYMENT_SUCCEEDED,
) -> list[str]:
    """One event of `type` per object (a payment's fields), in one transaction; their ids."""
    async with ctx.db.write() as conn:
        return [
            await webhooks.record_event(
                conn,
                type=type,
                shop_id=shop_id,
                test=True,
                data={"id": new_id("pay"), "object": "payment", **fields},
                now=ctx.clock(),
            )
            for fields in objects
        ]


async def effects(ctx: Context, event_ids: Iterable[str]) -> Counter[str]:
    """How many effects the test consumer left for each of `event_ids` that has any."""
    table = consumer_plugin.effects
    query = select(table.c.event_id).where(table.c.event_id.in_(list(event_ids)))
    async with ctx.db.read() as conn:
        return Counter((await conn.execute(query)).scalars())


async def receipts(ctx: Context, consumer: str) -> set[str]:
    """The ids of the events `consumer` has handled."""
    query = select(consumer_receipts.c.event_id).where(consumer_receipts.c.consumer == consumer)
    async with ctx.db.read() as conn:
        return set((await conn.execute(query)).scalars())


async def failures(ctx: Context, consumer: str) -> dict[str, RowMapping]:
    """The failures of `consumer`, by event id."""
    query = select(consumer_failures).where(consumer_failures.c.consumer == consumer)
    async with ctx.db.read() as conn:
        return {row["event_id"]: row for row in (await conn.execute(query)).mappings()}
