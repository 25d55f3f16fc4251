"""1Plat end to end over real HTTP on loopback: merchant → Kassa → the 1Plat emulator, and the
emulator's callbacks → Kassa's hook, on both databases. What every provider must do is the
conformance suite's; here, what is 1Plat's own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from kassa.domain import NotSupported
from kassa.services.notifications import inbound as notifications
from kassa.services.notifications import simulate as simulation
from kassa.services.payments import lifecycle as payments
from kassa.services.payments import reconciliation
from kassa.services.shops import shops
from tests.emulators.oneplat import TEST_CARD, TEST_PHONE, OnePlatEmulator, running
from tests.helpers import (
    ProviderShop,
    event_types,
    later,
    make_provider_shop,
    stored_notifications,
)
from tests.live import LiveServer


@pytest.fixture(scope="module")
def oneplat() -> Iterator[OnePlatEmulator]:
    with running() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def server(own_database_url: str) -> Iterator[LiveServer]:
    """A database of the module's own: `/1plat.txt` serves every account of it."""
    live = LiveServer(own_database_url, provider_timeout=2.0).start()
    try:
        yield live
    finally:
        live.stop()


def connect(server: LiveServer, oneplat: OnePlatEmulator, **settings: str) -> ProviderShop:
    shop_id, secret = oneplat.add_shop()
    credentials = {"shop_id": shop_id, "secret": secret, "api_url": oneplat.base_url}
    return make_provider_shop(server, "oneplat", credentials | settings)


@pytest.fixture
def shop(server: LiveServer, oneplat: OnePlatEmulator) -> ProviderShop:
    return connect(server, oneplat)


@pytest.fixture
def api(server: LiveServer, shop: ProviderShop) -> Iterator[httpx.Client]:
    with shop.api(server) as client:
        yield client


