"""CloudPayments' fiscal receipts (54-FZ) end to end: the shop's fiscal settings and the
payment's lines → `CustomerReceipt` in the widget's data on Kassa's payer page (the emulated
widget checks it as it pays) and in the JsonData of each refund."""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import pytest

from kassa.domain.receipts import FiscalSettings
from kassa.services.payments import lifecycle as payments
from kassa.services.shops import shops
from tests.emulators.cloudpayments import CloudPaymentsEmulator, Site, connect, running
from tests.emulators.receipts import ReceiptInvalid
from tests.helpers import stored_notifications
from tests.live import LiveServer

FISCAL = FiscalSettings(tax_system_code=1, vat_code=4, payment_mode="full_prepayment")
LINES = [
    {
        "description": "Session, hour",
        "quantity": "1.5",
        "price": 20000,
        "payment_subject": "service",
    },
    {"description": "Tea", "quantity": 1, "price": 5050, "vat_code": 1},
]


@pytest.fixture(scope="module")
def emulator() -> Iterator[CloudPaymentsEmulator]:
    with running() as emulator:
        yield emulator


def fiscal_site(
    server: LiveServer, emulator: CloudPaymentsEmulator, *, required: bool = False
) -> Site:
    site = connect(server, emulator, receipts_required=required)
    server.call(shops.set_fiscal(server.ctx, shop=site.shop.shop, fiscal=FISCAL))
    return site


def widget_data(server: LiveServer, payment: dict[str, Any]) -> Any:
    """The JsonData Kassa's payer page opens the widget with (its `data-data`), or None."""
    page = httpx.get(f"{server.url}/pay/{payment['id']}").text
    found = re.search(r'data-data="([^"]*)"', page)
    return json.loads(html.unescape(found.group(1)), parse_float=Decimal) if found else None


def test_the_receipt_goes_in_the_widget_and_with_each_refund(
    server: LiveServer, emulator: CloudPaymentsEmulator
) -> None:
    site = fiscal_site(server, emulator, required=True)
    with site.shop.api(server) as api:
        created = api.post(
            "/v1/payments",
            json={
                "amount": 35050,
                "currency": "RUB",
                "customer_email": "a@example.ru",
                "items": LINES,
            },
        )
        assert created.status_code == 201, created.text
        payment = created.json()
        data = widget_data(server, payment)
        assert data == {
            "cloudpayments": {
                "CustomerReceipt": {
                    "Items": [
                        {
                            "label": "Session, hour",
                            "price": Decimal("200.00"),
                            "quantity": Decimal("1.5"),
                            "amount": Decimal("300.00"),
                            "vat": 20,
                            "method": 1,
                            "object": 4,
                        },
                        {
                            "label": "Tea",
                            "price": Decimal("50.50"),
                            "quantity": 1,
                            "amount": Decimal("50.50"),
                            "vat": None,
                            "method": 1,
                            "object": 1,
                        },
                    ],
                    "taxationSystem": 0,
                    "isBso": False,
                    "amounts": {"electronic": Decimal("350.50")},
                    "email": "a@example.ru",
                }
            }
        }
        attempt = site.pay(payment, data=data)
        assert attempt.answer is not None
        assert attempt.answer.status_code == 200
        paid = api.get(f"/v1/payments/{payment['id']}").json()
        assert (paid["status"], paid["receipt_status"]) == ("succeeded", None)
        # CloudKassir registers the receipt and says so: twice, the second a duplicate.
        (receipt_answer,) = site.deliver()
        assert receipt_answer.status_code == 200, receipt_answer.text
        assert api.get(f"/v1/payments/{payment['id']}").json()["receipt_status"] == "succeeded"
        sent_receipt = emulator.sent[-1]
        assert sent_receipt.kind == "receipt"
        assert sent_receipt.send().json() == {"code": 0}
        receipts = [
            (row["outcome"], row["verdict"])
            for row in stored_notifications(server, site.name)
            if row["kind"] == "receipt"
        ]
        assert receipts == [("payment receipt succeeded", "accepted"), (None, "duplicate")]

        refund = api.post("/v1/refunds", json={"payment": payment["id"], "amount": 5050})
        assert refund.status_code == 201, refund.text
        (call,) = emulator.calls_to("/payments/refund", site.public_id)
        sent = json.loads(call.body, parse_float=Decimal)["JsonData"]
        assert sent["kassa_refund_id"] == refund.json()["id"]
        assert sent["cloudpayments"]["CustomerReceipt"]["Items"] == [
            {
                "label": "Session, hour",
                "price": Decimal("50.50"),
                "quantity": 1,
                "amount": Decimal("50.50"),
                "vat": 20,
                "method": 1,
                "object": 4,
            }
        ]
        answers = site.deliver()  # Refund, then the return receipt's Receipt
        assert [a.status_code for a in answers] == [200, 200]
        (done,) = api.get("/v1/refunds", params={"payment": payment["id"]}).json()["data"]
        assert done["receipt_status"] == "succeeded"


