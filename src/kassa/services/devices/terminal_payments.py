"""What a kiosk terminal's answer to a payment's operation does to the payment: the
terminal kind's result rule (`kassa.services.devices.kinds.ResultRule`).

A terminal payment's operation is queued in the transaction that creates the payment
(`kassa.services.payments.lifecycle`); its answer moves the payment in the transaction that
records it, with the payment's event.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import EventSource
from kassa.domain.devices import DeviceKind, Operation, OperationError
from kassa.domain.terminals import payment_update
from kassa.services.devices.queue import NewOperation, enqueue
from kassa.services.payments import transitions
from kassa.store.tables import payments as payments_table
from kassa.store.tables import terminal_operations as operations

#: The agent's answer when its status lookup found the local service never got the call.
NOT_PROCESSED = "not_processed"
#: Operations one terminal payment may get (see `_try_again`).
MAX_PAYMENT_ATTEMPTS = 3


async def settle_payment(
    conn: AsyncConnection,
    operation: Operation,
    *,
    ok: bool,
    body: Mapping[str, Any] | None,
    error: OperationError | None,
    now: datetime,
) -> None:
    """Keep the terminal's answer with the operation's payment, if it has one, and apply
    what it says (or, when the gateway never saw the payment, try it again)."""
    if operation.payment_id is None:
        return
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
            device_id=operation.device_id,
            device_kind=DeviceKind.TERMINAL,
            kind=operation.kind,
            body=operation.body,
            deadline=operation.deadline,
            method=operation.method,
            payment_id=operation.payment_id,
        ),
        now=now,
    )
    return True
