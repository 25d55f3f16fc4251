"""Terminals: add, list, revoke, enable and disable; who may connect; who is online.

Adding a terminal also makes sure the shop has `terminal` provider accounts (live and test),
so `POST /v1/payments {"terminal": …}` works at once; a payment that names no terminal never
goes to them (`kassa.services.shops.shops.choose_account`). Who may stay connected, and how every
hub process learns of a revoke or a disable: `kassa.services.devices.rights`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import RowMapping, and_, bindparam, select, update

from kassa.domain import Conflict, NotFound, Shop
from kassa.domain.terminals import AgentKind, Terminal, check_terminal_id
from kassa.services.admin import audit
from kassa.services.admin.audit import Actor
from kassa.services.context import Context
from kassa.services.devices import rights as terminal_rights
from kassa.services.devices import tokens as terminal_tokens
from kassa.services.devices.rights import Right
from kassa.services.objects import timestamp
from kassa.services.shops import shops
from kassa.store.tables import provider_accounts, terminals

#: A connected terminal's hub process refreshes `last_seen_at` this often …
PRESENCE_INTERVAL = 30.0
#: … so a terminal not seen for this long is offline (its hub process died, say).
ONLINE_WITHIN = timedelta(seconds=90)


@dataclass(frozen=True, slots=True)
class Issued:
    """A terminal and a token just issued for it (shown once)."""

    terminal: Terminal
    token: str


def terminal_record(row: RowMapping) -> Terminal:
    return Terminal(
        id=row["id"],
        shop_id=row["shop_id"],
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


def terminal_object(terminal: Terminal, now: datetime) -> dict[str, Any]:
    """A terminal as the API shows it."""
    return {
        "id": terminal.id,
        "object": "terminal",
        "name": terminal.name,
        "location": terminal.location,
        "enabled": terminal.enabled,
        "online": terminal.online(now, within=ONLINE_WITHIN),
        "agent": {"kind": terminal.agent_kind, "version": terminal.agent_version},
        "connected_at": timestamp(terminal.connected_at),
        "last_seen_at": timestamp(terminal.last_seen_at),
        "health": dict(terminal.health),
        "stats": dict(terminal.stats),
        "created_at": timestamp(terminal.created_at),
    }


def _key(shop_id: str, terminal_id: str) -> Any:
    return and_(terminals.c.shop_id == shop_id, terminals.c.id == terminal_id)


async def add_terminal(
    ctx: Context,
    *,
    shop: Shop,
    terminal_id: str,
    name: str | None = None,
    location: str | None = None,
    actor: Actor | None = None,
) -> Issued:
    """A new terminal of `shop` and its first token."""
    check_terminal_id(terminal_id)
    now = ctx.clock()
    values: dict[str, Any] = {
        "shop_id": shop.id,
        "id": terminal_id,
        "name": (name or terminal_id)[:128],
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
            ctx.db.insert_ignoring_conflict(terminals, index_elements=["shop_id", "id"]), values
        )
        if added.rowcount == 0:
            raise Conflict(
                f"Shop {shop.name!r} already has a terminal {terminal_id!r}",
                param="id",
                code="terminal_exists",
            )
        if actor is not None:
            await audit.record(
                conn,
                actor=actor,
                action="terminal.add",
                now=now,
                object_id=terminal_id,
                shop_id=shop.id,
            )
    await _ensure_accounts(ctx, shop)
    terminal = await get_terminal(ctx, shop_id=shop.id, terminal_id=terminal_id)
    return Issued(terminal, await terminal_tokens.issue(ctx, terminal))


async def _ensure_accounts(ctx: Context, shop: Shop) -> None:
    async with ctx.db.read() as conn:
        existing = set(
            (
                await conn.execute(
                    select(provider_accounts.c.test).where(
                        provider_accounts.c.shop_id == shop.id,
                        provider_accounts.c.provider == "terminal",
                    )
                )
            ).scalars()
        )
    for test in {False, True} - existing:
        await shops.configure_provider(
            ctx, shop=shop, provider="terminal", settings={"test": str(test).lower()}
        )


async def get_terminal(ctx: Context, *, shop_id: str, terminal_id: str) -> Terminal:
    async with ctx.db.read() as conn:
        row = (
            (await conn.execute(select(terminals).where(_key(shop_id, terminal_id))))
            .mappings()
            .first()
        )
    if row is None:
        raise NotFound(f"No terminal {terminal_id!r}", param="terminal")
    return terminal_record(row)


async def find_terminal(ctx: Context, *, terminal_id: str, shop: Shop | None = None) -> Terminal:
    """A terminal by id, in `shop` or, for operators, in whichever shop has it (the id must
    then be unambiguous)."""
    if shop is not None:
        return await get_terminal(ctx, shop_id=shop.id, terminal_id=terminal_id)
    async with ctx.db.read() as conn:
        rows = (
            (await conn.execute(select(terminals).where(terminals.c.id == terminal_id)))
            .mappings()
            .all()
        )
    if not rows:
        raise NotFound(f"No terminal {terminal_id!r}", param="terminal")
    if len(rows) > 1:
        raise Conflict(
            f"Several shops have a terminal {terminal_id!r}; name the shop", param="shop"
        )
    return terminal_record(rows[0])


async def list_terminals(ctx: Context, *, shop_id: str | None = None) -> list[Terminal]:
    query = select(terminals).order_by(terminals.c.shop_id, terminals.c.id)
    if shop_id is not None:
        query = query.where(terminals.c.shop_id == shop_id)
    async with ctx.db.read() as conn:
        return [terminal_record(row) for row in (await conn.execute(query)).mappings()]


async def issue_token(ctx: Context, *, terminal: Terminal, actor: Actor | None = None) -> str:
    """Another token for `terminal`, at its current version (earlier ones keep working)."""
    if actor is not None:
        await audit.record_now(
            ctx,
            actor=actor,
            action="terminal.token",
            object_id=terminal.id,
            shop_id=terminal.shop_id,
        )
    return await terminal_tokens.issue(ctx, terminal)


async def revoke(ctx: Context, *, terminal: Terminal, actor: Actor | None = None) -> Issued:
    """Make every token issued so far useless (a connected agent is cut off) and issue a new
    one."""
    changed = await _change(
        ctx,
        terminal,
        {"token_version": terminals.c.token_version + 1},
        action="terminal.revoke",
        actor=actor,
    )
    return Issued(changed, await terminal_tokens.issue(ctx, changed))


async def set_enabled(
    ctx: Context, *, terminal: Terminal, enabled: bool, actor: Actor | None = None
) -> Terminal:
    """Enable or disable a terminal; a disabled one cannot connect or take operations."""
    return await _change(
        ctx,
        terminal,
        {"enabled": enabled},
        action="terminal.enable" if enabled else "terminal.disable",
        actor=actor,
    )


async def _change(
    ctx: Context,
    terminal: Terminal,
    values: Mapping[str, Any],
    *,
    action: str,
    actor: Actor | None,
) -> Terminal:
    now = ctx.clock()
    async with ctx.db.write() as conn:
        row = (
            (
                await conn.execute(
                    update(terminals)
                    .where(_key(terminal.shop_id, terminal.id))
                    .values(**values, updated_at=now)
                    .returning(*terminals.c)
                )
            )
            .mappings()
            .one()
        )
        if actor is not None:
            await audit.record(
                conn,
                actor=actor,
                action=action,
                now=now,
                object_id=terminal.id,
                shop_id=terminal.shop_id,
            )
        await terminal_rights.changed(conn, shop_id=terminal.shop_id, terminal_id=terminal.id)
    return terminal_record(row)


async def authenticate(ctx: Context, token: str) -> Terminal:
    """The terminal a token belongs to, if it may connect now.

    Raises `AuthenticationFailed` (codes `token_invalid`, `token_expired`, `token_revoked`,
    `terminal_not_found`) for a token that will never work, and `TerminalUnavailable` (code
    `terminal_disabled`) for a terminal an operator has disabled.
    """
    claims = await terminal_tokens.verify(ctx, token)
    terminal: Terminal | None
    try:
        terminal = await get_terminal(ctx, shop_id=claims.shop_id, terminal_id=claims.device_id)
    except NotFound:
        terminal = None
    right = None if terminal is None else Right(terminal.enabled, terminal.token_version)
    refused = terminal_rights.lost(claims.device_id, right, token_version=claims.version)
    if refused is not None:
        raise refused
    assert terminal is not None  # `lost` refuses a terminal that is gone
    return terminal


async def mark_connected(
    ctx: Context, terminal: Terminal, *, kind: AgentKind, version: str | None
) -> None:
    now = ctx.clock()
    async with ctx.db.write() as conn:
        await conn.execute(
            update(terminals)
            .where(_key(terminal.shop_id, terminal.id))
            .values(
                connected_at=now,
                last_seen_at=now,
                agent_kind=kind.value,
                agent_version=(version or "")[:64] or None,
            )
        )


async def mark_disconnected(ctx: Context, terminal: Terminal, *, since: datetime) -> None:
    """Offline, unless a newer connection (after `since`) has taken over meanwhile."""
    async with ctx.db.write() as conn:
        await conn.execute(
            update(terminals)
            .where(_key(terminal.shop_id, terminal.id), terminals.c.connected_at <= since)
            .values(connected_at=None, last_seen_at=ctx.clock())
        )


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What an agent last reported about itself: its local services' health and counters."""

    shop_id: str
    terminal_id: str
    health: Mapping[str, Any]
    stats: Mapping[str, Any]