def test_a_partial_confirm_carries_the_receipt_for_what_is_taken(
    server: LiveServer, emulator: CloudPaymentsEmulator
) -> None:
    site = fiscal_site(server, emulator)
    with site.shop.api(server) as api:
        created = api.post(
            "/v1/payments",
            json={
                "amount": 10000,
                "currency": "RUB",
                "customer_email": "a@example.ru",
                "capture": False,
                "description": "Deposit",
            },
        )
        payment = created.json()
        site.pay(payment, data=widget_data(server, payment))
        captured = api.post(f"/v1/payments/{payment['id']}/capture", json={"amount": 4000})
        assert captured.status_code == 200, captured.text
    (call,) = emulator.calls_to("/payments/confirm", site.public_id)
    receipt = json.loads(call.body, parse_float=Decimal)["JsonData"]["cloudpayments"]
    assert receipt["CustomerReceipt"]["Items"][0]["amount"] == Decimal("40.00")
    assert receipt["CustomerReceipt"]["Items"][0]["label"] == "Deposit"


def test_a_payment_without_a_contact_has_no_receipt_and_a_site_that_needs_one_refuses_it(
    server: LiveServer, emulator: CloudPaymentsEmulator
) -> None:
    site = connect(server, emulator, receipts_required=True)  # Kassa's shop sends none
    with site.shop.api(server) as api:
        created = api.post("/v1/payments", json={"amount": 1000, "currency": "RUB"})
        assert created.status_code == 201, created.text
        payment = created.json()
        assert widget_data(server, payment) is None
        with pytest.raises(ReceiptInvalid):
            site.pay(payment)
        assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "pending"


def test_the_emulated_widget_refuses_a_receipt_that_does_not_add_up(
    server: LiveServer, emulator: CloudPaymentsEmulator
) -> None:
    site = fiscal_site(server, emulator)
    with site.shop.api(server) as api:
        created = api.post(
            "/v1/payments",
            json={"amount": 1000, "currency": "RUB", "customer_phone": "+79001234567"},
        )
        payment = created.json()
    data = widget_data(server, payment)
    assert data["cloudpayments"]["CustomerReceipt"]["phone"] == "+79001234567"
    with pytest.raises(ReceiptInvalid, match="add up"):
        site.pay(payment, amount=Decimal("20.00"), data=data)


def test_one_receipt_notification_arriving_many_times_at_once_is_accepted_once(
    server: LiveServer, emulator: CloudPaymentsEmulator
) -> None:
    site = fiscal_site(server, emulator)
    with site.shop.api(server) as api:
        created = api.post(
            "/v1/payments",
            json={"amount": 2000, "currency": "RUB", "customer_email": "a@example.ru"},
        )
        payment = created.json()
        site.pay(payment, data=widget_data(server, payment))
        ((transaction, kind),) = [
            (t, k) for t, k in emulator.outbox if t.public_id == site.public_id
        ]
        emulator.outbox.clear()
        notice = emulator.build(transaction, kind)
        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(lambda _: notice.send(), range(6)))
        assert [a.json() for a in answers] == [{"code": 0}] * 6
        assert api.get(f"/v1/payments/{payment['id']}").json()["receipt_status"] == "succeeded"
    verdicts = Counter(
        row["verdict"]
        for row in stored_notifications(server, site.name)
        if row["kind"] == "receipt"
    )
    assert verdicts == {"accepted": 1, "duplicate": 5}


def test_kassa_simulate_sends_a_receipt_notification(
    server: LiveServer, emulator: CloudPaymentsEmulator
) -> None:
    site = fiscal_site(server, emulator)
    with site.shop.api(server) as api:
        payment = api.post(
            "/v1/payments",
            json={"amount": 2000, "currency": "RUB", "customer_email": "a@example.ru"},
        ).json()

        async def build() -> Any:
            stored = await payments.find_payment(server.ctx, payment_id=payment["id"])
            return server.ctx.gateways.for_account(site.shop.account).simulate(stored, "receipt")

        sent = server.call(build())
        answer = httpx.post(
            f"{server.url}/hooks/cloudpayments/{site.name}/{sent.kind}",
            content=sent.body,
            headers=dict(sent.headers),
        )
        assert answer.json() == {"code": 0}
        assert api.get(f"/v1/payments/{payment['id']}").json()["receipt_status"] == "succeeded"
