"""The admin UI in a real browser (Debian's Chromium, driven by Playwright): sign in, filter
payments, open one, refund part of it and watch the totals and the timeline change, switch
the language, be refused as a viewer, and fit a phone's screen. Screenshots of the main pages
go to `test-artifacts/screenshots/` (not committed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.admin.conftest import PASSWORD, People, insert_payments, new_address
from tests.helpers import checkout, create_payment, make_shop
from tests.live import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)"
)


@pytest.fixture(scope="module")
def browser(admin_server: LiveServer) -> Iterator[Browser]:
    """Chromium, for the tests of one module on one database. It asks for the server only to
    be closed before the next database's server starts: while Playwright is open its event
    loop runs in this thread, where making a PostgreSQL database (`asyncio.run`) cannot."""
    del admin_server
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-background-networking", "--disable-component-update"],
        )
        try:
            yield launched
        finally:
            launched.close()


class Tab:
    """A browser tab of its own (cookies and a client address of its own), which fails the
    test on any error the page reports, such as a Content-Security-Policy violation."""

    def __init__(self, browser: Browser, server: LiveServer, **options: Any) -> None:
        address = new_address()
        self.context: BrowserContext = browser.new_context(
            base_url=server.url,
            extra_http_headers={"X-Forwarded-For": address},
            **{"locale": "en-US", **options},
        )
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def sign_in(self, name: str, *, at: str = "/admin/payments") -> None:
        """Open `at`, be sent to the sign-in page, sign in, and come back to it."""
        self.page.goto(at)
        if at != "/admin/login":
            expect(self.page).to_have_url(f"/admin/login?next={quote(at, safe='')}")
        self.page.get_by_label("User name").fill(name)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page).to_have_url(at if at != "/admin/login" else "/admin")

    def shot(self, name: str, *, full_page: bool = True) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)

    def close(self) -> None:
        self.context.close()
        assert self.errors == []


@pytest.fixture
def paid_payment(admin_server: LiveServer) -> tuple[str, dict[str, Any]]:
    """A shop with a paid 1 500 ₽ payment and an unpaid one; the shop's name and the paid one."""
    shop = make_shop(admin_server)
    with httpx.Client(
        base_url=admin_server.url, headers={"Authorization": f"Bearer {shop.key}"}
    ) as api:
        payment = create_payment(api, amount=150000, customer="ivan@example.com")
        create_payment(api, amount=5000, customer="unpaid")
    checkout(admin_server, payment, "pay")
    return shop.name, payment


def test_an_operator_finds_a_payment_and_refunds_part_of_it(
    browser: Browser,
    admin_server: LiveServer,
    people: People,
    paid_payment: tuple[str, dict[str, Any]],
) -> None:
    shop, _ = paid_payment
    tab = Tab(browser, admin_server, viewport={"width": 1280, "height": 900})
    page = tab.page
    tab.sign_in(people.operator)
    tab.shot("payments")

    page.get_by_label("Shop").select_option(shop)
    page.get_by_label("Status").select_option("succeeded")
    page.get_by_role("button", name="Apply").click()
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("ivan@example.com")

    rows.first.get_by_role("link").click()
    expect(page.locator("h1")).to_contain_text("RUB\u00a01,500.00")
    expect(page.locator("#refunded")).to_have_text("RUB\u00a00.00")
    expect(page.locator("#timeline li")).to_have_count(2)
    tab.shot("payment")

    page.get_by_role("link", name="Refund…").click()
    expect(page.locator("h1")).to_have_text("Refund the payment?")
    page.get_by_label("Amount to refund (RUB)").fill("400")
    page.get_by_label("Reason (optional)").fill("one item returned")
    tab.shot("refund-confirm")
    page.get_by_role("button", name="Yes, refund").click()

    expect(page.locator("#result")).to_contain_text("Refund of RUB\u00a0400.00 succeeded.")
    expect(page.locator("#refunded")).to_have_text("RUB\u00a0400.00")
    expect(page.locator("#refundable")).to_have_text("RUB\u00a01,100.00")
    expect(page.locator("#refunds tbody tr")).to_have_count(1)
    expect(page.locator("#timeline li")).to_have_count(4)
    expect(page.locator("#timeline")).to_contain_text("Refund succeeded")
    tab.shot("payment-refunded")

    page.get_by_role("link", name="RU", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator("#refunded")).to_have_text("400,00\u00a0₽")
    expect(page.get_by_role("heading", name="Подробности")).to_be_visible()
    tab.shot("payment-ru")
    page.get_by_role("link", name="Журнал действий").click()
    expect(page.locator("#audit")).to_contain_text("Возврат")
    tab.shot("audit-ru")
    tab.close()


def test_a_viewer_is_refused_and_a_phone_fits(
    browser: Browser,
    admin_server: LiveServer,
    people: People,
    paid_payment: tuple[str, dict[str, Any]],
) -> None:
    _, payment = paid_payment
    tab = Tab(browser, admin_server, viewport={"width": 375, "height": 812}, is_mobile=True)
    page = tab.page
    tab.sign_in(people.viewer)
    tab.shot("payments-phone")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    page.goto(f"/admin/payments/{payment['id']}")
    expect(page.get_by_text("Your role can look at payments but not change them.")).to_be_visible()
    expect(page.get_by_role("link", name="Refund…")).to_have_count(0)
    tab.shot("payment-phone")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    refused = page.goto(f"/admin/payments/{payment['id']}/refund")
    assert refused is not None
    assert refused.status == 403
    expect(page.locator("h1")).to_have_text("Not allowed")
    tab.shot("refused")
    tab.errors = [e for e in tab.errors if "403" not in e]  # the browser logs the status
    tab.close()


