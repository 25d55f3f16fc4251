"""Payments: create, read, list, capture, cancel, and apply what providers say.

Every status change goes through `transition`: the domain table is checked, then one
conditional `UPDATE … WHERE status IN (allowed sources)` runs in the same transaction as the
event it writes, so concurrent duplicates (two notifications, a notification and an API call)
cannot both win.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Update,
    bindparam,
    column,
    insert,
    or_,
    select,
    update,
    values,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import (
    OPEN_STATUSES,
    AmountInvalid,
    CurrencyUnsupported,
    Decision,
    EventSource,
    EventType,
    MethodUnsupported,
    Money,
    NotFound,
    NotSupported,
    ParameterInvalid,
    Payment,
    PaymentInvalidState,
    PaymentStatus,
    PaymentUpdate,
    ProviderAccount,
    check_transition,
    decide,
    new_id,
    payment_event,
    sources_of,
)
from kassa.domain.checks import first_check
from kassa.providers import PaymentRequest, Provider
from kassa.services.context import Context
from kassa.services.devices.queue import NewOperation, enqueue
from kassa.services.events import outbox as events
from kassa.services.objects import list_object, payment_object
from kassa.services.pagination import PageRequest, fetch_page
from kassa.services.scopes import Scope
from kassa.services.shops import shops
from kassa.services.shops.keys import Caller
from kassa.store import records
from kassa.store.tables import payments

log = logging.getLogger(__name__)

MIN_EXPIRES_IN = 60
MAX_EXPIRES_IN = 30 * 86_400

#: The longest text each field of a new payment may have (what its column holds, or less).
MAX_LENGTHS = {
    "provider": 32,
    "method": 32,
    "description": 1000,
    "customer": 255,
    "return_url": 2048,
    "terminal": 64,
}
MAX_METADATA_KEYS = 50
MAX_METADATA_KEY = 40
MAX_METADATA_VALUE = 500

NUL = "\x00"


def metadata_problem(metadata: Mapping[str, object]) -> str | None:
    """What is wrong with a payment's metadata, or None: up to 50 keys of 1-40 characters,
    each a string of at most 500, and no NUL anywhere (the database cannot hold it)."""
    if len(metadata) > MAX_METADATA_KEYS:
        return f"at most {MAX_METADATA_KEYS} keys"
    for key, value in metadata.items():
        if not isinstance(value, str):
            return "values are strings"
        if not 0 < len(key) <= MAX_METADATA_KEY or len(value) > MAX_METADATA_VALUE:
            return f"keys are 1-{MAX_METADATA_KEY} characters, values at most {MAX_METADATA_VALUE}"
        if NUL in key or NUL in value:
            return "keys and values may not contain the NUL character (U+0000)"
    return None


@dataclass(frozen=True, slots=True)
class NewPayment:
    """What a merchant asks for when creating a payment."""

    amount: int
    currency: str
    provider: str | None = None
    method: str | None = None
    description: str | None = None
    customer: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    capture: bool = True
    return_url: str | None = None
    expires_in: int | None = None
    terminal: str | None = None

    def check(self) -> None:
        """Refuse text Kassa could not store (too long for its column, or with a NUL, which
        PostgreSQL cannot hold), so that nothing fails once the provider has been asked."""
        for name, limit in MAX_LENGTHS.items():
            value: str | None = getattr(self, name)
            if value is None:
                continue
            if len(value) > limit:
                raise ParameterInvalid(f"{name} is longer than {limit} characters", param=name)
            if NUL in value:
                raise ParameterInvalid(f"{name} contains the NUL character (U+0000)", param=name)
        problem = metadata_problem(self.metadata)
        if problem is not None:
            raise ParameterInvalid(f"metadata: {problem}", param="metadata")


@dataclass(frozen=True, slots=True)
class Applied:
    """The result of applying a provider's statement: the payment now, and what happened."""

    payment: Payment
    outcome: str
    changed: bool = False


