"""Reminders to buyers: 3 days and 1 day before their subscription (trial or paid) ends, and
when it has ended, each written once per end as a `bot_messages` row the bot sends.

A reminder's message id is its kind, the buyer and the end it is about: a replay writes
nothing, and a renewal, which moves the end, gets reminders of its own. Each reminder is due
from its lead before the end until the next one is (the expiry notice for `EXPIRED_WITHIN`
after the end), so a Kassa that was stopped over a reminder's time sends the one due now, not
the ones it missed; and none is written for a subscription whose end was set less than its
lead before (a 3-day trial gets no "3 days left" at its start). The job reads first and writes
only the reminders not written yet: a round with nothing new costs two small reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select

from kassa.services.bot.buyers import TRIAL
from kassa.services.context import Context
from kassa.store.tables import bot_buyers, bot_messages, bot_plans, bot_settings, bot_subscriptions

ENDS_IN_3D, ENDS_IN_1D, EXPIRED = "ends_in_3d", "ends_in_1d", "expired"
KINDS = (ENDS_IN_3D, ENDS_IN_1D, EXPIRED)
#: Each reminder's lead before the end, latest last.
LEADS = ((ENDS_IN_3D, timedelta(days=3)), (ENDS_IN_1D, timedelta(days=1)))
#: How long after the end the expiry notice may still be written: a subscription that ended
#: long before (before reminders existed, or while Kassa was stopped) gets none.
EXPIRED_WITHIN = timedelta(days=2)
#: Ids asked about in one query.
CHUNK = 500


def due(ends_at: datetime, end_set_at: datetime, now: datetime) -> str | None:
    """The kind of reminder due `now` for a subscription ending at `ends_at`, whose end was
    set at `end_set_at`; None if none is."""
    if ends_at <= now:
        return EXPIRED if now - ends_at < EXPIRED_WITHIN else None
    kind = None
    for name, lead in LEADS:
        if ends_at - lead <= now and ends_at - end_set_at > lead:
            kind = name
    return kind


def message_id(kind: str, buyer_id: str, ends_at: datetime) -> str:
    return f"{kind}:{buyer_id}:{ends_at:%Y%m%d%H%M%S}"


@dataclass(frozen=True, slots=True)
class Reminder:
    id: str
    shop_id: str
    telegram_id: int
    kind: str
    params: dict[str, Any]


async def remind_due(ctx: Context) -> int:
    """The background job: write the reminders due now. Returns how many it wrote."""
    now = ctx.clock()
    reminders = await _due(ctx, now)
    if not reminders:
        return 0
    missing = await _not_written(ctx, reminders)
    if not missing:
        return 0
    written = 0
    async with ctx.db.write() as conn:
        insert = ctx.db.insert_ignoring_conflict(bot_messages, index_elements=["id"])
        for reminder in missing:
            done = await conn.execute(
                insert,
                {
                    "id": reminder.id,
                    "shop_id": reminder.shop_id,
                    "telegram_id": reminder.telegram_id,
                    "kind": reminder.kind,
                    "params": reminder.params,
                    "created_at": now,
                },
            )
            written += done.rowcount
    return written


async def _due(ctx: Context, now: datetime) -> list[Reminder]:
    s = bot_subscriptions.c
    longest = max(lead for _, lead in LEADS)
    sold = and_(bot_plans.c.id == s.plan_id, bot_plans.c.active.is_(True))
    query = (
        select(
            s.buyer_id,
            s.shop_id,
            s.ends_at,
            s.updated_at,
            s.status,
            bot_plans.c.id.label("plan_id"),
            bot_buyers.c.telegram_id,
        )
        .join(bot_buyers, bot_buyers.c.id == s.buyer_id)
        .join(bot_settings, bot_settings.c.shop_id == s.shop_id)
        .outerjoin(bot_plans, sold)
        .where(s.ends_at > now - EXPIRED_WITHIN, s.ends_at <= now + longest)
    )
    async with ctx.db.read() as conn:
        rows = (await conn.execute(query)).all()
    found = []
    for row in rows:
        kind = due(row.ends_at, row.updated_at, now)
        if kind is None:
            continue
        params = {
            "ends_at": row.ends_at.isoformat(),
            "trial": row.status == TRIAL,
            # Renewed with the same plan if it is still sold, else from the catalog.
            "plan_id": row.plan_id,
        }
        found.append(
            Reminder(
                message_id(kind, row.buyer_id, row.ends_at),
                row.shop_id,
                row.telegram_id,
                kind,
                params,
            )
        )
    return found


async def _not_written(ctx: Context, reminders: Sequence[Reminder]) -> list[Reminder]:
    written: set[str] = set()
    async with ctx.db.read() as conn:
        for start in range(0, len(reminders), CHUNK):
            ids = [reminder.id for reminder in reminders[start : start + CHUNK]]
            query = select(bot_messages.c.id).where(bot_messages.c.id.in_(ids))
            written.update((await conn.execute(query)).scalars())
    return [reminder for reminder in reminders if reminder.id not in written]
