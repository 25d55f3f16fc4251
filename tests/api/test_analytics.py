"""Analytics: the figures on a known set of payments (the service), and `GET /v1/analytics`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from kassa.domain import Payment, PaymentStatus, new_id
from kassa.domain.events import EventType
from kassa.services import analytics
from kassa.services.analytics import Period, PeriodInvalid
from kassa.services.callers import Caller
from kassa.services.context import utcnow
from kassa.store import records
from kassa.store.tables import events, payments
from tests.helpers import ShopSetup, make_shop
from tests.live import LiveServer

ZONE = "Europe/Moscow"  # UTC+3 all year
PERIOD = Period(date(2026, 11, 1), date(2026, 11, 3), ZONE)


def moscow(day: int, hour: int, minute: int = 0) -> datetime:
    """A November 2026 moment given in Moscow time, as UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - timedelta(hours=3)


@dataclass(frozen=True)
class Known:
    shop: ShopSetup
    ids: dict[str, str]


def seed(server: LiveServer, shop: ShopSetup) -> dict[str, str]:
    """The known data set: payments of `shop` written straight to the database, with a
    `payment.succeeded` event `seconds` after creation for those that succeeded."""
    plan: dict[str, dict[str, Any]] = {
        # Moscow 1 Nov: 10 000.00 RUB, 60 s to success.
        "paid": {"created_at": moscow(1, 10), "amount_captured": 1_000_000, "seconds": 60},
        # 2 Nov 00:30 in Moscow is still 1 Nov in UTC; partly refunded: 5 000 - 2 000.
        "part_refunded": {
            "created_at": moscow(2, 0, 30),
            "amount_captured": 500_000,
            "amount_refunded": 200_000,
            "seconds": 120,
        },
        "refunded": {
            "created_at": moscow(2, 12),
            "status": PaymentStatus.REFUNDED,
            "amount_captured": 300_000,
            "amount_refunded": 300_000,
            "seconds": 300,
        },
        "stars": {
            "created_at": moscow(3, 9),
            "currency": "XTR",
            "amount": 50,
            "amount_captured": 50,
            "provider": "telegram_stars",
            "seconds": 30,
        },
        "failed": {"created_at": moscow(3, 10), "status": PaymentStatus.FAILED},
        "pending": {"created_at": moscow(3, 11), "status": PaymentStatus.PENDING},
        "test": {"created_at": moscow(2, 13), "test": True, "amount_captured": 9_999_900},
        "before": {"created_at": moscow(1, 0) - timedelta(minutes=1), "amount_captured": 100},
    }
    made: list[Payment] = []
    succeeded: list[tuple[Payment, int]] = []
    for name, fields in plan.items():
        seconds = fields.pop("seconds", None)
        payment = Payment(
            **{
                "id": new_id("pay"),
                "shop_id": shop.shop.id,
                "test": False,
                "provider": "sandbox",
                "provider_account_id": shop.sandbox.id,
                "status": PaymentStatus.SUCCEEDED,
                "amount": 1_000_000,
                "currency": "RUB",
                "capture": True,
                "customer": name,
                "updated_at": fields["created_at"],
                **fields,
            }
        )
        made.append(payment)
        if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED):
            succeeded.append((payment, seconds or 10))

    async def write() -> None:
        async with server.ctx.db.write() as conn:
            await conn.execute(insert(payments), [records.payment_values(p) for p in made])
            await conn.execute(
                insert(events),
                [
                    {
                        "id": new_id("evt"),
                        "shop_id": p.shop_id,
                        "test": p.test,
                        "type": EventType.PAYMENT_SUCCEEDED.value,
                        "source": "provider",
                        "payment_id": p.id,
                        "data": {},
                        "created_at": p.created_at + timedelta(seconds=seconds),
                    }
                    for p, seconds in succeeded
                ],
            )

    server.call(write())
    return {p.customer or "": p.id for p in made}


@pytest.fixture(scope="module")
def known(server: LiveServer) -> Known:
    shop = make_shop(server)
    return Known(shop=shop, ids=seed(server, shop))


def live_scope(known: Known) -> Caller:
    return Caller.system(shop=known.shop.shop, test=False)


def test_totals_on_a_known_data_set(server: LiveServer, known: Known) -> None:
    found = server.call(analytics.report(server.ctx, live_scope(known), PERIOD))
    total = found.total
    assert (total.created, total.succeeded, total.failed) == (6, 4, 1)
    # Refunds are subtracted, currencies kept apart, the test payment left out.
    assert total.revenue == {"RUB": 1_300_000, "XTR": 50}
    assert total.paid == {"RUB": 3, "XTR": 1}
    assert total.average_check == {"RUB": 433_333, "XTR": 50}
    assert total.conversion == Decimal("0.6667")
    # 30, 60, 120, 300 seconds: nearest rank gives the 2nd and the 4th.
    assert (found.median_seconds, found.p95_seconds) == (60, 300)
    assert found.groups == {}


def test_days_are_the_shop_time_zone_days(server: LiveServer, known: Known) -> None:
    found = server.call(analytics.report(server.ctx, live_scope(known), PERIOD, group_by="day"))
    assert list(found.groups) == ["2026-11-01", "2026-11-02", "2026-11-03"]
    first, second, third = found.groups.values()
    assert (first.created, first.succeeded, first.revenue) == (1, 1, {"RUB": 1_000_000})
    assert (second.created, second.succeeded, second.revenue) == (2, 2, {"RUB": 300_000})
    assert (third.created, third.succeeded, third.failed) == (3, 1, 1)
    assert third.revenue == {"XTR": 50}


