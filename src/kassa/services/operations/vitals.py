"""The figures an operator's alerts watch, read from the database for `/metrics`: payments
stuck open, webhook endpoints failing, terminals offline while payments wait for them, and
the disk filling; and, per shop, the stuck payments its bot's owners are told about
(`kassa.services.bot.alerts`).

Each is a few small queries that indexes answer (open payments by status, pending deliveries
through their partial index, unsettled terminal operations by state), so they are read when
Prometheus scrapes, not kept up to date by a job; the web layer keeps a reading for a few
seconds. Every Kassa process reads the same database, so every one reports the same figures:
alerting rules take the `max` over processes (see `deploy/prometheus/kassa-rules.yml`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import OPEN_STATUSES, PaymentStatus
from kassa.domain.devices import FINAL_STATES
from kassa.services.context import Context
from kassa.services.devices.presence import ONLINE_WITHIN
from kassa.services.webhooks.deliveries import Status
from kassa.store.tables import (
    payments,
    shops,
    terminal_operations,
    terminals,
    webhook_deliveries,
    webhook_endpoints,
)


@dataclass(frozen=True, slots=True)
class OpenPayments:
    """Payments of one open status and mode: how many, and since when the oldest is open."""

    status: PaymentStatus
    test: bool
    count: int
    oldest: datetime | None


@dataclass(frozen=True, slots=True)
class Overdue:
    """Pending payments past their `expires_at`, which expiry should have settled."""

    test: bool
    count: int
    earliest_expiry: datetime | None


@dataclass(frozen=True, slots=True)
class ShopPayments:
    """A shop's stuck payments in one mode: pending past their expiry (`overdue`, the earliest
    expiry among them) and money held (`requires_capture`, the oldest since its creation)."""

    shop: str
    test: bool
    overdue: int
    earliest_expiry: datetime | None
    held: int
    oldest_held: datetime | None


@dataclass(frozen=True, slots=True)
class EndpointHealth:
    """An enabled webhook endpoint: failing since when, and what waits to be delivered."""

    endpoint_id: str
    shop: str
    test: bool
    failing_since: datetime | None
    undelivered: int
    oldest_undelivered: datetime | None


@dataclass(frozen=True, slots=True)
class WaitingTerminal:
    """A terminal that is offline while payment operations wait for it."""

    shop: str
    terminal_id: str
    payments: int
    oldest: datetime


@dataclass(frozen=True, slots=True)
class Disk:
    """The data directory's file system, and the database's own size."""

    free_bytes: int | None
    size_bytes: int | None
    database_bytes: int | None


@dataclass(frozen=True, slots=True)
class Vitals:
    """One reading, taken `at`."""

    at: datetime
    open_payments: list[OpenPayments]
    overdue: list[Overdue]
    endpoints: list[EndpointHealth]
    disabled_endpoints: dict[bool, int]
    waiting_terminals: list[WaitingTerminal]
    disk: Disk
    #: Per shop and mode, only those with a stuck payment.
    shop_payments: list[ShopPayments] = field(default_factory=list)


async def read(ctx: Context) -> Vitals:
    """Take a reading."""
    now = ctx.clock()
    async with ctx.db.read() as conn:
        open_payments = await _open_payments(conn)
        overdue = await _overdue(conn, now)
        endpoints, disabled = await _endpoints(conn)
        waiting = await _waiting_terminals(conn, now)
        per_shop = await _shop_payments(conn, now)
        database_bytes = await _database_bytes(ctx, conn)
    return Vitals(
        at=now,
        open_payments=open_payments,
        overdue=overdue,
        endpoints=endpoints,
        disabled_endpoints=disabled,
        waiting_terminals=waiting,
        disk=_disk(ctx.settings.data_dir, database_bytes),
        shop_payments=per_shop,
    )


async def _open_payments(conn: AsyncConnection) -> list[OpenPayments]:
    p = payments.c
    query = (
        select(p.status, p.test, func.count(), func.min(p.created_at))
        .where(p.status.in_([status.value for status in OPEN_STATUSES]))
        .group_by(p.status, p.test)
    )
    rows = await conn.execute(query)
    found = {(status, test): (count, oldest) for status, test, count, oldest in rows}
    return [
        OpenPayments(status, test, *found.get((status.value, test), (0, None)))
        for status in sorted(OPEN_STATUSES)
        for test in (False, True)
    ]


async def _overdue(conn: AsyncConnection, now: datetime) -> list[Overdue]:
    p = payments.c
    query = (
        select(p.test, func.count(), func.min(p.expires_at))
        .where(p.status == PaymentStatus.PENDING.value, p.expires_at < now)
        .group_by(p.test)
    )
    found = {test: (count, earliest) for test, count, earliest in await conn.execute(query)}
    return [Overdue(test, *found.get(test, (0, None))) for test in (False, True)]


async def _shop_payments(conn: AsyncConnection, now: datetime) -> list[ShopPayments]:
    p = payments.c
    overdue = (
        select(shops.c.name, p.test, func.count(), func.min(p.expires_at))
        .join(shops, shops.c.id == p.shop_id)
        .where(p.status == PaymentStatus.PENDING.value, p.expires_at < now)
        .group_by(shops.c.name, p.test)
    )
    held = (
        select(shops.c.name, p.test, func.count(), func.min(p.created_at))
        .join(shops, shops.c.id == p.shop_id)
        .where(p.status == PaymentStatus.REQUIRES_CAPTURE.value)
        .group_by(shops.c.name, p.test)
    )
    late = {
        (shop, test): (count, since) for shop, test, count, since in await conn.execute(overdue)
    }
    kept = {(shop, test): (count, since) for shop, test, count, since in await conn.execute(held)}
    return [
        ShopPayments(
            shop, test, *late.get((shop, test), (0, None)), *kept.get((shop, test), (0, None))
        )
        for shop, test in sorted(late.keys() | kept.keys())
    ]


async def _endpoints(conn: AsyncConnection) -> tuple[list[EndpointHealth], dict[bool, int]]:
    d = webhook_deliveries.c
    pending = (
        select(d.endpoint_id, func.count(), func.min(d.created_at))
        .where(d.status == Status.PENDING.value)
        .group_by(d.endpoint_id)
    )
    waiting = {endpoint: (count, oldest) for endpoint, count, oldest in await conn.execute(pending)}
    e = webhook_endpoints.c
    rows = await conn.execute(
        select(e.id, shops.c.name, e.test, e.enabled, e.failing_since)
        .join(shops, shops.c.id == e.shop_id)
        .order_by(e.id)
    )
    healthy: list[EndpointHealth] = []
    disabled = {False: 0, True: 0}
    for endpoint_id, shop, test, enabled, failing_since in rows:
        if not enabled:
            disabled[test] += 1
            continue
        count, oldest = waiting.get(endpoint_id, (0, None))
        healthy.append(EndpointHealth(endpoint_id, shop, test, failing_since, count, oldest))
    return healthy, disabled


async def _waiting_terminals(conn: AsyncConnection, now: datetime) -> list[WaitingTerminal]:
    o, t = terminal_operations.c, terminals.c
    offline = (
        t.connected_at.is_(None) | t.last_seen_at.is_(None) | (t.last_seen_at < now - ONLINE_WITHIN)
    )
    query = (
        select(shops.c.name, o.terminal_id, func.count(), func.min(o.created_at))
        .join(terminals, (t.shop_id == o.shop_id) & (t.id == o.terminal_id))
        .join(shops, shops.c.id == o.shop_id)
        .where(
            o.state.not_in([state.value for state in FINAL_STATES]),
            o.payment_id.is_not(None),
            offline,
        )
        .group_by(shops.c.name, o.terminal_id)
        .order_by(shops.c.name, o.terminal_id)
    )
    return [WaitingTerminal(*row) for row in await conn.execute(query)]


async def _database_bytes(ctx: Context, conn: AsyncConnection) -> int | None:
    if not ctx.db.is_sqlite:
        size = await conn.scalar(text("SELECT pg_database_size(current_database())"))
        return int(size) if size is not None else None
    database = ctx.db.url.database
    if not database:
        return None
    files = [Path(database), Path(f"{database}-wal")]
    return sum(path.stat().st_size for path in files if path.exists())


def _disk(data_dir: Path, database_bytes: int | None) -> Disk:
    try:
        usage = shutil.disk_usage(data_dir)
    except OSError:  # no data directory here (PostgreSQL without one, say)
        return Disk(None, None, database_bytes)
    return Disk(usage.free, usage.total, database_bytes)
