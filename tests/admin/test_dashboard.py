"""The dashboard: figures, charts drawn as SVG, stuck payments, the empty state, ru/en."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from kassa.domain import PaymentStatus
from kassa.services.context import utcnow
from tests.admin.conftest import Visitor, insert_payments, text_of
from tests.helpers import ShopSetup, make_shop
from tests.live import LiveServer


@pytest.fixture(scope="module")
def busy(admin_server: LiveServer) -> tuple[ShopSetup, dict[str, Any]]:
    """A shop with two live payments that succeeded (100.00 and 100.01 RUB), one failed, one
    pending for two hours, and a large test payment that must not count."""
    shop = make_shop(admin_server)
    an_hour_ago = utcnow() - timedelta(hours=1)
    paid = insert_payments(admin_server, shop, 2, test=False, created_at=an_hour_ago)
    insert_payments(
        admin_server, shop, 1, test=False, status=PaymentStatus.FAILED, amount_captured=0
    )
    (stuck,) = insert_payments(
        admin_server,
        shop,
        1,
        test=False,
        status=PaymentStatus.PENDING,
        amount_captured=0,
        created_at=utcnow() - timedelta(hours=2),
    )
    insert_payments(admin_server, shop, 1, test=True, amount_captured=9_999_999)
    return shop, {"paid": paid, "stuck": stuck}


def test_the_dashboard_shows_a_shop_figures(
    viewer: Visitor, busy: tuple[ShopSetup, dict[str, Any]]
) -> None:
    shop, made = busy
    page = viewer.get("/admin", params={"shop": shop.name}, headers={"Accept-Language": "en"})
    assert page.status_code == 200, page.text
    text = text_of(page.text)
    assert "Dashboard" in text
    # Revenue 100.00 + 100.01 in today, 7 days and 30 days; the test payment left out.
    assert text.count("RUB\u00a0200.01") >= 3
    assert "99,999.99" not in text
    assert "50% 2 succeeded of 4 created" in text
    assert "RUB\u00a0100.01" in text  # the average check, rounded half up from 100.005
    assert page.text.count("<svg") == 2  # revenue (RUB) and payment counts
    assert '<title id="count-title">Payments per day</title>' in page.text
    assert f'href="/admin/payments/{made["stuck"].id}"' in page.text
    assert "1 live payment is still pending" in text
    assert 'aria-pressed="false"' in page.text  # the Test mode switch, off


def test_test_mode_counts_test_payments_and_is_remembered(
    viewer: Visitor, busy: tuple[ShopSetup, dict[str, Any]]
) -> None:
    shop, _ = busy
    english = {"Accept-Language": "en"}
    page = viewer.get("/admin", params={"shop": shop.name, "mode": "test"}, headers=english)
    assert page.status_code == 200, page.text
    text = text_of(page.text)
    assert "Test mode is on" in text
    assert 'aria-pressed="true"' in page.text
    assert 'class="admin test-mode"' in page.text
    assert text.count("RUB\u00a099,999.99") >= 3  # only the test payment
    assert "RUB\u00a0200.01" not in text
    assert "100% 1 succeeded of 1 created" in text
    # Remembered for the browser session: the dashboard stays in test mode until switched off.
    assert "Test mode is on" in text_of(viewer.get("/admin", params={"shop": shop.name}).text)
    live = viewer.get("/admin", params={"shop": shop.name, "mode": "live"}, headers=english)
    assert "Test mode is on" not in text_of(live.text)
    assert "RUB\u00a0200.01" in text_of(viewer.get("/admin", params={"shop": shop.name}).text)
    russian = viewer.get(
        "/admin", params={"shop": shop.name, "mode": "test"}, headers={"Accept-Language": "ru"}
    )
    assert "Включён тестовый режим" in text_of(russian.text)
    assert "успешно 1 из 1 созданного" in text_of(russian.text)


def test_the_dashboard_in_russian(viewer: Visitor, busy: tuple[ShopSetup, dict[str, Any]]) -> None:
    shop, _ = busy
    page = viewer.get("/admin", params={"shop": shop.name}, headers={"Accept-Language": "ru"})
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Сводка" in text
    assert "200,01\u00a0₽" in text
    assert "Конверсия" in text


def test_every_role_sees_it(
    owner: Visitor, operator: Visitor, viewer: Visitor, visitor: Visitor
) -> None:
    for someone in (owner, operator, viewer):
        assert someone.get("/admin").status_code == 200
    assert visitor.get("/admin").status_code == 303


def test_the_empty_state_says_what_to_do(admin_server: LiveServer, viewer: Visitor) -> None:
    quiet = make_shop(admin_server)
    insert_payments(admin_server, quiet, 1)  # a test payment: not counted
    page = viewer.get("/admin", params={"shop": quiet.name}, headers={"Accept-Language": "en"})
    assert page.status_code == 200
    text = text_of(page.text)
    assert "No live payments in this period." in text
    assert "sk_live_" in text
    assert "<svg" not in page.text
    assert f'href="/admin?shop={quiet.name}&amp;mode=test">Show test payments' in page.text


def test_unreadable_filters_are_named(viewer: Visitor) -> None:
    page = viewer.get(
        "/admin",
        params={"shop": "no-such-shop", "days": "13", "mode": "both"},
        headers={"Accept-Language": "en"},
    )
    assert page.status_code == 422
    assert "Choose the shop, the period and the mode from the lists." in text_of(page.text)
