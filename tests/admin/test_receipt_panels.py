"""The admin's payment page shows the fiscal receipt (54-FZ); the shop page its settings."""

from __future__ import annotations

import httpx

from kassa.domain.receipts import FiscalSettings
from kassa.services.shops import shops
from tests.admin.conftest import Visitor, text_of
from tests.helpers import ProviderShop, create_payment, make_provider_shop, make_shop
from tests.live import LiveServer

FISCAL = FiscalSettings(tax_system_code=2, vat_code=1, receipts_required=True)


def receipt_shop(server: LiveServer) -> ProviderShop:
    """CloudPayments calls no API to create a payment: no emulator is needed here."""
    shop = make_provider_shop(
        server,
        "cloudpayments",
        {"public_id": "test_api_x", "api_secret": "s", "api_url": "http://127.0.0.1:9"},
    )
    server.call(shops.set_fiscal(server.ctx, shop=shop.shop, fiscal=FISCAL))
    return shop


def test_the_receipt_panel_in_english_and_russian(
    admin_server: LiveServer, viewer: Visitor
) -> None:
    shop = receipt_shop(admin_server)
    with shop.api(admin_server) as api:
        payment = create_payment(
            api,
            amount=30000,
            customer_email="buyer@example.ru",
            items=[{"description": "Hour of play", "quantity": "1.5", "price": 20000}],
        )
    page = viewer.get(f"/admin/payments/{payment['id']}")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Fiscal receipt" in text
    assert "Not reported by the provider" in text
    assert "buyer@example.ru" in text
    assert "Hour of play 1.5" in text
    assert 'id="receipt-items"' in page.text
    viewer.cookies.set("kassa_lang", "ru", path="/admin")
    russian = text_of(viewer.get(f"/admin/payments/{payment['id']}").text)
    assert "Фискальный чек" in russian
    assert "Hour of play" in russian

    shop_page = text_of(viewer.get(f"/admin/shops/{shop.name}").text)
    assert "Налоговая система 2, код НДС 1 по умолчанию" in shop_page
    assert "обязателен с каждым платежом" in shop_page  # noqa: RUF001


def test_lines_without_a_receipt_say_why(admin_server: LiveServer, viewer: Visitor) -> None:
    shop = make_shop(admin_server)  # the sandbox sends no receipts
    with httpx.Client(
        base_url=admin_server.url, headers={"Authorization": f"Bearer {shop.key}"}
    ) as api:
        payment = create_payment(
            api, amount=500, items=[{"description": "Tea", "quantity": 1, "price": 500}]
        )
        plain = create_payment(api, amount=500)
    text = text_of(viewer.get(f"/admin/payments/{payment['id']}").text)
    assert "No fiscal receipt was sent with this payment" in text
    assert "Tea" in text
    assert "Fiscal receipt" not in text_of(viewer.get(f"/admin/payments/{plain['id']}").text)
    assert "Not sent · kassa shops fiscal" in text_of(viewer.get(f"/admin/shops/{shop.name}").text)
