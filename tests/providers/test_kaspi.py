"""Kaspi end to end over real HTTP on loopback: merchant → Kassa → the Kaspi emulator's QR API
(polled by reconciliation), and Kaspi's check/pay requests → Kassa's hook, on both databases.
What every provider does is the conformance suite's; here, what is Kaspi's own."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from kassa.services import providers as provider_state
from kassa.services.payments import lifecycle as payments
from kassa.services.payments import reconciliation
from kassa.store.tables import kaspi_transactions
from tests.cli.conftest import invoke
from tests.conformance.drivers.base import at_once
from tests.conformance.drivers.kaspi import pay_request, settings
from tests.emulators.kaspi import CheckPay, KaspiEmulator, running
from tests.helpers import ProviderShop, event_types, later, make_provider_shop, stored_notifications
from tests.live import LiveServer


@pytest.fixture(scope="module")
def kaspi() -> Iterator[KaspiEmulator]:
    with running() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def server(own_database_url: str) -> Iterator[LiveServer]:
    """A database of the module's own: reconciliation here asks about every due payment."""
    live = LiveServer(own_database_url, trusted_proxies=["127.0.0.1"], provider_timeout=2.0)
    live.start()
    try:
        yield live
    finally:
        live.stop()


def connect(
    server: LiveServer, kaspi: KaspiEmulator, *, live: bool = False, **more: str
) -> ProviderShop:
    return make_provider_shop(server, "kaspi", settings(kaspi, **more), live=live)


@pytest.fixture
def shop(server: LiveServer, kaspi: KaspiEmulator) -> ProviderShop:
    return connect(server, kaspi)


@pytest.fixture
def api(server: LiveServer, shop: ProviderShop) -> Iterator[httpx.Client]:
    with shop.api(server) as client:
        yield client


