"""The payer's page `/pay/{id}`: the CloudPayments widget for a pending payment, the status for
the rest; Russian and English; its Content-Security-Policy; and what its script, with
CloudPayments' own, does when the widget loads, fails to load, or reports a payment (run in
Node with a stand-in DOM)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from kassa.services.shops import shops
from kassa.web.middleware import CONTENT_SECURITY_POLICY
from tests.emulators.cloudpayments import CloudPaymentsEmulator, Site, connect, running
from tests.helpers import ShopSetup, create_payment
from tests.live import LiveServer

SRC = Path(__file__).resolve().parents[2] / "src" / "kassa"
PAY_JS = SRC / "web" / "static" / "pay.js"
CLOUDPAYMENTS_JS = SRC / "providers" / "cloudpayments" / "widget.js"


class Page(HTMLParser):
    """The parts of a page the tests look at: elements by id, scripts, text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str | None]] = {}
        self.scripts: list[dict[str, str | None]] = []
        self.inline_scripts = 0
        self.links: list[str] = []
        self.text_parts: list[str] = []
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if "id" in attributes:
            self.by_id[str(attributes["id"])] = attributes
        if tag == "script":
            self.scripts.append(attributes)
            self._in_script = True
        if tag == "a" and attributes.get("href"):
            self.links.append(str(attributes["href"]))
        if any(name.startswith("on") for name in attributes):
            raise AssertionError(f"an inline event handler on <{tag}>")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        """The text, its ASCII whitespace collapsed (no-break spaces kept: money has them)."""
        return re.sub(r"[ \t\r\n\f]+", " ", " ".join(self.text_parts)).strip()


@pytest.fixture(scope="module")
def emulator() -> Iterator[CloudPaymentsEmulator]:
    with running() as emulator:
        yield emulator


@pytest.fixture
def site(server: LiveServer, emulator: CloudPaymentsEmulator) -> Site:
    return connect(server, emulator, widget_url=f"{emulator.url}/widget.js")


@pytest.fixture
def api(server: LiveServer, site: Site) -> Iterator[httpx.Client]:
    with site.shop.api(server) as client:
        yield client


