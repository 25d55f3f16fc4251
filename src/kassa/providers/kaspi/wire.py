"""Kaspi's wire formats: the QR partner API's envelope, statuses and amounts, and the
check/pay protocol's requests and answers.

Kaspi publishes no merchant API document; everything here is read from third-party code
(see `docs/providers/kaspi.md` for each fact and how sure it is):

- QR partner API: every answer is `{"StatusCode": int, "Message": str, "Data": {...}}`,
  `StatusCode` 0 meaning success. Amounts are JSON numbers in tenge; their precision is NOT
  FOUND, so Kassa sends whole tenge only and refuses an amount with tiyn rather than rounding
  it (tiyn have not been in circulation for years).
- check/pay: Kaspi calls `GET …?command=check|pay&txn_id&account&sum&txn_date`; `sum` is
  tenge with two decimals. The answer is JSON `{txn_id, result, prv_txn_id, sum, comment}`,
  `result` one of `ResultCode`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any, assert_never
from urllib.parse import parse_qs

from kassa.domain import AmountInvalid, Money, PaymentStatus, ProviderDeclined
from kassa.domain.money import from_decimal
from kassa.providers import wire
from kassa.providers.base import CheckResult, HookReply

CURRENCY = "KZT"
#: Tiyn in a tenge.
TIYN = 100
#: The longest `txn_id` Kassa keeps (Kaspi's are numbers; the format is NOT FOUND).
TXN_ID_LENGTH = 64


class KaspiStatus(StrEnum):
    """`Status` of `payment/status/{QrPaymentId}`, as the third-party wrapper lists them."""

    QR_TOKEN_CREATED = "QrTokenCreated"  # noqa: S105 - a status, not a secret
    WAIT = "Wait"
    PROCESSED = "Processed"
    ERROR = "Error"
    REMOTE_PAYMENT_CREATED = "RemotePaymentCreated"
    REMOTE_PAYMENT_CANCELED = "RemotePaymentCanceled"
    CANCELLED_BY_USER = "CancelledByUser"
    CANCELLED_BY_EXTERNAL_SOURCE = "CancelledByExternalSource"


def payment_status(status: KaspiStatus) -> PaymentStatus:
    """Kassa's status for Kaspi's: only `Processed` is paid, `Error` failed, the three
    cancels canceled; everything else is still waiting for the payer."""
    match status:
        case KaspiStatus.PROCESSED:
            return PaymentStatus.SUCCEEDED
        case KaspiStatus.ERROR:
            return PaymentStatus.FAILED
        case (
            KaspiStatus.REMOTE_PAYMENT_CANCELED
            | KaspiStatus.CANCELLED_BY_USER
            | KaspiStatus.CANCELLED_BY_EXTERNAL_SOURCE
        ):
            return PaymentStatus.CANCELED
        case KaspiStatus.QR_TOKEN_CREATED | KaspiStatus.WAIT | KaspiStatus.REMOTE_PAYMENT_CREATED:
            return PaymentStatus.PENDING
        case _:
            assert_never(status)


def read_status(value: Any) -> PaymentStatus:
    """Kassa's status for a `Status` value; one Kaspi added since is still pending."""
    try:
        return payment_status(KaspiStatus(value))
    except ValueError:
        return PaymentStatus.PENDING


def tenge(amount: int) -> int:
    """Tiyn as the whole tenge the QR API takes; `AmountInvalid` if there are tiyn left."""
    whole, tiyn = divmod(amount, TIYN)
    if tiyn:
        raise AmountInvalid(
            "Kaspi QR takes whole tenge: an amount with tiyn cannot be paid through it"
        )
    return whole


def answer_tiyn(value: Any) -> int:
    """An amount the QR API answered (a JSON number read as `Decimal`) in tiyn, exactly."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise TypeError("Amount is not a number")
    return from_decimal(Decimal(value), CURRENCY)


def read_json(content: bytes) -> Any:
    """JSON with its fractions read as `Decimal`, never `float`."""
    return json.loads(content, parse_float=Decimal)


def data(envelope: Any, *, what: str) -> Any:
    """`Data` of a successful envelope; a refusal (`StatusCode` not 0) as `ProviderDeclined`
    with Kaspi's code and message."""
    code = envelope["StatusCode"]
    if isinstance(code, bool) or not isinstance(code, int):
        raise TypeError("StatusCode is not a number")
    if code != 0:
        message = envelope.get("Message")
        message = message if isinstance(message, str) else ""
        raise ProviderDeclined(
            f"Kaspi refused {what}: {message or f'StatusCode {code}'}",
            provider_code=str(code),
            provider_message=message or None,
        )
    return envelope.get("Data") or {}