def create(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = api.post("/v1/payments", json={"amount": 150000, "currency": "KZT", **fields})
    assert response.status_code == 201, response.text
    document: dict[str, Any] = response.json()
    return document


def hook(server: LiveServer, shop: ProviderShop) -> str:
    return f"{server.url}/hooks/kaspi/{shop.name}"


def ask(server: LiveServer, shop: ProviderShop, request: CheckPay, **options: Any) -> Any:
    answer = KaspiEmulator.call(hook(server, shop), request, **options)
    return answer.status_code, answer.json()


def reconcile(server: LiveServer, ahead: timedelta = timedelta(seconds=6)) -> None:
    server.call(reconciliation.reconcile_due(later(server, ahead), limit=10_000))


def test_a_qr_payment_is_created_polled_and_paid(
    server: LiveServer, kaspi: KaspiEmulator, shop: ProviderShop, api: httpx.Client
) -> None:
    payment = create(api)
    method, path, body = kaspi.requests[-1]
    assert (method, path) == ("POST", "/r1/v01/qr/create")
    assert body == {
        "DeviceToken": shop.account.credentials["device_token"],
        "Amount": 1500,
        "ExternalId": payment["id"],
    }
    assert payment["confirmation"]["type"] == "qr"
    assert payment["confirmation"]["payload"].startswith("https://qr.kaspi.kz/")
    qr = payment["provider_payment_id"]
    assert kaspi.payments[qr]["ExternalId"] == payment["id"]
    page = httpx.get(f"{server.url}/pay/{payment['id']}")
    assert page.status_code == 200
    assert '<figure class="qr"' in page.text  # the QR code of Kaspi's QrToken, drawn by Kassa

    # No webhook: Kassa asks every poll_interval, not on the lost-notification schedule.
    stored = server.call(payments.find_payment(server.ctx, payment_id=payment["id"]))
    assert stored.provider == "kaspi"
    reconcile(server)
    assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "pending"
    assert kaspi.requests[-1][:2] == ("GET", f"/r1/v02/payment/status/{qr}")

    kaspi.pay(qr)
    reconcile(server, timedelta(seconds=12))
    after = api.get(f"/v1/payments/{payment['id']}").json()
    assert (after["status"], after["amount_captured"]) == ("succeeded", 150000)
    assert event_types(server, payment["id"]) == ["payment.created", "payment.succeeded"]


def test_kassa_asks_as_often_as_kaspi_said_for_the_payment(
    server: LiveServer, kaspi: KaspiEmulator, api: httpx.Client
) -> None:
    kaspi.polling_interval = 2
    payment = create(api)
    assert stored(server, payment["id"]).poll_every == timedelta(seconds=2)
    asked = len(kaspi.requests)
    reconcile(server, timedelta(seconds=3))  # due at Kaspi's 2 s, before the default 5 s
    status = ("GET", f"/r1/v02/payment/status/{payment['provider_payment_id']}")
    assert [request[:2] for request in kaspi.requests[asked:]] == [status]


def test_kaspi_cancels_and_errors_map_to_canceled_and_failed(
    server: LiveServer, kaspi: KaspiEmulator, api: httpx.Client
) -> None:
    canceled, failed = create(api), create(api)
    kaspi.cancel_by_user(canceled["provider_payment_id"])
    kaspi.decline(failed["provider_payment_id"])
    reconcile(server)
    assert api.get(f"/v1/payments/{canceled['id']}").json()["status"] == "canceled"
    declined = api.get(f"/v1/payments/{failed['id']}").json()
    assert (declined["status"], declined["failure"]["code"]) == ("failed", "kaspi_error")


def test_a_link_account_gets_a_payment_link(server: LiveServer, kaspi: KaspiEmulator) -> None:
    shop = connect(server, kaspi, confirmation="link")
    with shop.api(server) as api:
        payment = create(api)
    assert kaspi.requests[-1][1] == "/r1/v01/qr/create-link"
    assert payment["confirmation"]["type"] == "redirect"
    assert payment["confirmation"]["url"].startswith("https://pay.kaspi.kz/pay/")


def test_an_amount_with_tiyn_is_refused_before_kaspi_is_asked(
    kaspi: KaspiEmulator, api: httpx.Client
) -> None:
    before = len(kaspi.requests)
    answer = api.post("/v1/payments", json={"amount": 150050, "currency": "KZT"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "amount_invalid"
    assert "whole tenge" in answer.json()["error"]["message"]
    assert len(kaspi.requests) == before
    assert api.get("/v1/payments").json()["data"] == []


def test_check_answers_from_the_payment(
    server: LiveServer, shop: ProviderShop, api: httpx.Client
) -> None:
    payment = create(api)
    check = CheckPay("check", "5001", payment["id"], "1500.00")
    assert ask(server, shop, check) == (
        200,
        {"txn_id": "5001", "result": 0, "sum": "1500.00", "comment": "accept"},
    )
    assert ask(server, shop, CheckPay("check", "5002", "pay_nothing", "1500.00"))[1]["result"] == 1
    assert ask(server, shop, CheckPay("check", "5003", payment["id"], "1499.00"))[1]["result"] == 5
    assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "pending"


def test_pay_credits_once_per_txn_id_even_at_once(
    server: LiveServer, shop: ProviderShop, api: httpx.Client
) -> None:
    payment = create(api)
    url = hook(server, shop)
    pay = pay_request(payment, "7001")
    answers = at_once(8, lambda: KaspiEmulator.call(url, pay))
    documents = [answer.json() for answer in answers]
    assert {answer.status_code for answer in answers} == {200}
    assert {(d["result"], d["prv_txn_id"], d["txn_id"]) for d in documents} == {
        (0, documents[0]["prv_txn_id"], "7001")
    }
    assert documents[0]["prv_txn_id"].startswith("kpt_")
    assert event_types(server, payment["id"]) == ["payment.created", "payment.succeeded"]
    verdicts = Counter(row["verdict"] for row in stored_notifications(server, shop.name))
    assert verdicts == {"accepted": 1, "duplicate": 7}

    # Later, again: the same answer. Another Kaspi transaction for the paid bill: 3, no credit.
    assert ask(server, shop, pay)[1]["prv_txn_id"] == documents[0]["prv_txn_id"]
    again = ask(server, shop, pay_request(payment, "7002"))[1]
    assert (again["result"], again["prv_txn_id"]) != (0, documents[0]["prv_txn_id"])
    assert again["result"] == 3
    # The same txn_id with another sum credits nothing and says so.
    other = ask(server, shop, pay_request(payment, "7001", amount=100))[1]
    assert other["result"] == 5
    assert event_types(server, payment["id"]) == ["payment.created", "payment.succeeded"]

    rows = transactions(server, payment["id"])
    assert [(row["txn_id"], row["result"]) for row in rows] == [("7001", 0), ("7002", 3)]
    panels = server.call(provider_state.panels(server.ctx, stored(server, payment["id"])))
    assert [panel.title for panel in panels] == ["Kaspi transactions"]
    assert [row[:2] for row in panels[0].rows] == [
        ("7001", documents[0]["prv_txn_id"]),
        ("7002", rows[1]["id"]),
    ]


def test_of_several_kaspi_transactions_at_once_for_one_bill_one_is_credited(
    server: LiveServer, shop: ProviderShop, api: httpx.Client
) -> None:
    """The result is decided with the payment locked: exactly one 0, the others 3."""
    payment = create(api)
    url = hook(server, shop)
    numbers = iter(range(6))
    answers = at_once(
        6, lambda: KaspiEmulator.call(url, pay_request(payment, f"66{next(numbers)}"))
    )
    results = Counter(answer.json()["result"] for answer in answers)
    assert results == {0: 1, 3: 5}
    assert event_types(server, payment["id"]) == ["payment.created", "payment.succeeded"]
    rows = transactions(server, payment["id"])
    assert sorted(row["result"] for row in rows) == [0, 3, 3, 3, 3, 3]


def test_a_pay_whose_sum_differs_answers_5_and_credits_nothing(
    server: LiveServer, shop: ProviderShop, api: httpx.Client
) -> None:
    payment = create(api)
    status, answer = ask(server, shop, pay_request(payment, "8001", amount=149900))
    assert (status, answer["result"], answer["sum"]) == (200, 5, "1499.00")
    assert "differs" in answer["comment"]
    assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "pending"
    assert event_types(server, payment["id"]) == ["payment.created"]
    missing = ask(server, shop, CheckPay("pay", "8002", "pay_unknown", "1.00", "20261206120000"))
    assert missing[1]["result"] == 1


def test_check_pay_is_refused_unless_enabled_and_from_the_allowed_source(
    server: LiveServer, kaspi: KaspiEmulator
) -> None:
    off = connect(server, kaspi, check_pay="false")
    with off.api(server) as api:
        payment = create(api)
    status, answer = ask(server, off, pay_request(payment, "9001"))
    assert (status, answer["result"]) == (403, 5)
    assert "not enabled" in stored_notifications(server, off.name)[-1]["reason"]

    # A live account takes check/pay only from its networks (NOT FOUND: the account says).
    live = connect(server, kaspi, live=True)
    request = CheckPay("check", "9002", "pay_x", "1.00")
    assert ask(server, live, request)[0] == 403
    assert "networks=" in stored_notifications(server, live.name)[-1]["reason"]
    listed = connect(server, kaspi, live=True, networks="203.0.113.0/24, 198.51.100.7")
    assert ask(server, listed, request, forwarded_for="192.0.2.1")[0] == 403
    assert ask(server, listed, request, forwarded_for="203.0.113.9") == (
        200,
        {"txn_id": "9002", "result": 1, "sum": "1.00", "comment": "unknown_payment"},
    )


def test_basic_auth_when_agreed(server: LiveServer, kaspi: KaspiEmulator) -> None:
    shop = connect(server, kaspi, basic_user="kaspi", basic_password="s3cret")
    request = CheckPay("check", "9101", "pay_x", "1.00")
    assert ask(server, shop, request)[0] == 403
    assert ask(server, shop, request, auth=("kaspi", "wrong"))[0] == 403
    assert ask(server, shop, request, auth=("kaspi", "s3cret"))[0] == 200


def test_a_malformed_request_is_refused(server: LiveServer, shop: ProviderShop) -> None:
    url = hook(server, shop)
    for query in ("command=pay&txn_id=1&account=a&sum=1.00", "command=pay&txn_id=1&sum=x"):
        answer = httpx.get(f"{url}?{query}")
        assert answer.status_code == 403
        assert answer.json()["result"] == 5
    assert httpx.post(f"{url}?command=check&txn_id=1&account=a&sum=1.00").status_code == 403


def test_a_refund_is_a_return_at_kaspi(
    server: LiveServer, kaspi: KaspiEmulator, shop: ProviderShop, api: httpx.Client
) -> None:
    payment = create(api)
    kaspi.pay(payment["provider_payment_id"])
    reconcile(server)
    refund = api.post("/v1/refunds", json={"payment": payment["id"], "amount": 50000})
    assert refund.status_code == 201, refund.text
    assert refund.json()["status"] == "succeeded"
    assert kaspi.requests[-1][1:] == (
        "/r1/v01/payment/return",
        {
            "DeviceToken": shop.account.credentials["device_token"],
            "QrPaymentId": int(payment["provider_payment_id"]),
            "Amount": 500,
        },
    )
    assert kaspi.payments[payment["provider_payment_id"]]["Returned"] == Decimal(500)
    # Kaspi returns whole tenge: a refund with tiyn fails, clearly, and holds nothing back.
    tiyn = api.post("/v1/refunds", json={"payment": payment["id"], "amount": 150})
    assert tiyn.status_code == 201, tiyn.text
    assert tiyn.json()["status"] == "failed"
    assert "whole tenge" in tiyn.json()["failure_message"]
    rest = api.post("/v1/refunds", json={"payment": payment["id"]})
    assert (rest.json()["status"], rest.json()["amount"]) == ("succeeded", 100000)


def test_kassa_simulate_kaspi_pay(
    server: LiveServer, own_database_url: str, shop: ProviderShop, api: httpx.Client
) -> None:
    payment = create(api)
    runner = CliRunner(env={"KASSA_DATABASE_URL": own_database_url, "COLUMNS": "250"})
    result = invoke(
        runner, "simulate", "kaspi", "pay", "--payment", payment["id"], "--url", server.url
    )
    assert result.exit_code == 0, result.stderr
    assert f"GET {server.url}/hooks/kaspi/{shop.name}?command=pay" in result.stdout
    assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "succeeded"
    assert [row["txn_id"] for row in transactions(server, payment["id"])] == [f"sim{payment['id']}"]


def transactions(server: LiveServer, payment_id: str) -> list[Any]:
    async def read() -> list[Any]:
        query = (
            select(kaspi_transactions)
            .where(kaspi_transactions.c.payment_id == payment_id)
            .order_by(kaspi_transactions.c.created_at, kaspi_transactions.c.id)
        )
        async with server.ctx.db.read() as conn:
            return list((await conn.execute(query)).mappings())

    return server.call(read())


def stored(server: LiveServer, payment_id: str) -> Any:
    return server.call(payments.find_payment(server.ctx, payment_id=payment_id))