#: Terminal ids per `UPDATE … WHERE id IN (…)` when marking terminals seen (SQLite takes
#: 32,766 bound values per statement; PostgreSQL 65,535).
IDS_PER_STATEMENT = 1000


async def keep_present(
    ctx: Context, connected: Iterable[tuple[str, str]], heartbeats: Iterable[Heartbeat] = ()
) -> None:
    """Store the latest heartbeats of terminals connected to this process (which also marks
    them seen now), and mark the `connected` ones seen now.

    A hub with thousands of agents writes this every few seconds in one transaction, not
    once per heartbeat nor in many small transactions: with SQLite's one writer, a round
    that holds it for a few tens of milliseconds delays the few operations that arrive
    meanwhile, while the same rows spread over a second of small transactions would delay
    every operation of that second."""
    now = ctx.clock()
    reports = [
        {
            "key_shop": beat.shop_id,
            "key_id": beat.terminal_id,
            "health": dict(beat.health),
            "stats": dict(beat.stats),
        }
        for beat in heartbeats
    ]
    by_shop: dict[str, list[str]] = {}
    for shop_id, terminal_id in connected:
        by_shop.setdefault(shop_id, []).append(terminal_id)
    if not reports and not by_shop:
        return
    store = (
        update(terminals)
        .where(
            terminals.c.shop_id == bindparam("key_shop"),
            terminals.c.id == bindparam("key_id"),
        )
        .values(health=bindparam("health"), stats=bindparam("stats"), last_seen_at=now)
    )
    async with ctx.db.write() as conn:
        if reports:
            await conn.execute(store, reports)
        for shop_id, ids in by_shop.items():
            for start in range(0, len(ids), IDS_PER_STATEMENT):
                await conn.execute(
                    update(terminals)
                    .where(
                        terminals.c.shop_id == shop_id,
                        terminals.c.id.in_(ids[start : start + IDS_PER_STATEMENT]),
                    )
                    .values(last_seen_at=now)
                )
