"""Fan-out: from the outbox (`events.seq`) to one delivery per event and subscribed endpoint.

The cursor of `kassa.services.events.cursor` says where to start; events above a gap in the
sequence are read again on later rounds, so the delivery row, unique per (event, endpoint), is
what makes each be fanned out once, even by several workers at the same time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.services.context import Context
from kassa.services.events import cursor as outbox_cursor
from kassa.services.webhooks import deliveries
from kassa.services.webhooks import endpoints as webhooks
from kassa.services.webhooks.endpoints import Endpoint
from kassa.store.tables import AUTOMATIC, events, webhook_deliveries, webhook_endpoints

#: Events read per page, and pages per round.
PAGE = 500
PAGES = 20
CURSOR = "webhooks"


async def fan_out(ctx: Context) -> int:
    """Create the deliveries of the events written since the last round; returns how many.
    The last page's deliveries and the cursor's move commit together."""
    now = ctx.clock()
    async with ctx.db.read() as conn:
        window = await outbox_cursor.open_window(conn, CURSOR)
    if window.upto == window.position.seq:
        return 0
    created = 0
    after = window.position.seq
    rows: list[dict[str, Any]] = []
    for _ in range(PAGES):
        async with ctx.db.read() as conn:
            page = list((await conn.execute(_unfanned(after, window.upto))).mappings())
            shop_ids = {row["shop_id"] for row in page}
            query = select(webhook_endpoints).where(
                webhook_endpoints.c.enabled, webhook_endpoints.c.shop_id.in_(shop_ids)
            )
            candidates = [webhooks.endpoint(row) for row in (await conn.execute(query)).mappings()]
        rows = _new_deliveries(page, candidates, now=now)
        if len(page) < PAGE:
            handled_upto = window.upto
            break
        async with ctx.db.write() as conn:
            created += await _create_deliveries(ctx, conn, rows)
        rows = []
        after = page[-1]["seq"]
    else:
        handled_upto = after  # a backlog: go on from here next round
    position = outbox_cursor.next_position(window, handled_upto=handled_upto, now=now)
    if rows or position != window.position:
        async with ctx.db.write() as conn:
            created += await _create_deliveries(ctx, conn, rows)
            if position != window.position:
                await outbox_cursor.move(conn, window, position)
    return created


def _unfanned(after: int, upto: int) -> Select[Any]:
    """Events in `(after, upto]` of a shop and mode with an enabled endpoint, not yet fanned
    out (an event re-read above a gap is skipped here, not sent twice)."""
    endpoint = webhook_endpoints.c
    has_endpoint = (
        select(endpoint.id)
        .where(
            endpoint.shop_id == events.c.shop_id, endpoint.test == events.c.test, endpoint.enabled
        )
        .exists()
    )
    fanned_out = (
        select(webhook_deliveries.c.id)
        .where(webhook_deliveries.c.event_id == events.c.id, AUTOMATIC)
        .exists()
    )
    return (
        select(events)
        .where(events.c.seq > after, events.c.seq <= upto, has_endpoint, ~fanned_out)
        .order_by(events.c.seq)
        .limit(PAGE)
    )


def _subscribed(endpoint: Endpoint, event: RowMapping) -> bool:
    return (
        endpoint.shop_id == event["shop_id"]
        and endpoint.test == event["test"]
        # An endpoint gets what happens after it was made, not the shop's history.
        and endpoint.created_at <= event["created_at"]
        and endpoint.wants(event["type"])
        and not webhooks.concerns(event["data"], endpoint.id)
    )


def _new_deliveries(
    page: Sequence[RowMapping], candidates: Sequence[Endpoint], *, now: datetime
) -> list[dict[str, Any]]:
    return [
        deliveries.new_delivery(
            event_id=event["id"], endpoint_id=endpoint.id, manual=False, now=now
        )
        for event in page
        for endpoint in candidates
        if _subscribed(endpoint, event)
    ]


async def _create_deliveries(
    ctx: Context, conn: AsyncConnection, rows: Sequence[dict[str, Any]]
) -> int:
    if not rows:
        return 0
    statement = ctx.db.insert_ignoring_conflict(
        webhook_deliveries, index_elements=["event_id", "endpoint_id"], index_where=AUTOMATIC
    ).returning(webhook_deliveries.c.id)
    return len((await conn.execute(statement, rows)).all())