def test_see_the_dashboard_with_a_chart(
    browser: Browser, admin_server: LiveServer, people: People
) -> None:
    shop = make_shop(admin_server)
    insert_payments(admin_server, shop, 3, test=False)
    tab = Tab(browser, admin_server, viewport={"width": 1280, "height": 900})
    page = tab.page
    tab.sign_in(people.viewer)
    page.get_by_role("link", name="Dashboard").click()
    page.get_by_label("Shop").select_option(shop.name)
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("h1")).to_have_text("Dashboard")
    expect(page.locator("svg.chart").first).to_be_visible()
    expect(page.locator("svg.chart rect.bar").first).to_be_attached()
    tab.shot("dashboard")
    tab.close()


def test_test_mode_shows_test_payments_on_the_dashboard(
    browser: Browser, admin_server: LiveServer, people: People
) -> None:
    """What a `make run` user sees: test payments only, some paid; after signing in, the
    dashboard; the Test mode switch turns on figures and charts that count them."""
    shop = make_shop(admin_server)
    with httpx.Client(
        base_url=admin_server.url, headers={"Authorization": f"Bearer {shop.key}"}
    ) as api:
        made = [create_payment(api, amount=amount) for amount in (150000, 50000, 9900)]
    for payment in made[:2]:
        checkout(admin_server, payment, "pay")

    tab = Tab(browser, admin_server, viewport={"width": 1280, "height": 900})
    page = tab.page
    tab.sign_in(people.viewer, at="/admin/login")  # lands on the dashboard
    expect(page.locator("h1")).to_have_text("Dashboard")
    switch = page.get_by_role("button", name="Test mode")
    expect(switch).to_have_attribute("aria-pressed", "false")
    switch.click()
    expect(page.locator("#test-banner")).to_be_visible()
    expect(page.get_by_role("button", name="Test mode")).to_have_attribute("aria-pressed", "true")
    page.get_by_label("Shop").select_option(shop.name)
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#test-banner")).to_be_visible()  # still in test mode

    # The figures count the three test payments, two of them paid (2 000.00 RUB).
    expect(page.get_by_text("2 succeeded of 3 created")).to_be_visible()
    expect(page.locator(".cards").first).to_contain_text("RUB\u00a02,000.00")
    # Both charts have a bar for today: revenue, and payments created (3) and paid (2).
    revenue = page.locator('svg.chart[aria-labelledby^="revenue-RUB"]')
    expect(revenue).to_be_visible()
    counts = page.locator('svg.chart[aria-labelledby^="count"]')
    drawn = counts.locator("rect.bar:not(.over)").evaluate_all(
        "bars => bars.filter(b => b.getAttribute('height') > 0).map(b => b.textContent)"
    )
    assert len(drawn) == 1
    assert drawn[0].endswith(": 3"), drawn
    tall = revenue.locator("rect.bar").evaluate_all(
        "bars => bars.filter(b => b.getAttribute('height') > 0).length"
    )
    assert tall == 1
    assert (
        counts.locator("rect.bar.over").evaluate_all(
            "bars => bars.filter(b => b.getAttribute('height') > 0).length"
        )
        == 1
    )
    tab.shot("dashboard-test-mode")
    tab.close()


#: The filter fields whose text does not fit them (a select showing "Любой провайд…"): each
#: is measured against a copy of itself as wide as its content wants.
CUT_OFF = """() => [...document.querySelectorAll('.filters select, .filters label')].filter(el => {
    const probe = el.cloneNode(true);
    probe.style.cssText += ';position:absolute;visibility:hidden;width:max-content;max-width:none';
    el.parentNode.append(probe);
    const needed = probe.getBoundingClientRect().width;
    probe.remove();
    return el.getBoundingClientRect().width + 1 < needed;
}).map(el => el.textContent.trim().replace(/\\s+/g, ' ').slice(0, 40))"""
FITS = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def test_russian_filters_and_the_docs_fit_their_width(
    browser: Browser, admin_server: LiveServer, people: People
) -> None:
    tab = Tab(browser, admin_server, viewport={"width": 1280, "height": 900})
    page = tab.page
    tab.sign_in(people.viewer)
    page.get_by_role("link", name="RU", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    page.goto("/admin/payments")
    assert page.evaluate(CUT_OFF) == []
    assert page.evaluate(FITS)
    tab.shot("payments-ru")
    page.set_viewport_size({"width": 1024, "height": 900})
    for path in ("/admin/payments", "/admin/notifications", "/admin"):
        page.goto(path)
        assert page.evaluate(CUT_OFF) == [], path
        assert page.evaluate(FITS), path

    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto("/docs")
        assert page.evaluate(FITS), width
    tab.shot("docs-phone", full_page=False)
    tab.close()
