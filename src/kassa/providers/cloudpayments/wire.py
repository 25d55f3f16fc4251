"""CloudPayments' wire format: amounts, signatures, statuses and codes, notification fields,
and the API's answers. No HTTP here: `provider.py` makes the calls, `notifications.py` reads
what CloudPayments posts.

Facts come from a saved copy of the official API docs ([official copy]) unless marked
otherwise; see `reference/providers.md` section 2.

- API: `POST` with JSON, HTTP Basic auth (Public ID, API secret), an `X-Request-ID` header for
  idempotency (the result for an id is kept for one hour), answers `{"Success", "Message",
  "Model"}`. `Success: true` does not mean paid: `Model.Status` says what the transaction is.
  `Amount` is a JSON number in major units (`1500.5`).
- Notifications: one URL per type (`/hooks/cloudpayments/{shop}/{check|pay|fail|confirm|refund|
  cancel}`), form-urlencoded by POST (or the query string by GET, CloudPayments' default), in
  UTF-8 or Windows-1251, or JSON; signed with `Content-HMAC` = base64 HMAC-SHA256 of the raw
  bytes keyed with the API secret ([official SDK]: the Bitrix module). CloudPayments expects
  `{"code": 0}` back; only Check's code matters ([3rd-party code]).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any, assert_never
from urllib.parse import unquote_to_bytes

from kassa.domain import (
    Money,
    PaymentStatus,
    PaymentUpdate,
    ProviderDeclined,
    SignatureInvalid,
    currency_exponent,
)
from kassa.domain.money import to_decimal
from kassa.providers.base import CheckResult, InboundRequest
from kassa.providers.wire import signature_matches

SIGNATURE_HEADER = "content-hmac"
#: The same HMAC over the URL-decoded parameters. Integrators report this; CloudPayments'
#: official wording of the difference between the two headers is NOT FOUND.
DECODED_SIGNATURE_HEADER = "x-content-hmac"

#: The notification types Kassa acts on, as the last segment of the notification URL.
NOTIFICATION_KINDS = ("check", "pay", "fail", "confirm", "refund", "cancel")
#: The other types CloudPayments sends ([3rd-party code]: izatop/cloudpayments): stored and
#: acknowledged; of a Receipt only the receipt's registration is kept (`notifications.py`),
#: nothing else applied. A URL ending with anything else is no CloudPayments one.
OTHER_KINDS = ("recurrent", "receipt")

#: CloudPayments takes more currencies; these are the ones Kassa knows. All have two decimals,
#: which the refund notification relies on (it carries no `Currency`).
CURRENCIES = frozenset({"RUB", "KZT", "USD", "EUR"})
_EXPONENT_CURRENCY = "RUB"
assert {currency_exponent(c) for c in CURRENCIES} == {currency_exponent(_EXPONENT_CURRENCY)}


class TransactionStatus(StrEnum):
    """Statuses of a CloudPayments transaction ([3rd-party code]: izatop/cloudpayments)."""

    AWAITING_AUTHENTICATION = "AwaitingAuthentication"
    AUTHORIZED = "Authorized"
    COMPLETED = "Completed"
    CANCELLED = "Cancelled"
    DECLINED = "Declined"


def kassa_status(status: TransactionStatus) -> PaymentStatus:
    """A transaction's status in Kassa's terms; every case mapped, none guessed."""
    match status:
        case TransactionStatus.AWAITING_AUTHENTICATION:
            return PaymentStatus.PENDING  # the payer is in 3-D Secure
        case TransactionStatus.AUTHORIZED:
            return PaymentStatus.REQUIRES_CAPTURE
        case TransactionStatus.COMPLETED:
            return PaymentStatus.SUCCEEDED
        case TransactionStatus.CANCELLED:
            return PaymentStatus.CANCELED
        case TransactionStatus.DECLINED:
            return PaymentStatus.FAILED
        case _:
            assert_never(status)


class CheckCode(IntEnum):
    """Answers to a Check notification ([3rd-party code]: izatop/cloudpayments ResponseCodes).
    Any non-zero code refuses the payment; the codes only say why."""

    ACCEPT = 0
    INVALID_INVOICE = 10
    INVALID_ACCOUNT = 11
    INVALID_AMOUNT = 12
    REJECTED = 13
    EXPIRED = 20


def check_code(result: CheckResult) -> CheckCode:
    """Kassa's answer to a Check in CloudPayments' codes."""
    match result:
        case CheckResult.ACCEPT:
            return CheckCode.ACCEPT
        case CheckResult.UNKNOWN_PAYMENT:
            return CheckCode.INVALID_INVOICE
        case CheckResult.WRONG_AMOUNT:
            return CheckCode.INVALID_AMOUNT
        case CheckResult.NOT_PAYABLE:
            return CheckCode.REJECTED
        case CheckResult.EXPIRED:
            return CheckCode.EXPIRED
        case _:
            assert_never(result)


def wire_amount(amount: int, currency: str) -> Decimal:
    """Minor units to CloudPayments' major-unit amount: 150050 RUB → Decimal("1500.50")."""
    return to_decimal(amount, currency)