def test_grouped_by_provider(server: LiveServer, known: Known) -> None:
    found = server.call(
        analytics.report(server.ctx, live_scope(known), PERIOD, group_by="provider")
    )
    assert list(found.groups) == ["sandbox", "telegram_stars"]
    assert found.groups["sandbox"].revenue == {"RUB": 1_300_000}
    assert found.groups["telegram_stars"].revenue == {"XTR": 50}


def test_test_payments_only_in_a_test_scope(server: LiveServer, known: Known) -> None:
    scope = Caller.system(shop=known.shop.shop, test=True)
    found = server.call(analytics.report(server.ctx, scope, PERIOD))
    assert (found.total.created, found.total.revenue) == (1, {"RUB": 9_999_900})


def test_an_empty_period(server: LiveServer, known: Known) -> None:
    empty = Period(date(2025, 1, 1), date(2025, 1, 1), ZONE)
    found = server.call(analytics.report(server.ctx, live_scope(known), empty, group_by="day"))
    assert found.total.conversion is None
    assert found.total.average_check == {}
    assert (found.median_seconds, found.p95_seconds) == (None, None)
    assert list(found.groups) == ["2025-01-01"]


def test_stuck_pending_payments(server: LiveServer, known: Known) -> None:
    stuck = server.call(analytics.stuck(server.ctx, live_scope(known)))
    assert stuck.count == 1
    assert [p.id for p in stuck.payments] == [known.ids["pending"]]


def test_a_period_is_checked() -> None:
    with pytest.raises(PeriodInvalid):
        Period(date(2026, 11, 2), date(2026, 11, 1), ZONE)
    with pytest.raises(PeriodInvalid):
        Period(date(2025, 1, 1), date(2026, 1, 2), ZONE)
    assert Period.ending(date(2026, 11, 30), 7, ZONE).first == date(2026, 11, 24)


# The API.


def get(server: LiveServer, key: str, **params: str) -> httpx.Response:
    return httpx.get(
        f"{server.url}/v1/analytics",
        params=params,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def test_the_api_gives_the_live_figures_to_a_live_key(server: LiveServer) -> None:
    shop = make_shop(server, live_key=True)
    ids = seed(server, shop)
    assert ids
    answer = get(server, shop.key, **{"from": "2026-11-01", "to": "2026-11-03"}, group_by="day")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["object"] == "analytics"
    assert body["test"] is False
    assert (body["from"], body["to"], body["timezone"]) == ("2026-11-01", "2026-11-03", ZONE)
    assert body["total"]["created"] == 6
    assert body["total"]["conversion"] == "0.6667"
    assert body["total"]["revenue"] == [
        {"currency": "RUB", "revenue": 1_300_000, "payments": 3, "average_check": 433_333},
        {"currency": "XTR", "revenue": 50, "payments": 1, "average_check": 50},
    ]
    assert (body["median_seconds_to_success"], body["p95_seconds_to_success"]) == (60, 300)
    assert [g["key"] for g in body["groups"]] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    by_provider = get(
        server, shop.key, **{"from": "2026-11-01", "to": "2026-11-03"}, group_by="provider"
    )
    assert [g["key"] for g in by_provider.json()["groups"]] == ["sandbox", "telegram_stars"]


def test_a_test_key_sees_test_figures_marked_as_test(server: LiveServer) -> None:
    shop = make_shop(server)
    seed(server, shop)
    body = get(server, shop.key, **{"from": "2026-11-01", "to": "2026-11-03"}).json()
    assert body["test"] is True
    assert body["total"]["created"] == 1
    assert body["total"]["revenue"][0]["revenue"] == 9_999_900
    assert body["groups"] == []


def test_a_key_sees_only_its_own_shop(server: LiveServer) -> None:
    seeded = make_shop(server, live_key=True)
    seed(server, seeded)
    other = make_shop(server, live_key=True)
    body = get(server, other.key, **{"from": "2026-11-01", "to": "2026-11-03"}).json()
    assert body["total"]["created"] == 0
    assert body["total"]["conversion"] is None


def test_by_default_the_last_30_days(server: LiveServer, shop: ShopSetup) -> None:
    body = get(server, shop.key).json()
    today = utcnow().astimezone().date()
    assert date.fromisoformat(body["to"]) - date.fromisoformat(body["from"]) == timedelta(29)
    assert abs((date.fromisoformat(body["to"]) - today).days) <= 1


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"group_by": "month"}, "group_by"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"from": "2026-11-02", "to": "2026-11-01"}, "from"),
        ({"from": "2024-01-01", "to": "2026-01-01"}, "from"),
    ],
)
def test_bad_parameters_are_422(
    server: LiveServer, shop: ShopSetup, params: dict[str, str], param: str
) -> None:
    answer = get(server, shop.key, **params)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["param"] == param


def test_a_key_is_required(server: LiveServer) -> None:
    assert httpx.get(f"{server.url}/v1/analytics", timeout=30).status_code == 401
    assert get(server, "sk_test_nope").status_code == 401
