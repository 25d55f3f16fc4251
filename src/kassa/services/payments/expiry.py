"""Expiry: a pending payment past its `expires_at` is asked about one last time, then expired.

The last question matters: the payer may have paid and the notification been lost. What the
provider says is applied as reconciliation. If it is still waiting for the payer, Kassa cancels
the payment there first, so nobody can pay it after Kassa has given up on it, and only then
marks it expired.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from kassa.domain import (
    EventSource,
    NotSupported,
    Payment,
    PaymentStatus,
    PaymentUpdate,
    ProviderDeclined,
    ProviderError,
)
from kassa.providers import Provider
from kassa.services.context import Context
from kassa.services.payments.lifecycle import gateway_for
from kassa.services.payments.transitions import apply_update
from kassa.store import records
from kassa.store.tables import payments

log = logging.getLogger(__name__)


async def expire_due(ctx: Context, *, limit: int = 100) -> int:
    """Settle pending payments whose time is up; returns how many were settled."""
    query = (
        select(payments)
        .where(
            payments.c.status == PaymentStatus.PENDING.value,
            payments.c.expires_at < ctx.clock(),
        )
        .order_by(payments.c.expires_at)
        .limit(limit)
    )
    async with ctx.db.read() as conn:
        due = [records.payment(row) for row in (await conn.execute(query)).mappings()]
    settled = 0
    for payment in due:
        try:
            reported, canceled_by_us = await _last_word(await gateway_for(ctx, payment), payment)
        except ProviderError as exc:
            # Unreachable, or refusing (bad credentials, say): Kassa cannot know whether the
            # payer paid, so it must not give up on the payment; it asks again next time.
            log.warning("payment %s is past its expiry, but: %s; asking later", payment.id, exc)
            continue
        source = EventSource.RECONCILIATION
        waiting = reported.status == PaymentStatus.PENDING
        if waiting or (canceled_by_us and reported.status == PaymentStatus.CANCELED):
            reported, source = PaymentUpdate(status=PaymentStatus.EXPIRED), EventSource.SYSTEM
        settled_payment = await apply_update(ctx, payment=payment, reported=reported, source=source)
        settled += settled_payment.status != PaymentStatus.PENDING
    return settled


async def _last_word(gateway: Provider, payment: Payment) -> tuple[PaymentUpdate, bool]:
    """What the provider says of an expiring payment, and whether Kassa canceled it there
    (it does when the payment is still payable). Only a provider that cannot be asked at all
    leaves Kassa to expire the payment on its own."""
    try:
        reported = await gateway.fetch(payment)
    except NotSupported:
        return PaymentUpdate(status=PaymentStatus.PENDING), False
    if reported.status != PaymentStatus.PENDING:
        return reported, False
    try:
        return await gateway.cancel(payment), True
    except NotSupported:
        return reported, False
    except ProviderDeclined:
        # Refused: paid or held at that very moment? Its status now decides.
        return await gateway.fetch(payment), False
