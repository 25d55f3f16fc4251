"""Remote actions on a club's PCs (lock, unlock, restart, shut down, a message to the screen,
end the session): device operations of the PC's link, acknowledged and answered by its agent,
so staff (the dashboard, the API, the CLI) see whether the PC did it (`recent`).

Ending a session is `kassa.services.club.sessions.end`, which tells the PC itself. A person of
the admin UI needs the right to run the floor; the action is queued and audited in one
transaction (`idempotency.transaction`, so a form sent twice under one key queues it once).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import Conflict, ParameterInvalid
from kassa.domain.devices import Operation
from kassa.protocol.club import Action
from kassa.services import idempotency
from kassa.services.callers import Caller
from kassa.services.club import access, pcs, sessions
from kassa.services.club.access import Right
from kassa.services.club.clubs import Club
from kassa.services.context import Context
from kassa.services.devices import operations as device_operations
from kassa.services.devices.club_pcs import KIND
from kassa.services.devices.queue import NewOperation, enqueue, operation_record
from kassa.store.tables import terminal_operations as operations

#: The longest text shown on a PC's screen.
MAX_MESSAGE = 500


async def send(
    ctx: Context,
    *,
    club: Club,
    pc: str,
    action: str,
    actor: str,
    text: str | None = None,
    caller: Caller | None = None,
) -> Operation:
    """Queue `action` for the club's PC `pc` (its agent gets it now if linked, else when it
    connects, within `sessions.TELL_WITHIN`); the operation, to follow its state."""
    access.require(caller, Right.FLOOR)
    try:
        chosen = Action(action)
    except ValueError:
        raise ParameterInvalid(
            f"an action is one of {', '.join(Action)}", param="action", code="action_unknown"
        ) from None
    found = await pcs.get(ctx, club=club, name=pc)
    now = ctx.clock()
    if chosen is Action.END_SESSION:
        async with idempotency.transaction(ctx) as conn:
            await sessions.end_on(conn, club=club, pc=pc, actor=actor, now=now, caller=caller)
            return await _ending(conn, found)
    body: dict[str, str] = {}
    if chosen is Action.MESSAGE:
        if not text or not text.strip() or len(text) > MAX_MESSAGE:
            raise ParameterInvalid(f"a message is 1-{MAX_MESSAGE} characters", param="text")
        body["text"] = text.strip()
    new = NewOperation(
        device_id=found.name,
        device_kind=KIND,
        kind=chosen.value,
        body=body,
        deadline=now + sessions.TELL_WITHIN,
    )
    async with idempotency.transaction(ctx) as conn:
        operation = await enqueue(conn, shop_id=found.device.shop_id, new=new, now=now)
        await access.witness(
            conn,
            caller,
            club=club,
            action=f"club.pc.{chosen.value}",
            object_id=operation.request_id,
            now=now,
            details={"pc": found.name, **body},
        )
    return operation


async def _ending(conn: AsyncConnection, found: pcs.Pc) -> Operation:
    """The PC's newest `end_session` operation, read in the transaction that queued it."""
    row = (
        (
            await conn.execute(
                select(operations)
                .where(
                    operations.c.shop_id == found.device.shop_id,
                    operations.c.terminal_id == found.name,
                    operations.c.kind == Action.END_SESSION.value,
                )
                .order_by(operations.c.created_at.desc())
                .limit(1)
            )
        )
        .mappings()
        .first()
    )
    if row is None:  # a disabled PC is not told
        raise Conflict(f"PC {found.name!r} is disabled", param="pc", code="pc_disabled")
    return operation_record(row)


async def recent(ctx: Context, *, club: Club, pc: str, limit: int = 20) -> list[Operation]:
    """The PC's latest actions, newest first, each with its state (queued, sent, accepted by
    the agent, done, unknown, expired) and the agent's answer."""
    found = await pcs.get(ctx, club=club, name=pc)
    return await device_operations.list_operations(
        ctx, shop_id=found.device.shop_id, device_id=found.name, limit=limit
    )
