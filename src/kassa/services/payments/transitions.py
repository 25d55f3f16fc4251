"""Moving payments: every status change a provider's statement or a caller's action causes.

Every status change goes through `transition`: the domain table is checked, then one
conditional `UPDATE … WHERE status IN (allowed sources)` runs in the same transaction as the
event it writes, so concurrent duplicates (two notifications, a notification and an API call)
cannot both win. `transition_many` does the same for a batch of payments (a group commit's
simple notifications) in one statement per kind of move.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Update,
    bindparam,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import (
    Decision,
    EventSource,
    Payment,
    PaymentStatus,
    PaymentUpdate,
    ProviderAccount,
    check_transition,
    decide,
    payment_event,
    sources_of,
)
from kassa.services.callers import Caller
from kassa.services.context import Context
from kassa.services.events import outbox as events
from kassa.services.payments import receipts
from kassa.store import records
from kassa.store.compiled import execute_many, fetch_all
from kassa.store.db import any_of, unnested
from kassa.store.tables import payments

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Applied:
    """The result of applying a provider's statement: the payment now, and what happened."""

    payment: Payment
    outcome: str
    changed: bool = False


@dataclass(frozen=True, slots=True)
class Witnessed:
    """A caller's action on a payment, to be witnessed in the transaction that applies it."""

    caller: Caller
    action: str
    details: Mapping[str, Any] | None = None


async def apply_update(
    ctx: Context,
    *,
    payment: Payment,
    reported: PaymentUpdate,
    source: EventSource,
    witness: Witnessed | None = None,
) -> Payment:
    """Apply a provider's statement about `payment` in a transaction of its own (and, for a
    caller's action, witness it there, whether or not it changed anything)."""
    now = ctx.clock()
    async with ctx.db.write() as conn:
        current = await load(conn, payment.id)
        applied = await apply_payment_update(
            conn, payment=current, reported=reported, source=source, now=now
        )
        if witness is not None:
            await witness.caller.witness(
                conn,
                action=witness.action,
                subject=applied.payment,
                now=now,
                details={**(witness.details or {}), "outcome": applied.outcome},
            )
    return applied.payment


async def load(conn: AsyncConnection, payment_id: str) -> Payment:
    """The payment as stored now, read on `conn`."""
    row = (await conn.execute(select(payments).where(payments.c.id == payment_id))).mappings().one()
    return records.payment(row)


async def apply_payment_update(
    conn: AsyncConnection,
    *,
    payment: Payment,
    reported: PaymentUpdate,
    source: EventSource,
    now: datetime,
    moves: list[Move] | None = None,
) -> Applied:
    """Decide what `update` means for `payment` and apply it on `conn`.

    If a concurrent transaction moved the payment first, decide again on its new state; the
    transition table has no cycles, so this ends.

    With `moves`, a move is not made here but added to `moves`, for the caller to make
    together with others (`transition_many`, which refuses it if the payment moved
    meanwhile); the payment is then returned as it was decided on.
    """
    if reported.receipt_status and reported.receipt_status != payment.receipt_status:
        # The receipt's registration is the provider's word about the receipt, not a status
        # of the payment: kept whether or not the payment moves, with no event of its own.
        await receipts.note_payment(conn, payment.id, reported.receipt_status)
        payment = replace(payment, receipt_status=reported.receipt_status)
    while True:
        decision = decide(payment, reported)
        _note_decision(payment, decision, source)
        if decision.target is None:
            return Applied(payment, decision.outcome)
        if moves is not None:
            moves.append(Move(payment, decision.target, decision.changes, now))
            return Applied(payment, decision.outcome, changed=True)
        moved = await transition(
            conn,
            payment=payment,
            target=decision.target,
            changes=decision.changes,
            source=source,
            now=now,
        )
        if moved is not None:
            return Applied(moved, decision.outcome, changed=True)
        payment = await load(conn, payment.id)