def create(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = api.post("/v1/payments", json={"amount": 150000, "currency": "RUB", **fields})
    assert response.status_code == 201, response.text
    document: dict[str, Any] = response.json()
    return document


def current(api: httpx.Client, payment: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = api.get(f"/v1/payments/{payment['id']}").json()
    return document


def notify(server: LiveServer, oneplat: OnePlatEmulator, shop: ProviderShop, body: bytes) -> Any:
    answer = oneplat.notify(server.url, shop.name, body)
    return answer.status_code, answer.json()["verdict"]


def test_a_card_payment_shows_the_requisites_and_its_page(
    oneplat: OnePlatEmulator, shop: ProviderShop, api: httpx.Client
) -> None:
    oneplat.surcharge = 7
    try:
        payment = create(api, method="card", customer="user-42")
    finally:
        oneplat.surcharge = 0
    guid = payment["provider_payment_id"]
    (sent,) = [
        body
        for _, kind, body in oneplat.received
        if kind == "create" and body["merchant_order_id"] == payment["id"]
    ]
    assert sent == {
        "merchant_order_id": payment["id"],
        "user_id": "user-42",
        "amount": 1500,
        "method": "card",
    }
    confirmation = payment["confirmation"]
    assert confirmation["type"] == "requisites"
    assert confirmation["url"] == f"{oneplat.base_url}/pay/{guid}"
    # What the payer transfers is 1Plat's amount_to_pay: here 7 rubles more than the order.
    assert (confirmation["amount"], confirmation["currency"]) == (150700, "RUB")
    assert (confirmation["pan"], confirmation["phone"]) == (TEST_CARD, None)
    assert (confirmation["bank"], confirmation["holder"]) == ("Сбербанк", "Иван Иванович И.")
    assert datetime.fromisoformat(confirmation["expires_at"]) > datetime.fromisoformat(
        payment["created_at"]
    )


def test_an_sbp_payment_shows_a_phone_number(api: httpx.Client) -> None:
    confirmation = create(api, method="sbp")["confirmation"]
    assert (confirmation["type"], confirmation["phone"], confirmation["pan"]) == (
        "requisites",
        TEST_PHONE,
        None,
    )


def test_without_requisites_yet_the_payer_is_sent_to_the_page(
    oneplat: OnePlatEmulator, api: httpx.Client
) -> None:
    oneplat.requisites = False
    try:
        payment = create(api)
    finally:
        oneplat.requisites = True
    assert payment["confirmation"] == {
        "type": "redirect",
        "url": f"{oneplat.base_url}/pay/{payment['provider_payment_id']}",
    }


def test_kopecks_are_refused_before_1plat_is_called(
    oneplat: OnePlatEmulator, shop: ProviderShop, api: httpx.Client
) -> None:
    before = len(oneplat.received)
    answer = api.post("/v1/payments", json={"amount": 150050, "currency": "RUB"})
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["param"]) == ("amount_invalid", "amount")
    assert "whole rubles only: 1500.50 RUB has kopecks" in error["message"]
    assert len(oneplat.received) == before
    assert api.get("/v1/payments").json()["data"] == []


@pytest.mark.parametrize(
    "signing", [{"sign": "v2"}, {"sign": "hmac"}, {"sign": "hmac", "sorted_hmac": True}]
)
def test_either_signature_proves_a_callback(
    server: LiveServer,
    oneplat: OnePlatEmulator,
    shop: ProviderShop,
    api: httpx.Client,
    signing: dict[str, Any],
) -> None:
    payment = create(api)
    guid = payment["provider_payment_id"]
    oneplat.pay(guid)
    assert notify(server, oneplat, shop, oneplat.callback(guid, **signing)) == (200, "accepted")
    assert current(api, payment)["status"] == "succeeded"
    assert stored_notifications(server, shop.name)[-1]["event_key"] == f"{guid}:1"


@pytest.mark.parametrize(
    "forgery",
    [
        {"sign": "none"},
        {"secret": "guessed"},
        # Signed, then changed: the amount MD5 covers, a field only the HMAC covers.
        {"tamper": {"amount": 1}, "sign": "v2"},
        {"tamper": {"status": 2}, "sign": "hmac"},
    ],
)
def test_a_callback_neither_signature_proves_changes_nothing(
    server: LiveServer,
    oneplat: OnePlatEmulator,
    shop: ProviderShop,
    api: httpx.Client,
    forgery: dict[str, Any],
) -> None:
    payment = create(api)
    guid = payment["provider_payment_id"]
    oneplat.pay(guid)
    signing = {k: v for k, v in forgery.items() if k != "tamper"}
    body = {**json.loads(oneplat.callback(guid, **signing)), **forgery.get("tamper", {})}
    assert notify(server, oneplat, shop, json.dumps(body).encode()) == (401, "rejected")
    assert current(api, payment)["status"] == "pending"
    assert (
        "neither signature_v2 nor signature"
        in stored_notifications(server, shop.name)[-1]["reason"]
    )


def test_a_callback_is_believed_only_as_far_as_order_info_says(
    server: LiveServer, oneplat: OnePlatEmulator, shop: ProviderShop, api: httpx.Client
) -> None:
    payment = create(api)
    guid = payment["provider_payment_id"]
    # Genuinely signed, but saying "paid" while 1Plat's API says the order awaits payment.
    early = oneplat.callback(guid, status=1)
    assert notify(server, oneplat, shop, early) == (200, "accepted")
    assert current(api, payment)["status"] == "pending"
    assert stored_notifications(server, shop.name)[-1]["event_key"] == f"{guid}:0"
    oneplat.pay(guid)
    assert notify(server, oneplat, shop, oneplat.callback(guid)) == (200, "accepted")
    assert current(api, payment)["status"] == "succeeded"


def test_a_callback_1plat_cannot_confirm_now_is_kept_and_applied_later(
    server: LiveServer, oneplat: OnePlatEmulator, shop: ProviderShop, api: httpx.Client
) -> None:
    payment = create(api)
    guid = payment["provider_payment_id"]
    oneplat.pay(guid)
    oneplat.down = True
    try:
        assert notify(server, oneplat, shop, oneplat.callback(guid)) == (500, "pending")
    finally:
        oneplat.down = False
    assert current(api, payment)["status"] == "pending"
    assert server.call(notifications.reprocess_pending(later(server, timedelta(minutes=1)))) >= 1
    row = stored_notifications(server, shop.name)[-1]
    assert (row["verdict"], row["event_key"]) == ("accepted", f"{guid}:1")
    assert current(api, payment)["status"] == "succeeded"


def test_wrong_credentials_are_a_refusal(server: LiveServer, oneplat: OnePlatEmulator) -> None:
    shop = connect(server, oneplat, secret="not-the-secret")
    with shop.api(server) as api:
        answer = api.post("/v1/payments", json={"amount": 150000, "currency": "RUB"})
        assert answer.status_code == 402
        assert answer.json()["error"]["message"] == (
            "1Plat refused: Unauthorized: wrong x-shop or x-secret"
        )
        assert api.get("/v1/payments").json()["data"] == []


def test_an_order_for_another_amount_is_never_applied(
    server: LiveServer, oneplat: OnePlatEmulator, shop: ProviderShop, api: httpx.Client
) -> None:
    """Were 1Plat's amounts kopecks after all, no payment would be credited a wrong sum."""
    payment = create(api)
    guid = payment["provider_payment_id"]
    oneplat.orders[guid]["payment"]["amount"] = 150000
    oneplat.pay(guid)
    assert notify(server, oneplat, shop, oneplat.callback(guid)) == (200, "accepted")
    outcome = stored_notifications(server, shop.name)[-1]["outcome"]
    assert outcome.startswith("rejected: provider reports 150000.00 RUB, payment is for 1500.00")
    assert current(api, payment)["status"] == "pending"


def test_a_callback_naming_another_order_is_refused(
    server: LiveServer, oneplat: OnePlatEmulator, shop: ProviderShop, api: httpx.Client
) -> None:
    payment = create(api)
    guid = payment["provider_payment_id"]
    oneplat.pay(guid)
    body = oneplat.callback(guid, merchant_order_id="pay_someone_else")
    assert notify(server, oneplat, shop, body) == (401, "rejected")
    assert current(api, payment)["status"] == "pending"
    assert "names order pay_someone_else" in stored_notifications(server, shop.name)[-1]["reason"]


def test_succeed_on_2_waits_for_the_confirmation(
    server: LiveServer, oneplat: OnePlatEmulator
) -> None:
    shop = connect(server, oneplat, succeed_on="2")
    with shop.api(server) as api:
        payment = create(api)
        guid = payment["provider_payment_id"]
        oneplat.pay(guid)
        assert notify(server, oneplat, shop, oneplat.callback(guid)) == (200, "accepted")
        assert current(api, payment)["status"] == "pending"
        oneplat.confirm(guid)
        assert notify(server, oneplat, shop, oneplat.callback(guid)) == (200, "accepted")
        assert current(api, payment)["status"] == "succeeded"
        assert event_types(server, payment["id"]) == ["payment.created", "payment.succeeded"]


def test_a_wrong_succeed_on_is_refused_before_1plat_is_called(
    server: LiveServer, oneplat: OnePlatEmulator
) -> None:
    shop = connect(server, oneplat, succeed_on="paid")
    with shop.api(server) as api:
        answer = api.post("/v1/payments", json={"amount": 150000, "currency": "RUB"})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "provider_not_configured"
    assert oneplat.orders_of(shop.account.credentials["shop_id"]) == []


def test_a_wrong_succeed_on_rejects_callbacks_and_reconciliation_asks_later(
    server: LiveServer, oneplat: OnePlatEmulator, shop: ProviderShop, api: httpx.Client
) -> None:
    payment = create(api)
    guid = payment["provider_payment_id"]
    settings = {"succeed_on": "3", "test": "true"}
    server.call(
        shops.configure_provider(server.ctx, shop=shop.shop, provider="oneplat", settings=settings)
    )
    oneplat.pay(guid)
    assert notify(server, oneplat, shop, oneplat.callback(guid)) == (401, "rejected")
    assert "succeed_on is '3'" in stored_notifications(server, shop.name)[-1]["reason"]
    soon = later(server, timedelta(minutes=2))
    server.call(reconciliation.reconcile_due(soon, limit=10_000))
    assert current(api, payment)["status"] == "pending"


def test_an_unknown_status_is_kept_and_answered_and_changes_nothing(
    server: LiveServer, oneplat: OnePlatEmulator, shop: ProviderShop, api: httpx.Client
) -> None:
    payment = create(api)
    guid = payment["provider_payment_id"]
    oneplat.set_status(guid, 7)
    assert notify(server, oneplat, shop, oneplat.callback(guid)) == (200, "accepted")
    row = stored_notifications(server, shop.name)[-1]
    assert (row["event_key"], row["outcome"]) == (f"{guid}:7", "nothing to apply")
    assert current(api, payment)["status"] == "pending"


def test_no_requisites_fails_the_payment_with_the_reason(
    server: LiveServer, oneplat: OnePlatEmulator, shop: ProviderShop, api: httpx.Client
) -> None:
    payment = create(api)
    guid = payment["provider_payment_id"]
    oneplat.no_requisites(guid)
    assert notify(server, oneplat, shop, oneplat.callback(guid)) == (200, "accepted")
    failed = current(api, payment)
    assert (failed["status"], failed["failure"]["code"]) == ("failed", "no_requisites")


def test_refunds_are_not_offered(
    server: LiveServer, oneplat: OnePlatEmulator, shop: ProviderShop, api: httpx.Client
) -> None:
    (listed,) = api.get("/v1/providers").json()["data"]
    assert listed["capabilities"] == {
        "two_stage": False,
        "partial_capture": False,
        "cancel": False,
        "refunds": False,
        "partial_refunds": False,
    }
    payment = create(api)
    oneplat.pay(payment["provider_payment_id"])
    notify(server, oneplat, shop, oneplat.callback(payment["provider_payment_id"]))
    answer = api.post("/v1/refunds", json={"payment": payment["id"]})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert (error["code"], error["message"]) == (
        "operation_unsupported",
        "1Plat cannot refund payments",
    )


@pytest.mark.parametrize("case", [("paid", "succeeded", 1), ("no_requisites", "failed", -2)])
def test_kassa_simulate_sends_a_signed_callback(
    server: LiveServer,
    oneplat: OnePlatEmulator,
    shop: ProviderShop,
    api: httpx.Client,
    case: tuple[str, str, int],
) -> None:
    event, status, code = case

    def simulate() -> int:
        sent = server.call(
            simulation.simulate(
                server.ctx,
                provider="oneplat",
                event=event,
                payment_id=payment["id"],
                base_url=server.url,
            )
        )
        return sent.status_code

    payment = create(api)
    # Kassa re-reads the order: a simulation changes the payment as far as 1Plat agrees.
    assert (simulate(), current(api, payment)["status"]) == (200, "pending")
    oneplat.set_status(payment["provider_payment_id"], code)
    assert (simulate(), current(api, payment)["status"]) == (200, status)

    stored = server.call(payments.find_payment(server.ctx, payment_id=payment["id"]))
    gateway = server.ctx.gateways.for_account(shop.account)
    with pytest.raises(NotSupported):
        gateway.simulate(stored, "refund.succeeded")


def test_1plat_txt_serves_each_enabled_accounts_verification(
    server: LiveServer, oneplat: OnePlatEmulator
) -> None:
    assert httpx.get(f"{server.url}/1plat.txt").status_code == 404
    first = connect(server, oneplat, verification="zz-second-shop")
    second = connect(server, oneplat, verification="aa-first-shop")
    answer = httpx.get(f"{server.url}/1plat.txt")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.text == "aa-first-shop\nzz-second-shop\n"

    def disable(shop: ProviderShop) -> None:
        server.call(
            shops.configure_provider(
                server.ctx,
                shop=shop.shop,
                provider="oneplat",
                settings={"enabled": "false", "test": "true"},
            )
        )

    disable(second)
    assert httpx.get(f"{server.url}/1plat.txt").text == "zz-second-shop\n"
    disable(first)
    assert httpx.get(f"{server.url}/1plat.txt").status_code == 404
