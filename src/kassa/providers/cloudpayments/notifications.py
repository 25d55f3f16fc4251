"""Reading CloudPayments' notifications: their bytes (form, query string or JSON, in UTF-8 or
Windows-1251), which kind each is by what it signs, and what it says in Kassa's terms."""

from __future__ import annotations

import codecs
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kassa.domain import (
    NotificationRejected,
    PaymentStatus,
    PaymentUpdate,
    ReceiptUpdate,
    RefundStatus,
    RefundUpdate,
)
from kassa.providers.base import InboundRequest, Notification, PaymentCheck
from kassa.providers.cloudpayments.wire import (
    NOTIFICATION_KINDS,
    REFUND_DATA_KEY,
    Fields,
    Transaction,
    TransactionStatus,
    signed_message,
    url_decoded,
)


def _declared_charset(content_type: str | None) -> str | None:
    """The codec named by a Content-Type's `charset=`, or None if there is none."""
    for param in (content_type or "").split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "charset" and value.strip():
            try:
                return codecs.lookup(value.strip().strip('"')).name
            except LookupError:
                raise NotificationRejected(f"Unknown charset {value.strip()!r}") from None
    return None


#: The codecs CloudPayments can send in (its setting `Encoding`: UTF8 or Windows1251).
_CHARSETS = frozenset({"utf-8", "cp1251"})


