"""Devices of every kind: add, find, list, revoke, enable and disable; who may connect.

A device is a row of a kind (`kassa.domain.devices.DeviceKind`) owned by a shop; its id is
unique within the shop whatever the kind, and every lookup names the kind, so a device of
one kind is never taken for another. Each kind's module (`kassa.services.devices.terminals`)
adds what the kind needs around these. Who may stay connected, and how every hub process
learns of a revoke or a disable: `kassa.services.devices.rights`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import RowMapping, and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import AuthenticationFailed, Conflict, NotFound, Shop
from kassa.domain.devices import AgentKind, Device, DeviceKind, check_device_id
from kassa.services.admin import audit
from kassa.services.admin.audit import Actor
from kassa.services.context import Context
from kassa.services.devices import rights as device_rights
from kassa.services.devices import tokens as device_tokens
from kassa.services.devices.rights import Right
from kassa.store.tables import terminals as devices


@dataclass(frozen=True, slots=True)
class Issued:
    """A device and a token just issued for it (shown once)."""

    device: Device
    token: str


def device_record(row: RowMapping) -> Device:
    return Device(
        id=row["id"],
        shop_id=row["shop_id"],
        kind=DeviceKind(row["kind"]),
        name=row["name"],
        location=row["location"],
        enabled=row["enabled"],
        token_version=row["token_version"],
        created_at=row["created_at"],
        agent_kind=AgentKind(row["agent_kind"]) if row["agent_kind"] else None,
        agent_version=row["agent_version"],
        connected_at=row["connected_at"],
        last_seen_at=row["last_seen_at"],
        health=dict(row["health"]),
        stats=dict(row["stats"]),
    )


def key(shop_id: str, device_id: str) -> Any:
    """The condition selecting one device's row."""
    return and_(devices.c.shop_id == shop_id, devices.c.id == device_id)


def _noun(kind: DeviceKind) -> str:
    return kind.value.replace("_", " ")


async def add_device(
    ctx: Context,
    *,
    kind: DeviceKind,
    shop: Shop,
    device_id: str,
    name: str | None = None,
    location: str | None = None,
    actor: Actor | None = None,
    placed: Callable[[AsyncConnection], Awaitable[None]] | None = None,
) -> Device:
    """A new device of `shop` (its first token: `device_tokens.issue`). `placed` writes what
    its kind keeps of it, in the same transaction (an error there adds nothing)."""
    check_device_id(device_id, kind)
    now = ctx.clock()
    values: dict[str, Any] = {
        "shop_id": shop.id,
        "id": device_id,
        "kind": kind.value,
        "name": (name or device_id)[:128],
        "location": location,
        "enabled": True,
        "token_version": 1,
        "created_at": now,
        "updated_at": now,
        "health": {},
        "stats": {},
    }
    async with ctx.db.write() as conn:
        added = await conn.execute(
            ctx.db.insert_ignoring_conflict(devices, index_elements=["shop_id", "id"]), values
        )
        if added.rowcount == 0:
            raise Conflict(
                f"Shop {shop.name!r} already has a {_noun(kind)} {device_id!r}",
                param="id",
                code=f"{kind.value}_exists",
            )
        if placed is not None:
            await placed(conn)
        if actor is not None:
            await audit.record(
                conn,
                actor=actor,
                action=f"{kind.value}.add",
                now=now,
                object_id=device_id,
                shop_id=shop.id,
            )
    return await get_device(ctx, kind=kind, shop_id=shop.id, device_id=device_id)


async def get_device(ctx: Context, *, kind: DeviceKind, shop_id: str, device_id: str) -> Device:
    query = select(devices).where(key(shop_id, device_id), devices.c.kind == kind.value)
    async with ctx.db.read() as conn:
        row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"No {_noun(kind)} {device_id!r}", param=kind.value)
    return device_record(row)


