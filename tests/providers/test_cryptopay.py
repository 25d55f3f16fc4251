"""Crypto Pay end to end over real HTTP on loopback: merchant → Kassa → the Crypto Pay
emulator, and the emulator's webhooks → Kassa's hook, on both databases. What every provider
must do is the conformance suite's; here, what is Crypto Pay's own."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from kassa.cli import app as cli
from kassa.domain import NotSupported
from kassa.services.payments import lifecycle as payments
from tests.emulators.cryptopay import App, CryptoPayEmulator, Sent, running, signature
from tests.helpers import ProviderShop, event_types, make_provider_shop, stored_notifications
from tests.live import LiveServer

PROVIDER_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def emulator() -> Iterator[CryptoPayEmulator]:
    with running() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[LiveServer]:
    live = LiveServer(database_url, provider_timeout=PROVIDER_TIMEOUT).start()
    try:
        yield live
    finally:
        live.stop()


def connect(
    server: LiveServer, emulator: CryptoPayEmulator, **settings: str
) -> tuple[ProviderShop, App]:
    """A new Kassa shop with a Crypto Pay test account on a new emulated app whose webhook
    URL is the shop's hook."""
    app = emulator.add_app()
    options = {"token": app.token, "api_url": emulator.api_url} | settings
    shop = make_provider_shop(server, "cryptopay", options)
    app.webhook_url = f"{server.url}/hooks/cryptopay/{shop.name}"
    return shop, app


@pytest.fixture
def account(server: LiveServer, emulator: CryptoPayEmulator) -> tuple[ProviderShop, App]:
    return connect(server, emulator)


@pytest.fixture
def shop(account: tuple[ProviderShop, App]) -> ProviderShop:
    return account[0]


@pytest.fixture
def app(account: tuple[ProviderShop, App]) -> App:
    return account[1]


@pytest.fixture
def api(server: LiveServer, shop: ProviderShop) -> Iterator[httpx.Client]:
    with shop.api(server) as client:
        yield client


