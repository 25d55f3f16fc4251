"""Figures about payments over a period: revenue, counts, conversion, average check, time to
success, and payments stuck waiting; for the admin dashboard and `GET /v1/analytics`.

Everything is counted by the payment's creation time, in the database (aggregates grouped by
the requested key and by currency), so no more than a few rows per group come back.

- Revenue is `amount_captured - amount_refunded` of payments that succeeded (status
  `succeeded` or, fully refunded since, `refunded`), per currency: currencies are never added
  together. Amounts are integer minor units.
- A caller is of one mode (`Caller.within(test=…)`): test payments are only ever counted
  for a test caller.
- Days are whole days in the period's time zone. Portably (SQLite has no time zones), each
  payment's day is found by comparing its UTC creation time with the days' UTC starts in a
  `CASE`, so days with a daylight-saving change are exactly as long as they are.
- Median and p95 time to success use the nearest-rank method, computed in SQL: count the
  succeeded payments, then read the k-th smallest duration with `ORDER BY … LIMIT 1 OFFSET k-1`
  (the duration is the difference in seconds between the payment's creation and its first
  `payment.succeeded` event, in each dialect's own arithmetic).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Table, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import Payment, PaymentStatus
from kassa.domain.events import EventType
from kassa.services.callers import Caller
from kassa.services.context import Context
from kassa.store import records
from kassa.store.tables import events, payments

GroupBy = Literal["provider", "day", "shop"]

#: The longest period one report covers (a day grouping has a `CASE` branch per day).
MAX_DAYS = 366
#: A payment still `pending` this long after it was created is "stuck" by default.
STUCK_MINUTES = 60

PAID = (PaymentStatus.SUCCEEDED.value, PaymentStatus.REFUNDED.value)


class PeriodInvalid(ValueError):
    """A period that ends before it starts, or is longer than `MAX_DAYS`."""


@dataclass(frozen=True, slots=True)
class Period:
    """Whole days `first` to `last`, both included, in a time zone."""

    first: date
    last: date
    timezone: str

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise PeriodInvalid("the period ends before it starts")
        if self.days > MAX_DAYS:
            raise PeriodInvalid(f"a period is at most {MAX_DAYS} days")

    @classmethod
    def ending(cls, today: date, days: int, timezone: str) -> Period:
        """The `days` days up to and including `today`."""
        return cls(today - timedelta(days=days - 1), today, timezone)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def day_list(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range(self.days)]

    def start_of(self, day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=ZoneInfo(self.timezone))

    @property
    def start(self) -> datetime:
        return self.start_of(self.first)

    @property
    def end(self) -> datetime:
        """The first moment after the period."""
        return self.start_of(self.last + timedelta(days=1))


@dataclass(slots=True)
class Figures:
    """Counts and money of one group of payments (or of all of them)."""

    created: int = 0
    succeeded: int = 0
    failed: int = 0
    #: Revenue per currency, in minor units.
    revenue: dict[str, int] = field(default_factory=dict)
    #: Succeeded payments per currency (what the average check divides by).
    paid: dict[str, int] = field(default_factory=dict)

    @property
    def conversion(self) -> Decimal | None:
        """Succeeded ÷ created, a fraction rounded to 4 places (None without payments)."""
        if not self.created:
            return None
        return (Decimal(self.succeeded) / Decimal(self.created)).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_UP
        )

    @property
    def average_check(self) -> dict[str, int]:
        """Revenue ÷ succeeded payments per currency, rounded half up to a minor unit."""
        return {
            currency: int(
                (Decimal(amount) / Decimal(self.paid[currency])).to_integral_value(
                    rounding=ROUND_HALF_UP
                )
            )
            for currency, amount in sorted(self.revenue.items())
            if self.paid.get(currency)
        }

    def add(
        self, *, currency: str, created: int, succeeded: int, failed: int, revenue: int
    ) -> None:
        self.created += created
        self.succeeded += succeeded
        self.failed += failed
        if succeeded:
            self.revenue[currency] = self.revenue.get(currency, 0) + revenue
            self.paid[currency] = self.paid.get(currency, 0) + succeeded


@dataclass(frozen=True, slots=True)
class Report:
    """The figures of a caller's payments over a period, in total and per group (in key
    order; for days, every day of the period, empty ones too)."""

    period: Period
    group_by: GroupBy | None
    total: Figures
    groups: dict[str, Figures]
    median_seconds: int | None
    p95_seconds: int | None


def _of(caller: Caller, table: Table) -> tuple[ColumnElement[bool], ...]:
    """Conditions for the caller's rows of `table`, which must be of one mode: test and live
    payments are never counted together."""
    if caller.test is None:
        raise ValueError("figures are of one mode: narrow the caller with within(test=…)")
    return caller.scope(table)


def _conditions(caller: Caller, period: Period) -> list[ColumnElement[bool]]:
    return [
        *_of(caller, payments),
        payments.c.created_at >= period.start,
        payments.c.created_at < period.end,
    ]


def _day_of(period: Period) -> ColumnElement[str]:
    """The creation day (ISO date) of a payment known to be inside `period`."""
    days = period.day_list()
    branches = [
        (payments.c.created_at < period.start_of(day + timedelta(days=1)), day.isoformat())
        for day in days[:-1]
    ]
    if not branches:
        return literal(days[-1].isoformat())
    return case(*branches, else_=days[-1].isoformat())


def _key(group_by: GroupBy | None, period: Period) -> ColumnElement[str]:
    if group_by == "provider":
        return payments.c.provider
    if group_by == "shop":
        return payments.c.shop_id
    if group_by == "day":
        return _day_of(period)
    return literal("")


async def report(
    ctx: Context, caller: Caller, period: Period, *, group_by: GroupBy | None = None
) -> Report:
    """The figures of the caller's payments (of its one mode) over the period, grouped as
    asked."""
    paid = payments.c.status.in_(PAID)
    key = _key(group_by, period).label("key")
    query = (
        select(
            key,
            payments.c.currency,
            func.count().label("created"),
            func.sum(case((paid, 1), else_=0)).label("succeeded"),
            func.sum(case((payments.c.status == PaymentStatus.FAILED.value, 1), else_=0)).label(
                "failed"
            ),
            func.sum(
                case((paid, payments.c.amount_captured - payments.c.amount_refunded), else_=0)
            ).label("revenue"),
        )
        .where(*_conditions(caller, period))
        .group_by(key, payments.c.currency)
    )
    async with ctx.db.read() as conn:
        rows = list((await conn.execute(query)).mappings())
        median, p95 = await _time_to_success(conn, caller, period)
    total = Figures()
    groups: dict[str, Figures] = (
        {day.isoformat(): Figures() for day in period.day_list()} if group_by == "day" else {}
    )
    for row in rows:
        counts = {
            "currency": row["currency"],
            "created": int(row["created"]),
            "succeeded": int(row["succeeded"]),
            "failed": int(row["failed"]),
            "revenue": int(row["revenue"]),
        }
        total.add(**counts)
        if group_by is not None:
            groups.setdefault(row["key"], Figures()).add(**counts)
    return Report(
        period=period,
        group_by=group_by,
        total=total,
        groups=dict(sorted(groups.items())),
        median_seconds=median,
        p95_seconds=p95,
    )


async def _time_to_success(
    conn: AsyncConnection, caller: Caller, period: Period
) -> tuple[int | None, int | None]:
    """The median and p95 seconds from creation to success (nearest rank), or None."""
    succeeded_at = (
        select(events.c.payment_id, func.min(events.c.created_at).label("at"))
        .where(
            events.c.type == EventType.PAYMENT_SUCCEEDED.value,
            events.c.created_at >= period.start,
            *_of(caller, events),
        )
        .group_by(events.c.payment_id)
        .subquery()
    )
    if conn.dialect.name == "sqlite":
        seconds: ColumnElement[Any] = (
            func.julianday(succeeded_at.c.at) - func.julianday(payments.c.created_at)
        ) * 86400
    else:
        seconds = func.extract("epoch", succeeded_at.c.at - payments.c.created_at)
    joined = payments.join(succeeded_at, succeeded_at.c.payment_id == payments.c.id)
    conditions = _conditions(caller, period)
    count = await conn.scalar(select(func.count()).select_from(joined).where(*conditions))
    if not count:
        return None, None

    async def ranked(rank: int) -> int:
        value = await conn.scalar(
            select(seconds.label("seconds"))
            .select_from(joined)
            .where(*conditions)
            .order_by(seconds)
            .offset(rank - 1)
            .limit(1)
        )
        return round(float(value or 0))

    # Nearest rank: the ceil(q * n)-th smallest, in integers.
    return await ranked((count + 1) // 2), await ranked((95 * count + 99) // 100)


@dataclass(frozen=True, slots=True)
class Stuck:
    """Payments still pending well after they were created: the oldest, and how many."""

    payments: list[Payment]
    count: int
    minutes: int


async def stuck(
    ctx: Context, caller: Caller, *, minutes: int = STUCK_MINUTES, limit: int = 20
) -> Stuck:
    """The caller's payments (of its one mode) `pending` for more than `minutes`, oldest
    first (at most `limit` of them, and the count of all)."""
    conditions = [
        *_of(caller, payments),
        payments.c.status == PaymentStatus.PENDING.value,
        payments.c.created_at < ctx.clock() - timedelta(minutes=minutes),
    ]
    async with ctx.db.read() as conn:
        count = await conn.scalar(select(func.count()).select_from(payments).where(*conditions))
        rows = (
            await conn.execute(
                select(payments).where(*conditions).order_by(payments.c.created_at).limit(limit)
            )
        ).mappings()
        listed = [records.payment(row) for row in rows]
    return Stuck(payments=listed, count=int(count or 0), minutes=minutes)