async def find_device(
    ctx: Context, *, kind: DeviceKind, device_id: str, shop: Shop | None = None
) -> Device:
    """A device by id, in `shop` or, for operators, in whichever shop has it (the id must
    then be unambiguous)."""
    if shop is not None:
        return await get_device(ctx, kind=kind, shop_id=shop.id, device_id=device_id)
    query = select(devices).where(devices.c.id == device_id, devices.c.kind == kind.value)
    async with ctx.db.read() as conn:
        rows = (await conn.execute(query)).mappings().all()
    if not rows:
        raise NotFound(f"No {_noun(kind)} {device_id!r}", param=kind.value)
    if len(rows) > 1:
        raise Conflict(
            f"Several shops have a {_noun(kind)} {device_id!r}; name the shop", param="shop"
        )
    return device_record(rows[0])


async def list_devices(
    ctx: Context, *, kind: DeviceKind, shop_id: str | None = None
) -> list[Device]:
    query = (
        select(devices)
        .where(devices.c.kind == kind.value)
        .order_by(devices.c.shop_id, devices.c.id)
    )
    if shop_id is not None:
        query = query.where(devices.c.shop_id == shop_id)
    async with ctx.db.read() as conn:
        return [device_record(row) for row in (await conn.execute(query)).mappings()]


async def issue_token(ctx: Context, *, device: Device, actor: Actor | None = None) -> str:
    """Another token for `device`, at its current version (earlier ones keep working)."""
    if actor is not None:
        await audit.record_now(
            ctx,
            actor=actor,
            action=f"{device.kind.value}.token",
            object_id=device.id,
            shop_id=device.shop_id,
        )
    return await device_tokens.issue(ctx, device)


async def revoke(ctx: Context, *, device: Device, actor: Actor | None = None) -> Issued:
    """Make every token issued so far useless (a connected agent is cut off) and issue a new
    one."""
    changed = await _change(
        ctx, device, {"token_version": devices.c.token_version + 1}, action="revoke", actor=actor
    )
    return Issued(changed, await device_tokens.issue(ctx, changed))


async def set_enabled(
    ctx: Context, *, device: Device, enabled: bool, actor: Actor | None = None
) -> Device:
    """Enable or disable a device; a disabled one cannot connect or take operations."""
    return await _change(
        ctx,
        device,
        {"enabled": enabled},
        action="enable" if enabled else "disable",
        actor=actor,
    )


async def _change(
    ctx: Context,
    device: Device,
    values: Mapping[str, Any],
    *,
    action: str,
    actor: Actor | None,
) -> Device:
    now = ctx.clock()
    async with ctx.db.write() as conn:
        row = (
            (
                await conn.execute(
                    update(devices)
                    .where(key(device.shop_id, device.id))
                    .values(**values, updated_at=now)
                    .returning(*devices.c)
                )
            )
            .mappings()
            .one()
        )
        if actor is not None:
            await audit.record(
                conn,
                actor=actor,
                action=f"{device.kind.value}.{action}",
                now=now,
                object_id=device.id,
                shop_id=device.shop_id,
            )
        await device_rights.changed(conn, shop_id=device.shop_id, device_id=device.id)
    return device_record(row)


async def authenticate(ctx: Context, token: str, *, kind: DeviceKind) -> Device:
    """The device of `kind` a token belongs to, if it may connect now.

    Raises `AuthenticationFailed` (codes `token_invalid`, `token_expired`, `token_revoked`,
    `terminal_not_found`) for a token that will never work, and `TerminalUnavailable` (code
    `terminal_disabled`) for a device an operator has disabled.
    """
    claims = await device_tokens.verify(ctx, token)
    if claims.kind.value != kind.value:
        raise AuthenticationFailed(f"The token is not a {_noun(kind)}'s", code="token_invalid")
    device: Device | None
    try:
        device = await get_device(
            ctx, kind=kind, shop_id=claims.shop_id, device_id=claims.device_id
        )
    except NotFound:
        device = None
    right = None if device is None else Right(device.enabled, device.token_version)
    refused = device_rights.lost(claims.device_id, right, token_version=claims.version)
    if refused is not None:
        raise refused
    assert device is not None  # `lost` refuses a device that is gone
    return device