async def create_payment(
    ctx: Context, *, caller: Caller, params: NewPayment, payment_id: str | None = None
) -> Payment:
    """Create a payment at its provider, then record it with its `payment.created` event.

    The provider is called first and Kassa's id is its idempotency key, so an outage leaves
    nothing half-written here, and a retry with the same `payment_id` (a replayed
    Idempotency-Key) can never make a second payment at the provider. Everything that can
    refuse the payment is checked before the provider is called, so a refused create leaves
    no payment at the provider that Kassa does not know.
    """
    if payment_id is not None:
        existing = await _find(ctx, caller, payment_id)
        if existing is not None:
            return existing
    params.check()
    money = Money(params.amount, params.currency)
    if money.amount == 0:
        raise AmountInvalid("amount must be positive")
    expires_in = params.expires_in or ctx.settings.payment_expires_in
    if not MIN_EXPIRES_IN <= expires_in <= MAX_EXPIRES_IN:
        raise ParameterInvalid(
            f"expires_in must be between {MIN_EXPIRES_IN} and {MAX_EXPIRES_IN} seconds",
            param="expires_in",
        )
    account = await shops.choose_account(
        ctx, shop=caller.shop, test=caller.test, provider=params.provider, terminal=params.terminal
    )
    gateway = ctx.gateways.for_account(account)
    _check_offer(gateway, params)
    now = ctx.clock()
    payment = Payment(
        id=payment_id or new_id("pay"),
        shop_id=caller.shop.id,
        test=caller.test,
        provider=account.provider,
        provider_account_id=account.id,
        method=params.method,
        status=PaymentStatus.PENDING,
        amount=money.amount,
        currency=money.currency,
        capture=params.capture,
        description=params.description,
        customer=params.customer,
        metadata=params.metadata,
        return_url=params.return_url,
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(seconds=expires_in),
    )
    created = await gateway.create(
        PaymentRequest(
            payment_id=payment.id,
            amount=payment.amount,
            currency=payment.currency,
            capture=payment.capture,
            method=payment.method,
            description=payment.description,
            customer=payment.customer,
            return_url=payment.return_url,
            expires_at=payment.expires_at,
            metadata=payment.metadata,
            terminal=params.terminal,
            created_at=now,
        )
    )
    payment = replace(
        payment,
        provider_payment_id=created.provider_payment_id,
        confirmation=dict(created.confirmation),
    )
    async with ctx.db.write() as conn:
        await conn.execute(
            insert(payments).values(
                {**records.payment_values(payment), "next_check_at": first_check(payment)}
            )
        )
        await events.record(
            conn, type=EventType.PAYMENT_CREATED, source=EventSource.API, now=now, subject=payment
        )
        if created.operation is not None:
            await enqueue(
                conn,
                shop_id=payment.shop_id,
                new=NewOperation(
                    terminal_id=created.operation.terminal,
                    kind=created.operation.kind,
                    body=created.operation.body,
                    deadline=created.operation.deadline,
                    payment_id=payment.id,
                ),
                now=now,
            )
        if created.status != PaymentStatus.PENDING:
            applied = await apply_payment_update(
                conn,
                payment=payment,
                reported=PaymentUpdate(status=created.status),
                source=EventSource.PROVIDER,
                now=now,
            )
            payment = applied.payment
    return payment


def _check_offer(gateway: Provider, params: NewPayment) -> None:
    if gateway.currencies is not None and params.currency not in gateway.currencies:
        raise CurrencyUnsupported(
            params.currency, reason=f"{gateway.title} does not take {params.currency}"
        )
    if params.method is not None and params.method not in gateway.methods:
        offered = ", ".join(sorted(gateway.methods))
        raise MethodUnsupported(
            f"{gateway.title} has no method {params.method!r}; it offers: {offered}",
            param="method",
        )
    if not params.capture and not gateway.capabilities.two_stage:
        raise NotSupported(f"{gateway.title} has no two-stage payments (capture: false)")


async def _find(ctx: Context, caller: Scope, payment_id: str) -> Payment | None:
    query = select(payments).where(
        payments.c.id == payment_id,
        *caller.scope(payments),
    )
    async with ctx.db.read() as conn:
        row = (await conn.execute(query)).mappings().first()
    return records.payment(row) if row else None


async def get_payment(ctx: Context, *, caller: Scope, payment_id: str) -> Payment:
    """The caller's payment `payment_id`, or `NotFound` (also for other shops' and modes')."""
    payment = await _find(ctx, caller, payment_id)
    if payment is None:
        raise NotFound(f"No payment {payment_id!r}", param="id")
    return payment


async def list_payments(
    ctx: Context,
    *,
    caller: Caller,
    page: PageRequest,
    status: PaymentStatus | None = None,
    provider: str | None = None,
    customer: str | None = None,
    created_gte: datetime | None = None,
    created_lt: datetime | None = None,
) -> dict[str, Any]:
    """The caller's payments, newest first, filtered."""
    conditions = list(caller.scope(payments))
    if status is not None:
        conditions.append(payments.c.status == status.value)
    if provider is not None:
        conditions.append(payments.c.provider == provider)
    if customer is not None:
        conditions.append(payments.c.customer == customer)
    if created_gte is not None:
        conditions.append(payments.c.created_at >= created_gte)
    if created_lt is not None:
        conditions.append(payments.c.created_at < created_lt)
    async with ctx.db.read() as conn:
        rows, has_more = await fetch_page(conn, payments, conditions, page)
    return list_object([payment_object(records.payment(row)) for row in rows], has_more=has_more)


async def gateway_for(ctx: Context, payment: Payment) -> Provider:
    """The provider the payment was made through, with its account's credentials."""
    account = await shops.get_account(ctx, account_id=payment.provider_account_id)
    return ctx.gateways.for_account(account)


