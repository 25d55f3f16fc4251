"""Telegram alerts to a shop's owners (its bot's `admins`): the conditions the operator's
Prometheus rules watch (`deploy/prometheus/kassa-rules.yml`), read from
`kassa.services.operations.vitals`, per shop, each told once when it starts and once when it
clears.

- `payments_overdue`: pending payments more than `OVERDUE_AFTER` past their expiry;
- `payments_held`: money held (`requires_capture`) for more than `HELD_AFTER`;
- `webhook_failing:<endpoint>`: a webhook endpoint whose attempts have all failed for
  more than `FAILING_AFTER`;
- `terminal_offline:<terminal>`: a terminal offline while a payment has waited for it more
  than `TERMINAL_AFTER`.

Live figures always count; test ones too while the shop's bot sells in test mode (so an owner
trying the bot out sees its alerts). The alerts that are on are rows of `bot_alerts`: a
condition's row is made when it starts, in the transaction that writes its messages to the
admins, and deleted when it clears, with theirs; the insert and the delete are conditional,
so however many workers run the job, each start and each clear is told once. The disk and
Kassa itself being down are the operator's (Prometheus'), not a shop's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain.ids import new_id
from kassa.services.bot import settings as bot_settings
from kassa.services.context import Context
from kassa.services.operations import vitals
from kassa.store.tables import bot_alerts, bot_messages, shops

OVERDUE_AFTER = timedelta(minutes=15)
HELD_AFTER = timedelta(days=3)
FAILING_AFTER = timedelta(hours=1)
TERMINAL_AFTER = timedelta(seconds=60)

STARTED, CLEARED = "alert", "alert_cleared"


@dataclass(frozen=True, slots=True)
class Condition:
    """A condition that holds for a shop now: its key (`<kind>[:<what>]`) and its figures."""

    shop: str
    key: str
    params: dict[str, Any]


def conditions(reading: vitals.Vitals, *, test_shops: frozenset[str]) -> list[Condition]:
    """What holds in `reading`, by shop name (`test_shops`: those whose test figures count)."""
    now = reading.at

    def counted(shop: str, test: bool) -> bool:
        return not test or shop in test_shops

    def key(kind: str, test: bool) -> str:
        return f"{kind}:test" if test else kind

    found: list[Condition] = []
    for stuck in reading.shop_payments:
        if not counted(stuck.shop, stuck.test):
            continue
        mode = {"test": stuck.test}
        if stuck.earliest_expiry is not None and stuck.earliest_expiry < now - OVERDUE_AFTER:
            figures = {"count": stuck.overdue, "since": stuck.earliest_expiry.isoformat()}
            found.append(Condition(stuck.shop, key("payments_overdue", stuck.test), figures | mode))
        if stuck.oldest_held is not None and stuck.oldest_held < now - HELD_AFTER:
            figures = {"count": stuck.held, "since": stuck.oldest_held.isoformat()}
            found.append(Condition(stuck.shop, key("payments_held", stuck.test), figures | mode))
    for endpoint in reading.endpoints:
        since = endpoint.failing_since
        if counted(endpoint.shop, endpoint.test) and since and since < now - FAILING_AFTER:
            figures = {
                "endpoint": endpoint.endpoint_id,
                "since": since.isoformat(),
                "undelivered": endpoint.undelivered,
                "test": endpoint.test,
            }
            found.append(
                Condition(endpoint.shop, f"webhook_failing:{endpoint.endpoint_id}", figures)
            )
    for terminal in reading.waiting_terminals:
        if terminal.oldest < now - TERMINAL_AFTER:
            figures = {
                "terminal": terminal.terminal_id,
                "payments": terminal.payments,
                "since": terminal.oldest.isoformat(),
            }
            found.append(
                Condition(terminal.shop, f"terminal_offline:{terminal.terminal_id}", figures)
            )
    return found


async def alert_owners(ctx: Context) -> int:
    """The background job: tell the owners what started and what cleared since the last
    round. Returns how many alerts started or cleared."""
    watched = [found for found in await bot_settings.configured(ctx) if found.admins]
    if not watched:
        return 0
    async with ctx.db.read() as conn:
        ids = [found.shop_id for found in watched]
        names = dict(
            (await conn.execute(select(shops.c.name, shops.c.id).where(shops.c.id.in_(ids)))).all()
        )
        rows = await conn.execute(
            select(bot_alerts.c.shop_id, bot_alerts.c.condition).where(
                bot_alerts.c.shop_id.in_(ids)
            )
        )
        on = {(shop_id, condition) for shop_id, condition in rows}
    admins = {found.shop_id: found.admins for found in watched}
    test_shops = frozenset(name for name, shop_id in names.items() if _test(watched, shop_id))
    now_holding = {
        (names[found.shop], found.key): found
        for found in conditions(await vitals.read(ctx), test_shops=test_shops)
        if found.shop in names
    }
    changed = 0
    for (shop_id, key), found in now_holding.items():
        if (shop_id, key) not in on:
            changed += await _start(ctx, shop_id, found, admins[shop_id])
    for shop_id, key in on - now_holding.keys():
        changed += await _clear(ctx, shop_id, key, admins[shop_id])
    return changed


def _test(watched: list[bot_settings.BotSettings], shop_id: str) -> bool:
    return any(found.shop_id == shop_id and found.test for found in watched)


async def _start(ctx: Context, shop_id: str, found: Condition, admins: tuple[int, ...]) -> int:
    now = ctx.clock()
    alert_id = new_id("alert")
    params = {"kind": found.key.split(":", 1)[0], "shop": found.shop, **found.params}
    async with ctx.db.write() as conn:
        started = await conn.execute(
            ctx.db.insert_ignoring_conflict(bot_alerts, index_elements=["shop_id", "condition"]),
            {
                "id": alert_id,
                "shop_id": shop_id,
                "condition": found.key,
                "params": params,
                "started_at": now,
            },
        )
        if started.rowcount == 0:  # another worker told it
            return 0
        await _tell(
            conn,
            ctx,
            shop_id=shop_id,
            alert_id=alert_id,
            kind=STARTED,
            params=params,
            admins=admins,
            now=now,
        )
    return 1


async def _clear(ctx: Context, shop_id: str, key: str, admins: tuple[int, ...]) -> int:
    now = ctx.clock()
    async with ctx.db.write() as conn:
        cleared = (
            await conn.execute(
                delete(bot_alerts)
                .where(bot_alerts.c.shop_id == shop_id, bot_alerts.c.condition == key)
                .returning(bot_alerts.c.id, bot_alerts.c.params, bot_alerts.c.started_at)
            )
        ).first()
        if cleared is None:  # another worker told it
            return 0
        params = {**cleared.params, "started_at": cleared.started_at.isoformat()}
        await _tell(
            conn,
            ctx,
            shop_id=shop_id,
            alert_id=cleared.id,
            kind=CLEARED,
            params=params,
            admins=admins,
            now=now,
        )
    return 1


async def _tell(
    conn: AsyncConnection,
    ctx: Context,
    *,
    shop_id: str,
    alert_id: str,
    kind: str,
    params: dict[str, Any],
    admins: tuple[int, ...],
    now: datetime,
) -> None:
    insert = ctx.db.insert_ignoring_conflict(bot_messages, index_elements=["id"])
    for admin in admins:
        await conn.execute(
            insert,
            {
                "id": f"{kind}:{alert_id}:{admin}",
                "shop_id": shop_id,
                "telegram_id": admin,
                "kind": kind,
                "params": params,
                "created_at": now,
            },
        )
