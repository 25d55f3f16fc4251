"""Events: the outbox and the audit log. Written only inside the transaction of the change,
which then wakes the webhook dispatcher when it commits (`kassa.services.webhooks.wakeups`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import Event, EventSource, EventType, ParameterInvalid, Payment, Refund, new_id
from kassa.services.callers import Caller
from kassa.services.context import Context
from kassa.services.objects import payment_object, refund_object
from kassa.services.pagination import Page, PageRequest, fetch_page
from kassa.services.webhooks import wakeups
from kassa.store import records
from kassa.store.compiled import execute_many
from kassa.store.tables import events

#: Built once: values are given at execution, and it runs through its compiled form
#: (`kassa.store.compiled`).
_INSERT = insert(events)


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to write for a change to `subject` (the object is the snapshot it carries)."""

    type: EventType
    source: EventSource
    now: datetime
    subject: Payment | Refund


async def record(
    conn: AsyncConnection,
    *,
    type: EventType,
    source: EventSource,
    now: datetime,
    subject: Payment | Refund,
) -> str:
    """Write the event for a change to `subject` (the object is the snapshot the event
    carries); call it on the connection of the transaction that made the change."""
    row = _row(NewEvent(type, source, now, subject))
    await execute_many(conn, _INSERT, [row])
    await wakeups.event_written(conn)
    return str(row["id"])


async def record_many(conn: AsyncConnection, new: Sequence[NewEvent]) -> None:
    """`record` for several events with one statement."""
    if new:
        await execute_many(conn, _INSERT, [_row(event) for event in new])
        await wakeups.event_written(conn)


def _row(event: NewEvent) -> dict[str, Any]:
    subject = event.subject
    if isinstance(subject, Refund):
        data, payment_id, refund_id = refund_object(subject), subject.payment_id, subject.id
    else:
        data, payment_id, refund_id = payment_object(subject), subject.id, None
    return {
        "id": new_id("evt"),
        "shop_id": subject.shop_id,
        "test": subject.test,
        "type": event.type.value,
        "source": event.source.value,
        "payment_id": payment_id,
        "refund_id": refund_id,
        "data": {"object": data},
        "created_at": event.now,
    }


async def list_events(
    ctx: Context,
    *,
    caller: Caller,
    page: PageRequest,
    type: str | None = None,
    payment_id: str | None = None,
) -> Page[Event]:
    """The caller's events, newest first in the order they were written. `type` may end
    in `.*` to match a family."""
    conditions = list(caller.scope(events))
    if type:
        if type.endswith(".*"):
            conditions.append(events.c.type.startswith(type[:-1], autoescape=True))
        elif "*" in type:
            raise ParameterInvalid("type is an event type or a family like payment.*", param="type")
        else:
            conditions.append(events.c.type == type)
    if payment_id:
        conditions.append(events.c.payment_id == payment_id)
    async with ctx.db.read() as conn:
        found = await fetch_page(conn, events, conditions, page, order=events.c.seq)
    return found.map(records.event)


async def payment_timeline(ctx: Context, *, payment_id: str) -> list[Event]:
    """Every event of a payment and its refunds, oldest first."""
    query = select(events).where(events.c.payment_id == payment_id).order_by(events.c.seq)
    async with ctx.db.read() as conn:
        return [records.event(row) for row in (await conn.execute(query)).mappings()]
