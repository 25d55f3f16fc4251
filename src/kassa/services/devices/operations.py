"""Operations relayed to terminals: queued, sent, acknowledged, answered.

Every operation is stored before it is sent, and every state change is one conditional
`UPDATE … WHERE state IN (…)`, so concurrent duplicates (the same result over two connections,
a replayed ack) have one effect. A terminal payment's operation is queued in the transaction
that creates the payment, and its result moves the payment in the transaction that records
it, with the payment's event.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import EventSource, NotFound
from kassa.domain.terminals import (
    AgentKind,
    Operation,
    OperationError,
    OperationState,
    Terminal,
    payment_update,
)
from kassa.services.context import Context
from kassa.services.devices.queue import NewOperation, enqueue, operation_record
from kassa.services.devices.rights import current_right, lost
from kassa.services.devices.signals import Signal, SignalKind, notify
from kassa.services.objects import timestamp
from kassa.services.payments import transitions
from kassa.store.tables import payments as payments_table
from kassa.store.tables import terminal_operations as operations

#: Operations a journal-less (field) agent was sent on an earlier connection: it may have run
#: them, and it cannot be asked, so their outcome is unknown.
LOST_WITH_CONNECTION = OperationError(
    "connection_lost",
    "The connection to the terminal ended before it answered; the outcome is unknown",
    unknown=True,
)
MAX_TIMEOUT = 600.0
#: The agent's answer when its status lookup found the local service never got the call.
NOT_PROCESSED = "not_processed"
#: Operations one terminal payment may get (see `_try_again`).
MAX_PAYMENT_ATTEMPTS = 3


def operation_object(operation: Operation) -> dict[str, Any]:
    """An operation as the API shows it."""
    error = None
    if operation.error is not None:
        error = {
            "code": operation.error.code,
            "message": operation.error.message,
            "unknown": operation.error.unknown,
        }
    return {
        "id": operation.request_id,
        "object": "terminal_operation",
        "terminal": operation.terminal_id,
        "kind": operation.kind,
        "state": operation.state.value,
        "payment": operation.payment_id,
        "result": operation.result,
        "error": error,
        "deadline": timestamp(operation.deadline),
        "created_at": timestamp(operation.created_at),
    }


async def queue_operation(
    ctx: Context,
    *,
    shop_id: str,
    terminal_id: str,
    kind: str,
    body: Mapping[str, Any],
    answer_within: float | None = None,
    method: str = "POST",
    request_id: str | None = None,
    sent_via: AgentKind | None = None,
    token_version: int | None = None,
) -> Operation:
    """Queue an operation (not a payment) for a terminal; it must be answered within
    `answer_within` seconds (the setting's default if not given). With `sent_via`, the
    caller sends it itself, at once, on a connection of that kind, authenticated with a token
    of `token_version`."""
    wait = answer_within or ctx.settings.terminal_operation_timeout
    now = ctx.clock()
    new = NewOperation(
        terminal_id=terminal_id,
        kind=kind,
        body=body,
        method=method,
        deadline=now + timedelta(seconds=min(wait, MAX_TIMEOUT)),
        request_id=request_id,
        sent_via=sent_via,
        token_version=token_version,
    )
    async with ctx.db.write() as conn:
        return await enqueue(conn, shop_id=shop_id, new=new, now=now)


async def get_operation(ctx: Context, *, shop_id: str, request_id: str) -> Operation:
    query = select(operations).where(
        operations.c.shop_id == shop_id, operations.c.request_id == request_id
    )
    async with ctx.db.read() as conn:
        row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"No terminal operation {request_id!r}", param="id")
    return operation_record(row)


async def find_operation(ctx: Context, request_id: str) -> Operation | None:
    """An operation by request id alone (ids are UUIDs, unique across shops)."""
    query = select(operations).where(operations.c.request_id == request_id)
    async with ctx.db.read() as conn:
        row = (await conn.execute(query)).mappings().first()
    return operation_record(row) if row else None


async def list_operations(
    ctx: Context, *, shop_id: str, terminal_id: str, limit: int = 50
) -> list[Operation]:
    query = (
        select(operations)
        .where(operations.c.shop_id == shop_id, operations.c.terminal_id == terminal_id)
        .order_by(operations.c.created_at.desc())
        .limit(limit)
    )
    async with ctx.db.read() as conn:
        return [operation_record(row) for row in (await conn.execute(query)).mappings()]


async def take_due(
    ctx: Context,
    *,
    shop_id: str,
    terminal_id: str,
    via: AgentKind,
    kinds: frozenset[str] | None,
    connected_at: datetime,
    token_version: int,
) -> list[Operation]:
    """Claim what to send now to the terminal's agent, on a connection speaking `via` that
    began at `connected_at`, authenticated with a token of `token_version`.

    Nothing is claimed for a connection whose right to stay is gone (revoked, disabled,
    removed): that raises the `KassaError` that would refuse it now (see
    `kassa.services.devices.rights`), read in the transaction that would claim.

    Queued operations are claimed (→ sent) in one statement, so two connections never both
    send one; past their deadline they expire instead. What was sent on an earlier
    connection and never acknowledged is sent again to a journaling agent (its journal turns
    a repeat into a lookup); for other agents `settle_lost` has made it unknown first.
    `kinds` limits what an agent that knows only some kinds (the first proxy: payments) is
    given.
    """
    now = ctx.clock()
    mine = (operations.c.shop_id == shop_id, operations.c.terminal_id == terminal_id)
    earlier = and_(operations.c.state == OperationState.SENT, operations.c.sent_at < connected_at)
    async with ctx.db.write() as conn:
        right = await current_right(conn, shop_id=shop_id, terminal_id=terminal_id, lock=True)
        refused = lost(terminal_id, right, token_version=token_version)
        if refused is not None:
            raise refused
        await conn.execute(
            update(operations)
            .where(*mine, operations.c.state == OperationState.QUEUED, operations.c.deadline < now)
            .values(
                state=OperationState.EXPIRED,
                updated_at=now,
                finished_at=now,
                error_code="expired",
                error_message="The terminal did not connect before the deadline",
            )
        )
        due = operations.c.state == OperationState.QUEUED
        if via.journaled:
            due = or_(due, earlier)
        candidates = select(operations.c.request_id).where(*mine, due)
        if kinds is not None:
            candidates = candidates.where(operations.c.kind.in_(kinds))
        rows = (
            await conn.execute(
                update(operations)
                .where(operations.c.request_id.in_(candidates.with_for_update(skip_locked=True)))
                .values(
                    state=OperationState.SENT,
                    sent_at=now,
                    sent_via=via.value,
                    attempts=operations.c.attempts + 1,
                    updated_at=now,
                )
                .returning(*operations.c)
            )
        ).mappings()
        return sorted((operation_record(row) for row in rows), key=lambda op: op.created_at)


async def settle_lost(
    ctx: Context, terminal: Terminal, *, via: AgentKind, connected_at: datetime
) -> None:
    """Before a connection that began at `connected_at` takes work: what was sent to a
    journal-less agent on an earlier connection, and never answered, is unknown (that agent
    may have run it, and cannot be asked), so it is never sent again. A journaling agent
    keeps what it was sent itself; only what a journal-less one was sent is settled."""
    query = select(operations.c.request_id).where(
        operations.c.shop_id == terminal.shop_id,
        operations.c.terminal_id == terminal.id,
        operations.c.state == OperationState.SENT,
        operations.c.sent_at < connected_at,
    )
    if via.journaled:
        query = query.where(operations.c.sent_via != AgentKind.KASSA.value)
    async with ctx.db.read() as conn:
        lost = list((await conn.execute(query)).scalars())
    await connection_lost(ctx, terminal, request_ids=lost)


async def connection_lost(ctx: Context, terminal: Terminal, *, request_ids: Iterable[str]) -> None:
    """What a journal-less agent was sent on a connection that has ended, unanswered, is
    unknown now (it may have run it); a payment's keeps the reason with the payment."""
    for request_id in request_ids:
        await record_result(
            ctx,
            shop_id=terminal.shop_id,
            terminal_id=terminal.id,
            request_id=request_id,
            ok=False,
            body=None,
            error=LOST_WITH_CONNECTION,
        )


async def record_ack(ctx: Context, *, shop_id: str, terminal_id: str, request_id: str) -> None:
    """The agent has journaled the operation: it will not run it twice."""
    async with ctx.db.write() as conn:
        await conn.execute(
            update(operations)
            .where(
                operations.c.request_id == request_id,
                operations.c.shop_id == shop_id,
                operations.c.terminal_id == terminal_id,
                operations.c.state.in_([OperationState.QUEUED.value, OperationState.SENT.value]),
            )
            .values(state=OperationState.ACCEPTED, updated_at=ctx.clock())
        )


async def awaiting_answer(
    ctx: Context, keys: Collection[tuple[str, str]], *, older_than: timedelta = timedelta(0)
) -> dict[tuple[str, str], list[str]]:
    """Per terminal among `keys`, the request ids its agent acknowledged but has not
    answered (for status queries), in one query."""
    if not keys:
        return {}
    query = select(operations.c.shop_id, operations.c.terminal_id, operations.c.request_id).where(
        operations.c.state == OperationState.ACCEPTED,
        operations.c.updated_at <= ctx.clock() - older_than,
    )
    found: dict[tuple[str, str], list[str]] = {}
    async with ctx.db.read() as conn:
        for shop_id, terminal_id, request_id in await conn.execute(query):
            if (shop_id, terminal_id) in keys:
                found.setdefault((shop_id, terminal_id), []).append(request_id)
    return found


async def record_result(
    ctx: Context,
    *,
    shop_id: str,
    terminal_id: str,
    request_id: str,
    ok: bool,
    body: Mapping[str, Any] | None,
    error: OperationError | None,
) -> Operation | None:
    """Store a terminal's answer, once; a payment's answer moves the payment in the same
    transaction. Returns the operation as it stands, or `None` if the terminal has no such
    operation. A repeated answer changes nothing (the first one stands)."""
    now = ctx.clock()
    if ok:
        state = OperationState.DONE
    elif error is not None and error.code == "expired":
        state = OperationState.EXPIRED
    else:
        state = OperationState.UNKNOWN if error is None or error.unknown else OperationState.DONE
    async with ctx.db.write() as conn:
        row = (
            (
                await conn.execute(
                    update(operations)
                    .where(
                        operations.c.request_id == request_id,
                        operations.c.shop_id == shop_id,
                        operations.c.terminal_id == terminal_id,
                        operations.c.state.in_(
                            [
                                OperationState.QUEUED.value,
                                OperationState.SENT.value,
                                OperationState.ACCEPTED.value,
                            ]
                        ),
                    )
                    .values(
                        state=state.value,
                        result=dict(body) if body is not None else None,
                        error_code=error.code if error else None,
                        error_message=error.message if error else None,
                        finished_at=now,
                        updated_at=now,
                    )
                    .returning(*operations.c)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            existing = (
                (
                    await conn.execute(
                        select(operations).where(
                            operations.c.request_id == request_id,
                            operations.c.shop_id == shop_id,
                            operations.c.terminal_id == terminal_id,
                        )
                    )
                )
                .mappings()
                .first()
            )
            return operation_record(existing) if existing else None
        operation = operation_record(row)
        if operation.payment_id is not None:
            await _settle_payment(conn, operation, ok=ok, body=body, error=error, now=now)
        await notify(conn, Signal(SignalKind.RESULT, shop_id, terminal_id, request_id))
    return operation


async def _settle_payment(
    conn: AsyncConnection,
    operation: Operation,
    *,
    ok: bool,
    body: Mapping[str, Any] | None,
    error: OperationError | None,
    now: datetime,
) -> None:
    """Keep the terminal's answer with the payment and apply what it says (or, when the
    gateway never saw the payment, try it again)."""
    assert operation.payment_id is not None
    payment = await transitions.load(conn, operation.payment_id)
    confirmation = {
        **dict(payment.confirmation or {}),
        "request_id": operation.request_id,
        "result": dict(body) if body is not None else None,
        "error": {"code": error.code, "message": error.message, "unknown": error.unknown}
        if error
        else None,
    }
    await conn.execute(
        update(payments_table)
        .where(payments_table.c.id == payment.id)
        .values(confirmation=confirmation)
    )
    if await _try_again(conn, operation, error, now=now):
        return
    reported = payment_update(ok=ok, body=body, error=error)
    if reported is not None:
        await transitions.apply_payment_update(
            conn,
            payment=await transitions.load(conn, payment.id),
            reported=reported,
            source=EventSource.PROVIDER,
            now=now,
        )


async def _try_again(
    conn: AsyncConnection, operation: Operation, error: OperationError | None, *, now: datetime
) -> bool:
    """Queue the payment once more under a new request id, if the agent's lookup found that
    the gateway never received it (the agent stopped between journaling the call and sending
    it): nobody was charged and the payer is still at the kiosk. Only before its deadline, and
    at most `MAX_PAYMENT_ATTEMPTS` times, in case a misconfigured lookup keeps answering 404.
    Returns whether it did."""
    if error is None or error.code != NOT_PROCESSED or now >= operation.deadline:
        return False
    attempts = (
        await conn.execute(
            select(func.count()).where(operations.c.payment_id == operation.payment_id)
        )
    ).scalar_one()
    if attempts >= MAX_PAYMENT_ATTEMPTS:
        return False
    await enqueue(
        conn,
        shop_id=operation.shop_id,
        new=NewOperation(
            terminal_id=operation.terminal_id,
            kind=operation.kind,
            body=operation.body,
            deadline=operation.deadline,
            method=operation.method,
            payment_id=operation.payment_id,
        ),
        now=now,
    )
    return True