def sign(secret: str, message: bytes) -> str:
    """A notification's `Content-HMAC`: base64 of HMAC-SHA256 over `message`."""
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def url_decoded(message: bytes) -> bytes:
    """What `X-Content-HMAC` is reported to be computed over: the parameters URL-decoded
    (`+` as a space, `%XX` as the byte), at the byte level, so the charset does not matter."""
    return unquote_to_bytes(message.replace(b"+", b" "))


def signed_message(request: InboundRequest) -> bytes:
    """The bytes a notification is signed over: the body, or the raw query string of a GET."""
    return request.query.encode() if request.method.upper() == "GET" else request.body


def verify_signature(secret: str, request: InboundRequest) -> None:
    """Raise `SignatureInvalid` unless `Content-HMAC` matches the raw bytes, or
    `X-Content-HMAC` matches them URL-decoded; compared in constant time."""
    message = signed_message(request)
    candidates = (
        (SIGNATURE_HEADER, message),
        (DECODED_SIGNATURE_HEADER, url_decoded(message)),
    )
    for header, signed in candidates:
        given = request.headers.get(header)
        if given is not None and signature_matches(given.strip(), sign(secret, signed)):
            return
    raise SignatureInvalid("Content-HMAC does not match the notification")


class Fields:
    """Typed access to a notification's fields, whether they came as form text or JSON."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise TypeError(f"{name} is not text")
        if isinstance(value, str) and "\x00" in value:
            raise ValueError(f"{name} holds a NUL character")  # PostgreSQL's text cannot
        return str(value)

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise KeyError(name)
        return value

    def transaction_id(self, name: str = "TransactionId") -> str:
        value = self.required(name)
        # An integer in CloudPayments' models; that it fits in 64 bits is assumed (its width
        # is NOT FOUND), so a longer one is refused rather than stored.
        if not value.isascii() or not value.isdigit() or len(value.lstrip("0")) > 19:
            raise ValueError(f"{name} {value[:40]!r} is not a transaction number")
        number = int(value)
        if number >= 2**63:
            raise ValueError(f"{name} {value!r} is not a transaction number")
        return str(number)

    def money(self, *, currency_required: bool = True) -> Money:
        """`Amount` (a decimal string in forms, a number in JSON) in `Currency`."""
        value = self.values.get("Amount")
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise TypeError("Amount is not a decimal number")
        currency = self.required("Currency") if currency_required else self.text("Currency")
        return Money.from_major(value, currency or _EXPONENT_CURRENCY)

    def data(self) -> Mapping[str, Any]:
        """`Data`: the JsonData, sent as a JSON string (an object in JSON bodies). Only a hint
        (see `read_notification`), so a `Data` that is not a JSON object reads as empty
        rather than making a genuine notification unreadable."""
        value = self.values.get("Data")
        if isinstance(value, str):
            try:
                value = json.loads(value, parse_float=Decimal)
            except ValueError:
                return {}
        return value if isinstance(value, dict) else {}


#: The key of Kassa's refund id in a refund's JsonData (see `CloudPaymentsProvider.refund`).
REFUND_DATA_KEY = "kassa_refund_id"


# Reading API answers


@dataclass(frozen=True, slots=True)
class Envelope:
    """CloudPayments' answer to an API call."""

    success: bool
    message: str | None
    model: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class Transaction:
    """A transaction as `/payments/get` or `/v2/payments/find` describe it. `status` is None
    for a status Kassa does not know; `update` reads it as pending then."""

    transaction_id: str
    status: TransactionStatus | None
    operation: str | None
    invoice_id: str | None
    currency: str
    update: PaymentUpdate


def read_transaction(model: Mapping[str, Any]) -> Transaction:
    """A transaction model; raises one of `kassa.providers.wire.MALFORMED` if it cannot be read."""
    fields = Fields(model)
    transaction = fields.transaction_id()
    money = fields.money()
    try:
        status: TransactionStatus | None = TransactionStatus(fields.required("Status"))
    except ValueError:
        status = None
    common: dict[str, Any] = {
        "payment_id": fields.text("InvoiceId"),
        "provider_payment_id": transaction,
    }
    if status == TransactionStatus.COMPLETED:
        # Completed may be a partial confirmation: Amount is then what was taken (assumed,
        # as for the Confirm notification), so it becomes the captured amount.
        update = PaymentUpdate(PaymentStatus.SUCCEEDED, amount_captured=money.amount, **common)
    elif status == TransactionStatus.DECLINED:
        update = PaymentUpdate(
            PaymentStatus.FAILED,
            amount=money,
            failure_code=fields.text("Reason") or fields.text("ReasonCode"),
            failure_message=fields.text("CardHolderMessage"),
            **common,
        )
    else:
        known = PaymentStatus.PENDING if status is None else kassa_status(status)
        update = PaymentUpdate(known, amount=money, **common)
    return Transaction(
        transaction_id=transaction,
        status=status,
        operation=fields.text("OperationType"),
        invoice_id=fields.text("InvoiceId"),
        currency=money.currency,
        update=update,
    )


def transaction_number(reference: str) -> int:
    if not reference.isascii() or not reference.isdigit():
        raise ProviderDeclined(f"{reference!r} is not a CloudPayments transaction number")
    return int(reference)