def identifier(document: Any, key: str) -> str:
    """An id Kaspi gives as a number (`QrPaymentId`) or a string, as text."""
    value = document[key]
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise TypeError(f"{key} is not an id")
    return str(value)


#: The bounds a `StatusPollingInterval` is kept within: Kaspi's unit is NOT FOUND (the
#: third-party wrapper's examples read as seconds), so a value read as milliseconds, or a
#: zero, cannot make Kassa ask many times a second, nor a huge one leave a payment unasked.
POLLING_BOUNDS = (timedelta(seconds=1), timedelta(seconds=60))


def polling_interval(document: Any, options: str) -> timedelta | None:
    """How often Kaspi asks to be polled about a new QR code or link: `StatusPollingInterval`
    (seconds, NOT FOUND officially) under `options` (`QrPaymentBehaviorOptions` or
    `PaymentBehaviorOptions`), kept within `POLLING_BOUNDS`; None when Kaspi gave none."""
    value = (document.get(options) or {}).get("StatusPollingInterval")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    low, high = POLLING_BOUNDS
    return min(max(timedelta(seconds=int(value)), low), high)


# check/pay


class Command(StrEnum):
    CHECK = "check"
    PAY = "pay"


class ResultCode(IntEnum):
    """`result` of a check/pay answer."""

    OK = 0
    ACCOUNT_NOT_FOUND = 1
    CANCELLED = 2
    ALREADY_PAID = 3
    PROCESSING = 4
    OTHER_ERROR = 5


@dataclass(frozen=True, slots=True)
class CheckPay:
    """One check/pay request: `account` is Kassa's payment id, `sum` in tiyn."""

    command: Command
    txn_id: str
    account: str
    sum: Money
    txn_date: str | None = None


def read_check_pay(query: str) -> CheckPay:
    """The request's query; `ValueError` and friends (`wire.MALFORMED`) if it is not one."""
    values = parse_qs(query)

    def optional(name: str) -> str | None:
        items = values.get(name, [])
        if len(items) > 1:
            raise ValueError(f"{name} is given more than once")
        return wire.text({name: items[0]}, name) if items and items[0] else None

    def required(name: str) -> str:
        value = optional(name)
        if value is None:
            raise KeyError(name)
        return value

    command = Command(required("command"))
    txn_id, account, amount = required("txn_id"), required("account"), required("sum")
    if len(txn_id) > TXN_ID_LENGTH:
        raise ValueError(f"txn_id is longer than {TXN_ID_LENGTH} characters")
    txn_date = required("txn_date") if command == Command.PAY else optional("txn_date")
    if txn_date is not None and not (len(txn_date) == 14 and txn_date.isdigit()):
        raise ValueError("txn_date is not YYYYMMDDHHMMSS")
    return CheckPay(command, txn_id, account, Money.from_major(amount, CURRENCY), txn_date)


def check_code(check: CheckResult) -> ResultCode:
    """A check's `result` for Kassa's answer to it."""
    match check:
        case CheckResult.ACCEPT:
            return ResultCode.OK
        case CheckResult.UNKNOWN_PAYMENT:
            return ResultCode.ACCOUNT_NOT_FOUND
        case CheckResult.EXPIRED:
            return ResultCode.CANCELLED
        case CheckResult.NOT_PAYABLE:
            return ResultCode.ALREADY_PAID
        case CheckResult.WRONG_AMOUNT:
            return ResultCode.OTHER_ERROR
        case _:
            assert_never(check)


def answer(
    *,
    txn_id: str,
    result: ResultCode,
    comment: str,
    sum: str | None = None,
    prv_txn_id: str | None = None,
    status_code: int = 200,
) -> HookReply:
    """A check/pay answer, as JSON."""
    document: dict[str, Any] = {"txn_id": txn_id, "result": int(result)}
    if prv_txn_id is not None:
        document["prv_txn_id"] = prv_txn_id
    if sum is not None:
        document["sum"] = sum
    document["comment"] = comment
    return HookReply.json(status_code, document)


def request_txn_id(query: str) -> str:
    """`txn_id` as the request gave it, for answering even a request that cannot be read."""
    items = parse_qs(query).get("txn_id", [""])
    return items[0][:TXN_ID_LENGTH]
