"""Reconciliation: open payments are re-checked with their provider on a schedule.

A notification can be lost (an outage, a misconfigured URL, a provider that never sends one),
so Kassa does not wait for it: a `pending` or `requires_capture` payment is asked about on the
schedule in `kassa.domain.checks` (from a minute after creation to 7 days), or, for a provider
that never notifies, as often as it asks (`Provider.poll_interval`). What the provider
says is applied as an ordinary transition whose event's source is `reconciliation`.

Each payment's next check is kept in `payments.next_check_at`. A worker claims due payments
by moving that time a lease ahead in one short transaction (`FOR UPDATE SKIP LOCKED` on
PostgreSQL; SQLite's single writer serialises), so several workers never ask about one payment
at once, and a worker that dies mid-check leaves it to be claimed again when the lease ends.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update

from kassa.domain import EventSource, NotSupported, Payment, ProviderError
from kassa.domain.checks import next_check
from kassa.domain.status import OPEN_STATUSES
from kassa.services.context import Context
from kassa.services.payments.lifecycle import gateway_for
from kassa.services.payments.transitions import apply_update
from kassa.store import records
from kassa.store.tables import payments

log = logging.getLogger(__name__)

#: How long a claimed payment is left to the worker that claimed it.
LEASE = timedelta(minutes=2)


async def reconcile_due(ctx: Context, *, limit: int = 50) -> int:
    """Ask providers about the open payments whose check is due; returns how many changed."""
    changed = 0
    for payment in await _claim(ctx, limit=limit):
        try:
            gateway = await gateway_for(ctx, payment)
            reported = await gateway.fetch(payment)
        except NotSupported:
            await _schedule(ctx, payment, None)  # this provider cannot be asked
            continue
        except ProviderError as exc:
            # The lease runs out and the payment is claimed again: asked again in minutes.
            log.warning("reconciling payment %s: %s; asking later", payment.id, exc)
            continue
        after = await apply_update(
            ctx, payment=payment, reported=reported, source=EventSource.RECONCILIATION
        )
        changed += after.status != payment.status
        if after.status in OPEN_STATUSES:
            when = next_check(after, after=ctx.clock(), every=gateway.poll_interval)
            await _schedule(ctx, after, when)
    return changed


async def _claim(ctx: Context, *, limit: int) -> list[Payment]:
    now = ctx.clock()
    open_and_due = (
        payments.c.status.in_([status.value for status in OPEN_STATUSES]),
        payments.c.next_check_at <= now,
    )
    # The job runs every few seconds and most rounds find nothing due: a read says so
    # without taking a write transaction (SQLite's one writer) for nothing.
    async with ctx.db.read() as conn:
        if (
            await conn.execute(select(payments.c.id).where(*open_and_due).limit(1))
        ).first() is None:
            return []
    due = (
        select(payments.c.id)
        .where(*open_and_due)
        .order_by(payments.c.next_check_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    async with ctx.db.write() as conn:
        rows = await conn.execute(
            update(payments)
            .where(payments.c.id.in_(due))
            .values(next_check_at=now + LEASE)
            .returning(*payments.c)
        )
        return [records.payment(row) for row in rows.mappings()]


async def _schedule(ctx: Context, payment: Payment, when: datetime | None) -> None:
    async with ctx.db.write() as conn:
        await conn.execute(
            update(payments).where(payments.c.id == payment.id).values(next_check_at=when)
        )
