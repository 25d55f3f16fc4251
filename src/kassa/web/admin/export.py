"""The payments CSV export, written while it is read: batch by batch from the database to the
socket, so a large export neither holds every row in memory nor waits for its last row to
start sending (it waits for its first batch, so that a failing query is still an error
answer).

The file is UTF-8 with a byte-order mark (so spreadsheet programs read Cyrillic right),
amounts are major units with a dot (`1500.00`), times are ISO 8601 in the shop's time zone,
and a cell that starts like a formula (`=`, `+`, `-`, `@`) gets a leading apostrophe, so a
customer reference cannot run in a spreadsheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC
from zoneinfo import ZoneInfo

from kassa.domain import Payment, Shop
from kassa.domain.money import format_major
from kassa.services.context import Context
from kassa.services.payments import search as payment_search
from kassa.services.payments.search import PaymentFilter

COLUMNS = (
    "id",
    "created_at",
    "shop",
    "mode",
    "status",
    "amount",
    "currency",
    "amount_captured",
    "amount_refunded",
    "provider",
    "method",
    "provider_payment_id",
    "customer",
    "description",
)

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str | None) -> str:
    if value is None:
        return ""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _row(payment: Payment, shop: Shop | None) -> list[str]:
    zone = ZoneInfo(shop.timezone) if shop else UTC
    return [
        payment.id,
        payment.created_at.astimezone(zone).isoformat(timespec="seconds"),
        shop.name if shop else payment.shop_id,
        "test" if payment.test else "live",
        payment.status.value,
        format_major(payment.amount, payment.currency),
        payment.currency,
        format_major(payment.amount_captured, payment.currency),
        format_major(payment.amount_refunded, payment.currency),
        payment.provider,
        payment.method or "",
        payment.provider_payment_id or "",
        _cell(payment.customer),
        _cell(payment.description),
    ]


async def csv_export(
    ctx: Context, found: PaymentFilter, shops: Mapping[str, Shop]
) -> AsyncIterator[str]:
    """The export as text chunks: the header with the first batch of payments, then one
    chunk per batch.

    The first batch is read before this returns, so a query that fails (every batch runs the
    same query, continued) fails here, before the response has started and while it can
    still be an error page, instead of cutting the download off midway."""
    batches = payment_search.stream(ctx, found)
    first: list[Payment] = await anext(batches, [])
    return _chunks(first, batches, shops)


async def _chunks(
    first: list[Payment], rest: AsyncIterator[list[Payment]], shops: Mapping[str, Shop]
) -> AsyncIterator[str]:
    yield "\ufeff" + _csv([list(COLUMNS)]) + _csv(_row(p, shops.get(p.shop_id)) for p in first)
    async for batch in rest:
        yield _csv(_row(payment, shops.get(payment.shop_id)) for payment in batch)


def _csv(rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()
