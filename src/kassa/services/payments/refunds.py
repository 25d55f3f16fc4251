"""Refunds: several partial refunds per payment, their total never above what was captured.

A refund first reserves its amount on the payment with a conditional update (so concurrent
refunds cannot together exceed the captured amount), then asks the provider, then records the
provider's answer. An answer that never came leaves the refund `pending` with its amount still
reserved; retrying with the same id resumes it without a second refund at the provider.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import (
    EventSource,
    InvalidState,
    NotFound,
    NotSupported,
    Payment,
    PaymentStatus,
    ProviderDeclined,
    ProviderUnavailable,
    Refund,
    RefundStatus,
    RefundUpdate,
    can_refund_transition,
    check_refund,
    new_id,
    refund_event,
)
from kassa.providers import provider_class
from kassa.services.callers import Caller
from kassa.services.context import Context
from kassa.services.events import outbox as events
from kassa.services.pagination import Page, PageRequest, fetch_page
from kassa.services.payments import receipts
from kassa.services.payments.lifecycle import gateway_for, get_payment
from kassa.services.payments.transitions import load, transition
from kassa.store import records
from kassa.store.db import insert_ignoring_conflict
from kassa.store.tables import payments, refunds

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AppliedRefund:
    """The result of applying a provider's statement about a refund."""

    refund: Refund | None
    outcome: str
    changed: bool = False


async def create_refund(
    ctx: Context,
    *,
    caller: Caller,
    payment_id: str,
    amount: int | None = None,
    reason: str | None = None,
    refund_id: str | None = None,
) -> Refund:
    """Refund `amount` (default: everything still refundable) of a succeeded payment."""
    if refund_id is not None:
        existing = await _find(ctx, caller, refund_id)
        if existing is not None:
            if existing.status != RefundStatus.PENDING:
                return existing
            payment = await get_payment(ctx, caller=caller, payment_id=existing.payment_id)
            return await _execute(ctx, payment, existing)
    try:
        payment = await get_payment(ctx, caller=caller, payment_id=payment_id)
    except NotFound as exc:
        raise NotFound(exc.message, param="payment") from None
    amount = check_refund(payment, amount)
    gateway = await gateway_for(ctx, payment)
    if not gateway.capabilities.refunds:
        raise NotSupported(f"{gateway.title} cannot refund payments")
    if amount < payment.refundable and not gateway.capabilities.partial_refunds:
        raise NotSupported(f"{gateway.title} can only refund the whole payment")
    now = ctx.clock()
    refund = Refund(
        id=refund_id or new_id("re"),
        payment_id=payment.id,
        shop_id=payment.shop_id,
        test=payment.test,
        amount=amount,
        currency=payment.currency,
        status=RefundStatus.PENDING,
        reason=reason,
        created_at=now,
        updated_at=now,
    )
    async with ctx.db.write() as conn:
        reserved = await _reserve(conn, payment_id=payment.id, amount=amount, now=now)
        if reserved is None:
            # raises: the payment moved, or a concurrent refund took the room
            check_refund(await load(conn, payment.id), amount)
            raise InvalidState("The payment changed while refunding; try again")
        await conn.execute(insert(refunds).values(_refund_values(refund)))
        await events.record(
            conn, type=refund_event(refund.status), source=EventSource.API, now=now, subject=refund
        )
        await caller.witness(conn, action="refund.create", subject=refund, now=now)
    return await _execute(ctx, reserved, refund)


#: A pending refund younger than this is still in the hands of the request that made it.
RESUME_AFTER = timedelta(minutes=1)


async def resume_pending(ctx: Context, *, limit: int = 50) -> int:
    """Ask the provider again about refunds left pending (its answer never came); the refund's
    id is the provider's idempotency key, so this can never refund twice — as long as the
    provider remembers the key (`Provider.idempotency_window`); after that the refund is left
    pending for a person to check. Returns how many were settled."""
    query = (
        select(refunds)
        .where(
            refunds.c.status == RefundStatus.PENDING.value,
            refunds.c.created_at < ctx.clock() - RESUME_AFTER,
        )
        .order_by(refunds.c.created_at)
        .limit(limit)
    )
    async with ctx.db.read() as conn:
        pending = [records.refund(row) for row in (await conn.execute(query)).mappings()]
    settled = 0
    for refund in pending:
        async with ctx.db.read() as conn:
            payment = await load(conn, refund.payment_id)
        window = provider_class(payment.provider).idempotency_window
        if window is not None and refund.created_at + window < ctx.clock():
            # The provider has forgotten the refund's key: asking again might refund twice.
            log.warning(
                "refund %s is still pending after %s, longer than %s keeps its idempotency "
                "key; check it in the provider's dashboard",
                refund.id,
                window,
                payment.provider,
            )
            continue
        try:
            done = await _execute(ctx, payment, refund, source=EventSource.RECONCILIATION)
        except ProviderUnavailable as exc:
            log.warning("refund %s: %s", refund.id, exc.message)
            continue
        settled += done.status != RefundStatus.PENDING
    return settled


