"""Kaspi's wire formats without a database: the status table, amounts, envelopes and their
refusals, check/pay requests and answers, and what the provider reads from the emulator
in-process (through `httpx.ASGITransport`)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from kassa.domain import (
    AmountInvalid,
    Money,
    NotificationRejected,
    Payment,
    PaymentStatus,
    PaymentUpdate,
    ProviderAccount,
    ProviderDeclined,
    ProviderUnavailable,
)
from kassa.providers import CheckResult, PaymentRequest, QrConfirmation
from kassa.providers.base import InboundRequest
from kassa.providers.kaspi import KaspiProvider
from kassa.providers.kaspi.wire import (
    Command,
    KaspiStatus,
    ResultCode,
    check_code,
    data,
    payment_status,
    polling_interval,
    read_check_pay,
    read_status,
    tenge,
)
from kassa.providers.wire import MALFORMED
from tests.emulators.kaspi import CERTIFICATE_FAILED, KaspiEmulator

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_only_processed_is_paid_and_unknown_statuses_wait() -> None:
    table = {status: payment_status(status) for status in KaspiStatus}
    assert [s for s, mapped in table.items() if mapped == PaymentStatus.SUCCEEDED] == [
        KaspiStatus.PROCESSED
    ]
    assert table[KaspiStatus.ERROR] == PaymentStatus.FAILED
    assert table[KaspiStatus.CANCELLED_BY_USER] == PaymentStatus.CANCELED
    assert table[KaspiStatus.WAIT] == PaymentStatus.PENDING
    assert read_status("SomethingNew") == PaymentStatus.PENDING


def test_amounts_are_whole_tenge() -> None:
    assert tenge(150000) == 1500
    with pytest.raises(AmountInvalid):
        tenge(150001)


@pytest.mark.parametrize(
    ("value", "every"),
    [
        (5, timedelta(seconds=5)),
        (2.5, timedelta(seconds=2)),
        # The unit is NOT FOUND: a zero, or milliseconds, never makes Kassa ask many times a
        # second, nor a huge value leaves the payment unasked for long.
        (0, timedelta(seconds=1)),
        (5000, timedelta(seconds=60)),
        # Not a number: the provider's default.
        ("5", None),
        (True, None),
        (None, None),
    ],
)
def test_kaspis_polling_interval_is_read_within_bounds(value: Any, every: timedelta | None) -> None:
    options = "QrPaymentBehaviorOptions"
    assert polling_interval({options: {"StatusPollingInterval": value}}, options) == every
    assert polling_interval({}, options) is None


def test_an_envelope_that_is_not_zero_is_a_refusal_with_kaspis_code() -> None:
    assert data({"StatusCode": 0, "Data": {"a": 1}}, what="x") == {"a": 1}
    with pytest.raises(ProviderDeclined) as refused:
        data({"StatusCode": -1501, "Message": "unknown device"}, what="the QR code")
    assert (refused.value.provider_code, refused.value.provider_message) == (
        "-1501",
        "unknown device",
    )
    with pytest.raises(TypeError):
        data({"StatusCode": "0"}, what="x")


def test_check_pay_requests_are_read_exactly() -> None:
    pay = read_check_pay("command=pay&txn_id=42&account=pay_1&sum=1500.50&txn_date=20261206120000")
    assert (pay.command, pay.txn_id, pay.account, pay.txn_date) == (
        Command.PAY,
        "42",
        "pay_1",
        "20261206120000",
    )
    assert pay.sum == Money(150050, "KZT")
    for query in (
        "command=pay&txn_id=42&account=pay_1&sum=1500.50",  # a pay has its date
        "command=check&txn_id=42&account=pay_1&sum=1500.505",  # no fractions of tiyn
        "command=check&txn_id=42&txn_id=43&account=pay_1&sum=1",  # one of each
        "command=refund&txn_id=42&account=pay_1&sum=1",
        "command=pay&txn_id=42&account=pay_1&sum=1&txn_date=2026-12-06",
        f"command=check&txn_id={'9' * 65}&account=pay_1&sum=1",
    ):
        with pytest.raises(MALFORMED):
            read_check_pay(query)


def test_check_results_map_to_kaspi_codes() -> None:
    assert {result: check_code(result) for result in CheckResult} == {
        CheckResult.ACCEPT: ResultCode.OK,
        CheckResult.UNKNOWN_PAYMENT: ResultCode.ACCOUNT_NOT_FOUND,
        CheckResult.EXPIRED: ResultCode.CANCELLED,
        CheckResult.NOT_PAYABLE: ResultCode.ALREADY_PAID,
        CheckResult.WRONG_AMOUNT: ResultCode.OTHER_ERROR,
    }


def account(credentials: dict[str, str] | None = None, *, test: bool = True) -> ProviderAccount:
    return ProviderAccount(
        id="pa_1",
        shop_id="shop_1",
        provider="kaspi",
        test=test,
        enabled=True,
        credentials={
            "api_key": "k",
            "device_token": "d",
            "check_pay": "true",
            **(credentials or {}),
        },
    )


def provider(emulator: KaspiEmulator, **credentials: str) -> KaspiProvider:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator.app))
    return KaspiProvider(
        account(credentials), http=http, api_url="http://kaspi", public_url="http://kassa"
    )


def request(payment_id: str = "pay_1", amount: int = 10000) -> PaymentRequest:
    return PaymentRequest(payment_id=payment_id, amount=amount, currency="KZT", capture=True)


def test_the_provider_reads_the_emulators_answers() -> None:
    emulator = KaspiEmulator()
    key, token = emulator.add_device()
    gateway = provider(emulator, api_key=key, device_token=token)
    created = asyncio.run(gateway.create(request()))
    assert isinstance(created.confirmation, QrConfirmation)
    assert created.provider_payment_id in emulator.payments
    emulator.pay(str(created.provider_payment_id))
    payment = Payment(
        id="pay_1",
        shop_id="shop_1",
        test=True,
        provider="kaspi",
        provider_account_id="pa_1",
        status=PaymentStatus.PENDING,
        amount=10000,
        currency="KZT",
        capture=True,
        created_at=T0,
        updated_at=T0,
        provider_payment_id=created.provider_payment_id,
    )
    update = asyncio.run(gateway.fetch(payment))
    assert (update.status, update.amount) == (PaymentStatus.SUCCEEDED, Money(10000, "KZT"))

    wrong = provider(emulator, api_key="other", device_token=token)
    with pytest.raises(ProviderDeclined, match="Api-Key does not match"):
        asyncio.run(wrong.create(request()))
    emulator.down = True
    with pytest.raises(ProviderUnavailable):
        asyncio.run(gateway.create(request()))


def test_a_client_certificate_selects_the_certificate_schemes() -> None:
    emulator = KaspiEmulator()
    key, token = emulator.add_device()
    assert provider(emulator)._scheme == "r1"
    assert provider(emulator, client_cert="x.pem")._scheme == "r2"
    assert provider(emulator, client_cert="x.pem", organization_bin="123")._scheme == "r3"
    # The emulator has no TLS: the certificate schemes' paths refuse as Kaspi's would.
    body = json.dumps({"DeviceToken": token, "Amount": 1, "ExternalId": "pay_1"})
    answer = asyncio.run(_post(emulator, "/r2/v01/qr/create", body, key))
    assert answer["StatusCode"] == CERTIFICATE_FAILED


def inbound(query: str, **headers: str) -> InboundRequest:
    return InboundRequest(
        method="GET", headers=headers, body=b"", query=query, source_ip="203.0.113.5"
    )


def test_a_pay_is_an_update_identified_by_its_txn_id() -> None:
    gateway = provider(KaspiEmulator())
    read = asyncio.run(
        gateway.parse_notification(
            inbound("command=pay&txn_id=77&account=pay_9&sum=100.00&txn_date=20261206120000")
        )
    )
    assert read.event_key == "pay:77"
    (update,) = read.updates
    assert isinstance(update, PaymentUpdate)
    assert (update.payment_id, update.amount) == ("pay_9", Money(10000, "KZT"))
    check = asyncio.run(
        gateway.parse_notification(inbound("command=check&txn_id=78&account=pay_9&sum=100.00"))
    )
    assert check.event_key is None
    assert check.check is not None
    assert check.check.amount == Money(10000, "KZT")


def test_the_sources_of_check_pay_are_the_accounts_setting() -> None:
    query = "command=check&txn_id=1&account=pay_1&sum=1.00"
    live = provider(KaspiEmulator())
    live.account = account(test=False)
    with pytest.raises(NotificationRejected, match="networks="):
        asyncio.run(live.parse_notification(inbound(query)))
    live.account = account({"networks": "203.0.113.0/28"}, test=False)
    assert asyncio.run(live.parse_notification(inbound(query))).check is not None
    live.account = account({"networks": "198.51.100.0/24"}, test=False)
    with pytest.raises(NotificationRejected):
        asyncio.run(live.parse_notification(inbound(query)))
    # Re-reading a stored one does not check its source again.
    assert asyncio.run(live.parse_notification(inbound(query), verify=False)).check is not None


def test_simulate_builds_kaspis_request() -> None:
    gateway = provider(KaspiEmulator(), basic_user="u", basic_password="p")
    payment = Payment(
        id="pay_5",
        shop_id="shop_1",
        test=True,
        provider="kaspi",
        provider_account_id="pa_1",
        status=PaymentStatus.PENDING,
        amount=250000,
        currency="KZT",
        capture=True,
        created_at=T0,
        updated_at=T0,
    )
    simulated = gateway.simulate(payment, "pay")
    assert simulated.method == "GET"
    assert simulated.query == (
        "command=pay&txn_id=simpay_5&account=pay_5&sum=2500.00&txn_date=20261206120000"
    )
    assert simulated.headers["authorization"] == "Basic dTpw"
    assert asyncio.run(gateway.parse_notification(inbound(simulated.query, **simulated.headers)))


def test_the_emulator_reads_amounts_exactly() -> None:
    emulator = KaspiEmulator()
    key, token = emulator.add_device()
    body = json.dumps({"DeviceToken": token, "Amount": 1500, "ExternalId": "pay_1"})
    answer = asyncio.run(_post(emulator, "/r1/v01/qr/create", body, key))
    qr = str(answer["Data"]["QrPaymentId"])
    assert emulator.payments[qr]["Amount"] == Decimal(1500)


async def _post(emulator: KaspiEmulator, path: str, body: str, key: str) -> Any:
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kaspi") as client:
        answer = await client.post(path, content=body, headers={"Api-Key": key})
    return answer.json()