def _note_decision(payment: Payment, decision: Decision, source: EventSource) -> None:
    """Log an update that was rejected (a stale one quietly: expected with concurrent
    readers)."""
    if decision.rejected:
        level = logging.INFO if decision.stale else logging.WARNING
        log.log(level, "payment %s: %s (from %s)", payment.id, decision.outcome, source)


#: The bound name of the payment's id in `_transition_statement` (not a column's name, which
#: would clash with the values being set).
_PAYMENT_ID = "payment_key"


@cache
def _transition_statement(
    target: PaymentStatus, columns: frozenset[str], *, returning: bool = True
) -> Update:
    """`UPDATE payments SET <columns> WHERE id = :payment_key AND status IN (sources of
    target) [RETURNING *]`, built once per target and set of columns. Statements reused this
    way are neither rebuilt nor traversed again for SQLAlchemy's cache key."""
    statement = (
        update(payments)
        .where(payments.c.id == bindparam(_PAYMENT_ID), _may_move_to(target))
        .values({name: bindparam(name) for name in sorted(columns)})
    )
    return statement.returning(*payments.c) if returning else statement


def _may_move_to(target: PaymentStatus) -> ColumnElement[bool]:
    """The payment's stored status is one `target` may be reached from. Equalities, not an IN
    list: SQLAlchemy cannot run an IN list's expanding parameter with executemany
    (`transition_many`)."""
    return or_(*(payments.c.status == status.value for status in sorted(sources_of(target))))


def _transition_values(
    payment: Payment, target: PaymentStatus, now: datetime, changes: dict[str, Any] | None
) -> dict[str, Any]:
    """The values that move `payment` to `target`; raises `TransitionRejected` for a move the
    table forbids."""
    check_transition(payment.status, target)
    return {"status": target.value, "updated_at": now, **(changes or {})}


def _find_payment_by(column: ColumnElement[Any]) -> Select[Any]:
    return select(payments).where(
        column == bindparam("key"), payments.c.provider_account_id == bindparam("account")
    )


_FIND_BY_ID = _find_payment_by(payments.c.id)
_FIND_BY_PROVIDER_ID = _find_payment_by(payments.c.provider_payment_id)


async def transition(
    conn: AsyncConnection,
    *,
    payment: Payment,
    target: PaymentStatus,
    source: EventSource,
    now: datetime,
    changes: dict[str, Any] | None = None,
) -> Payment | None:
    """Move the payment to `target` and write its event, in the caller's transaction.

    Returns the updated payment, or None if the stored status no longer allows `target`
    (a concurrent change won). Raises `TransitionRejected` for a move the table forbids.
    """
    values = _transition_values(payment, target, now, changes)
    statement = _transition_statement(target, frozenset(values))
    row = (await conn.execute(statement, {**values, _PAYMENT_ID: payment.id})).mappings().first()
    if row is None:
        return None
    moved = records.payment(row)
    await events.record(conn, type=payment_event(target), source=source, now=now, subject=moved)
    return moved


@dataclass(frozen=True, slots=True)
class Move:
    """One payment's transition in `transition_many`."""

    payment: Payment
    target: PaymentStatus
    changes: dict[str, Any]
    now: datetime


#: `transition_many`'s UPDATE parameters by kind of move: its target and the columns it sets.
_RowsByKind = dict[tuple[PaymentStatus, frozenset[str]], list[dict[str, Any]]]


class ConcurrentChange(Exception):
    """A payment in `transition_many` was no longer in the status its move started from."""


