"""What a waiting payer must do, in a real browser (Debian's Chromium, driven by Playwright),
in English and Russian: requisites, a QR code, a crypto transfer and an invoice link on the
payer's page, with copy buttons that put the exact value on the clipboard, under Kassa's strict
Content-Security-Policy (`Tab` fails the test on any violation); the page noticing the payment
by itself; and the same rendering on the admin's payment page. Screenshots go to
`test-artifacts/screenshots/confirmation-*.png` (not committed)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Locator, expect

from tests.admin.conftest import People
from tests.admin.test_in_a_browser import CHROMIUM, Tab
from tests.admin.test_in_a_browser import browser as browser_fixture
from tests.helpers import checkout, make_shop
from tests.live import LiveServer
from tests.web.confirmations import INVOICE, PROVIDER_PAGE, TRON_ADDRESS, examples, payment_asking

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")

browser = browser_fixture

PHONE_WIDTH = 390
PHONE = {"viewport": {"width": PHONE_WIDTH, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
def api(admin_server: LiveServer) -> Iterator[httpx.Client]:
    shop = make_shop(admin_server)
    with httpx.Client(
        base_url=admin_server.url, headers={"Authorization": f"Bearer {shop.key}"}
    ) as client:
        yield client


def copied_by(tab: Tab, button: Locator) -> str:
    """Press a copy button; what the clipboard then holds."""
    button.click()
    expect(button).to_have_class("copy done")
    text: str = tab.page.evaluate("navigator.clipboard.readText()")
    return text


def payer_tab(browser: Browser, server: LiveServer, lang: str) -> Tab:
    tab = Tab(browser, server, locale="ru-RU" if lang == "ru" else "en-US", **PHONE)
    tab.context.grant_permissions(["clipboard-read", "clipboard-write"])
    return tab


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", ("Amount to transfer", "Card number", "Copy the card number", "Copied")),
        ("ru", ("Сумма перевода", "Номер карты", "Копировать номер карты", "Скопировано")),
    ],
)
def test_card_requisites_and_copying_them(
    browser: Browser,
    admin_server: LiveServer,
    api: httpx.Client,
    lang: str,
    words: tuple[str, str, str, str],
) -> None:
    amount_label, card_label, copy_card, copied = words
    payment = payment_asking(admin_server, api, examples()["card"])
    tab = payer_tab(browser, admin_server, lang)
    page = tab.page
    page.goto(f"/pay/{payment['id']}")
    requisites = page.locator("#confirmation dl")
    expect(requisites).to_contain_text(amount_label)
    expect(requisites).to_contain_text(card_label)
    expect(page.locator("#transfer-card")).to_have_text("2200 7000 1234 5678")
    expect(page.locator("#transfer-amount")).to_have_text(
        "1\u00a0500,00\u00a0₽" if lang == "ru" else "RUB\u00a01,500.00"
    )
    expect(page.get_by_role("link", name="Альфа-Банк")).to_have_count(0)
    expect(page.locator(f'a[href="{PROVIDER_PAGE}"]')).to_be_visible()
    tab.shot(f"confirmation-card-{lang}")

    card_button = page.get_by_role("button", name=copy_card)
    assert copied_by(tab, card_button) == "2200700012345678"
    expect(card_button).to_have_text(copied)
    assert copied_by(tab, page.locator("#transfer-amount + button.copy")) == "1500.00"
    tab.close()


@pytest.mark.parametrize(
    ("lang", "lead"),
    [("en", "Scan the QR code"), ("ru", "Отсканируйте QR-код")],
)
def test_a_qr_code(
    browser: Browser, admin_server: LiveServer, api: httpx.Client, lang: str, lead: str
) -> None:
    payment = payment_asking(admin_server, api, examples()["qr"])
    tab = payer_tab(browser, admin_server, lang)
    tab.page.goto(f"/pay/{payment['id']}")
    expect(tab.page.locator("#confirmation")).to_contain_text(lead)
    code = tab.page.locator("figure.qr svg")
    expect(code).to_be_visible()
    box = code.bounding_box()
    assert box is not None
    assert box["width"] == box["height"] >= 150  # drawn square, big enough for a camera
    tab.shot(f"confirmation-qr-{lang}")
    tab.close()


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", ("Send exactly 16.500137 USDT on the TRC20 network.", "Copy the address")),
        ("ru", ("Отправьте ровно 16.500137 USDT в сети TRC20.", "Копировать адрес")),
    ],
)
def test_a_crypto_transfer(
    browser: Browser,
    admin_server: LiveServer,
    api: httpx.Client,
    lang: str,
    words: tuple[str, str],
) -> None:
    warning, copy_address = words
    payment = payment_asking(admin_server, api, examples()["crypto"])
    tab = payer_tab(browser, admin_server, lang)
    page = tab.page
    page.goto(f"/pay/{payment['id']}")
    expect(page.locator("#confirmation .warning")).to_contain_text(warning)
    expect(page.locator("#transfer-address")).to_have_text(TRON_ADDRESS)
    expect(page.locator("figure.qr svg")).to_be_visible()
    # The long address wraps inside the card instead of widening the page on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    tab.shot(f"confirmation-crypto-{lang}")
    assert copied_by(tab, page.get_by_role("button", name=copy_address)) == TRON_ADDRESS
    assert copied_by(tab, page.locator("#transfer-amount + button.copy")) == "16.500137"
    tab.close()


@pytest.mark.parametrize(("lang", "button"), [("en", "Open the invoice"), ("ru", "Открыть счёт")])
def test_an_invoice_link(
    browser: Browser, admin_server: LiveServer, api: httpx.Client, lang: str, button: str
) -> None:
    payment = payment_asking(admin_server, api, examples()["invoice"])
    tab = payer_tab(browser, admin_server, lang)
    tab.page.goto(f"/pay/{payment['id']}")
    expect(tab.page.get_by_role("link", name=button)).to_have_attribute("href", INVOICE)
    tab.shot(f"confirmation-invoice-{lang}")
    tab.close()


def test_the_page_notices_the_payment_by_itself(
    browser: Browser, admin_server: LiveServer, api: httpx.Client
) -> None:
    """The payer transfers and keeps looking at the page: it shows the success without a
    reload by hand, once Kassa has heard from the provider."""
    payment = payment_asking(admin_server, api, examples()["phone"])
    tab = payer_tab(browser, admin_server, "ru")
    page = tab.page
    page.goto(f"/pay/{payment['id']}")
    expect(page.locator("#transfer-phone")).to_have_text("+7 900 123-45-67")
    assert checkout(admin_server, payment, "pay").status_code == 200
    expect(page.locator(".result.succeeded")).to_have_text("Платёж прошёл", timeout=15_000)
    expect(page.locator("#confirmation")).to_have_count(0)
    tab.close()


@pytest.mark.parametrize(
    "words",
    [
        ("en", "Confirmation", "Send exactly 16.500137 USDT", "As stored", "Copy the address"),
        (
            "ru",
            "Подтверждение",
            "Отправьте ровно 16.500137 USDT",
            "Как сохранено",
            "Копировать адрес",
        ),
    ],
    ids=["en", "ru"],
)
def test_the_admin_page_shows_the_same(
    browser: Browser,
    admin_server: LiveServer,
    people: People,
    api: httpx.Client,
    words: tuple[str, str, str, str, str],
) -> None:
    lang, heading, warning, as_stored, copy_address = words
    payment = payment_asking(admin_server, api, examples()["crypto"])
    tab = Tab(browser, admin_server, viewport={"width": 1280, "height": 900})
    tab.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = tab.page
    tab.sign_in(people.viewer, at=f"/admin/payments/{payment['id']}")
    if lang == "ru":
        page.get_by_role("link", name="RU").click()
    panel = page.locator("section.panel", has=page.get_by_role("heading", name=heading))
    expect(panel.locator("#transfer-address")).to_have_text(TRON_ADDRESS)
    expect(panel.locator(".warning")).to_contain_text(warning)
    expect(panel.locator("figure.qr svg")).to_be_visible()
    # The fields as the payment keeps them, folded away.
    expect(panel.locator("details.raw dl")).not_to_be_visible()
    panel.get_by_text(as_stored).click()
    expect(panel.locator("details.raw dl")).to_contain_text("crypto_transfer")
    tab.shot(f"confirmation-admin-{lang}")
    assert copied_by(tab, panel.get_by_role("button", name=copy_address)) == TRON_ADDRESS
    tab.close()