def create(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = api.post("/v1/payments", json={"amount": 10000, "currency": "RUB", **fields})
    assert response.status_code == 201, response.text
    document: dict[str, Any] = response.json()
    return document


def current(api: httpx.Client, payment: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = api.get(f"/v1/payments/{payment['id']}").json()
    return document


def calls(emulator: CryptoPayEmulator, app: App, method: str) -> list[dict[str, str]]:
    return [
        params for app_id, name, params in emulator.calls if (app_id, name) == (app.app_id, method)
    ]


def resigned(sent: Sent, token: str, **changes: Any) -> Sent:
    """The webhook with `changes` to its body, signed again with `token`."""
    body = json.dumps({**json.loads(sent.body), **changes}).encode()
    return Sent(
        sent.url, {**sent.headers, "crypto-pay-api-signature": signature(token, body)}, body
    )


def test_a_fiat_invoice_is_created_paid_and_notified(
    server: LiveServer, emulator: CryptoPayEmulator, app: App, api: httpx.Client
) -> None:
    payment = create(api, amount=12345, description="VPN, 1 month")
    (params,) = calls(emulator, app, "createInvoice")
    assert params.pop("expires_in") in {"86399", "86400"}  # the payment's default day
    assert params == {
        "amount": "123.45",
        "currency_type": "fiat",
        "fiat": "RUB",
        "payload": payment["id"],
        "description": "VPN, 1 month",
    }
    invoice = emulator.invoice(payment["provider_payment_id"])
    assert payment["confirmation"] == {"type": "invoice_link", "url": invoice["bot_invoice_url"]}
    assert invoice["bot_invoice_url"].startswith("https://t.me/CryptoBot?start=")

    answer = emulator.pay(invoice["invoice_id"], send=False).send()
    assert (answer.status_code, answer.json()["verdict"]) == (200, "accepted")
    paid = current(api, payment)
    assert (paid["status"], paid["amount_captured"]) == ("succeeded", 12345)
    assert event_types(server, payment["id"]) == ["payment.created", "payment.succeeded"]


@pytest.mark.parametrize(
    ("currency", "amount"), [("USDT", 1_050_000), ("TON", 1), ("BTC", 12_345_678)]
)
def test_crypto_invoices_carry_exact_amounts_of_their_asset(
    emulator: CryptoPayEmulator, app: App, api: httpx.Client, currency: str, amount: int
) -> None:
    wire = {"USDT": "1.05", "TON": "0.000000001", "BTC": "0.12345678"}[currency]
    payment = create(api, amount=amount, currency=currency)
    (params,) = calls(emulator, app, "createInvoice")
    assert (params["currency_type"], params["asset"], params["amount"]) == (
        "crypto",
        currency,
        wire,
    )
    assert "fiat" not in params
    emulator.pay(payment["provider_payment_id"])
    paid = current(api, payment)
    assert (paid["status"], paid["amount_captured"], paid["currency"]) == (
        "succeeded",
        amount,
        currency,
    )


def test_an_https_return_url_is_the_paid_invoice_s_button(
    emulator: CryptoPayEmulator, app: App, api: httpx.Client
) -> None:
    payment = create(api, return_url="https://shop.example/thanks?order=1")
    create(api, return_url="http://shop.example/thanks")
    first, second = calls(emulator, app, "createInvoice")
    assert (first["paid_btn_name"], first["paid_btn_url"]) == (
        "callback",
        "https://shop.example/thanks?order=1",
    )
    assert emulator.invoice(payment["provider_payment_id"])["paid_btn_name"] == "callback"
    assert "paid_btn_name" not in second


def test_accepted_assets_and_the_link_are_settings(
    server: LiveServer, emulator: CryptoPayEmulator
) -> None:
    shop, app = connect(server, emulator, accepted_assets="USDT,TON", link="web_app")
    with shop.api(server) as api:
        payment = create(api)
    (params,) = calls(emulator, app, "createInvoice")
    assert params["accepted_assets"] == "USDT,TON"
    invoice = emulator.invoice(payment["provider_payment_id"])
    assert payment["confirmation"]["url"] == invoice["web_app_invoice_url"]


def test_the_wrong_token_is_a_refusal_and_nothing_is_kept(
    server: LiveServer, emulator: CryptoPayEmulator
) -> None:
    shop, _ = connect(server, emulator, token="1:AA-not-a-token")
    with shop.api(server) as api:
        answer = api.post("/v1/payments", json={"amount": 100, "currency": "RUB"})
        assert answer.status_code == 402, answer.text
        assert "UNAUTHORIZED" in answer.json()["error"]["message"]
        assert api.get("/v1/payments").json()["data"] == []


@pytest.mark.parametrize(
    "forgery",
    [
        pytest.param(
            lambda sent, token: {**sent.headers, "crypto-pay-api-signature": ""}, id="empty"
        ),
        pytest.param(
            lambda sent, token: {
                k: v for k, v in sent.headers.items() if k != "crypto-pay-api-signature"
            },
            id="missing",
        ),
        pytest.param(
            # The pitfall of pyCryptoPayAPI#4: the key as the digest's hex text.
            lambda sent, token: {
                **sent.headers,
                "crypto-pay-api-signature": hmac.new(
                    hashlib.sha256(token.encode()).hexdigest().encode(), sent.body, hashlib.sha256
                ).hexdigest(),
            },
            id="hex-key",
        ),
        pytest.param(
            lambda sent, token: {
                **sent.headers,
                "crypto-pay-api-signature": hmac.new(
                    token.encode(), sent.body, hashlib.sha256
                ).hexdigest(),
            },
            id="token-as-key",
        ),
    ],
)
def test_a_webhook_not_signed_with_the_token_is_refused_and_kept(
    server: LiveServer,
    emulator: CryptoPayEmulator,
    account: tuple[ProviderShop, App],
    api: httpx.Client,
    forgery: Any,
) -> None:
    shop, app = account
    payment = create(api)
    sent = emulator.pay(payment["provider_payment_id"], send=False)
    answer = sent.send(headers=forgery(sent, app.token))
    assert (answer.status_code, answer.json()) == (
        401,
        {"verdict": "rejected", "message": "not accepted"},
    )
    assert current(api, payment)["status"] == "pending"
    row = stored_notifications(server, shop.name)[-1]
    assert (row["verdict"], row["body"]) == ("rejected", sent.body)
    assert "signature" in row["reason"]
    # The signature in capitals is the same signature.
    upper = {**sent.headers, "crypto-pay-api-signature": signature(app.token, sent.body).upper()}
    assert sent.send(headers=upper).json()["verdict"] == "accepted"


def test_a_body_changed_after_signing_is_refused(
    emulator: CryptoPayEmulator, app: App, api: httpx.Client
) -> None:
    payment = create(api)
    sent = emulator.pay(payment["provider_payment_id"], send=False)
    answer = sent.send(body=sent.body.replace(b'"paid"', b'"paid" '))
    assert answer.status_code == 401
    assert current(api, payment)["status"] == "pending"


def test_a_webhook_older_than_the_retry_window_is_refused(
    server: LiveServer, emulator: CryptoPayEmulator, shop: ProviderShop, app: App, api: httpx.Client
) -> None:
    payment = create(api)
    sent = emulator.pay(payment["provider_payment_id"], send=False)
    stale = datetime.now(UTC) - timedelta(days=3, minutes=1)
    old = resigned(sent, app.token, request_date=stale.isoformat())
    answer = old.send()
    assert answer.status_code == 401
    assert "older than the 3-day window" in stored_notifications(server, shop.name)[-1]["reason"]
    assert current(api, payment)["status"] == "pending"
    # Resent within the window (two days on): taken.
    late = datetime.now(UTC) - timedelta(days=2)
    assert resigned(sent, app.token, request_date=late.isoformat()).send().status_code == 200
    assert current(api, payment)["status"] == "succeeded"


def test_a_new_update_about_the_same_paid_invoice_is_a_duplicate(
    server: LiveServer, emulator: CryptoPayEmulator, shop: ProviderShop, app: App, api: httpx.Client
) -> None:
    payment = create(api)
    sent = emulator.pay(payment["provider_payment_id"], send=False)
    first = sent.send()
    again = resigned(sent, app.token, update_id=json.loads(sent.body)["update_id"] + 100).send()
    assert [first.json()["verdict"], again.json()["verdict"]] == ["accepted", "duplicate"]
    keys = {row["event_key"] for row in stored_notifications(server, shop.name)}
    assert keys == {f"invoice_paid:{payment['provider_payment_id']}"}
    assert event_types(server, payment["id"]) == ["payment.created", "payment.succeeded"]


def test_a_signed_webhook_for_another_amount_changes_nothing(
    emulator: CryptoPayEmulator, app: App, api: httpx.Client
) -> None:
    payment = create(api)
    sent = emulator.pay(payment["provider_payment_id"], send=False)
    invoice = {**json.loads(sent.body)["payload"], "amount": "1.00"}
    answer = resigned(sent, app.token, payload=invoice).send()
    assert answer.status_code == 200
    assert "rejected: provider reports 1.00 RUB" in answer.json()["message"]
    assert current(api, payment)["status"] == "pending"


def test_other_update_types_and_other_invoices_are_acknowledged(
    emulator: CryptoPayEmulator, app: App, api: httpx.Client
) -> None:
    payment = create(api)
    sent = emulator.pay(payment["provider_payment_id"], send=False)
    other = resigned(sent, app.token, update_type="invoice_refunded").send()
    assert (other.status_code, other.json()["verdict"]) == (200, "accepted")
    # An invoice the app made itself, not through Kassa: no payload.
    invoice = {k: v for k, v in json.loads(sent.body)["payload"].items() if k != "payload"}
    invoice["invoice_id"] += 10_000
    foreign = resigned(sent, app.token, payload=invoice).send()
    assert (foreign.status_code, foreign.json()["verdict"]) == (200, "accepted")
    assert current(api, payment)["status"] == "pending"


def test_cancel_deletes_the_invoice(
    server: LiveServer, emulator: CryptoPayEmulator, app: App, api: httpx.Client
) -> None:
    payment = create(api)
    answer = api.post(f"/v1/payments/{payment['id']}/cancel")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "canceled"
    assert calls(emulator, app, "deleteInvoice") == [{"invoice_id": payment["provider_payment_id"]}]
    assert int(payment["provider_payment_id"]) not in emulator.invoices


def test_cancel_of_an_invoice_paid_meanwhile_reports_the_payment(
    emulator: CryptoPayEmulator, app: App, api: httpx.Client
) -> None:
    payment = create(api)
    emulator.pay(payment["provider_payment_id"], send=False)  # its webhook is on its way
    answer = api.post(f"/v1/payments/{payment['id']}/cancel")
    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["amount_captured"]) == ("succeeded", 10000)


def test_an_expired_invoice_is_canceled_with_its_reason(
    emulator: CryptoPayEmulator, api: httpx.Client
) -> None:
    payment = create(api)
    emulator.expire(payment["provider_payment_id"])
    refreshed = api.post(f"/v1/payments/{payment['id']}/refresh")
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["status"] == "canceled"
    assert refreshed.json()["failure"] == {
        "code": "expired",
        "message": "The Crypto Pay invoice expired unpaid",
    }


def test_an_invoice_deleted_in_the_app_cancels_the_payment(
    emulator: CryptoPayEmulator, app: App, api: httpx.Client
) -> None:
    payment = create(api)
    deleted = httpx.get(
        f"{emulator.api_url}/deleteInvoice",
        params={"invoice_id": payment["provider_payment_id"]},
        headers={"Crypto-Pay-API-Token": app.token},
    )
    assert deleted.json() == {"ok": True, "result": True}
    refreshed = api.post(f"/v1/payments/{payment['id']}/refresh").json()
    assert (refreshed["status"], refreshed["failure"]["code"]) == ("canceled", "deleted")


def test_refunds_are_not_offered(emulator: CryptoPayEmulator, api: httpx.Client) -> None:
    payment = create(api)
    emulator.pay(payment["provider_payment_id"])
    answer = api.post("/v1/refunds", json={"payment": payment["id"], "amount": 100})
    error = answer.json()["error"]
    assert (answer.status_code, error["code"]) == (422, "operation_unsupported")
    assert error["message"] == "Crypto Pay cannot refund payments"
    assert current(api, payment)["amount_refunded"] == 0


def test_configure_refuses_a_testnet_app_as_a_live_account(
    database_url: str, server: LiveServer, shop: ProviderShop
) -> None:
    runner = CliRunner(
        env={"KASSA_DATABASE_URL": database_url, "KASSA_PUBLIC_URL": server.url, "COLUMNS": "250"}
    )

    def configure(*settings: str) -> Any:
        args = ["providers", "configure", shop.name, "cryptopay", *settings]
        return runner.invoke(cli, args, catch_exceptions=False)

    refused = configure("token=1:AA-x", "testnet=true")
    assert refused.exit_code == 1
    assert "testnet app can only be a test account" in refused.output
    assert configure("testnet=maybe", "test=true").exit_code == 1
    assert "link must be one of bot, mini_app, web_app" in configure("link=sms", "test=true").output
    assert "comma-separated" in configure("accepted_assets=USDT, TON", "test=true").output
    taken = configure("token=1:AA-x", "testnet=true", "test=true")
    assert taken.exit_code == 0, taken.output
    assert f"{server.url}/hooks/cryptopay/{shop.name}" in taken.output


def test_kassa_simulate_pays_a_test_payment(
    database_url: str, server: LiveServer, api: httpx.Client, shop: ProviderShop
) -> None:
    payment = create(api, amount=777, currency="USDT")
    runner = CliRunner(env={"KASSA_DATABASE_URL": database_url, "COLUMNS": "250"})
    args = [
        "simulate",
        "cryptopay",
        "invoice_paid",
        "--payment",
        payment["id"],
        "--url",
        server.url,
    ]
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"POST {server.url}/hooks/cryptopay/{shop.name}" in result.output
    paid = current(api, payment)
    assert (paid["status"], paid["amount_captured"]) == ("succeeded", 777)
    body = json.loads(stored_notifications(server, shop.name)[-1]["body"])
    assert body["payload"]["asset"] == "USDT"
    assert body["payload"]["amount"] == "0.000777"

    gateway = server.ctx.gateways.for_account(shop.account)
    found = server.call(payments.find_payment(server.ctx, payment_id=payment["id"]))
    with pytest.raises(NotSupported):
        gateway.simulate(found, "invoice_expired")