async def _execute(
    ctx: Context, payment: Payment, refund: Refund, *, source: EventSource = EventSource.API
) -> Refund:
    """Ask the provider for the refund and record its answer. `ProviderUnavailable` leaves
    the refund pending, for a retry or for `resume_pending`."""
    gateway = await gateway_for(ctx, payment)
    try:
        reported = await gateway.refund(payment, refund)
    except ProviderUnavailable as exc:
        raise ProviderUnavailable(
            f"{exc.message}; refund {refund.id} stays pending and Kassa will retry it"
        ) from exc
    except ProviderDeclined as exc:
        reported = RefundUpdate(
            status=RefundStatus.FAILED,
            amount=refund.amount,
            refund_id=refund.id,
            failure_message=exc.provider_message or exc.message,
        )
    reported = replace(reported, refund_id=refund.id)
    async with ctx.db.write() as conn:
        applied = await apply_refund_update(
            conn, payment=payment, reported=reported, source=source, now=ctx.clock()
        )
    assert applied.refund is not None
    return applied.refund


async def _reserve(
    conn: AsyncConnection, *, payment_id: str, amount: int, now: datetime
) -> Payment | None:
    """Set `amount` aside for a refund, if the payment still has that much refundable."""
    statement = (
        update(payments)
        .where(payments.c.id == payment_id, *_has_refundable(amount))
        .values(amount_refund_pending=payments.c.amount_refund_pending + amount, updated_at=now)
        .returning(*payments.c)
    )
    row = (await conn.execute(statement)).mappings().first()
    return records.payment(row) if row else None


def _has_refundable(amount: int) -> tuple[ColumnElement[bool], ...]:
    """Conditions for a payment that still has `amount` to refund."""
    refundable = (
        payments.c.amount_captured - payments.c.amount_refunded - payments.c.amount_refund_pending
    )
    return (payments.c.status == PaymentStatus.SUCCEEDED.value, refundable >= amount)


async def apply_refund_update(
    conn: AsyncConnection,
    *,
    payment: Payment,
    reported: RefundUpdate,
    source: EventSource,
    now: datetime,
) -> AppliedRefund:
    """Apply a provider's statement about a refund of `payment` on `conn`.

    A refund Kassa does not know that the provider reports as done (made in the provider's
    dashboard, say) is recorded as a new refund, if the payment has that much refundable.
    """
    refund = await _match(conn, payment=payment, reported=reported)
    if refund is None:
        return await _record_external(
            conn, payment=payment, reported=reported, source=source, now=now
        )
    if reported.receipt_status and reported.receipt_status != refund.receipt_status:
        await receipts.note_refund(conn, refund.id, reported.receipt_status)
        refund = replace(refund, receipt_status=reported.receipt_status)
    if refund.status == reported.status:
        if reported.provider_refund_id and not refund.provider_refund_id:
            # A provider that answers "pending" names its refund: keep the name, or its
            # later "succeeded" could not be matched to this refund.
            await conn.execute(
                refunds.update()
                .where(refunds.c.id == refund.id, refunds.c.provider_refund_id.is_(None))
                .values(provider_refund_id=reported.provider_refund_id, updated_at=now)
            )
            return AppliedRefund(refund, "no change: refund still pending; provider id kept")
        return AppliedRefund(refund, f"no change: refund already {refund.status}")
    if not can_refund_transition(refund.status, reported.status):
        return AppliedRefund(refund, f"rejected: refund {refund.status} → {reported.status}")
    values: dict[str, Any] = {"status": reported.status.value, "updated_at": now}
    if reported.provider_refund_id:
        values["provider_refund_id"] = reported.provider_refund_id
    if reported.status == RefundStatus.FAILED:
        values["failure_message"] = reported.failure_message
    row = (
        (
            await conn.execute(
                refunds.update()
                .where(refunds.c.id == refund.id, refunds.c.status == RefundStatus.PENDING.value)
                .values(values)
                .returning(*refunds.c)
            )
        )
        .mappings()
        .first()
    )
    if row is None:  # a concurrent statement settled it first
        return AppliedRefund(refund, "no change: refund settled concurrently")
    settled = records.refund(row)
    await events.record(
        conn, type=refund_event(settled.status), source=source, now=now, subject=settled
    )
    done = settled.status == RefundStatus.SUCCEEDED
    await _settle_amounts(
        conn,
        payment_id=payment.id,
        pending=-settled.amount,
        refunded=settled.amount if done else 0,
        source=source,
        now=now,
    )
    return AppliedRefund(settled, f"refund {refund.status} → {settled.status}", changed=True)


async def _match(
    conn: AsyncConnection, *, payment: Payment, reported: RefundUpdate
) -> Refund | None:
    if reported.refund_id:
        condition = refunds.c.id == reported.refund_id
    elif reported.provider_refund_id:
        condition = refunds.c.provider_refund_id == reported.provider_refund_id
    else:
        return None
    query = select(refunds).where(condition, refunds.c.payment_id == payment.id)
    row = (await conn.execute(query)).mappings().first()
    return records.refund(row) if row else None


