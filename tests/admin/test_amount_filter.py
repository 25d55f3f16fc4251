"""The payments list's amount and date filters at the edges of what can be stored, and the
CSV export with them: an answer, never a 500 or a download cut off midway.

An amount in major units becomes each currency's minor units: 9 300 000 000 TON is
9.3e18 nanotons, beyond a 64-bit column (and beyond `MAX_AMOUNT`, which no payment exceeds).
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from kassa.domain import MAX_AMOUNT, Payment
from kassa.services.payments import search as payment_search
from kassa.services.payments.search import PaymentFilter
from kassa.web.admin import export
from tests.admin.conftest import Visitor, insert_payments
from tests.helpers import ShopSetup, make_shop
from tests.live import LiveServer

LISTED = re.compile(r'href="/admin/payments/(pay_[0-9a-z]+)"')


@pytest.fixture(scope="module")
def large(admin_server: LiveServer) -> tuple[ShopSetup, dict[str, str]]:
    """A shop with the largest TON payment there can be (a million TON) and a payment of ten
    billion roubles."""
    shop = make_shop(admin_server)
    ton = insert_payments(admin_server, shop, 1, currency="TON", amount=MAX_AMOUNT)[0]
    rub = insert_payments(admin_server, shop, 1, currency="RUB", amount=10**12)[0]
    return shop, {"ton": ton.id, "rub": rub.id}


def listed(page: httpx.Response) -> set[str]:
    assert page.status_code == 200, page.text[:500]
    return set(LISTED.findall(page.text))


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        ({"min": "9300000000"}, {"rub"}),
        ({"max": "9300000000"}, {"ton"}),
        ({"min": "1000000", "max": "1e30"}, {"ton", "rub"}),
        ({"min": "1e30"}, set()),
        ({"min": "1e999999999"}, set()),
        ({"max": "1e999999999"}, {"ton", "rub"}),
        ({"min": str(MAX_AMOUNT), "max": str(MAX_AMOUNT + 1)}, set()),
    ],
)
def test_amounts_beyond_any_column_filter_without_error(
    viewer: Visitor,
    large: tuple[ShopSetup, dict[str, str]],
    bounds: dict[str, str],
    expected: set[str],
) -> None:
    shop, ids = large
    page = viewer.get("/admin/payments", params={"shop": shop.name, **bounds})
    assert listed(page) == {ids[name] for name in expected}


def test_the_export_with_such_an_amount_is_whole(
    viewer: Visitor, large: tuple[ShopSetup, dict[str, str]]
) -> None:
    shop, ids = large
    response = viewer.get("/admin/payments.csv", params={"shop": shop.name, "min": "9300000000"})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row["id"] for row in rows] == [ids["rub"]]


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1970-01-01"])
def test_days_out_of_range_are_a_form_error(viewer: Visitor, day: str) -> None:
    for name in ("from", "to"):
        assert viewer.get("/admin/payments", params={name: day}).status_code == 422
        assert viewer.get("/admin/payments.csv", params={name: day}).status_code == 422


def test_an_export_whose_query_fails_fails_before_it_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Unit test of the export alone: the first batch is read before there is a response to
    start, so a failing query is an error answer, not a download cut off after its header."""

    async def failing(*_args: object, **_kwargs: object) -> AsyncIterator[list[Payment]]:
        raise OverflowError("Python int too large to convert to SQLite INTEGER")
        yield []  # pragma: no cover - makes this an async generator

    monkeypatch.setattr(payment_search, "stream", failing)

    async def start() -> None:
        await export.csv_export(None, PaymentFilter(), {})  # type: ignore[arg-type]

    with pytest.raises(OverflowError):
        asyncio.run(start())