async def transition_many(
    conn: AsyncConnection, moves: Sequence[Move], *, source: EventSource
) -> list[Payment]:
    """`transition` for several different payments at once, in the caller's transaction: an
    `UPDATE` per kind of move with every payment's values and one insert of all their
    events. Returns the moved payments in order. Raises
    `ConcurrentChange` if any payment had moved meanwhile (and `TransitionRejected` for a move
    the table forbids), having possibly written part: roll the caller's savepoint back."""
    if len({move.payment.id for move in moves}) != len(moves):
        raise ValueError("transition_many moves each payment once")
    by_kind: _RowsByKind = {}
    moved: list[Payment] = []
    for move in moves:
        values = _transition_values(move.payment, move.target, move.now, move.changes)
        kind = (move.target, frozenset(values))
        by_kind.setdefault(kind, []).append({**values, _PAYMENT_ID: move.payment.id})
        # The row as the UPDATE leaves it: every column it sets is a field of the same name.
        moved.append(replace(move.payment, **{**values, "status": move.target}))
    if await _update_each(conn, by_kind) != len(moves):
        raise ConcurrentChange("a payment moved while a batch of transitions was applied")
    await events.record_many(
        conn,
        [
            events.NewEvent(payment_event(move.target), source, move.now, payment)
            for move, payment in zip(moves, moved, strict=True)
        ],
    )
    return moved


async def _update_each(conn: AsyncConnection, by_kind: _RowsByKind) -> int:
    """Run the transition `UPDATE` for every row of `by_kind` (rows by target and columns set),
    one statement per kind of move; how many payments it moved. sqlite3 counts the rows an
    executemany changed. asyncpg does not, so on PostgreSQL the rows go in as one array per
    column, unnested into the `FROM` of an `UPDATE … RETURNING`, whose returned rows are
    counted."""
    changed = 0
    for (target, columns), rows in by_kind.items():
        if conn.dialect.supports_sane_multi_rowcount:
            statement = _transition_statement(target, columns, returning=False)
            changed += await execute_many(conn, statement, rows)
        else:
            # In the order of their ids, so that two batches sharing payments tend to lock
            # them in the same order; if they deadlock all the same, PostgreSQL stops one,
            # whose batch is rolled back and its notifications applied alone.
            ordered = sorted(rows, key=lambda row: str(row[_PAYMENT_ID]))
            arrays = {name: [row[name] for row in ordered] for name in (_PAYMENT_ID, *columns)}
            changed += len(await fetch_all(conn, _update_from(target, columns), arrays))
    return changed


@cache
def _update_from(target: PaymentStatus, columns: frozenset[str]) -> Update:
    """`UPDATE payments SET <columns> FROM unnest(<one array per column>) AS moved(…) WHERE
    id = moved.payment_key AND status IN (sources of target) RETURNING id`: the transition of
    any number of payments in one statement, whose text does not depend on how many (so it
    is built, compiled and prepared once per kind of move, not once per batch)."""
    names = sorted(columns)
    moved = unnested(
        "moved",
        {_PAYMENT_ID: payments.c.id.type, **{name: payments.c[name].type for name in names}},
    )
    return (
        update(payments)
        .where(payments.c.id == moved.c[_PAYMENT_ID], _may_move_to(target))
        .values({name: moved.c[name] for name in names})
        .returning(payments.c.id)
    )


async def find_reported(
    conn: AsyncConnection,
    *,
    account: ProviderAccount,
    payment_id: str | None,
    provider_payment_id: str | None,
) -> Payment | None:
    """The payment a provider's statement is about: by Kassa's id if the provider echoes it,
    else by the provider's own id; only among payments made through `account`."""
    if payment_id:
        query, key = _FIND_BY_ID, payment_id
    elif provider_payment_id:
        query, key = _FIND_BY_PROVIDER_ID, provider_payment_id
    else:
        return None
    row = (await conn.execute(query, {"key": key, "account": account.id})).mappings().first()
    return records.payment(row) if row else None


@cache
def _find_many(dialect: str) -> Select[Any]:
    """The payments whose ids are in the list `ids`, built once per dialect."""
    return select(payments).where(any_of(dialect, payments.c.id, "ids"))


async def find_many(conn: AsyncConnection, payment_ids: Sequence[str]) -> dict[str, Payment]:
    """The payments with these ids that exist, by id, with one query."""
    if not payment_ids:
        return {}
    rows = await fetch_all(conn, _find_many(conn.dialect.name), {"ids": list(payment_ids)})
    return {row["id"]: records.payment(row) for row in rows}
