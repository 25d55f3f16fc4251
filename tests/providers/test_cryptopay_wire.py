"""Crypto Pay's wire format, without a database: amounts, the status table, reading invoices
and webhooks, the signature, the retry window, and which host a testnet app's calls go to
(the provider runs against the emulator in-process through `httpx.ASGITransport`)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from kassa.domain import (
    Money,
    NotificationRejected,
    ParameterInvalid,
    Payment,
    PaymentStatus,
    ProviderAccount,
    ProviderDeclined,
    ProviderUnavailable,
    SignatureInvalid,
)
from kassa.providers import InvoiceLinkConfirmation, PaymentRequest
from kassa.providers.base import InboundRequest
from kassa.providers.cryptopay import CryptoPayProvider
from kassa.providers.cryptopay.wire import (
    MAINNET_URL,
    RETRY_WINDOW,
    TESTNET_URL,
    ApiError,
    InvoiceStatus,
    check_fresh,
    invoice_params,
    invoice_update,
    kassa_status,
    read_envelope,
    read_update,
    sign,
    verify_signature,
    wire_amount,
)
from kassa.providers.wire import MALFORMED
from tests.emulators.cryptopay import CryptoPayEmulator, signature

TOKEN = "12345:AAtesttoken"


def provider(
    *,
    transport: httpx.AsyncBaseTransport,
    token: str = TOKEN,
    test: bool = True,
    api_url: str | None = None,
    **credentials: str,
) -> CryptoPayProvider:
    account = ProviderAccount(
        id="pa_test",
        shop_id="shop_test",
        provider="cryptopay",
        test=test,
        enabled=True,
        credentials={"token": token, **credentials},
        api_url=api_url,
    )
    return CryptoPayProvider(
        account,
        http=httpx.AsyncClient(transport=transport),
        api_url=api_url or CryptoPayProvider.default_api_url,
        public_url="http://kassa.test",
    )


def request(**changes: Any) -> PaymentRequest:
    fields: dict[str, Any] = {
        "payment_id": "pay_1",
        "amount": 10000,
        "currency": "RUB",
        "capture": True,
    }
    return PaymentRequest(**(fields | changes))


@pytest.mark.parametrize(
    ("amount", "currency", "wire"),
    [
        (10000, "RUB", "100"),
        (12345, "RUB", "123.45"),
        (12340, "KZT", "123.4"),
        (1, "USDT", "0.000001"),
        (1_000_000, "USDT", "1"),
        (1, "TON", "0.000000001"),
        (10**15, "BTC", "10000000"),
    ],
)
def test_amounts_are_exact_decimal_strings_both_ways(amount: int, currency: str, wire: str) -> None:
    assert wire_amount(amount, currency) == wire
    assert Money.from_major(wire, currency) == Money(amount, currency)


def test_invoice_params_by_kind() -> None:
    def params(currency: str, amount: int = 100, **options: Any) -> dict[str, str]:
        fields: dict[str, Any] = {"description": None, "expires_in": None, "accepted_assets": None}
        return invoice_params(
            payment_id="pay_1", amount=amount, currency=currency, **(fields | options)
        )

    assert params("TON", 5) == {
        "amount": "0.000000005",
        "payload": "pay_1",
        "currency_type": "crypto",
        "asset": "TON",
    }
    fiat = params("USD", accepted_assets="USDT")
    assert (fiat["currency_type"], fiat["fiat"], fiat["accepted_assets"]) == ("fiat", "USD", "USDT")
    # expires_in is kept within what Crypto Pay takes; the description is cut to 1024.
    long = params("RUB", expires_in=10**9, description="x" * 2000)
    assert (long["expires_in"], len(long["description"])) == ("2678400", 1024)
    assert params("RUB", expires_in=-5)["expires_in"] == "1"
    with pytest.raises(ValueError, match="XTR"):
        params("XTR")


def test_every_status_is_read() -> None:
    assert {s: kassa_status(s) for s in InvoiceStatus} == {
        InvoiceStatus.ACTIVE: PaymentStatus.PENDING,
        InvoiceStatus.PAID: PaymentStatus.SUCCEEDED,
        InvoiceStatus.EXPIRED: PaymentStatus.CANCELED,
    }


INVOICE = {
    "invoice_id": 1001,
    "status": "paid",
    "currency_type": "fiat",
    "fiat": "RUB",
    "amount": "150.5",
    "paid_asset": "USDT",
    "paid_amount": "1.672222",
    "payload": "pay_1",
}


def test_an_invoice_is_read_in_its_own_currency() -> None:
    update = invoice_update(INVOICE)
    assert (update.status, update.payment_id, update.provider_payment_id) == (
        PaymentStatus.SUCCEEDED,
        "pay_1",
        "1001",
    )
    assert update.amount == Money(15050, "RUB")  # not the USDT it was paid in
    crypto = {"invoice_id": 7, "status": "active", "asset": "BTC", "amount": "0.00000001"}
    assert invoice_update(crypto).amount == Money(1, "BTC")
    assert invoice_update(crypto).payment_id is None
    expired = invoice_update({**INVOICE, "status": "expired"})
    assert (expired.status, expired.failure_code) == (PaymentStatus.CANCELED, "expired")
    assert invoice_update({**INVOICE, "status": "refunded"}).status == PaymentStatus.PENDING


@pytest.mark.parametrize(
    "changes",
    [
        {"invoice_id": "1001"},
        {"invoice_id": True},
        {"invoice_id": 0},
        {"amount": 150.5},
        {"amount": "1.001"},  # more decimals than RUB has
        {"fiat": "XYZ"},
        {"payload": 5},
    ],
)
def test_a_malformed_invoice_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(MALFORMED):
        invoice_update({**INVOICE, **changes})


def test_envelopes() -> None:
    assert read_envelope({"ok": True, "result": {"a": 1}}) == {"a": 1}
    assert read_envelope({"ok": False, "error": {"code": 401, "name": "UNAUTHORIZED"}}) == ApiError(
        401, "UNAUTHORIZED"
    )
    assert read_envelope({"ok": False}) == ApiError(None, "UNKNOWN_ERROR")
    with pytest.raises(MALFORMED):
        read_envelope({"result": 1})


def test_the_signature_is_keyed_by_the_raw_digest_of_the_token() -> None:
    body = b'{"update_id":1}'
    assert sign(TOKEN, body) == signature(TOKEN, body)  # the emulator's, written apart
    verify_signature(TOKEN, body, sign(TOKEN, body).upper())
    for wrong in (None, "", "zz", sign("other", body), sign(TOKEN, body + b" ")):
        with pytest.raises(SignatureInvalid):
            verify_signature(TOKEN, body, wrong)
    with pytest.raises(SignatureInvalid):
        verify_signature(TOKEN, body, "é" + sign(TOKEN, body)[1:])  # not ASCII: no crash


def update_body(**changes: Any) -> bytes:
    document = {
        "update_id": 5,
        "update_type": "invoice_paid",
        "request_date": "2026-12-06T10:00:00.123Z",
        "payload": INVOICE,
    }
    return json.dumps(document | changes).encode()


def test_a_webhook_is_read_and_dated() -> None:
    update = read_update(update_body())
    assert (update.update_id, update.update_type) == (5, "invoice_paid")
    assert update.request_date == datetime(2026, 12, 6, 10, 0, 0, 123000, tzinfo=UTC)
    check_fresh(update, update.request_date + RETRY_WINDOW)
    with pytest.raises(NotificationRejected, match="3-day window"):
        check_fresh(update, update.request_date + RETRY_WINDOW + timedelta(seconds=1))


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        update_body(update_id="5"),
        update_body(update_id=None),
        update_body(request_date="yesterday"),
        update_body(request_date="2026-12-06T10:00:00"),  # no time zone
        update_body(payload="1001"),
        update_body(update_type=None),
    ],
)
def test_an_unreadable_webhook_is_refused(body: bytes) -> None:
    with pytest.raises(NotificationRejected):
        read_update(body)


def a_payment(**fields: Any) -> Payment:
    now = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    values: dict[str, Any] = {
        "id": "pay_1",
        "shop_id": "shop_test",
        "test": True,
        "provider": "cryptopay",
        "provider_account_id": "pa_test",
        "status": PaymentStatus.PENDING,
        "amount": 10000,
        "currency": "RUB",
        "capture": True,
        "created_at": now,
        "updated_at": now,
        "provider_payment_id": "1001",
    }
    return Payment(**(values | fields))


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def recording(testnet: CryptoPayEmulator, seen: list[httpx.URL]) -> httpx.AsyncBaseTransport:
    """Crypto Pay in-process: `testnet` at the testnet's host, a mainnet emulator (which
    knows none of its apps) anywhere else; every URL asked for noted."""
    nets = {
        "testnet-pay.crypt.bot": httpx.ASGITransport(app=testnet.app),
        None: httpx.ASGITransport(app=CryptoPayEmulator().app),
    }

    class Recording(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request.url)
            net = nets.get(request.url.host) or nets[None]
            return await net.handle_async_request(request)

    return Recording()


def test_testnet_follows_the_test_mode_unless_set() -> None:
    emulator = CryptoPayEmulator(testnet=True)
    app = emulator.add_app()
    seen: list[httpx.URL] = []
    transport = recording(emulator, seen)

    def gateway(**options: Any) -> CryptoPayProvider:
        return provider(transport=transport, token=app.token, **options)

    test_account = gateway()
    created = run(test_account.create(request()))
    assert str(seen[-1]).startswith(f"{TESTNET_URL}/createInvoice?")
    assert isinstance(created.confirmation, InvoiceLinkConfirmation)
    assert created.confirmation.url.startswith("https://t.me/CryptoTestnetBot?start=")
    invoice = a_payment(provider_payment_id=created.provider_payment_id)
    assert run(test_account.fetch(invoice)).status == PaymentStatus.PENDING
    # The mainnet does not know a testnet app: refused there, as Crypto Pay would.
    with pytest.raises(ProviderDeclined, match="UNAUTHORIZED"):
        run(gateway(testnet="false").fetch(invoice))
    assert str(seen[-1]).startswith(f"{MAINNET_URL}/getInvoices?")
    with pytest.raises(ProviderDeclined):
        run(gateway(test=False).fetch(invoice))
    assert str(seen[-1]).startswith(f"{MAINNET_URL}/getInvoices?")
    # An api_url set by hand wins (an emulator, a proxy).
    with pytest.raises(ProviderDeclined):
        run(gateway(api_url="http://proxy.test/api", testnet="true").fetch(invoice))
    assert str(seen[-1]).startswith("http://proxy.test/api/getInvoices?")
    asked = len(seen)
    with pytest.raises(ParameterInvalid, match="only be a test account"):
        run(gateway(test=False, testnet="true").create(request()))
    with pytest.raises(ParameterInvalid, match="testnet must be true or false"):
        run(gateway(testnet="maybe").create(request()))
    with pytest.raises(ParameterInvalid, match="link must be one of"):
        run(gateway(link="email").create(request()))
    assert len(seen) == asked  # nothing was sent


def test_answers_that_are_not_the_envelope() -> None:
    def answering(status: int, content: bytes) -> httpx.AsyncBaseTransport:
        return httpx.MockTransport(lambda _: httpx.Response(status, content=content))

    with pytest.raises(ProviderUnavailable, match="unreadable"):
        run(provider(transport=answering(200, b"<html>")).create(request()))
    with pytest.raises(ProviderUnavailable, match="429"):
        run(provider(transport=answering(429, b"")).create(request()))
    with pytest.raises(ProviderUnavailable, match="HTTP 502"):
        run(provider(transport=answering(502, b"")).create(request()))
    with pytest.raises(ProviderDeclined, match="HTTP 404"):
        run(provider(transport=answering(404, b"<html>Not Found</html>")).create(request()))
    refused = b'{"ok":false,"error":{"code":400,"name":"AMOUNT_TOO_SMALL"}}'
    with pytest.raises(ProviderDeclined, match="AMOUNT_TOO_SMALL") as declined:
        run(provider(transport=answering(400, refused)).create(request()))
    assert declined.value.provider_code == "AMOUNT_TOO_SMALL"


def test_parse_notification_checks_signature_then_date() -> None:
    gateway = provider(transport=httpx.MockTransport(lambda _: httpx.Response(500)))
    now = datetime.now(UTC).isoformat()
    body = update_body(request_date=now)
    signed = InboundRequest("POST", {"crypto-pay-api-signature": sign(TOKEN, body)}, body)
    parsed = run(gateway.parse_notification(signed))
    assert parsed.event_key == "invoice_paid:1001"
    assert parsed.updates[0].status == PaymentStatus.SUCCEEDED
    old = update_body(request_date="2020-01-01T00:00:00Z")
    with pytest.raises(NotificationRejected, match="window"):
        run(
            gateway.parse_notification(
                InboundRequest("POST", {"crypto-pay-api-signature": sign(TOKEN, old)}, old)
            )
        )
    # Stored and re-read later by Kassa's worker: neither is checked again.
    assert run(gateway.parse_notification(InboundRequest("POST", {}, old), verify=False)).event_key
    other = update_body(update_type="invoice_refunded", request_date=now)
    unknown = InboundRequest("POST", {"crypto-pay-api-signature": sign(TOKEN, other)}, other)
    assert run(gateway.parse_notification(unknown)).updates == ()