def _charset(declared: str | None, content: bytes) -> str:
    """The charset to decode a notification's text in.

    The Content-Type's `charset=` wins. Whether CloudPayments sends one is NOT FOUND, so
    without it the text is UTF-8 if it is valid UTF-8, else Windows-1251: Cyrillic in
    Windows-1251 (bytes 0xC0-0xFF in a row) is practically never valid UTF-8, while anything
    sent as UTF-8 always is.
    """
    if declared is not None:
        if declared not in _CHARSETS:
            raise NotificationRejected(f"CloudPayments does not send {declared}")
        return declared
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1251"
    return "utf-8"


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Fields by name; a name given twice makes the notification ambiguous, so unreadable."""
    fields: dict[str, Any] = {}
    for name, value in pairs:
        if name in fields:
            raise ValueError(f"{name} appears twice")
        fields[name] = value
    return fields


def read_fields(request: InboundRequest) -> dict[str, Any]:
    """A notification's fields, decoded from the raw bytes (after verification).

    Forms and query strings give text; JSON gives its own types, with numbers read as
    `Decimal` or `int` (never `float`). Raises `ValueError` or `NotificationRejected`.
    """
    content_type = request.headers.get("content-type")
    raw = signed_message(request)
    media_type = (content_type or "").split(";")[0].strip().lower()
    if request.method.upper() != "GET" and (
        media_type == "application/json" or raw.lstrip().startswith(b"{")
    ):
        text = raw.decode(_charset(_declared_charset(content_type), raw))
        document = json.loads(text, parse_float=Decimal, object_pairs_hook=_unique)
        if not isinstance(document, dict):
            raise ValueError("the JSON body is not an object")
        return document
    pairs = [
        (url_decoded(name), url_decoded(value))
        for name, _, value in (part.partition(b"=") for part in raw.split(b"&") if part)
    ]
    charset = _charset(_declared_charset(content_type), b"".join(n + v for n, v in pairs))
    return _unique([(name.decode(charset), value.decode(charset)) for name, value in pairs])


# Which kind a notification is: from what it signs, not from its URL


@dataclass(frozen=True, slots=True)
class KindRule:
    """What the signed body of one kind of notification says about its transaction.

    The kind a notification is posted as is the last segment of its URL, which nothing signs:
    a genuine body posted to another kind's URL must not be read as that kind. So the body's
    own `OperationType` and `Status` must fit the kind. Where a body of another kind can say
    the same (a Check's body is what the Pay's will be; whether a one-stage Pay or a Confirm
    said `Completed` changes nothing, but a Check's `Completed` comes before anybody paid; the
    Cancel notification's fields are not documented), CloudPayments' API must confirm the
    transaction is in that state before the notification is applied.
    """

    operation: str
    #: The `Status` values the body may carry; empty: not looked at.
    statuses: frozenset[TransactionStatus]
    #: Whether the body must carry a `Status` (Pay, Fail and Confirm do, [official copy]).
    status_required: bool
    #: Whether the transaction's state must be confirmed with `/payments/get` first.
    confirmed_by_api: bool


_S = TransactionStatus
KIND_RULES: dict[str, KindRule] = {
    # A Check comes before authorization and carries the status the payment will have
    # (observed in integrations; [official copy] lists Status among its fields): it changes
    # nothing, so only a body that plainly is not one is refused.
    "check": KindRule(
        "Payment",
        frozenset({_S.AWAITING_AUTHENTICATION, _S.AUTHORIZED, _S.COMPLETED}),
        status_required=False,
        confirmed_by_api=False,
    ),
    "pay": KindRule(
        "Payment",
        frozenset({_S.AUTHORIZED, _S.COMPLETED}),
        status_required=True,
        confirmed_by_api=True,
    ),
    # Declined is final and no other kind carries it (a Check precedes the decision).
    "fail": KindRule(
        "Payment", frozenset({_S.DECLINED}), status_required=True, confirmed_by_api=False
    ),
    "confirm": KindRule(
        "Payment", frozenset({_S.COMPLETED}), status_required=True, confirmed_by_api=True
    ),
    # The Refund notification carries OperationType=Refund and PaymentTransactionId, which no
    # other kind has ([official copy]); its Status is not documented.
    "refund": KindRule("Refund", frozenset(), status_required=False, confirmed_by_api=False),
    # The Cancel notification's fields are NOT FOUND in the documentation: a Status, if there
    # is one, must say Cancelled, and the API must say so in any case.
    "cancel": KindRule(
        "Payment", frozenset({_S.CANCELLED}), status_required=False, confirmed_by_api=True
    ),
}

#: The states a transaction in a status may be in later: a hold is confirmed or voided, and
#: every other status but 3-D Secure's is final.
LATER_STATES: dict[TransactionStatus, frozenset[TransactionStatus]] = {
    _S.AWAITING_AUTHENTICATION: frozenset(TransactionStatus),
    _S.AUTHORIZED: frozenset({_S.AUTHORIZED, _S.COMPLETED, _S.CANCELLED}),
    _S.COMPLETED: frozenset({_S.COMPLETED}),
    _S.CANCELLED: frozenset({_S.CANCELLED}),
    _S.DECLINED: frozenset({_S.DECLINED}),
}


def claimed_status(values: Mapping[str, Any]) -> TransactionStatus | None:
    """The body's `Status`, if it has one; `ValueError` for a status CloudPayments does not
    have (the body cannot be read)."""
    status = Fields(values).text("Status")
    return None if status is None else TransactionStatus(status)


def check_kind(kind: str, values: Mapping[str, Any]) -> None:
    """Raise `NotificationRejected` if the body's own fields contradict `kind` (see
    `KindRule`), or `ValueError` if its Status is unknown. Kinds Kassa does not act on
    (Recurrent, Receipt…) change nothing and are not checked."""
    rule = KIND_RULES.get(kind)
    if rule is None:
        return
    fields = Fields(values)
    operation = fields.text("OperationType")
    if operation is not None and operation != rule.operation:
        raise NotificationRejected(
            f"The body is a CloudPayments {operation} notification (OperationType), "
            f"not a {kind} one: refused"
        )
    status = claimed_status(values)
    if status is None and rule.status_required:
        raise NotificationRejected(f"A CloudPayments {kind} notification carries a Status")
    if status is not None and rule.statuses and status not in rule.statuses:
        raise NotificationRejected(
            f"The body says Status={status.value}, which a CloudPayments {kind} notification "
            "never says: it was sent to another kind's URL, and is refused"
        )


def confirms(kind: str, values: Mapping[str, Any], found: Transaction) -> str | None:
    """Why the transaction as the API has it (`found`) does not bear out a `kind`
    notification with these fields; `None` if it does. The transaction must be the body's
    (number, invoice, currency) and in the body's status or one it may have reached since."""
    fields = Fields(values)
    claimed = claimed_status(values)
    expected = LATER_STATES[claimed] if claimed is not None else KIND_RULES[kind].statuses
    says = f"CloudPayments' API says transaction {found.transaction_id}"
    if (found.transaction_id, found.invoice_id) != (
        fields.transaction_id(),
        fields.text("InvoiceId"),
    ) or fields.text("Currency") not in (None, found.currency):
        return f"{says} is for invoice {found.invoice_id} in {found.currency}, not this one"
    if found.operation not in (None, "Payment"):
        return f"{says} is a {found.operation}"
    if found.status not in expected:
        return f"{says} is {found.status.value if found.status else 'in an unknown status'}"
    return None


