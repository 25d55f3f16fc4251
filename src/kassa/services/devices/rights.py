"""A terminal's right to stay connected, and how every hub process learns that it changed.

An agent's connection was authenticated with a token of some version. It may stay, and be
handed work, while its terminal exists, is enabled and is still at that token version; a
revoke (which also rotates the token), a disable, or the terminal's removal ends the right.
The right is checked where it matters, not only at connect time:

- when work is handed to a connection: `take_due` claims a terminal's operations only after
  `current_right` has read (and, on PostgreSQL, share-locked) the terminal's row in the same
  transaction, and an operation a hub sends at once is inserted only while the row still
  says so (`kassa.services.devices.queue.enqueue`). No operation or payment goes to a
  connection whose right is gone, even before the connection is cut;
- and the connection is cut within a second, whichever process made the change. The change
  is made through `changed`, in its own transaction, which (1) sends the `CHANGED` signal —
  heard at once by the process that made it and, on PostgreSQL, by every other through
  LISTEN/NOTIFY — and (2) bumps the `terminal_rights` row of `change_counters`. Every hub
  process with agents connected polls that one row a few times a second (`revision`) and,
  when it moved, re-reads the rights of its connections (`current_rights`).

Why a polled counter: SQLite has no LISTEN/NOTIFY, and `kassa terminals revoke` runs in a
process of its own. Reading one row by its key costs microseconds, however many terminals
there are, and nothing while no agent is connected; the terminals' rows are read only after
a change, which is rare. Unlike a timestamp it needs no clocks to agree and misses no
transaction that commits late; unlike SQLite's `PRAGMA data_version` it does not move with
every payment written. It also covers, on PostgreSQL, a NOTIFY missed while the LISTEN
connection was down.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import AuthenticationFailed, KassaError, TerminalUnavailable
from kassa.services.context import Context
from kassa.services.devices.signals import Signal, SignalKind, notify
from kassa.store.tables import change_counters, terminals

#: The `change_counters` row bumped with every change to a terminal's right to connect.
COUNTER = "terminal_rights"
#: Terminals per `… WHERE id IN (…)` when reading rights (SQLite takes 32,766 bound values).
IDS_PER_STATEMENT = 1000

Key = tuple[str, str]


class Right(NamedTuple):
    """What a terminal's row says about who may connect."""

    enabled: bool
    token_version: int


def lost(terminal_id: str, right: Right | None, *, token_version: int) -> KassaError | None:
    """Why a connection authenticated with a token of `token_version` may not (or no longer)
    stay, given the terminal's `right` (`None`: the terminal is gone); `None` if it may.

    `AuthenticationFailed` (codes `terminal_not_found`, `token_revoked`) for a token that will
    never work again, `TerminalUnavailable` (code `terminal_disabled`) for a terminal an
    operator has disabled."""
    if right is None:
        return AuthenticationFailed(
            f"Terminal {terminal_id!r} no longer exists", code="terminal_not_found"
        )
    if right.token_version != token_version:
        return AuthenticationFailed(
            "The terminal token was revoked; issue a new one", code="token_revoked"
        )
    if not right.enabled:
        return TerminalUnavailable(
            f"Terminal {terminal_id!r} is disabled", code="terminal_disabled"
        )
    return None


async def current_right(
    conn: AsyncConnection, *, shop_id: str, terminal_id: str, lock: bool = False
) -> Right | None:
    """The terminal's right as its row says now, in the caller's transaction. With `lock`
    (when handing it work), a concurrent change of the row waits for the caller's
    transaction on PostgreSQL (`FOR SHARE`); SQLite's writes are serialized anyway."""
    query = select(terminals.c.enabled, terminals.c.token_version).where(
        terminals.c.shop_id == shop_id, terminals.c.id == terminal_id
    )
    if lock:
        query = query.with_for_update(read=True)
    row = (await conn.execute(query)).first()
    return Right(row.enabled, row.token_version) if row is not None else None


async def current_rights(ctx: Context, keys: Iterable[Key]) -> dict[Key, Right]:
    """The rights of the terminals `keys` (shop id, terminal id); gone ones are missing."""
    by_shop: dict[str, list[str]] = {}
    for shop_id, terminal_id in keys:
        by_shop.setdefault(shop_id, []).append(terminal_id)
    found: dict[Key, Right] = {}
    async with ctx.db.read() as conn:
        for shop_id, ids in by_shop.items():
            for start in range(0, len(ids), IDS_PER_STATEMENT):
                rows = await conn.execute(
                    select(terminals.c.id, terminals.c.enabled, terminals.c.token_version).where(
                        terminals.c.shop_id == shop_id,
                        terminals.c.id.in_(ids[start : start + IDS_PER_STATEMENT]),
                    )
                )
                for row in rows:
                    found[(shop_id, row.id)] = Right(row.enabled, row.token_version)
    return found


async def changed(conn: AsyncConnection, *, shop_id: str, terminal_id: str) -> None:
    """Call in the transaction that changes the terminal's right to connect: once it commits,
    every hub process re-checks its connections to the terminal."""
    await conn.execute(
        update(change_counters)
        .where(change_counters.c.name == COUNTER)
        .values(value=change_counters.c.value + 1)
    )
    await notify(conn, Signal(SignalKind.CHANGED, shop_id, terminal_id))


async def revision(ctx: Context) -> int:
    """The counter's value now: when it differs from the last one read, some terminal's right
    changed since."""
    query = select(change_counters.c.value).where(change_counters.c.name == COUNTER)
    async with ctx.db.read() as conn:
        return (await conn.execute(query)).scalar_one_or_none() or 0
