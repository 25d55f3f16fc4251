"""The invariants money depends on, checked against what the database holds: `kassa audit`.

Each check is one function here: given a connection, it reads and yields a `Finding` for each
thing that breaks its invariant. `CHECKS` lists them, and `audit` runs them all on one
snapshot of the database, so a hub writing meanwhile cannot make two tables seem to disagree.
Tables are read in bounded batches, never whole. The rules themselves, where they are more
than a comparison, are pure functions in `kassa.domain.invariants`.

A new invariant is one more function and one more line in `CHECKS` (the club's "every balance
equals its ledger" is `club_balances`). An event consumer whose effects live in tables of its own
checks them with its `Consumer.audit`, which `consumer_effects` runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Column, RowMapping, Table, and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import PaymentStatus, RefundStatus
from kassa.domain.events import EVENT_TYPES
from kassa.domain.invariants import (
    payment_amount_problems,
    payment_event_problems,
    refund_event_problems,
)
from kassa.services.club import audit as club_audit
from kassa.services.context import Context
from kassa.services.events import consumers
from kassa.services.webhooks import deliveries
from kassa.store.tables import (
    consumer_failures,
    consumer_receipts,
    events,
    payments,
    refunds,
    webhook_attempts,
    webhook_deliveries,
)

#: Rows read at once.
BATCH = 1000
#: Findings kept per check (the rest are counted): a badly broken database stays readable.
LIMIT = 1000
#: How much of a consumer's failure a finding quotes (`consumer_failures` has all of it).
ERROR_SHOWN = 200


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing that breaks an invariant: what (`subject`, an id) and how."""

    subject: str
    problem: str


#: A check's work: read through the connection, yield what breaks the invariant.
Run = Callable[[AsyncConnection], AsyncIterator[Finding]]


@dataclass(frozen=True, slots=True)
class Check:
    """An invariant (`name`, and what must hold, for people) and the function checking it."""

    name: str
    invariant: str
    run: Run


@dataclass(frozen=True, slots=True)
class Report:
    """What one check found: the first `LIMIT` findings, and how many there were in all."""

    check: Check
    findings: list[Finding]
    total: int

    @property
    def ok(self) -> bool:
        return self.total == 0


async def audit(ctx: Context, checks: Sequence[Check] | None = None) -> list[Report]:
    """Run `checks` (default: all) on one snapshot of the database."""
    async with ctx.db.snapshot() as conn:
        return await run_checks(conn, CHECKS if checks is None else checks)


async def run_checks(
    conn: AsyncConnection, checks: Sequence[Check], *, limit: int = LIMIT
) -> list[Report]:
    """Run `checks` on `conn`, one after another."""
    reports = []
    for check in checks:
        kept: list[Finding] = []
        total = 0
        async for finding in check.run(conn):
            total += 1
            if len(kept) < limit:
                kept.append(finding)
        reports.append(Report(check, kept, total))
    return reports


async def _batches(
    conn: AsyncConnection, key: Column[str], *columns: Column[Any]
) -> AsyncIterator[list[RowMapping]]:
    """`key` and `columns` of every row of `key`'s table, in batches ordered by `key`."""
    after: str | None = None
    while True:
        query = select(key, *columns).order_by(key).limit(BATCH)
        if after is not None:
            query = query.where(key > after)
        rows = list((await conn.execute(query)).mappings())
        if rows:
            yield rows
        if len(rows) < BATCH:
            return
        after = rows[-1][key.name]


async def _event_counts(
    conn: AsyncConnection, by: Column[Any], ids: list[str], family: str
) -> dict[str, dict[str, int]]:
    """For each of `ids` (of payments or refunds, as `by` says), its events of `family`
    (`payment.`, `refund.`) counted by type."""
    query = (
        select(by, events.c.type, func.count())
        .where(by.in_(ids), events.c.type.startswith(family))
        .group_by(by, events.c.type)
    )
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for subject, kind, count in await conn.execute(query):
        counts[subject][kind] = count
    return counts


E = TypeVar("E", PaymentStatus, RefundStatus)


def _status(kind: type[E], value: str) -> E | None:
    try:
        return kind(value)
    except ValueError:
        return None


async def _status_events(
    conn: AsyncConnection,
    *,
    family: str,
    table: Table,
    subject: Column[Any],
    kind: type[E],
    problems: Callable[[E, Mapping[str, int]], list[str]],
) -> AsyncIterator[Finding]:
    """Each row of `table` (of the `family` payment or refund) against its events, those
    whose `subject` column names it: what `problems` finds wrong with them for the status the
    row is in."""
    async for batch in _batches(conn, table.c.id, table.c.status):
        ids = [row["id"] for row in batch]
        counts = await _event_counts(conn, subject, ids, f"{family}.")
        for row in batch:
            status = _status(kind, row["status"])
            if status is None:
                yield Finding(row["id"], f"its status {row['status']!r} is not a {family} status")
                continue
            for problem in problems(status, counts.get(row["id"], {})):
                yield Finding(row["id"], problem)


