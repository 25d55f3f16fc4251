"""A device's right to stay connected, and how every hub process learns that it changed.

An agent's connection was authenticated with a token of some version. It may stay, and be
handed work, while its device exists, is enabled and is still at that token version; a
revoke (which also rotates the token), a disable, or the device's removal ends the right.
The right is checked where it matters, not only at connect time:

- when work is handed to a connection: `take_due` claims a device's operations only after
  `current_right` has read (and, on PostgreSQL, share-locked) the device's row in the same
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
process of its own. Reading one row by its key costs microseconds, however many devices
there are, and nothing while no agent is connected; the devices' rows are read only after
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
from kassa.domain.devices import DeviceKind
from kassa.services.context import Context
from kassa.services.devices.signals import Signal, SignalKind, notify
from kassa.store.tables import change_counters
from kassa.store.tables import terminals as devices

#: The `change_counters` row bumped with every change to a device's right to connect (named
#: when terminals were the only devices).
COUNTER = "terminal_rights"
#: Devices per `… WHERE id IN (…)` when reading rights (SQLite takes 32,766 bound values).
IDS_PER_STATEMENT = 1000

Key = tuple[str, str]


class Right(NamedTuple):
    """What a device's row says about who may connect."""

    enabled: bool
    token_version: int


def lost(device_id: str, right: Right | None, *, token_version: int) -> KassaError | None:
    """Why a connection authenticated with a token of `token_version` may not (or no longer)
    stay, given the device's `right` (`None`: the device is gone); `None` if it may.

    `AuthenticationFailed` (codes `terminal_not_found`, `token_revoked`) for a token that will
    never work again, `TerminalUnavailable` (code `terminal_disabled`) for a device an
    operator has disabled. (The codes and messages are the ones kiosk agents know.)"""
    if right is None:
        return AuthenticationFailed(
            f"Terminal {device_id!r} no longer exists", code="terminal_not_found"
        )
    if right.token_version != token_version:
        return AuthenticationFailed(
            "The terminal token was revoked; issue a new one", code="token_revoked"
        )
    if not right.enabled:
        return TerminalUnavailable(f"Terminal {device_id!r} is disabled", code="terminal_disabled")
    return None


async def current_right(
    conn: AsyncConnection,
    *,
    shop_id: str,
    device_id: str,
    kind: DeviceKind | None = None,
    lock: bool = False,
) -> Right | None:
    """The device's right as its row says now, in the caller's transaction (`None` if it is
    gone, or not of `kind`). With `lock` (when handing it work), a concurrent change of the
    row waits for the caller's transaction on PostgreSQL (`FOR SHARE`); SQLite's writes are
    serialized anyway."""
    query = select(devices.c.enabled, devices.c.token_version).where(
        devices.c.shop_id == shop_id, devices.c.id == device_id
    )
    if kind is not None:
        query = query.where(devices.c.kind == kind.value)
    if lock:
        query = query.with_for_update(read=True)
    row = (await conn.execute(query)).first()
    return Right(row.enabled, row.token_version) if row is not None else None


async def current_rights(ctx: Context, keys: Iterable[Key]) -> dict[Key, Right]:
    """The rights of the devices `keys` (shop id, device id); gone ones are missing."""
    by_shop: dict[str, list[str]] = {}
    for shop_id, device_id in keys:
        by_shop.setdefault(shop_id, []).append(device_id)
    found: dict[Key, Right] = {}
    async with ctx.db.read() as conn:
        for shop_id, ids in by_shop.items():
            for start in range(0, len(ids), IDS_PER_STATEMENT):
                rows = await conn.execute(
                    select(devices.c.id, devices.c.enabled, devices.c.token_version).where(
                        devices.c.shop_id == shop_id,
                        devices.c.id.in_(ids[start : start + IDS_PER_STATEMENT]),
                    )
                )
                for row in rows:
                    found[(shop_id, row.id)] = Right(row.enabled, row.token_version)
    return found


async def changed(conn: AsyncConnection, *, shop_id: str, device_id: str) -> None:
    """Call in the transaction that changes the device's right to connect: once it commits,
    every hub process re-checks its connections to the device."""
    await conn.execute(
        update(change_counters)
        .where(change_counters.c.name == COUNTER)
        .values(value=change_counters.c.value + 1)
    )
    await notify(conn, Signal(SignalKind.CHANGED, shop_id, device_id))


async def revision(ctx: Context) -> int:
    """The counter's value now: when it differs from the last one read, some device's right
    changed since."""
    query = select(change_counters.c.value).where(change_counters.c.name == COUNTER)
    async with ctx.db.read() as conn:
        return (await conn.execute(query)).scalar_one_or_none() or 0