def read_notification(kind: str, values: Mapping[str, Any]) -> Notification:
    """A verified notification of type `kind` in Kassa's terms; see wire.py's docstring."""
    fields = Fields(values)
    if kind == "check":
        return Notification(
            event_key=None,
            check=PaymentCheck(payment_id=fields.text("InvoiceId"), amount=fields.money()),
        )
    if kind == "receipt":
        return _receipt(fields)
    if kind not in NOTIFICATION_KINDS:
        # Recurrent: nothing about a payment's state.
        return Notification(event_key=None)
    transaction = fields.transaction_id()
    update: PaymentUpdate | RefundUpdate
    if kind == "refund":
        kassa_refund = fields.data().get(REFUND_DATA_KEY)
        update = RefundUpdate(
            status=RefundStatus.SUCCEEDED,
            amount=fields.money(currency_required=False).amount,
            refund_id=kassa_refund
            if isinstance(kassa_refund, str) and "\x00" not in kassa_refund
            else None,
            provider_refund_id=transaction,
            payment_id=fields.text("InvoiceId"),
            provider_payment_id=fields.transaction_id("PaymentTransactionId"),
        )
    else:
        update = _payment_update(kind, fields, transaction)
    return Notification(event_key=f"{kind}:{transaction}", updates=[update])


#: Receipt notifications' `Type` for a payment's receipt and a refund's (return) receipt.
RECEIPT_TYPES = {"Income": False, "IncomeReturn": True}


def _receipt(fields: Fields) -> Notification:
    """A Receipt notification: CloudPayments (CloudKassir) registered the receipt of the
    operation `TransactionId`, a payment's (`Type` Income) or a refund's (IncomeReturn) of
    invoice `InvoiceId`. Its fields (`Id`, `Type`, `TransactionId`, `InvoiceId`, `Url`, …)
    are from CloudKassir's documentation as integrations use it, unverified
    ([3rd-party code]); a type Kassa does not know (an expense receipt) changes nothing."""
    kind = fields.required("Type")
    transaction = fields.transaction_id()
    event_key = f"receipt:{fields.text('Id') or f'{kind}:{transaction}'}"
    if kind not in RECEIPT_TYPES:
        return Notification(event_key=event_key)
    refund = RECEIPT_TYPES[kind]
    update = ReceiptUpdate(
        status="succeeded",
        payment_id=fields.text("InvoiceId"),
        provider_payment_id=None if refund else transaction,
        provider_refund_id=transaction if refund else None,
    )
    return Notification(event_key=event_key, updates=[update])


def _payment_update(kind: str, fields: Fields, transaction: str) -> PaymentUpdate:
    common: dict[str, Any] = {
        "payment_id": fields.text("InvoiceId"),
        "provider_payment_id": transaction,
    }
    if kind == "pay":
        status = fields.required("Status")
        if status == TransactionStatus.AUTHORIZED:
            return PaymentUpdate(PaymentStatus.REQUIRES_CAPTURE, amount=fields.money(), **common)
        if status == TransactionStatus.COMPLETED:
            return PaymentUpdate(PaymentStatus.SUCCEEDED, amount=fields.money(), **common)
        raise ValueError(f"a Pay notification with Status {status!r}")
    if kind == "fail":
        reason, code = fields.text("Reason"), fields.text("ReasonCode")
        message = fields.text("CardHolderMessage") or reason
        return PaymentUpdate(
            PaymentStatus.FAILED,
            amount=fields.money(),
            failure_code=reason or code,
            failure_message=f"{message} (ReasonCode {code})" if code else message,
            **common,
        )
    if kind == "confirm":
        # The confirmed amount, which may be less than the payment's: it is what was taken,
        # so it is not checked against the payment's amount (decide() checks the range).
        # That a partial Confirm carries the confirmed rather than the original amount is
        # NOT FOUND in CloudPayments' documentation.
        captured = fields.money()
        return PaymentUpdate(PaymentStatus.SUCCEEDED, amount_captured=captured.amount, **common)
    if kind == "cancel":
        amount = fields.money() if fields.values.get("Amount") not in (None, "") else None
        return PaymentUpdate(PaymentStatus.CANCELED, amount=amount, **common)
    raise AssertionError(kind)