async def payment_events(conn: AsyncConnection) -> AsyncIterator[Finding]:
    """Every payment has one event for each status it has been in: one `payment.created`,
    one `payment.succeeded` if it succeeded (and so if it was refunded later)…; and no event
    names a payment that does not exist."""
    async for finding in _status_events(
        conn,
        family="payment",
        table=payments,
        subject=events.c.payment_id,
        kind=PaymentStatus,
        problems=payment_event_problems,
    ):
        yield finding
    known = select(payments.c.id).where(payments.c.id == events.c.payment_id).exists()
    orphans = select(events.c.id, events.c.payment_id).where(
        events.c.payment_id.is_not(None), ~known
    )
    for event_id, payment_id in await conn.execute(orphans.order_by(events.c.seq)):
        yield Finding(event_id, f"the event is about payment {payment_id}, which does not exist")


async def refund_events(conn: AsyncConnection) -> AsyncIterator[Finding]:
    """Every refund has one event of the status it is in (`refund.succeeded` …), at most one
    of each status it passed through, and none of another."""
    async for finding in _status_events(
        conn,
        family="refund",
        table=refunds,
        subject=events.c.refund_id,
        kind=RefundStatus,
        problems=refund_event_problems,
    ):
        yield finding


async def payment_amounts(conn: AsyncConnection) -> AsyncIterator[Finding]:
    """refunded ≤ captured ≤ authorized ≤ amount, money captured exactly when a payment
    succeeded, and a payment refunded in whole is `refunded`."""
    c = payments.c
    columns = (c.status, c.amount, c.amount_captured, c.amount_refunded, c.amount_refund_pending)
    async for batch in _batches(conn, c.id, *columns):
        for row in batch:
            status = _status(PaymentStatus, row["status"])
            if status is None:
                continue  # payment_events reports it
            for problem in payment_amount_problems(
                status,
                amount=row["amount"],
                captured=row["amount_captured"],
                refunded=row["amount_refunded"],
                refund_pending=row["amount_refund_pending"],
            ):
                yield Finding(row["id"], problem)


async def refund_totals(conn: AsyncConnection) -> AsyncIterator[Finding]:
    """A payment's succeeded refunds add up to its refunded amount and its pending ones to
    the amount reserved for refunds; each refund is of a positive amount, in its payment's
    currency, of a payment that succeeded."""
    c = payments.c
    async for batch in _batches(conn, c.id, c.amount_refunded, c.amount_refund_pending):
        ids = [row["id"] for row in batch]
        summed = {
            row.payment_id: row
            for row in await conn.execute(
                select(
                    refunds.c.payment_id,
                    _sum_of(RefundStatus.SUCCEEDED).label("succeeded"),
                    _sum_of(RefundStatus.PENDING).label("pending"),
                )
                .where(refunds.c.payment_id.in_(ids))
                .group_by(refunds.c.payment_id)
            )
        }
        for row in batch:
            found = summed.get(row["id"])
            succeeded, pending = (int(found.succeeded), int(found.pending)) if found else (0, 0)
            if succeeded != row["amount_refunded"]:
                yield Finding(
                    row["id"],
                    f"its refunded amount is {row['amount_refunded']}, but its succeeded "
                    f"refunds add up to {succeeded}",
                )
            if pending != row["amount_refund_pending"]:
                yield Finding(
                    row["id"],
                    f"it reserves {row['amount_refund_pending']} for refunds, but its pending "
                    f"refunds add up to {pending}",
                )
    paid = [PaymentStatus.SUCCEEDED.value, PaymentStatus.REFUNDED.value]
    odd = (
        select(refunds.c.id, refunds.c.amount, refunds.c.currency, c.currency, c.status)
        .join(payments, payments.c.id == refunds.c.payment_id)
        .where((refunds.c.amount <= 0) | (refunds.c.currency != c.currency) | c.status.not_in(paid))
        .order_by(refunds.c.id)
    )
    for refund_id, amount, currency, paid_in, status in await conn.execute(odd):
        if amount <= 0:
            yield Finding(refund_id, f"its amount {amount} is not positive")
        if currency != paid_in:
            yield Finding(refund_id, f"it is in {currency}, its payment in {paid_in}")
        if status not in paid:
            yield Finding(refund_id, f"it refunds a payment that is {status}")


