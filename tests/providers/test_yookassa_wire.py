"""YooKassa's wire format, without a database: the status table, amounts, error answers, the
202 rule, notification reading, `simulate` and `reply`, and the emulator's own contract (the
provider runs against the emulator in-process through `httpx.ASGITransport`)."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest

from kassa.domain import (
    Money,
    NotificationRejected,
    Payment,
    PaymentStatus,
    ProviderAccount,
    ProviderDeclined,
    ProviderUnavailable,
    Refund,
    RefundStatus,
    RefundUpdate,
)
from kassa.providers import PaymentRequest, RedirectConfirmation, Verdict
from kassa.providers.base import InboundRequest
from kassa.providers.wire import MALFORMED, value_amount
from kassa.providers.yookassa import YooKassaProvider
from kassa.providers.yookassa.provider import (
    DEFAULT_RETRY_AFTER_MS,
    MAX_RETRY_AFTER_MS,
    _retry_after_ms,
)
from kassa.providers.yookassa.wire import (
    YooKassaRefundStatus,
    YooKassaStatus,
    kassa_refund_status,
    kassa_status,
    payment_update,
    read_notification,
    refund_update,
    truncate,
)
from tests.emulators.yookassa import YOOKASSA_ADDRESS, YooKassaEmulator

T = TypeVar("T")
API = "http://yookassa.test/v3"
SOURCES = [ipaddress.ip_network("185.71.76.0/27"), ipaddress.ip_network("2a02:5180:0:1509::/64")]


def account(shop_id: str, secret_key: str) -> ProviderAccount:
    return ProviderAccount(
        id="pa_test",
        shop_id="shop_test",
        provider="yookassa",
        test=True,
        enabled=True,
        credentials={"shop_id": shop_id, "secret_key": secret_key},
    )


def run(work: Callable[[YooKassaProvider], Awaitable[T]], transport: httpx.AsyncBaseTransport) -> T:
    """Run `work` with a provider whose HTTP goes through `transport`."""

    async def go() -> T:
        async with httpx.AsyncClient(transport=transport, timeout=5) as http:
            provider = YooKassaProvider(
                account("123456", "test_key"),
                http=http,
                api_url=API,
                public_url="http://kassa.test",
                notification_sources=SOURCES,
            )
            return await work(provider)

    return asyncio.run(go())


def never_called(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"the API was called: {request.url}")


def offline(work: Callable[[YooKassaProvider], T]) -> T:
    """Run `work` with a provider whose API must not be called."""

    async def go(provider: YooKassaProvider) -> T:
        return work(provider)

    return run(go, httpx.MockTransport(never_called))


@pytest.fixture
def emulator() -> YooKassaEmulator:
    emulator = YooKassaEmulator(retry_after_ms=1)
    emulator.base_url = "http://yookassa.test"
    return emulator


def on_emulator(emulator: YooKassaEmulator, work: Callable[[YooKassaProvider], Awaitable[T]]) -> T:
    """Run `work` with a provider for a new shop of the in-process emulator."""
    shop_id, secret_key = emulator.add_shop()

    async def with_shop(provider: YooKassaProvider) -> T:
        provider.account = account(shop_id, secret_key)
        return await work(provider)

    return run(with_shop, httpx.ASGITransport(app=emulator.app))


def answering(status: int, content: bytes | None = None, **kwargs: Any) -> httpx.MockTransport:
    """A transport that answers every request the same way."""
    return httpx.MockTransport(lambda _: httpx.Response(status, content=content, **kwargs))


def a_payment(**fields: Any) -> Payment:
    now = datetime(2026, 11, 22, 6, 25, 58, 358000, tzinfo=UTC)
    values: dict[str, Any] = {
        "id": "pay_1",
        "shop_id": "shop_test",
        "test": True,
        "provider": "yookassa",
        "provider_account_id": "pa_test",
        "status": PaymentStatus.PENDING,
        "amount": 150000,
        "currency": "RUB",
        "capture": True,
        "created_at": now,
        "updated_at": now,
        "provider_payment_id": "2f3b588d-000f-5000-8000-1d6e87c7fbde",
        "description": "Order #1",
    }
    return Payment(**(values | fields))


@pytest.mark.parametrize(
    ("status", "party", "reason", "expected"),
    [
        (YooKassaStatus.PENDING, None, None, PaymentStatus.PENDING),
        (YooKassaStatus.WAITING_FOR_CAPTURE, None, None, PaymentStatus.REQUIRES_CAPTURE),
        (YooKassaStatus.SUCCEEDED, None, None, PaymentStatus.SUCCEEDED),
        (YooKassaStatus.CANCELED, "merchant", "canceled_by_merchant", PaymentStatus.CANCELED),
        (YooKassaStatus.CANCELED, "merchant", None, PaymentStatus.CANCELED),
        (YooKassaStatus.CANCELED, "yoo_kassa", "expired_on_capture", PaymentStatus.CANCELED),
        (YooKassaStatus.CANCELED, "yoo_kassa", "expired_on_confirmation", PaymentStatus.EXPIRED),
        (YooKassaStatus.CANCELED, "payment_network", "insufficient_funds", PaymentStatus.FAILED),
        (YooKassaStatus.CANCELED, "yoo_kassa", "fraud_suspected", PaymentStatus.FAILED),
        (YooKassaStatus.CANCELED, None, None, PaymentStatus.FAILED),
    ],
)
def test_status_table(
    status: YooKassaStatus, party: str | None, reason: str | None, expected: PaymentStatus
) -> None:
    assert kassa_status(status, party=party, reason=reason) == expected


def test_refund_status_table() -> None:
    assert [kassa_refund_status(s) for s in YooKassaRefundStatus] == [
        RefundStatus.PENDING,
        RefundStatus.SUCCEEDED,
        RefundStatus.FAILED,
    ]


def test_amounts_are_two_decimal_strings() -> None:
    assert value_amount(16900, "RUB") == {"value": "169.00", "currency": "RUB"}
    assert value_amount(1, "RUB") == {"value": "0.01", "currency": "RUB"}
    assert value_amount(10**15, "KZT") == {"value": "10000000000000.00", "currency": "KZT"}


def test_truncate() -> None:
    assert truncate("short") == "short"
    assert truncate("x" * 128) == "x" * 128
    assert truncate("x" * 129) == "x" * 127 + "…"


def payment_object(**fields: Any) -> dict[str, Any]:
    document = {
        "id": "2f3b588d",
        "status": "pending",
        "amount": {"value": "1500.00", "currency": "RUB"},
        "metadata": {"kassa_payment_id": "pay_1"},
    }
    return document | fields


def test_reading_payments() -> None:
    pending = payment_update(payment_object())
    assert (pending.status, pending.payment_id, pending.provider_payment_id) == (
        PaymentStatus.PENDING,
        "pay_1",
        "2f3b588d",
    )
    assert (pending.amount, pending.amount_captured) == (Money(150000, "RUB"), None)

    captured = payment_update(
        payment_object(status="succeeded", amount={"value": "600.00", "currency": "RUB"})
    )
    assert (captured.status, captured.amount, captured.amount_captured) == (
        PaymentStatus.SUCCEEDED,
        None,
        60000,
    )

    declined = payment_update(
        payment_object(
            status="canceled",
            cancellation_details={"party": "payment_network", "reason": "card_expired"},
        )
    )
    assert (declined.status, declined.failure_code) == (PaymentStatus.FAILED, "card_expired")
    assert (
        declined.failure_message == "YooKassa canceled the payment (payment_network: card_expired)"
    )

    assert payment_update(payment_object(status="in_review")).status == PaymentStatus.PENDING
    assert payment_update(payment_object(metadata=None)).payment_id is None


@pytest.mark.parametrize(
    "fields",
    [
        {"amount": {"value": 1500.0, "currency": "RUB"}},
        {"amount": {"value": "15.001", "currency": "RUB"}},
        {"amount": {"value": "15.00", "currency": "GBP"}},
        {"id": 42},
        {"metadata": {"kassa_payment_id": ["pay_1"]}},
        {"metadata": ["pay_1"]},
        {"cancellation_details": {"reason": 3}},
    ],
)
def test_malformed_payments_raise(fields: dict[str, Any]) -> None:
    with pytest.raises(MALFORMED):
        payment_update(payment_object(**fields))


def test_reading_refunds() -> None:
    refund = refund_update(
        {
            "id": "r-1",
            "payment_id": "2f3b588d",
            "status": "canceled",
            "amount": {"value": "10.00", "currency": "RUB"},
            "cancellation_details": {"party": "yoo_kassa", "reason": "rejected_by_payee"},
        }
    )
    assert (refund.status, refund.amount, refund.provider_payment_id) == (
        RefundStatus.FAILED,
        1000,
        "2f3b588d",
    )
    assert refund.failure_message == "YooKassa canceled the refund (yoo_kassa: rejected_by_payee)"


@pytest.mark.parametrize(
    ("response", "pause"),
    [
        (httpx.Response(202, json={"type": "processing", "retry_after": 50}), 50),
        (httpx.Response(202, json={"type": "processing"}), DEFAULT_RETRY_AFTER_MS),
        (httpx.Response(202, json={"retry_after": 10**9}), MAX_RETRY_AFTER_MS),
        (httpx.Response(202, json={"retry_after": "50"}), DEFAULT_RETRY_AFTER_MS),
        (httpx.Response(202, json={"retry_after": True}), DEFAULT_RETRY_AFTER_MS),
        (httpx.Response(202, json={"retry_after": -1}), DEFAULT_RETRY_AFTER_MS),
        (httpx.Response(202, json=[1]), DEFAULT_RETRY_AFTER_MS),
        (httpx.Response(202, content=b"accepted"), DEFAULT_RETRY_AFTER_MS),
    ],
)
def test_the_pause_after_a_202(response: httpx.Response, pause: int) -> None:
    assert _retry_after_ms(response) == pause


def fetch(provider: YooKassaProvider) -> Awaitable[Any]:
    return provider.fetch(a_payment())


def test_an_error_body_is_a_refusal_with_yookassa_s_code() -> None:
    error = {
        "type": "error",
        "id": "ab1",
        "code": "invalid_request",
        "description": "Specify the amount in correct format. For example, 100.00",
        "parameter": "amount.value",
    }
    with pytest.raises(ProviderDeclined) as caught:
        run(fetch, answering(400, json=error))
    assert caught.value.provider_code == "invalid_request"
    assert caught.value.provider_message == error["description"]
    assert caught.value.message == (
        "YooKassa refused: Specify the amount in correct format. For example, 100.00 "
        "(parameter amount.value)"
    )


@pytest.mark.parametrize(
    ("transport", "error", "message"),
    [
        (answering(401, b"<html>"), ProviderDeclined, "YooKassa refused: HTTP 401"),
        (answering(429, json={"type": "error"}), ProviderUnavailable, "slow down"),
        (answering(500, json={"type": "error"}), ProviderUnavailable, "HTTP 500"),
        (answering(200, b"<html>"), ProviderUnavailable, "not JSON"),
        (answering(200, json={"id": "x"}), ProviderUnavailable, "unreadable"),
    ],
)
def test_other_answers(
    transport: httpx.MockTransport, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        run(fetch, transport)


def test_a_capture_records_no_more_than_was_asked() -> None:
    """Should YooKassa show the authorized sum after a partial capture, the captured amount is
    still the sum Kassa asked for."""
    held = payment_object(status="succeeded", amount={"value": "1500.00", "currency": "RUB"})
    update = run(
        lambda provider: provider.capture(a_payment(status=PaymentStatus.REQUIRES_CAPTURE), 60000),
        answering(200, json=held),
    )
    assert (update.status, update.amount_captured) == (PaymentStatus.SUCCEEDED, 60000)


def test_a_call_is_repeated_with_the_same_key_while_yookassa_processes_it(
    emulator: YooKassaEmulator,
) -> None:
    request = PaymentRequest(payment_id="pay_202", amount=100, currency="RUB", capture=True)
    emulator.processing_rounds = 2
    created = on_emulator(emulator, lambda provider: provider.create(request))
    assert created.provider_payment_id in emulator.payments
    assert [r.key for r in emulator.received] == ["pay_202"] * 3

    emulator.processing_rounds = 3
    with pytest.raises(ProviderUnavailable, match="after 3 attempts"):
        on_emulator(emulator, lambda provider: provider.create(request))


def test_the_create_request(emulator: YooKassaEmulator) -> None:
    request = PaymentRequest(
        payment_id="pay_c", amount=150000, currency="RUB", capture=False, method="card"
    )
    created = on_emulator(emulator, lambda provider: provider.create(request))
    (sent,) = emulator.received
    assert sent.key == "pay_c"
    assert sent.body == {
        "amount": {"value": "1500.00", "currency": "RUB"},
        "capture": False,
        "confirmation": {"type": "redirect", "return_url": "http://kassa.test/pay/pay_c"},
        "metadata": {"kassa_payment_id": "pay_c"},
        "payment_method_data": {"type": "bank_card"},
    }
    assert created.status == PaymentStatus.PENDING
    assert created.confirmation == RedirectConfirmation(
        f"http://yookassa.test/checkout/{created.provider_payment_id}"
    )


def inbound(body: bytes, source_ip: str | None = YOOKASSA_ADDRESS) -> InboundRequest:
    return InboundRequest(
        method="POST", headers={"content-type": "application/json"}, body=body, source_ip=source_ip
    )


@pytest.mark.parametrize("source", ["8.8.8.8", "185.71.76.32", "2a02:5180:0:1510::1", None, "x"])
def test_the_sender_is_checked_before_anything_else(source: str | None) -> None:
    body = b'{"type": "notification", "event": "payment.succeeded", "object": {"id": "a"}}'
    with pytest.raises(NotificationRejected):
        run(
            lambda provider: provider.parse_notification(inbound(body, source)),
            httpx.MockTransport(never_called),
        )


def test_events_kassa_does_not_keep_are_read_without_the_api() -> None:
    body = b'{"type": "notification", "event": "deal.closed", "object": {"id": "dl-1"}}'
    parsed = run(
        lambda provider: provider.parse_notification(inbound(body, "2a02:5180:0:1509::9")),
        httpx.MockTransport(never_called),
    )
    assert (parsed.event_key, list(parsed.updates)) == ("deal.closed:dl-1", [])


def test_a_notification_is_read_from_the_api_also_when_it_was_verified_before(
    emulator: YooKassaEmulator,
) -> None:
    """The worker re-reads a stored notification with `verify=False`: no address check (it
    passed when it arrived), but still the API's word, not the body's."""
    request = PaymentRequest(payment_id="pay_n", amount=100, currency="RUB", capture=True)

    async def work(provider: YooKassaProvider) -> Any:
        created = await provider.create(request)
        assert created.provider_payment_id is not None
        emulator.pay(created.provider_payment_id)
        body = emulator.notification(
            "payment.succeeded", created.provider_payment_id, amount={"value": "1.00"}
        )
        return await provider.parse_notification(inbound(body, None), verify=False)

    parsed = on_emulator(emulator, work)
    (update,) = parsed.updates
    assert (update.status, update.amount_captured) == (PaymentStatus.SUCCEEDED, 100)


def test_a_refund_yookassa_knows_is_asked_about_not_made_again(
    emulator: YooKassaEmulator,
) -> None:
    request = PaymentRequest(payment_id="pay_r", amount=1000, currency="RUB", capture=True)
    refund = Refund(
        id="re_1",
        payment_id="pay_r",
        shop_id="shop_test",
        test=True,
        amount=400,
        currency="RUB",
        status=RefundStatus.PENDING,
        created_at=datetime.now(UTC),
        updated_at=datetime.now(UTC),
    )
    emulator.refunds_settle = False

    async def work(provider: YooKassaProvider) -> tuple[RefundUpdate, RefundUpdate]:
        created = await provider.create(request)
        assert created.provider_payment_id is not None
        emulator.pay(created.provider_payment_id)
        payment = a_payment(id="pay_r", provider_payment_id=created.provider_payment_id)
        first = await provider.refund(payment, refund)
        assert first.provider_refund_id is not None
        emulator.settle_refund(first.provider_refund_id)
        known = replace(refund, provider_refund_id=first.provider_refund_id)
        return first, await provider.refund(payment, known)

    first, later = on_emulator(emulator, work)
    assert (first.status, later.status) == (RefundStatus.PENDING, RefundStatus.SUCCEEDED)
    assert len(emulator.refunds) == 1
    assert [r.method for r in emulator.received] == ["POST", "POST", "GET"]


def test_an_event_the_api_does_not_bear_out_gets_its_own_identity(
    emulator: YooKassaEmulator,
) -> None:
    request = PaymentRequest(payment_id="pay_h", amount=100, currency="RUB", capture=False)

    async def work(provider: YooKassaProvider) -> list[str | None]:
        created = await provider.create(request)
        ref = created.provider_payment_id
        assert ref is not None
        emulator.pay(ref)  # held: waiting_for_capture
        keys = []
        for event in ("payment.waiting_for_capture", "payment.succeeded", "payment.canceled"):
            body = emulator.notification(event, ref)
            keys.append((await provider.parse_notification(inbound(body))).event_key)
        return keys

    keys = on_emulator(emulator, work)
    ref = next(iter(emulator.payments))
    assert keys == [
        f"payment.waiting_for_capture:{ref}",
        f"payment.succeeded:{ref}:unconfirmed:requires_capture",
        f"payment.canceled:{ref}:unconfirmed:requires_capture",
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"null",
        b'{"type": "notification", "event": "Payment Succeeded", "object": {"id": "a"}}',
        b'{"type": "notification", "event": "payment.succeeded", "object": {"id": ""}}',
        b'{"type": "notification", "event": "payment.succeeded", "object": {"id": "a/b"}}',
        b'{"type": "notification", "event": "payment.succeeded", "object": "a"}',
        b'{"type": "notification", "event": null, "object": {"id": "a"}}',
        '{"type": "notification", "event": "\u00e9"}'.encode("latin-1"),
    ],
)
def test_unreadable_notifications(body: bytes) -> None:
    with pytest.raises(NotificationRejected, match="Unreadable YooKassa notification"):
        read_notification(body)


@pytest.mark.parametrize(
    ("event", "status"),
    [
        ("payment.waiting_for_capture", "waiting_for_capture"),
        ("payment.succeeded", "succeeded"),
        ("payment.canceled", "canceled"),
    ],
)
def test_simulated_payment_notifications(event: str, status: str) -> None:
    payment = a_payment(amount_captured=100000 if status == "succeeded" else 0)
    simulated = offline(lambda provider: provider.simulate(payment, event))
    assert (simulated.method, simulated.headers) == ("POST", {"content-type": "application/json"})
    assert read_notification(simulated.body) == (event, payment.provider_payment_id)
    document = json.loads(simulated.body)["object"]
    assert document["status"] == status
    assert document["metadata"] == {"kassa_payment_id": "pay_1"}
    assert document["test"] is True
    assert document["created_at"] == "2026-11-22T06:25:58.358Z"
    expected = "1000.00" if status == "succeeded" else "1500.00"
    assert document["amount"] == {"value": expected, "currency": "RUB"}
    assert payment_update(document).status == kassa_status(
        YooKassaStatus(status),
        party=(document.get("cancellation_details") or {}).get("party"),
        reason=(document.get("cancellation_details") or {}).get("reason"),
    )


def test_simulated_refund_notification_and_refusals() -> None:
    def work(provider: YooKassaProvider) -> None:
        refund = provider.simulate(a_payment(amount_captured=150000), "refund.succeeded")
        assert read_notification(refund.body)[0] == "refund.succeeded"
        assert refund_update(json.loads(refund.body)["object"]).amount == 150000
        with pytest.raises(ProviderDeclined, match="no YooKassa id"):
            provider.simulate(a_payment(provider_payment_id=None), "payment.succeeded")

    offline(work)


def test_replies() -> None:
    answers = {verdict: YooKassaProvider.reply(verdict, "why") for verdict in Verdict}
    assert {v: a.status_code for v, a in answers.items()} == {
        Verdict.ACCEPTED: 200,
        Verdict.DUPLICATE: 200,
        Verdict.PENDING: 200,
        Verdict.REJECTED: 403,
    }
    assert json.loads(answers[Verdict.REJECTED].body) == {"verdict": "rejected", "message": "why"}


# The emulator's own contract: what it refuses, as YooKassa documents.


def emulator_call(
    emulator: YooKassaEmulator,
    method: str,
    path: str,
    *,
    auth: tuple[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    shop = auth or emulator.add_shop()

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=emulator.app)
        async with httpx.AsyncClient(transport=transport, base_url=API + "/") as http:
            return await http.request(method, path.lstrip("/"), auth=shop, **kwargs)

    return asyncio.run(call())


def valid_create(**changes: Any) -> dict[str, Any]:
    body = {
        "amount": {"value": "169.00", "currency": "RUB"},
        "confirmation": {"type": "redirect", "return_url": "https://shop.example/"},
    }
    return body | changes


@pytest.mark.parametrize("value", [169, 169.0, "169.0", "169", "1,00", "-1.00", "0.00"])
def test_the_emulator_refuses_a_badly_written_amount(
    emulator: YooKassaEmulator, value: Any
) -> None:
    body = valid_create(amount={"value": value, "currency": "RUB"})
    answer = emulator_call(
        emulator, "POST", "/payments", json=body, headers={"Idempotence-Key": "k"}
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_request"
    assert answer.json()["parameter"] == "amount.value"
    assert emulator.payments == {}


def test_the_emulator_wants_credentials_and_keys(emulator: YooKassaEmulator) -> None:
    shop = emulator.add_shop()
    wrong = emulator_call(emulator, "GET", "/payments/x", auth=(shop[0], "test_wrong"))
    assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_credentials")
    assert set(wrong.json()) == {"type", "id", "code", "description"}

    keyless = emulator_call(emulator, "POST", "/payments", auth=shop, json=valid_create())
    assert (keyless.status_code, keyless.json()["parameter"]) == (400, "Idempotence-Key")

    headers = {"Idempotence-Key": "same"}
    first = emulator_call(
        emulator, "POST", "/payments", auth=shop, json=valid_create(), headers=headers
    )
    again = emulator_call(
        emulator, "POST", "/payments", auth=shop, json=valid_create(), headers=headers
    )
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    other = valid_create(description="another order")
    reused = emulator_call(emulator, "POST", "/payments", auth=shop, json=other, headers=headers)
    assert (reused.status_code, reused.json()["parameter"]) == (400, "Idempotence-Key")
    assert len(emulator.payments) == 1

    foreign = emulator_call(emulator, "GET", f"/payments/{first.json()['id']}")
    assert (foreign.status_code, foreign.json()["code"]) == (404, "not_found")