def open_page(server: LiveServer, payment_id: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{server.url}/pay/{payment_id}", headers=headers)


def policy(response: httpx.Response) -> dict[str, str]:
    return {
        name: value
        for name, _, value in (
            part.strip().partition(" ")
            for part in response.headers["content-security-policy"].split(";")
        )
    }


def test_the_widget_page_in_english(
    server: LiveServer, site: Site, api: httpx.Client, emulator: CloudPaymentsEmulator
) -> None:
    payment = create_payment(
        api, amount=150050, currency="RUB", description="Order #7", customer="user-7"
    )
    response = httpx.get(payment["confirmation"]["url"], params={"lang": "en"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    page = Page(response.text)
    assert page.by_id["pay-widget"] == {
        "id": "pay-widget",
        "class": "pay-widget",
        "data-script-url": f"{emulator.url}/widget.js",
        "data-method": "charge",
        "data-public-id": site.public_id,
        "data-amount": "1500.50",
        "data-currency": "RUB",
        "data-description": "Order #7",
        "data-invoice-id": payment["id"],
        "data-account-id": "user-7",
        "data-language": "en-US",
        "data-status-url": f"/pay/{payment['id']}/status",
    }
    assert "disabled" in page.by_id["pay-button"]
    assert "RUB\u00a01,500.50" in page.text
    assert "Order #7" in page.text
    assert "Test payment: no real money moves" in page.text
    # When the widget cannot load, the page says so and what to do; it is never blank.
    assert "The payment form could not load." in page.text
    assert "reload this page to try again" in page.text
    assert f"contact the shop and mention payment {payment['id']}" in page.text
    assert "The payment form needs JavaScript." in page.text  # <noscript>
    # Only scripts from files: the page's policy forbids inline ones.
    assert page.inline_scripts == 0
    assert [s.get("src") for s in page.scripts] == [
        f"/pay/{payment['id']}/widget.js",
        "/static/pay.js",
    ]
    # The widget's origin is let in for this page only: scripts and frames, nothing inline.
    directives = policy(response)
    assert directives["script-src"] == f"'self' {emulator.url}"
    assert directives["frame-src"] == emulator.url
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "'unsafe-inline'" not in directives["script-src"]
    assert len(response.headers.get_list("content-security-policy")) == 1
    # The stand-in widget script the page points at is served.
    assert "CloudPayments" in httpx.get(f"{emulator.url}/widget.js").text
    # So is CloudPayments' part of the page's script, from beside its provider module.
    script = httpx.get(f"{server.url}/pay/{payment['id']}/widget.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.text == CLOUDPAYMENTS_JS.read_text()


def test_a_two_stage_payment_in_russian(server: LiveServer, site: Site, api: httpx.Client) -> None:
    payment = create_payment(api, amount=150050, capture=False)
    response = open_page(server, payment["id"], **{"Accept-Language": "ru-RU,ru;q=0.9"})
    page = Page(response.text)
    widget = page.by_id["pay-widget"]
    assert (widget["data-method"], widget["data-language"]) == ("auth", "ru-RU")
    assert "data-account-id" not in widget
    assert widget["data-description"] == payment["id"]
    assert "1\u00a0500,50\u00a0₽" in page.text
    assert "Оплатить" in page.text
    assert "Сумма будет заблокирована на карте" in page.text
    assert "удалось загрузить платёжную форму." in page.text
    assert 'lang="ru"' in response.text


def test_the_default_widget_is_cloudpayments(
    server: LiveServer, emulator: CloudPaymentsEmulator
) -> None:
    site = connect(server, emulator)
    with site.shop.api(server) as api:
        payment = create_payment(api)
    response = open_page(server, payment["id"])
    widget = Page(response.text).by_id["pay-widget"]
    assert widget["data-script-url"] == "https://widget.cloudpayments.ru/bundles/cloudpayments.js"
    assert policy(response)["script-src"] == "'self' https://widget.cloudpayments.ru"
    origin = "https://widget.cloudpayments.ru"
    assert response.headers["content-security-policy"] == (
        f"default-src 'self'; img-src 'self' data: {origin}; "
        f"style-src 'self' {origin} 'unsafe-inline'; script-src 'self' {origin}; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'; "
        f"frame-src {origin}; connect-src 'self' {origin}; font-src 'self' {origin}"
    )


def test_other_pages_keep_the_strict_policy(server: LiveServer) -> None:
    response = httpx.get(f"{server.url}/docs")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_a_paid_payment_shows_its_status_without_the_widget(
    server: LiveServer, site: Site, api: httpx.Client, emulator: CloudPaymentsEmulator
) -> None:
    payment = create_payment(api, amount=150050, return_url="https://shop.example/thanks")
    site.pay(payment)
    response = open_page(server, payment["id"], **{"Accept-Language": "en"})
    page = Page(response.text)
    assert "pay-widget" not in page.by_id
    assert "Payment succeeded" in page.text
    assert "RUB\u00a01,500.50" in page.text
    assert "https://shop.example/thanks" in page.links
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    status = httpx.get(f"{server.url}/pay/{payment['id']}/status")
    assert (status.json(), status.headers["cache-control"]) == ({"status": "succeeded"}, "no-store")

    api.post("/v1/refunds", json={"payment": payment["id"], "amount": 50}).raise_for_status()
    page = Page(open_page(server, payment["id"], **{"Accept-Language": "ru"}).text)
    assert "Платёж прошёл" in page.text
    assert "Возвращено: 0,50\u00a0₽" in page.text


def test_a_declined_payment_shows_why(server: LiveServer, site: Site, api: httpx.Client) -> None:
    payment = create_payment(api)
    site.pay(payment, decline=True)
    page = Page(open_page(server, payment["id"], **{"Accept-Language": "ru"}).text)
    assert "Платёж отклонён" in page.text
    assert "Недостаточно средств на карте" in page.text


def test_status_of_a_pending_payment(server: LiveServer, site: Site, api: httpx.Client) -> None:
    payment = create_payment(api)
    assert httpx.get(f"{server.url}/pay/{payment['id']}/status").json() == {"status": "pending"}
    assert httpx.get(f"{server.url}/pay/pay_nope/status").status_code == 404


@pytest.mark.parametrize(
    ("lang", "text"),
    [("en", "Payment not found"), ("ru", "Платёж не найден")],
)
def test_an_unknown_payment_is_404(server: LiveServer, lang: str, text: str) -> None:
    response = httpx.get(f"{server.url}/pay/pay_00000000000000000000000000", params={"lang": lang})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert text in Page(response.text).text


def test_another_providers_pending_payment_links_to_its_page(
    server: LiveServer, shop: ShopSetup
) -> None:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {shop.key}"}) as api:
        payment = create_payment(api)
    page = Page(open_page(server, payment["id"]).text)
    assert "Waiting for the payment" in page.text
    assert payment["confirmation"]["url"] in page.links
    assert "pay-widget" not in page.by_id
    # The sandbox has no widget, so no script of its own for the page.
    assert httpx.get(f"{server.url}/pay/{payment['id']}/widget.js").status_code == 404
    assert httpx.get(f"{server.url}/pay/pay_nope/widget.js").status_code == 404


def test_a_disabled_account_cannot_be_paid(
    server: LiveServer, emulator: CloudPaymentsEmulator
) -> None:
    site = connect(server, emulator)
    with site.shop.api(server) as api:
        payment = create_payment(api)
    server.call(
        shops.configure_provider(
            server.ctx,
            shop=site.shop.shop,
            provider="cloudpayments",
            settings={"enabled": "false", "test": "true"},
        )
    )
    page = Page(open_page(server, payment["id"]).text)
    assert "pay-widget" not in page.by_id
    assert "This payment cannot be paid right now. Please contact the shop." in page.text


# pay.js, in Node with a stand-in for the page

HARNESS = r"""
const fs = require("fs");
const vm = require("vm");
const [providerPath, scriptPath, scenario, datasetJson] = process.argv.slice(1);

function element(id, props) {
  const classes = new Set();
  return Object.assign({
    id, hidden: false, disabled: false, textContent: "", dataset: {}, listeners: {},
    classList: { add: (c) => classes.add(c), contains: (c) => classes.has(c) },
    addEventListener(type, fn) { this.listeners[type] = fn; },
  }, props);
}
const elements = {
  "pay-widget": element("pay-widget", { dataset: JSON.parse(datasetJson) }),
  "pay-button": element("pay-button", { disabled: true }),
  "pay-loading": element("pay-loading"),
  "pay-processing": element("pay-processing", { hidden: true }),
  "pay-declined": element("pay-declined", { hidden: true }),
  "pay-declined-reason": element("pay-declined-reason"),
  "pay-unavailable": element("pay-unavailable"),
};
const added = [];
const timers = [];
const calls = [];
const fetched = [];
let reloaded = false;
const window = { location: { reload() { reloaded = true; } } };
const context = {
  window,
  document: {
    readyState: "complete",
    getElementById: (id) => elements[id] || null,
    createElement: (tag) => ({ tag }),
    head: { appendChild: (node) => added.push(node) },
    addEventListener() {},
  },
  setTimeout: (fn, ms) => timers.push({ fn, ms, cleared: false }),
  clearTimeout: (id) => { if (timers[id - 1]) timers[id - 1].cleared = true; },
  fetch: (url) => {
    fetched.push(url);
    return Promise.resolve({ ok: true, json: () => Promise.resolve({ status: "succeeded" }) });
  },
};
vm.createContext(context);
vm.runInContext(fs.readFileSync(providerPath, "utf8"), context);  // the page runs it first
vm.runInContext(fs.readFileSync(scriptPath, "utf8"), context);

function cp() {
  window.cp = {
    CloudPayments: function (options) {
      this.pay = (method, params, callbacks) => calls.push({ options, method, params, callbacks });
    },
  };
}
function runTimers() {
  timers.splice(0).filter((t) => !t.cleared).forEach((t) => t.fn());
}
async function main() {
  const script = added[0];
  if (scenario === "error") script.onerror();
  if (scenario === "timeout") runTimers();
  if (scenario === "empty") script.onload();  // the script loaded, but it is not the widget
  if (scenario === "pay" || scenario === "decline") {
    cp();
    script.onload();
    elements["pay-button"].listeners.click();
    const call = calls[0];
    if (scenario === "pay") {
      call.callbacks.onSuccess({});
      runTimers();
      await new Promise((resolve) => setImmediate(resolve));
    } else {
      call.callbacks.onFail("User has cancelled");
    }
  }
  const state = {};
  for (const [id, el] of Object.entries(elements)) {
    state[id] = { hidden: el.hidden, disabled: el.disabled, shown: el.classList.contains("shown"),
                  text: el.textContent };
  }
  const call = calls[0];
  console.log(JSON.stringify({
    src: script.src, async: script.async, state, fetched, reloaded,
    call: call ? { options: call.options, method: call.method, params: call.params } : null,
  }));
}
main();
"""

DATASET = {
    "scriptUrl": "https://widget.example/cp.js",
    "method": "auth",
    "publicId": "test_api_1",
    "amount": "1500.50",
    "currency": "RUB",
    "description": "Order #7",
    "invoiceId": "pay_1",
    "accountId": "user-7",
    "language": "ru-RU",
    "statusUrl": "/pay/pay_1/status",
}


def run_pay_js(scenario: str) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed")
    result = subprocess.run(
        [node, "-e", HARNESS, str(CLOUDPAYMENTS_JS), str(PAY_JS), scenario, json.dumps(DATASET)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    document: dict[str, Any] = json.loads(result.stdout, parse_float=Decimal)
    return document


@pytest.mark.parametrize("scenario", ["error", "timeout", "empty"])
def test_pay_js_says_so_when_the_widget_cannot_load(scenario: str) -> None:
    result = run_pay_js(scenario)
    assert (result["src"], result["async"]) == (DATASET["scriptUrl"], True)
    state = result["state"]
    assert state["pay-unavailable"] == {
        "hidden": False,
        "disabled": False,
        "shown": True,
        "text": "",
    }
    assert state["pay-loading"]["hidden"] is True
    assert state["pay-button"]["hidden"] is True
    assert result["call"] is None


def test_pay_js_opens_the_widget_and_waits_for_kassa() -> None:
    result = run_pay_js("pay")
    assert result["call"] == {
        "options": {"language": "ru-RU"},
        "method": "auth",
        "params": {
            "publicId": "test_api_1",
            "description": "Order #7",
            "amount": Decimal("1500.5"),  # a JavaScript number, as the widget takes
            "currency": "RUB",
            "invoiceId": "pay_1",
            "accountId": "user-7",
        },
    }
    state = result["state"]
    assert state["pay-unavailable"]["hidden"] is True
    assert state["pay-processing"]["hidden"] is False
    assert state["pay-button"]["hidden"] is True
    # The widget's word is not the outcome: the page asks Kassa, and reloads once it knows.
    assert result["fetched"] == ["/pay/pay_1/status"]
    assert result["reloaded"] is True


def test_pay_js_shows_a_decline_and_lets_the_payer_retry() -> None:
    result = run_pay_js("decline")
    state = result["state"]
    assert state["pay-declined"]["hidden"] is False
    assert state["pay-declined-reason"]["text"] == "User has cancelled"
    assert state["pay-button"] == {"hidden": False, "disabled": False, "shown": False, "text": ""}
    assert result["fetched"] == []