def _sum_of(status: RefundStatus) -> Any:
    amount = case((refunds.c.status == status.value, refunds.c.amount), else_=literal(0))
    return func.coalesce(func.sum(amount), 0)


async def consumer_effects(
    conn: AsyncConnection, *, registry: consumers.Registry = consumers.REGISTRY
) -> AsyncIterator[Finding]:
    """Every event consumer's receipt matches its effect: no event is both handled and
    failing, none was given up on (its effect never happened), a consumer handled only
    events of the types it takes, and each consumer's own `audit` finds nothing."""
    failure = consumer_failures.c
    receipt = consumer_receipts.c
    both = (
        select(failure.consumer, failure.event_id)
        .join(
            consumer_receipts,
            and_(receipt.consumer == failure.consumer, receipt.event_id == failure.event_id),
        )
        .order_by(failure.consumer, failure.event_id)
    )
    for name, event_id in await conn.execute(both):
        yield Finding(
            f"{name}:{event_id}",
            "the event has a receipt (handled) and a failure (not handled) at once",
        )
    given_up = (
        select(failure.consumer, failure.event_id, failure.attempts, failure.error)
        .where(failure.retry_at.is_(None))
        .order_by(failure.consumer, failure.event_id)
    )
    for name, event_id, attempts, error in await conn.execute(given_up):
        yield Finding(
            f"{name}:{event_id}",
            f"given up after {attempts} attempts, so its effect never happened: "
            f"{error[:ERROR_SHOWN]}",
        )
    for each in registry:
        unwanted = sorted(kind for kind in EVENT_TYPES if not each.wants(kind))
        if unwanted:
            strays = (
                select(receipt.event_id, events.c.type)
                .join(events, events.c.id == receipt.event_id)
                .where(receipt.consumer == each.name, events.c.type.in_(unwanted))
                .order_by(receipt.event_id)
            )
            for event_id, kind in await conn.execute(strays):
                yield Finding(
                    f"{each.name}:{event_id}",
                    f"handled a {kind} event, which the consumer does not take",
                )
        if each.audit is not None:
            async for problem in each.audit(conn):
                yield Finding(each.name, problem)


async def webhook_delivery_receipts(conn: AsyncConnection) -> AsyncIterator[Finding]:
    """A webhook delivery's receipt matches what the endpoint answered: `succeeded` only with
    an attempt that succeeded, and not `failed` with one. A `pending` delivery may have one: an
    attempt whose claim lapsed while it was sent is recorded when its answer comes, while the
    worker that took the delivery over sends it again (at least once), so it is not a finding."""
    delivery = webhook_deliveries.c
    answered = (
        select(webhook_attempts.c.id)
        .where(webhook_attempts.c.delivery_id == delivery.id, webhook_attempts.c.succeeded)
        .exists()
    )
    succeeded = delivery.status == deliveries.Status.SUCCEEDED.value
    failed = delivery.status == deliveries.Status.FAILED.value
    query = (
        select(delivery.id, delivery.status)
        .where((succeeded & ~answered) | (failed & answered))
        .order_by(delivery.id)
    )
    for delivery_id, status in await conn.execute(query):
        if status == deliveries.Status.SUCCEEDED.value:
            yield Finding(delivery_id, "it is succeeded, but none of its attempts succeeded")
        else:
            yield Finding(delivery_id, f"it is {status}, but one of its attempts succeeded")


async def club_balances(conn: AsyncConnection) -> AsyncIterator[Finding]:
    """Every club customer's balance and time bank are the sums of their ledger entries."""
    async for customer_id, problem in club_audit.balances(conn):
        yield Finding(customer_id, problem)


CHECKS: tuple[Check, ...] = (
    Check(
        "payment_events",
        "one event for each status a payment has been in",
        payment_events,
    ),
    Check(
        "refund_events",
        "one event for the status a refund is in",
        refund_events,
    ),
    Check(
        "payment_amounts",
        "refunded ≤ captured ≤ authorized ≤ amount",
        payment_amounts,
    ),
    Check(
        "refund_totals",
        "refunds add up to refunded and reserved amounts",
        refund_totals,
    ),
    Check(
        "consumer_receipts",
        "each consumer's receipt matches its effect",
        consumer_effects,
    ),
    Check(
        "webhook_deliveries",
        "delivered exactly when an attempt succeeded",
        webhook_delivery_receipts,
    ),
    Check(
        "club_balances",
        "club balances and time banks equal their ledgers",
        club_balances,
    ),
)