async def _record_external(
    conn: AsyncConnection,
    *,
    payment: Payment,
    reported: RefundUpdate,
    source: EventSource,
    now: datetime,
) -> AppliedRefund:
    """Record a refund made at the provider. The row goes in first, guarded by the unique
    index on the provider's refund id, so concurrent notices of one refund record it once;
    then its amount is taken from what the payment has left, or the row is taken back."""
    if reported.status != RefundStatus.SUCCEEDED:
        return AppliedRefund(None, f"no change: unknown refund reported {reported.status}")
    refund = Refund(
        id=new_id("re"),
        payment_id=payment.id,
        shop_id=payment.shop_id,
        test=payment.test,
        amount=reported.amount,
        currency=payment.currency,
        status=RefundStatus.SUCCEEDED,
        provider_refund_id=reported.provider_refund_id,
        reason="made at the provider",
        receipt_status=reported.receipt_status,
        created_at=now,
        updated_at=now,
    )
    recorded = await conn.execute(
        insert_ignoring_conflict(
            conn.dialect.name, refunds, index_elements=["payment_id", "provider_refund_id"]
        ).returning(refunds.c.id),
        _refund_values(refund),
    )
    if recorded.first() is None:
        return AppliedRefund(None, "no change: the refund is recorded already")
    taken = await conn.execute(
        update(payments)
        .where(payments.c.id == payment.id, *_has_refundable(reported.amount))
        .values(amount_refunded=payments.c.amount_refunded + reported.amount, updated_at=now)
        .returning(*payments.c)
    )
    row = taken.mappings().first()
    if row is None:
        await conn.execute(delete(refunds).where(refunds.c.id == refund.id))
        return AppliedRefund(
            None, f"rejected: a refund of {reported.amount} exceeds what the payment has left"
        )
    await events.record(
        conn, type=refund_event(refund.status), source=source, now=now, subject=refund
    )
    await _maybe_fully_refunded(conn, records.payment(row), source=source, now=now)
    return AppliedRefund(refund, "recorded a refund made at the provider", changed=True)


async def _settle_amounts(
    conn: AsyncConnection,
    *,
    payment_id: str,
    pending: int,
    refunded: int,
    source: EventSource,
    now: datetime,
) -> None:
    row = (
        (
            await conn.execute(
                update(payments)
                .where(payments.c.id == payment_id)
                .values(
                    amount_refund_pending=payments.c.amount_refund_pending + pending,
                    amount_refunded=payments.c.amount_refunded + refunded,
                    updated_at=now,
                )
                .returning(*payments.c)
            )
        )
        .mappings()
        .one()
    )
    await _maybe_fully_refunded(conn, records.payment(row), source=source, now=now)


async def _maybe_fully_refunded(
    conn: AsyncConnection, payment: Payment, *, source: EventSource, now: datetime
) -> None:
    """Once everything captured is refunded, the payment becomes `refunded`."""
    if (
        payment.status == PaymentStatus.SUCCEEDED
        and payment.amount_refunded >= payment.amount_captured
    ):
        await transition(
            conn, payment=payment, target=PaymentStatus.REFUNDED, source=source, now=now
        )


async def _find(ctx: Context, caller: Caller, refund_id: str) -> Refund | None:
    query = select(refunds).where(
        refunds.c.id == refund_id,
        *caller.scope(refunds),
    )
    async with ctx.db.read() as conn:
        row = (await conn.execute(query)).mappings().first()
    return records.refund(row) if row else None


async def get_refund(ctx: Context, *, caller: Caller, refund_id: str) -> Refund:
    refund = await _find(ctx, caller, refund_id)
    if refund is None:
        raise NotFound(f"No refund {refund_id!r}", param="id")
    return refund


async def list_refunds(
    ctx: Context, *, caller: Caller, page: PageRequest, payment_id: str | None = None
) -> Page[Refund]:
    """The caller's refunds, newest first, optionally of one payment."""
    conditions = list(caller.scope(refunds))
    if payment_id is not None:
        conditions.append(refunds.c.payment_id == payment_id)
    async with ctx.db.read() as conn:
        found = await fetch_page(conn, refunds, conditions, page)
    return found.map(records.refund)


async def payment_refunds(ctx: Context, *, payment_id: str) -> list[Refund]:
    """Every refund of a payment, oldest first (for operators: the admin payment page)."""
    query = select(refunds).where(refunds.c.payment_id == payment_id).order_by(refunds.c.id)
    async with ctx.db.read() as conn:
        return [records.refund(row) for row in (await conn.execute(query)).mappings()]


def _refund_values(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "payment_id": refund.payment_id,
        "shop_id": refund.shop_id,
        "test": refund.test,
        "amount": refund.amount,
        "currency": refund.currency,
        "status": refund.status.value,
        "reason": refund.reason,
        "provider_refund_id": refund.provider_refund_id,
        "failure_message": refund.failure_message,
        "created_at": refund.created_at,
        "updated_at": refund.updated_at,
        "receipt_status": refund.receipt_status,
    }
