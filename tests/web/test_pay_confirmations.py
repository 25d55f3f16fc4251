"""The payer's page shows what a waiting payer must do, for each kind of confirmation, in
English and Russian, under Kassa's strict Content-Security-Policy: requisites with the exact
amount and a grouped card number or phone, a QR code drawn as inline SVG, a crypto transfer
with its exact amount and a warning, an invoice link. The same in a real browser, with the copy
buttons and the page noticing the payment: `tests/admin/test_confirmations_in_a_browser.py`."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from kassa.providers import QrConfirmation, RedirectConfirmation, RequisitesConfirmation
from kassa.services.context import utcnow
from kassa.web.confirmations import card_number, has_lapsed, phone_number, qr_svg
from kassa.web.middleware import CONTENT_SECURITY_POLICY
from tests.helpers import ShopSetup, checkout
from tests.live import LiveServer
from tests.web.confirmations import (
    INVOICE,
    PROVIDER_PAGE,
    SBP_QR,
    TRON_ADDRESS,
    examples,
    payment_asking,
)
from tests.web.test_pay_page import Page, open_page


@pytest.fixture
def shop_api(server: LiveServer, shop: ShopSetup) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {shop.key}"})


def shown(
    server: LiveServer, api: httpx.Client, kind: str, lang: str
) -> tuple[httpx.Response, Page]:
    payment = payment_asking(server, api, examples()[kind])
    response = httpx.get(f"{server.url}/pay/{payment['id']}?lang={lang}")
    assert response.status_code == 200
    # Nothing on these pages needs more than Kassa's own policy, and nothing runs inline.
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    page = Page(response.text)
    assert page.inline_scripts == 0
    assert "style=" not in response.text
    # The page asks Kassa for the status until the payer has paid.
    assert page.by_id["pay-waiting"]["data-status-url"] == f"/pay/{payment['id']}/status"
    assert {"src": "/static/pay.js", "defer": None} in page.scripts
    return response, page


@pytest.mark.parametrize(
    ("lang", "texts"),
    [
        (
            "en",
            [
                "Amount to transfer RUB\u00a01,500.00",
                "Card number 2200 7000 1234 5678",
                "Bank Альфа-Банк",
                "Recipient Иван П.",
                "Pay before",
            ],
        ),
        (
            "ru",
            [
                "Сумма перевода 1\u00a0500,00\u00a0₽",
                "Номер карты 2200 7000 1234 5678",
                "Банк Альфа-Банк",
                "Получатель Иван П.",
                "Оплатить до",
            ],
        ),
    ],
)
def test_card_requisites(
    server: LiveServer, shop_api: httpx.Client, lang: str, texts: list[str]
) -> None:
    response, page = shown(server, shop_api, "card", lang)
    for text in texts:
        assert text in page.text
    assert PROVIDER_PAGE in page.links
    copies = re.findall(r'data-copy="([^"]*)"', response.text)
    assert copies == ["1500.00", "2200700012345678"]
    assert {"src": "/static/copy.js", "defer": None} in page.scripts


def test_phone_requisites_show_the_providers_amount(
    server: LiveServer, shop_api: httpx.Client
) -> None:
    """The amount to transfer is the provider's (it may differ from the payment's by a few
    kopecks), shown exactly; the phone is grouped, copied as written."""
    response, page = shown(server, shop_api, "phone", "en")
    assert "RUB\u00a01,500.00" in page.text  # the payment's amount, at the top
    assert "Amount to transfer RUB\u00a01,500.37" in page.text
    assert "Phone number +7 900 123-45-67" in page.text
    assert re.findall(r'data-copy="([^"]*)"', response.text) == ["1500.37", "+79001234567"]
    assert "Pay before" not in page.text


@pytest.mark.parametrize(
    ("lang", "text"),
    [("en", "Scan the QR code with your banking app"), ("ru", "Отсканируйте QR-код")],
)
def test_a_qr_code_is_inline_svg(
    server: LiveServer, shop_api: httpx.Client, lang: str, text: str
) -> None:
    response, page = shown(server, shop_api, "qr", lang)
    assert text in page.text
    svg = re.search(r"<svg[^>]*>.*?</svg>", response.text, re.DOTALL)
    assert svg is not None
    assert svg.group(0) == str(qr_svg(SBP_QR))
    assert "<script" not in svg.group(0)
    # On a phone the payer cannot scan its own screen: the link opens the banking app.
    assert SBP_QR.replace("&", "&amp;") in response.text


@pytest.mark.parametrize(
    ("lang", "warning"),
    [
        ("en", "Send exactly 16.500137 USDT on the TRC20 network."),
        ("ru", "Отправьте ровно 16.500137 USDT в сети TRC20."),
    ],
)
def test_a_crypto_transfer(
    server: LiveServer, shop_api: httpx.Client, lang: str, warning: str
) -> None:
    response, page = shown(server, shop_api, "crypto", lang)
    assert warning in page.text
    assert TRON_ADDRESS in page.text
    assert re.findall(r'data-copy="([^"]*)"', response.text) == ["16.500137", TRON_ADDRESS]
    assert str(qr_svg(TRON_ADDRESS)) in response.text


@pytest.mark.parametrize(("lang", "button"), [("en", "Open the invoice"), ("ru", "Открыть счёт")])
def test_an_invoice_link(
    server: LiveServer, shop_api: httpx.Client, lang: str, button: str
) -> None:
    _, page = shown(server, shop_api, "invoice", lang)
    assert button in page.text
    assert INVOICE in page.links


def test_a_paid_payment_shows_its_status_not_the_requisites(
    server: LiveServer, shop_api: httpx.Client
) -> None:
    payment = payment_asking(server, shop_api, examples()["card"])
    assert checkout(server, payment, "pay").status_code == 200
    page = Page(open_page(server, payment["id"]).text)
    assert "Payment succeeded" in page.text
    assert "pay-waiting" not in page.by_id
    assert "2200 7000 1234 5678" not in page.text


@pytest.mark.parametrize(("lang", "text"), [("en", "The time to pay"), ("ru", "Время оплаты")])
def test_requisites_past_their_time_are_not_shown(
    server: LiveServer, shop_api: httpx.Client, lang: str, text: str
) -> None:
    """Once the requisites' own time is over they may be another payer's: the page says so
    instead, and keeps waiting (the payer may have paid in time)."""
    card = examples()["card"]
    assert isinstance(card, RequisitesConfirmation)
    lapsed = replace(card, expires_at=utcnow() - timedelta(seconds=1))
    payment = payment_asking(server, shop_api, lapsed)
    page = Page(open_page(server, payment["id"], **{"Accept-Language": lang}).text)
    assert "confirmation-lapsed" in page.by_id
    assert text in page.text
    assert "2200 7000 1234 5678" not in page.text
    assert page.by_id["pay-waiting"]["data-status-url"] == f"/pay/{payment['id']}/status"


@pytest.mark.parametrize("address", ["javascript:alert(1)", "data:text/html,hi", "//evil.example"])
def test_only_web_addresses_become_links(
    server: LiveServer, shop_api: httpx.Client, address: str
) -> None:
    """A provider's answer is not trusted to be a web address: anything else is not linked."""
    for confirmation in (QrConfirmation(payload=address), RedirectConfirmation(url=address)):
        payment = payment_asking(server, shop_api, confirmation)
        page = Page(open_page(server, payment["id"]).text)
        assert address not in page.links


def test_a_payload_too_long_for_a_qr_code_is_not_drawn() -> None:
    assert qr_svg("x" * 5000) is None
    assert qr_svg("") is None


def test_numbers_for_reading() -> None:
    assert card_number("2200 7000-1234 5678") == "2200 7000 1234 5678"
    assert card_number("220070001234567890") == "2200 7000 1234 5678 90"
    assert phone_number("+7 (900) 123 45 67") == "+7 900 123-45-67"
    assert phone_number("87011234567") == "+7 701 123-45-67"
    assert phone_number("+998901234567") == "+998901234567"


def test_when_a_confirmation_lapses() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert has_lapsed({"expires_at": "2026-12-06T12:00:00Z"}, now)
    assert has_lapsed({"expires_at": "2026-12-06T11:59:59"}, now)  # no zone: UTC
    assert not has_lapsed({"expires_at": "2026-12-06T12:00:01Z"}, now)
    assert not has_lapsed({"expires_at": None}, now)
    assert not has_lapsed({"expires_at": "soon"}, now)
