"""CloudPayments' wire format, without a server: amounts, signatures, charsets, codes."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from kassa.domain import (
    Money,
    NotificationRejected,
    Payment,
    PaymentStatus,
    PaymentUpdate,
    ProviderAccount,
    RefundStatus,
    RefundUpdate,
    SignatureInvalid,
)
from kassa.providers import CheckResult, InboundRequest, Verdict, WidgetConfirmation
from kassa.providers.cloudpayments import CloudPaymentsProvider
from kassa.providers.cloudpayments.notifications import (
    check_kind,
    confirms,
    read_fields,
    read_notification,
)
from kassa.providers.cloudpayments.wire import (
    TransactionStatus,
    check_code,
    kassa_status,
    read_transaction,
    verify_signature,
    wire_amount,
)
from kassa.providers.wire import json_body

SECRET = "cp_secret"


def signed(body: bytes, **headers: str) -> InboundRequest:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
    return InboundRequest(
        method="POST",
        headers={"content-hmac": base64.b64encode(digest).decode(), **headers},
        body=body,
        kind="pay",
    )


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {"TransactionId": 455, "Amount": Decimal("65.98")},
            b'{"TransactionId":455,"Amount":65.98}',
        ),
        ({"Amount": wire_amount(150050, "RUB")}, b'{"Amount":1500.50}'),
        ({"Amount": wire_amount(1, "RUB")}, b'{"Amount":0.01}'),
        # Beyond a float's 15-16 significant digits, still exact.
        ({"Amount": wire_amount(999_999_999_999_999, "KZT")}, b'{"Amount":9999999999999.99}'),
        ({"Amount": Decimal("1E+3")}, b'{"Amount":1000}'),
        (
            {"JsonData": {"id": "re_1", "list": [1, None, True]}},
            b'{"JsonData":{"id":"re_1","list":[1,null,true]}}',
        ),
        ({"Description": "Заказ"}, b'{"Description":"\\u0417\\u0430\\u043a\\u0430\\u0437"}'),
    ],
)
def test_json_body_writes_decimals_as_exact_numbers(document: Any, expected: bytes) -> None:
    assert json_body(document) == expected


def test_json_body_refuses_floats_and_non_numbers() -> None:
    with pytest.raises(TypeError):
        json_body({"Amount": 1500.5})
    with pytest.raises(ValueError, match="not a JSON number"):
        json_body({"Amount": Decimal("NaN")})


def test_every_check_result_has_its_code() -> None:
    assert {result: int(check_code(result)) for result in CheckResult} == {
        CheckResult.ACCEPT: 0,
        CheckResult.UNKNOWN_PAYMENT: 10,
        CheckResult.WRONG_AMOUNT: 12,
        CheckResult.NOT_PAYABLE: 13,
        CheckResult.EXPIRED: 20,
    }


@pytest.mark.parametrize(
    ("verdict", "check", "status", "body"),
    [
        (Verdict.ACCEPTED, None, 200, b'{"code":0}'),
        (Verdict.DUPLICATE, None, 200, b'{"code":0}'),
        (Verdict.ACCEPTED, CheckResult.WRONG_AMOUNT, 200, b'{"code":12}'),
        (Verdict.ACCEPTED, CheckResult.EXPIRED, 200, b'{"code":20}'),
        (Verdict.REJECTED, None, 401, b'{"code":13}'),
        (Verdict.PENDING, None, 500, b'{"code":13}'),
    ],
)
def test_replies(verdict: Verdict, check: CheckResult | None, status: int, body: bytes) -> None:
    reply = CloudPaymentsProvider.reply(verdict, "whatever", check)
    assert (reply.status_code, reply.body, reply.media_type) == (status, body, "application/json")


def test_every_transaction_status_is_mapped() -> None:
    assert {status: kassa_status(status) for status in TransactionStatus} == {
        TransactionStatus.AWAITING_AUTHENTICATION: PaymentStatus.PENDING,
        TransactionStatus.AUTHORIZED: PaymentStatus.REQUIRES_CAPTURE,
        TransactionStatus.COMPLETED: PaymentStatus.SUCCEEDED,
        TransactionStatus.CANCELLED: PaymentStatus.CANCELED,
        TransactionStatus.DECLINED: PaymentStatus.FAILED,
    }


def test_an_unknown_transaction_status_reads_as_pending() -> None:
    model = {"TransactionId": 5, "Amount": Decimal("10.00"), "Currency": "RUB", "Status": "New"}
    transaction = read_transaction(model)
    assert (transaction.status, transaction.update.status) == (None, PaymentStatus.PENDING)


def test_signature_is_base64_over_the_raw_bytes() -> None:
    body = b"TransactionId=1&Amount=10.00&Name=A+B"
    verify_signature(SECRET, signed(body))
    hex_digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    with pytest.raises(SignatureInvalid):
        verify_signature(SECRET, InboundRequest("POST", {"content-hmac": hex_digest}, body))
    with pytest.raises(SignatureInvalid):
        verify_signature(SECRET, InboundRequest("POST", {"content-hmac": "Привет"}, body))


def test_get_notifications_are_signed_over_the_query_string() -> None:
    query = "TransactionId=1&Amount=10.00"
    digest = hmac.new(SECRET.encode(), query.encode(), hashlib.sha256).digest()
    request = InboundRequest(
        "GET", {"content-hmac": base64.b64encode(digest).decode()}, b"", query=query
    )
    verify_signature(SECRET, request)
    assert read_fields(request) == {"TransactionId": "1", "Amount": "10.00"}


@pytest.mark.parametrize(
    ("content_type", "encoding"),
    [
        ("application/x-www-form-urlencoded", "utf-8"),
        ("application/x-www-form-urlencoded", "windows-1251"),
        ("application/x-www-form-urlencoded; charset=windows-1251", "windows-1251"),
        ("application/x-www-form-urlencoded; charset=UTF-8", "utf-8"),
    ],
)
def test_forms_decode_in_their_charset(content_type: str, encoding: str) -> None:
    body = urlencode({"Name": "Иван Ёжиков", "Amount": "1.00"}, encoding=encoding).encode()
    request = InboundRequest("POST", {"content-type": content_type}, body)
    assert read_fields(request)["Name"] == "Иван Ёжиков"


def test_a_declared_charset_wins_and_an_unknown_one_is_refused() -> None:
    body = "Name=Иван".encode("cp1251")
    declared = InboundRequest("POST", {"content-type": "text/plain; charset=koi8-r"}, body)
    with pytest.raises(NotificationRejected, match="does not send"):
        read_fields(declared)
    bogus = InboundRequest("POST", {"content-type": "text/plain; charset=nope"}, body)
    with pytest.raises(NotificationRejected, match="Unknown charset"):
        read_fields(bogus)


def test_json_numbers_are_decimals_and_repeated_fields_are_refused() -> None:
    json_request = InboundRequest(
        "POST", {"content-type": "application/json"}, b'{"Amount": 10.10, "TransactionId": 7}'
    )
    assert read_fields(json_request) == {"Amount": Decimal("10.10"), "TransactionId": 7}
    for body in (b"Amount=1.00&Amount=100.00", b'{"Amount": 1, "Amount": 2}'):
        with pytest.raises(ValueError, match="twice"):
            read_fields(InboundRequest("POST", {}, body))


def test_pay_with_status_authorized_is_a_hold() -> None:
    fields = {
        "TransactionId": "42",
        "Amount": "1500.50",
        "Currency": "RUB",
        "InvoiceId": "pay_1",
        "Status": "Authorized",
    }
    (update,) = read_notification("pay", fields).updates
    assert isinstance(update, PaymentUpdate)
    assert update.status == PaymentStatus.REQUIRES_CAPTURE
    assert update.amount == Money(150050, "RUB")
    assert read_notification("pay", fields).event_key == "pay:42"


def test_refund_names_kassas_refund_when_data_echoes_it() -> None:
    fields = {
        "TransactionId": "43",
        "PaymentTransactionId": "42",
        "Amount": "5.00",
        "InvoiceId": "pay_1",
        "Data": '{"kassa_refund_id": "re_1"}',
    }
    notification = read_notification("refund", fields)
    assert notification.event_key == "refund:43"
    assert notification.updates == [
        RefundUpdate(
            status=RefundStatus.SUCCEEDED,
            amount=500,
            refund_id="re_1",
            provider_refund_id="43",
            payment_id="pay_1",
            provider_payment_id="42",
        )
    ]


def test_check_carries_the_invoice_and_amount() -> None:
    notification = read_notification(
        "check", {"TransactionId": 9, "Amount": Decimal("10"), "Currency": "KZT", "InvoiceId": ""}
    )
    assert notification.event_key is None
    assert notification.check is not None
    assert (notification.check.payment_id, notification.check.amount) == (None, Money(1000, "KZT"))


def test_widget_options_follow_the_payment() -> None:
    now = datetime.now(UTC)
    payment = Payment(
        id="pay_1",
        shop_id="shop_1",
        test=True,
        provider="cloudpayments",
        provider_account_id="pa_1",
        status=PaymentStatus.PENDING,
        amount=100005,
        currency="KZT",
        capture=False,
        created_at=now,
        updated_at=now,
    )
    account = ProviderAccount(
        id="pa_1",
        shop_id="shop_1",
        provider="cloudpayments",
        test=True,
        enabled=True,
        credentials={
            "public_id": "test_api_1",
            "api_secret": SECRET,
            "widget_url": "https://widget.tiptoppay.kz/bundles/widget.js",
        },
    )
    provider = CloudPaymentsProvider(
        account, http=httpx.AsyncClient(), api_url="https://api", public_url="https://kassa"
    )
    page = provider.payer_page(payment, language="ru")
    assert page.widget == WidgetConfirmation(
        "https://widget.tiptoppay.kz/bundles/widget.js",
        {
            "method": "auth",
            "public-id": "test_api_1",
            "amount": "1000.05",
            "currency": "KZT",
            "description": "pay_1",
            "invoice-id": "pay_1",
            "language": "ru-RU",
        },
    )
    origin = "https://widget.tiptoppay.kz"
    assert page.sources == {
        "script-src": (origin,),
        "frame-src": (origin,),
        "connect-src": (origin,),
        "img-src": (origin,),
        "font-src": (origin,),
        "style-src": (origin, "'unsafe-inline'"),
    }
    assert provider.payer_script is not None
    assert "window.kassaWidget" in provider.payer_script.read_text()


PAYMENT = {"TransactionId": "42", "Amount": "15.00", "Currency": "RUB", "InvoiceId": "pay_1"}


@pytest.mark.parametrize(
    ("kind", "fields", "refused"),
    [
        ("pay", {"Status": "Authorized", "OperationType": "Payment"}, False),
        ("pay", {"Status": "Completed"}, False),
        ("pay", {"Status": "Declined"}, True),
        ("pay", {"Status": "Cancelled"}, True),
        ("pay", {}, True),
        ("pay", {"Status": "Completed", "OperationType": "Refund"}, True),
        ("confirm", {"Status": "Completed"}, False),
        ("confirm", {"Status": "Authorized"}, True),
        ("cancel", {"Status": "Cancelled"}, False),
        ("cancel", {}, False),  # its fields are not documented: the API decides
        ("cancel", {"Status": "Authorized"}, True),
        ("fail", {"Status": "Declined", "ReasonCode": "5051"}, False),
        ("fail", {"Status": "Completed"}, True),
        ("fail", {}, True),
        ("refund", {"OperationType": "Refund", "PaymentTransactionId": "41"}, False),
        ("refund", {"OperationType": "Payment", "Status": "Completed"}, True),
        ("check", {"Status": "Completed"}, False),
        ("check", {"Status": "Declined"}, True),
        ("check", {"OperationType": "Refund"}, True),
        ("recurrent", {"Status": "Active"}, False),  # not acted on
    ],
)
def test_a_body_must_fit_the_kind_of_its_url(
    kind: str, fields: dict[str, str], refused: bool
) -> None:
    values = {**PAYMENT, **fields}
    if refused:
        with pytest.raises(NotificationRejected):
            check_kind(kind, values)
    else:
        check_kind(kind, values)


def test_an_unknown_status_is_unreadable() -> None:
    with pytest.raises(ValueError, match="Pending"):
        check_kind("pay", {**PAYMENT, "Status": "Pending"})


@pytest.mark.parametrize(
    ("kind", "claimed", "api", "confirmed"),
    [
        ("pay", "Authorized", "Authorized", True),
        ("pay", "Authorized", "Completed", True),  # captured since: a late Pay is true
        ("pay", "Authorized", "Cancelled", True),
        ("pay", "Completed", "Completed", True),
        ("pay", "Completed", "Declined", False),  # a Check's body: the card was declined
        ("pay", "Authorized", "AwaitingAuthentication", False),
        ("confirm", "Completed", "Authorized", False),
        ("confirm", "Completed", "Completed", True),
        ("cancel", None, "Cancelled", True),
        ("cancel", None, "Authorized", False),
    ],
)
def test_the_api_must_bear_out_what_the_body_says(
    kind: str, claimed: str | None, api: str, confirmed: bool
) -> None:
    values = {**PAYMENT, **({"Status": claimed} if claimed else {})}
    found = read_transaction({**PAYMENT, "TransactionId": 42, "Status": api})
    assert (confirms(kind, values, found) is None) is confirmed


@pytest.mark.parametrize(
    "model",
    [
        {**PAYMENT, "InvoiceId": "pay_2"},
        {**PAYMENT, "Currency": "USD"},
        {**PAYMENT, "OperationType": "Refund"},
    ],
)
def test_the_api_must_describe_the_bodys_transaction(model: dict[str, str]) -> None:
    found = read_transaction({**model, "Status": "Completed"})
    assert confirms("pay", {**PAYMENT, "Status": "Completed"}, found) is not None


@pytest.mark.parametrize("number", ["9223372036854775808", "1" * 40, "1" * 5000])
def test_transaction_numbers_beyond_64_bits_are_unreadable(number: str) -> None:
    with pytest.raises(ValueError, match="not a transaction number"):
        read_notification("pay", {**PAYMENT, "TransactionId": number, "Status": "Completed"})