async def capture_payment(
    ctx: Context, *, caller: Scope, payment_id: str, amount: int | None = None
) -> Payment:
    """Take all or part (once) of a held payment."""
    payment = await get_payment(ctx, caller=caller, payment_id=payment_id)
    if payment.status != PaymentStatus.REQUIRES_CAPTURE:
        raise PaymentInvalidState(
            f"Only a payment in requires_capture can be captured; this one is {payment.status}",
        )
    amount = payment.check_capture_amount(amount)
    gateway = await gateway_for(ctx, payment)
    if amount < payment.amount and not gateway.capabilities.partial_capture:
        raise NotSupported(f"{gateway.title} cannot capture part of a payment")
    reported = await gateway.capture(payment, amount)
    return await apply_update(
        ctx,
        payment=payment,
        reported=reported,
        source=EventSource.API,
        witness=Witnessed(caller, "payment.capture", {"amount": amount}),
    )


async def cancel_payment(ctx: Context, *, caller: Scope, payment_id: str) -> Payment:
    """Cancel a payment nobody has paid yet, or release a hold."""
    payment = await get_payment(ctx, caller=caller, payment_id=payment_id)
    if payment.status not in OPEN_STATUSES:
        raise PaymentInvalidState(
            f"Only a pending or requires_capture payment can be canceled; this one is "
            f"{payment.status}",
        )
    gateway = await gateway_for(ctx, payment)
    reported = await gateway.cancel(payment)
    return await apply_update(
        ctx,
        payment=payment,
        reported=reported,
        source=EventSource.API,
        witness=Witnessed(caller, "payment.cancel"),
    )


async def refresh_payment(ctx: Context, *, caller: Scope, payment_id: str) -> Payment:
    """Ask the provider about an open payment now and apply what it says, as reconciliation
    (the "check payment" button); a payment whose outcome is settled is returned as it is."""
    payment = await get_payment(ctx, caller=caller, payment_id=payment_id)
    if payment.status not in OPEN_STATUSES:
        return payment
    gateway = await gateway_for(ctx, payment)
    reported = await gateway.fetch(payment)
    return await apply_update(
        ctx,
        payment=payment,
        reported=reported,
        source=EventSource.RECONCILIATION,
        witness=Witnessed(caller, "payment.refresh"),
    )


@dataclass(frozen=True, slots=True)
class Witnessed:
    """A caller's action on a payment, to be witnessed in the transaction that applies it."""

    caller: Scope
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
) -> Applied:
    """Decide what `update` means for `payment` and apply it on `conn`.

    If a concurrent transaction moved the payment first, decide again on its new state; the
    transition table has no cycles, so this ends.
    """
    while True:
        decision = decide(payment, reported)
        note_decision(payment, decision, source)
        if decision.target is None:
            return Applied(payment, decision.outcome)
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


def note_decision(payment: Payment, decision: Decision, source: EventSource) -> None:
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
_FIND_MANY = select(payments).where(payments.c.id.in_(bindparam("ids", expanding=True)))


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
    executemany changed. asyncpg does not, so on PostgreSQL the rows go in as a `VALUES` list
    of an `UPDATE … FROM … RETURNING`, whose returned rows are counted."""
    changed = 0
    for (target, columns), rows in by_kind.items():
        if conn.dialect.supports_sane_multi_rowcount:
            statement = _transition_statement(target, columns, returning=False)
            changed += (await conn.execute(statement, rows)).rowcount
        else:
            changed += len((await conn.execute(_update_from(target, columns, rows))).all())
    return changed


def _update_from(
    target: PaymentStatus, columns: frozenset[str], rows: list[dict[str, Any]]
) -> Update:
    """`UPDATE payments SET <columns> FROM (VALUES <rows>) … RETURNING id`: the transition of
    every payment in `rows` in one statement."""
    names = sorted(columns)
    moved = values(
        column(_PAYMENT_ID, payments.c.id.type),
        *(column(name, payments.c[name].type) for name in names),
        name="moved",
    ).data([(row[_PAYMENT_ID], *(row[name] for name in names)) for row in rows])
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


async def find_many(conn: AsyncConnection, payment_ids: Sequence[str]) -> dict[str, Payment]:
    """The payments with these ids that exist, by id, with one query."""
    if not payment_ids:
        return {}
    rows = await conn.execute(_FIND_MANY, {"ids": list(payment_ids)})
    return {row["id"]: records.payment(row) for row in rows.mappings()}


async def find_payment(ctx: Context, *, payment_id: str) -> Payment:
    """Any payment by id, for operators; `NotFound` if there is none."""
    async with ctx.db.read() as conn:
        row = (
            (await conn.execute(select(payments).where(payments.c.id == payment_id)))
            .mappings()
            .first()
        )
    if row is None:
        raise NotFound(f"No payment {payment_id!r}", param="id")
    return records.payment(row)
