"""Queueing an operation for a terminal, in the caller's transaction.

Apart from `kassa.services.devices.operations` so that payments (which queue a terminal
payment's operation with the payment) and operations (whose results settle payments) do not
import each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import NotFound, TerminalUnavailable
from kassa.domain.terminals import (
    AgentKind,
    Operation,
    OperationError,
    OperationState,
    check_kind,
)
from kassa.services.devices.rights import current_right
from kassa.services.devices.signals import Signal, SignalKind, notify
from kassa.store.tables import terminal_operations as operations
from kassa.store.tables import terminals


def operation_record(row: RowMapping | Mapping[str, Any]) -> Operation:
    error = (
        OperationError(
            row["error_code"],
            row["error_message"] or "",
            unknown=row["state"] == OperationState.UNKNOWN,
        )
        if row["error_code"]
        else None
    )
    return Operation(
        request_id=row["request_id"],
        shop_id=row["shop_id"],
        terminal_id=row["terminal_id"],
        kind=row["kind"],
        method=row["method"],
        body=dict(row["body"]),
        state=OperationState(row["state"]),
        deadline=row["deadline"],
        created_at=row["created_at"],
        payment_id=row["payment_id"],
        sent_via=AgentKind(row["sent_via"]) if row["sent_via"] else None,
        result=row["result"],
        error=error,
    )


@dataclass(frozen=True, slots=True)
class NewOperation:
    """An operation to queue for a terminal."""

    terminal_id: str
    kind: str
    body: Mapping[str, Any]
    deadline: datetime
    method: str = "POST"
    payment_id: str | None = None
    request_id: str | None = None
    #: Already claimed for sending on a connection of this kind (the caller sends it at once,
    #: as the hub's pump would): stored as sent, and no other process is told about it.
    sent_via: AgentKind | None = None
    #: With `sent_via`: the token version that connection was authenticated with, which the
    #: terminal must still be at (see `kassa.services.devices.rights`).
    token_version: int | None = None


async def enqueue(
    conn: AsyncConnection, *, shop_id: str, new: NewOperation, now: datetime
) -> Operation:
    """Queue `new` in the caller's transaction (its pump is signalled when the transaction
    commits, unless the caller sends it itself). The terminal must exist in the shop and be
    enabled, and for an operation sent at once on a connection, still be at the version of
    that connection's token: the row is inserted from a select of such a terminal, so the
    check and the insert are one statement."""
    values: dict[str, Any] = {
        "request_id": new.request_id or str(uuid.uuid4()),
        "shop_id": shop_id,
        "terminal_id": new.terminal_id,
        "kind": check_kind(new.kind),
        "method": new.method.upper(),
        "body": dict(new.body),
        "payment_id": new.payment_id,
        "state": OperationState.QUEUED.value,
        "deadline": new.deadline,
        "created_at": now,
        "updated_at": now,
        "attempts": 0,
        "sent_at": None,
        "sent_via": None,
    }
    if new.sent_via is not None:
        values |= {
            "state": OperationState.SENT.value,
            "sent_at": now,
            "sent_via": new.sent_via.value,
            "attempts": 1,
        }
    enabled_terminal = select(
        *(literal(value, operations.c[name].type).label(name) for name, value in values.items())
    ).where(
        terminals.c.shop_id == shop_id,
        terminals.c.id == new.terminal_id,
        terminals.c.enabled.is_(True),
    )
    if new.token_version is not None:
        enabled_terminal = enabled_terminal.where(terminals.c.token_version == new.token_version)
    # On PostgreSQL a revoke or disable being written meanwhile waits for this transaction (or
    # this statement waits for it, and then sees the row as changed): an operation is never
    # queued or sent on a right that a committed change has taken away.
    enabled_terminal = enabled_terminal.with_for_update(read=True, of=terminals)
    inserted = await conn.execute(operations.insert().from_select(list(values), enabled_terminal))
    if inserted.rowcount != 1:
        right = await current_right(conn, shop_id=shop_id, terminal_id=new.terminal_id)
        if right is None:
            raise NotFound(f"No terminal {new.terminal_id!r}", param="terminal")
        if not right.enabled:
            raise TerminalUnavailable(
                f"Terminal {new.terminal_id!r} is disabled",
                param="terminal",
                code="terminal_disabled",
            )
        # The connection it was to be sent on was authenticated with a revoked token.
        raise TerminalUnavailable(f"Terminal {new.terminal_id!r} is not connected")
    if new.sent_via is None:
        await notify(conn, Signal(SignalKind.WORK, shop_id, new.terminal_id))
    return operation_record({**values, "result": None, "error_code": None, "error_message": None})
