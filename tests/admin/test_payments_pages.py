"""The payments list (filters, search, pages), its CSV export, and the payment page."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from kassa.domain import PaymentStatus
from kassa.services.payments import search as payment_search
from kassa.services.payments.search import PaymentFilter
from kassa.services.shops import shops
from tests.admin.conftest import Visitor, insert_payments, text_of
from tests.helpers import ShopSetup, checkout, create_payment, make_shop, sandbox_notification
from tests.live import LiveServer

LISTED = re.compile(r'href="/admin/payments/(pay_[0-9a-z]+)"')


def listed(page: httpx.Response) -> list[str]:
    assert page.status_code == 200, page.text
    return list(dict.fromkeys(LISTED.findall(page.text)))


@pytest.fixture(scope="module")
def assorted(admin_server: LiveServer) -> tuple[ShopSetup, dict[str, dict[str, Any]]]:
    """A shop with one payment in each state, made through the API and the sandbox."""
    shop = make_shop(admin_server)
    with httpx.Client(
        base_url=admin_server.url, headers={"Authorization": f"Bearer {shop.key}"}
    ) as api:
        made = {
            "paid": create_payment(api, amount=150000, customer="alice@example.com"),
            "pending": create_payment(api, amount=25000, customer="bob"),
            "declined": create_payment(api, amount=9990, customer="carol"),
            "held": create_payment(api, amount=70000, capture=False, customer="alice-2"),
        }
    checkout(admin_server, made["paid"], "pay")
    checkout(admin_server, made["declined"], "decline")
    checkout(admin_server, made["held"], "authorize")
    return shop, made


def test_filters_narrow_the_list(
    viewer: Visitor, assorted: tuple[ShopSetup, dict[str, dict[str, Any]]]
) -> None:
    shop, made = assorted
    ids = {name: payment["id"] for name, payment in made.items()}

    def find(**params: str) -> set[str]:
        return set(listed(viewer.get("/admin/payments", params={"shop": shop.name, **params})))

    assert find() == set(ids.values())
    assert find(status="succeeded") == {ids["paid"]}
    assert find(status="requires_capture") == {ids["held"]}
    assert find(status="failed") == {ids["declined"]}
    assert find(provider="sandbox", mode="test") == set(ids.values())
    assert find(mode="live") == set()
    assert find(min="250", max="1500") == {ids["paid"], ids["pending"], ids["held"]}
    assert find(min="99,91") == {ids["paid"], ids["pending"], ids["held"]}
    assert find(max="99.90") == {ids["declined"]}
    created = datetime.fromisoformat(made["paid"]["created_at"])
    day = created.astimezone(ZoneInfo("Europe/Moscow")).date()
    assert find(**{"from": day.isoformat(), "to": day.isoformat()}) == set(ids.values())
    assert find(to=(day - timedelta(days=1)).isoformat()) == set()
    assert find(**{"from": (day + timedelta(days=1)).isoformat()}) == set()
    # Search: Kassa's id, the provider's id, part of a customer reference.
    assert find(q=ids["pending"]) == {ids["pending"]}
    assert find(q=made["declined"]["provider_payment_id"]) == {ids["declined"]}
    assert find(q="ALICE") == {ids["paid"], ids["held"]}
    assert find(q="%") == set(), "LIKE wildcards are searched for literally"


def test_search_finds_an_order_by_its_description(
    admin_server: LiveServer, viewer: Visitor
) -> None:
    shop = make_shop(admin_server)
    descriptions = {
        "pizza": "Заказ №1 — Пицца Маргарита",
        "tree": "ЗАКАЗ Ёлка",  # noqa: RUF001 - Cyrillic capitals, the point of the test
        "percent": "Order 100% cotton_shirt",
        "lookalike": "Order 1000 cottonXshirt",
    }
    ids = {
        name: insert_payments(admin_server, shop, 1, description=text)[0].id
        for name, text in descriptions.items()
    }

    def find(q: str) -> set[str]:
        page = viewer.get("/admin/payments", params={"shop": shop.name, "q": q})
        return {name for name, payment in ids.items() if payment in listed(page)}

    assert find("заказ") == {"pizza", "tree"}, "Cyrillic in any case, on SQLite too"
    assert find("ЁЛКА") == {"tree"}
    assert find("пицца маргарита") == {"pizza"}
    assert find("100%") == {"percent"}, "% is matched as itself"
    assert find("cotton_shirt") == {"percent"}, "_ is matched as itself"
    assert find("ORDER") == {"percent", "lookalike"}
    page = viewer.get("/admin/payments", params={"shop": shop.name})
    assert "<th>Description</th>" in page.text
    row = '<td data-label="Description" class="description">ЗАКАЗ Ёлка</td>'  # noqa: RUF001
    assert row in page.text


def test_the_list_shows_each_payment_in_its_shop_time_zone(
    admin_server: LiveServer, viewer: Visitor
) -> None:
    shop = make_shop(admin_server)
    (payment,) = insert_payments(admin_server, shop, 1)
    admin_server.call(shops.set_timezone(admin_server.ctx, shop=shop.shop, timezone="Asia/Almaty"))
    page = viewer.get("/admin/payments", params={"shop": shop.name})
    local = payment.created_at.astimezone(ZoneInfo("Asia/Almaty"))
    assert local.strftime("%-m/%-d/%y, %-I:%M") in page.text
    assert "Times are in Asia/Almaty, and dates are whole days there" in page.text
    assert "RUB\u00a0100.00" in page.text
    russian = viewer.get(
        "/admin/payments", params={"shop": shop.name}, headers={"Accept-Language": "ru"}
    )
    assert local.strftime("%d.%m.%Y, %H:%M") in russian.text
    assert "100,00\u00a0₽" in russian.text


def test_unreadable_filters_are_reported(viewer: Visitor) -> None:
    page = viewer.get(
        "/admin/payments",
        params={"from": "30/11/2026", "min": "lots", "status": "paid", "shop": "no-such"},
    )
    assert page.status_code == 422
    text = text_of(page.text)
    for message in (
        "Enter dates as YYYY-MM-DD.",
        "Enter amounts as numbers",
        "Choose the status, provider and mode from the lists.",
        "There is no such shop.",
    ):
        assert message in text
    assert viewer.get("/admin/payments.csv", params={"min": "lots"}).status_code == 422


def test_empty_results_say_what_to_do(viewer: Visitor) -> None:
    page = viewer.get("/admin/payments", params={"q": "no-such-customer-anywhere"})
    assert "No payments match these filters." in page.text
    assert 'href="/admin/payments">Clear filters' in page.text


def test_pages_of_fifty_newest_first(admin_server: LiveServer, viewer: Visitor) -> None:
    shop = make_shop(admin_server)
    made = [payment.id for payment in insert_payments(admin_server, shop, 120)][::-1]
    first = viewer.get("/admin/payments", params={"shop": shop.name})
    assert listed(first) == made[:50]
    assert "Newer" not in first.text
    older = re.search(r'href="(/admin/payments\?[^"]*after=[^"]+)" rel="next"', first.text)
    assert older
    second = viewer.get(older.group(1).replace("&amp;", "&"))
    assert listed(second) == made[50:100]
    third = viewer.get(f"/admin/payments?shop={shop.name}&after={made[99]}")
    assert listed(third) == made[100:]
    assert 'rel="next"' not in third.text
    back = re.search(r'href="(/admin/payments\?[^"]*before=[^"]+)" rel="prev"', third.text)
    assert back
    assert listed(viewer.get(back.group(1).replace("&amp;", "&"))) == made[50:100]


def test_csv_export_streams_the_filtered_set(admin_server: LiveServer, viewer: Visitor) -> None:
    shop = make_shop(admin_server)
    count = 3000
    made = insert_payments(admin_server, shop, count)
    insert_payments(admin_server, shop, 5, status=PaymentStatus.FAILED)  # filtered out below
    risky = insert_payments(admin_server, shop, 1, customer='=HYPERLINK("x")')[0]

    with viewer.stream(
        "GET", "/admin/payments.csv", params={"shop": shop.name, "status": "succeeded"}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert "attachment" in response.headers["content-disposition"]
        assert "content-length" not in response.headers
        assert response.headers["transfer-encoding"] == "chunked"
        body = response.read().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == count + 1
    assert [row["id"] for row in rows] == [risky.id] + [p.id for p in reversed(made)]
    assert rows[0]["customer"] == '\'=HYPERLINK("x")'
    last = rows[-1]
    assert (last["amount"], last["currency"], last["status"], last["shop"]) == (
        "100.00",
        "RUB",
        "succeeded",
        shop.name,
    )
    assert last["created_at"].endswith("+03:00")  # the shop's time zone, Europe/Moscow

    # The stream reads batch by batch: never more than one batch of rows at a time.
    async def batches() -> list[int]:
        found = PaymentFilter(shop_id=shop.shop.id)
        return [len(b) async for b in payment_search.stream(admin_server.ctx, found, batch=500)]

    assert admin_server.call(batches()) == [500] * 6 + [6]


def test_the_payment_page_shows_it_all(
    admin_server: LiveServer,
    viewer: Visitor,
    assorted: tuple[ShopSetup, dict[str, dict[str, Any]]],
) -> None:
    shop, made = assorted
    payment = made["pending"]
    # A notification with a credential in its headers: stored and shown redacted.
    body, headers = sandbox_notification(shop.secret, payment, "succeeded")
    hook = httpx.post(
        f"{admin_server.url}/hooks/sandbox/{shop.name}",
        content=body,
        headers={**headers, "Authorization": "Bearer very-secret-value"},
    )
    assert hook.status_code == 200, hook.text

    page = viewer.get(f"/admin/payments/{payment['id']}")
    assert page.status_code == 200
    text = text_of(page.text)
    for shown in (
        payment["id"],
        payment["provider_payment_id"],
        "bob",
        shop.name,
        "Europe/Moscow",
        "RUB\u00a0250.00",
        "Payment created",
        "Payment succeeded",
        "Provider notification",
        "[redacted]",
        '"order_id"',
    ):
        assert shown in text, shown
    assert payment["confirmation"]["url"] in page.text
    assert "very-secret-value" not in page.text
    assert "Your role can look at payments but not change them." in text
    assert f"/admin/payments/{payment['id']}/refund" not in page.text
