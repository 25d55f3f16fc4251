"""Finding payments across shops and modes, for operators (the admin pages and the CLI):
filters, search, keyset pages newest first, and a batched stream for exports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from sqlalchemy import ColumnElement, and_, false, or_, select

from kassa.domain import CURRENCY_EXPONENTS, MAX_AMOUNT, Payment, PaymentStatus
from kassa.services.context import Context
from kassa.store import records
from kassa.store.tables import payments
from kassa.store.text import unicode_lower


@dataclass(frozen=True, slots=True)
class PaymentFilter:
    """Which payments to list. Amounts are in major units of each payment's own currency
    ("from 500" is 500 ₽ for a rouble payment and 500 Stars for a Stars one); `text` is a
    Kassa id, a provider's payment id, or part of a customer reference or of the description,
    in any case and any script (`%` and `_` are matched as themselves)."""

    shop_id: str | None = None
    status: PaymentStatus | None = None
    provider: str | None = None
    test: bool | None = None
    created_gte: datetime | None = None
    created_lt: datetime | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    text: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        c = payments.c
        conditions: list[ColumnElement[bool]] = []
        if self.shop_id is not None:
            conditions.append(c.shop_id == self.shop_id)
        if self.status is not None:
            conditions.append(c.status == self.status.value)
        if self.provider is not None:
            conditions.append(c.provider == self.provider)
        if self.test is not None:
            conditions.append(c.test == self.test)
        if self.created_gte is not None:
            conditions.append(c.created_at >= self.created_gte)
        if self.created_lt is not None:
            conditions.append(c.created_at < self.created_lt)
        if self.amount_min is not None or self.amount_max is not None:
            conditions.append(_amount_between(self.amount_min, self.amount_max))
        if self.text:
            typed = self.text.lower()
            conditions.append(
                or_(
                    c.id == self.text,
                    c.provider_payment_id == self.text,
                    unicode_lower(c.customer).contains(typed, autoescape=True),
                    unicode_lower(c.description).contains(typed, autoescape=True),
                )
            )
        return conditions


def _amount_between(low: Decimal | None, high: Decimal | None) -> ColumnElement[bool]:
    """Amounts within [low, high] major units, each currency scaled by its own exponent.

    No payment is over `MAX_AMOUNT` minor units, so a bound beyond it is not compared (it
    would not fit the column's 64 bits: 9300000000 TON is 9.3e18 nanotons): a lower one
    leaves the currency out, an upper one leaves it unbounded."""
    if low is not None and low > MAX_AMOUNT:  # more than any payment in any currency
        return false()
    per_currency = []
    for currency, exponent in CURRENCY_EXPONENTS.items():
        bounds: list[ColumnElement[bool]] = [payments.c.currency == currency]
        if low is not None:
            minimum = low.scaleb(exponent).to_integral_value(rounding=ROUND_CEILING)
            if minimum > MAX_AMOUNT:
                continue
            bounds.append(payments.c.amount >= int(minimum))
        if high is not None and high < MAX_AMOUNT:
            maximum = high.scaleb(exponent).to_integral_value(rounding=ROUND_FLOOR)
            if maximum < MAX_AMOUNT:
                bounds.append(payments.c.amount <= int(maximum))
        per_currency.append(and_(*bounds))
    return or_(false(), *per_currency)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of payments, newest first, and whether there are older and newer ones."""

    payments: list[Payment]
    has_older: bool
    has_newer: bool


async def search(
    ctx: Context,
    found: PaymentFilter,
    *,
    limit: int = 50,
    after: str | None = None,
    before: str | None = None,
) -> Page:
    """A page of matching payments, newest first: those older than the payment `after`, or
    the ones just newer than the payment `before`, or the newest."""
    query = select(payments).where(*found.conditions())
    if before is not None:
        query = query.where(payments.c.id > before).order_by(payments.c.id.asc())
    else:
        if after is not None:
            query = query.where(payments.c.id < after)
        query = query.order_by(payments.c.id.desc())
    async with ctx.db.read() as conn:
        rows = list((await conn.execute(query.limit(limit + 1))).mappings())
    more = len(rows) > limit
    listed = [records.payment(row) for row in rows[:limit]]
    if before is not None:
        return Page(list(reversed(listed)), has_older=True, has_newer=more)
    return Page(listed, has_older=more, has_newer=after is not None)


async def stream(
    ctx: Context, found: PaymentFilter, *, batch: int = 500
) -> AsyncIterator[list[Payment]]:
    """Every matching payment, newest first, in batches of at most `batch`: each batch is its
    own short query continuing after the last id, so no connection stays open between batches
    and no more than one batch is ever in memory."""
    last: str | None = None
    while True:
        query = select(payments).where(*found.conditions())
        if last is not None:
            query = query.where(payments.c.id < last)
        query = query.order_by(payments.c.id.desc()).limit(batch)
        async with ctx.db.read() as conn:
            rows = [records.payment(row) for row in (await conn.execute(query)).mappings()]
        if rows:
            yield rows
        if len(rows) < batch:
            return
        last = rows[-1].id
