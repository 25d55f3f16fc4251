"""YooKassa's wire format, and how Kassa reads its statuses. No HTTP here: `provider.py` makes
the calls.

Wire format (facts: YooKassa's API reference and official SDKs; user guide:
docs/providers/yookassa.md):

- API calls: HTTP Basic auth (user `shop_id`, password `secret_key`), JSON bodies, amounts as
  `{"value": "1500.00", "currency": "RUB"}` with a two-decimal string (a JSON number, or
  "169.0", is refused by YooKassa). Every POST carries an `Idempotence-Key` derived from Kassa's
  own ids, never a fresh random one, so a call retried after a crash or a timeout can never make
  a second payment or refund. HTTP 202 means "accepted, still processing": the same request is
  repeated with the same key after the advised pause. Errors are
  `{"type": "error", "id", "code", "description", "parameter"}`.
- Receipts (54-FZ): a `receipt` object `{customer: {email, phone}, items: [{description,
  quantity, amount (per unit), vat_code, payment_subject, payment_mode}], tax_system_code}` on
  the create and on each refund, and `receipt_registration` (`pending`, `succeeded`,
  `canceled`) on payments and refunds. The reference (`providers.md` §1) names `receipt` on
  both calls but not its fields: these are from YooKassa's public API reference, unverified
  here; the phone goes as digits without `+` (E.164 as YooKassa shows it).
- Notifications: `POST {"type": "notification", "event", "object"}` with no signature at all.
  Kassa believes one only as far as (1) it comes from an address YooKassa publishes (the web
  layer believes X-Forwarded-For only from a configured trusted proxy) and (2) the object,
  re-read from the API, says so: nothing but the event name and the object id is taken from the
  body.

Statuses, as Kassa reads them (`kassa_status`):

- `pending` (and any status YooKassa may add later) → `pending`;
- `waiting_for_capture` → `requires_capture`;
- `succeeded` → `succeeded`;
- `canceled` by the merchant (`party` "merchant", reason `canceled_by_merchant`) or a hold
  left uncaptured (reason `expired_on_capture`) → `canceled`;
- `canceled` with reason `expired_on_confirmation` (the payer never paid in time) → `expired`;
- `canceled` for any other reason (a decline: `insufficient_funds`, `3d_secure_failed`, ...)
  → `failed`, with the reason as the failure code.

Kassa's table lets a `requires_capture` payment become only `succeeded` or `canceled`. The
reasons YooKassa documents for canceling a hold are the shop's cancel and the lapsed hold, both
read as `canceled`; the declines happen before the money is held, so `failed` and `expired`
meet only `pending` payments. (A decline reason on a held payment would be refused by the table
and logged, and the payment would stay `requires_capture` until the shop cancels it.)

A partial capture: the emulator, and Kassa, take a captured payment's `amount` as the sum
captured; whether YooKassa shows the captured or the authorized sum there after a partial
capture is NOT FOUND in the official text we could search. So a succeeded payment is reported
with `amount_captured` from its `amount`, and `amount` is left out of the comparison with the
payment's own amount (which would refuse every partially captured payment; Kassa still refuses
a captured sum above it). After Kassa's own capture call the sum asked for caps the captured
amount, which is right either way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, assert_never

from kassa.domain import (
    NotificationRejected,
    PaymentStatus,
    PaymentUpdate,
    RefundStatus,
    RefundUpdate,
)
from kassa.domain.receipts import RECEIPT_STATUSES, Receipt
from kassa.providers import wire as shared
from kassa.providers.base import ProviderPayment, RedirectConfirmation

#: YooKassa refuses a longer payment description (its SDKs validate this limit).
MAX_DESCRIPTION = 128
#: The metadata key under which Kassa gives YooKassa its own payment id.
METADATA_KEY = "kassa_payment_id"

#: Notifications about a payment, and about a refund; the object is re-read for these.
PAYMENT_EVENTS = ("payment.waiting_for_capture", "payment.succeeded", "payment.canceled")
REFUND_EVENT = "refund.succeeded"

#: How far along each event says its object is: 1 held, 2 final (0 would be pending).
CLAIMED_STAGE: Mapping[str, int] = MappingProxyType(
    {
        "payment.waiting_for_capture": 1,
        "payment.succeeded": 2,
        "payment.canceled": 2,
        REFUND_EVENT: 2,
    }
)

#: What an event name and an object id in a notification may look like; YooKassa's ids are
#: UUID-like ("22e12f66-000f-5000-8000-18db351245c7"). Anything else is refused before it can
#: reach a URL path or the event key column.
_EVENT = re.compile(r"[a-z][a-z_.]{0,63}")
_OBJECT_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,63}")

#: Kassa's method names and YooKassa's `payment_method_data.type` for them. Without a method
#: the payer chooses one on YooKassa's page.
METHODS: Mapping[str, str] = MappingProxyType(
    {
        "card": "bank_card",
        "sbp": "sbp",
        "yoo_money": "yoo_money",
        "sberbank": "sberbank",
        "tinkoff_bank": "tinkoff_bank",
    }
)


class YooKassaStatus(StrEnum):
    """Statuses of a YooKassa payment; `succeeded` and `canceled` are final."""

    PENDING = "pending"
    WAITING_FOR_CAPTURE = "waiting_for_capture"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


class YooKassaRefundStatus(StrEnum):
    """Statuses of a YooKassa refund."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


#: Cancellation reasons that are the shop's own doing: it canceled, or let a hold lapse.
CANCELED_BY_SHOP = frozenset({"canceled_by_merchant", "expired_on_capture"})
#: Cancellation reasons that mean nobody paid in time.
EXPIRED_UNPAID = frozenset({"expired_on_confirmation"})


def kassa_status(
    status: YooKassaStatus, *, party: str | None = None, reason: str | None = None
) -> PaymentStatus:
    """YooKassa's payment status (with `cancellation_details` for a canceled one) in Kassa's
    terms; see the module docstring for why."""
    match status:
        case YooKassaStatus.PENDING:
            return PaymentStatus.PENDING
        case YooKassaStatus.WAITING_FOR_CAPTURE:
            return PaymentStatus.REQUIRES_CAPTURE
        case YooKassaStatus.SUCCEEDED:
            return PaymentStatus.SUCCEEDED
        case YooKassaStatus.CANCELED:
            if party == "merchant" or reason in CANCELED_BY_SHOP:
                return PaymentStatus.CANCELED
            if reason in EXPIRED_UNPAID:
                return PaymentStatus.EXPIRED
            return PaymentStatus.FAILED
        case _:
            assert_never(status)


def kassa_refund_status(status: YooKassaRefundStatus) -> RefundStatus:
    """YooKassa's refund status in Kassa's terms."""
    match status:
        case YooKassaRefundStatus.PENDING:
            return RefundStatus.PENDING
        case YooKassaRefundStatus.SUCCEEDED:
            return RefundStatus.SUCCEEDED
        case YooKassaRefundStatus.CANCELED:
            return RefundStatus.FAILED
        case _:
            assert_never(status)


def truncate(text: str, limit: int = MAX_DESCRIPTION) -> str:
    """`text` cut to `limit` characters, the cut marked with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cancellation(document: Any) -> tuple[str | None, str | None]:
    details = document.get("cancellation_details") or {}
    return shared.text(details, "party", required=False), shared.text(
        details, "reason", required=False
    )


def receipt_document(receipt: Receipt, currency: str) -> dict[str, Any]:
    """Kassa's receipt as YooKassa's `receipt` object (quantities as exact JSON numbers:
    send the body with `shared.json_body`)."""
    customer: dict[str, str] = {}
    if receipt.email:
        customer["email"] = receipt.email
    if receipt.phone:
        customer["phone"] = receipt.phone.removeprefix("+")
    return {
        "customer": customer,
        "items": [
            {
                "description": item.description,
                "quantity": item.quantity,
                "amount": shared.value_amount(item.price, currency),
                "vat_code": item.vat_code,
                "payment_subject": item.payment_subject,
                "payment_mode": item.payment_mode,
            }
            for item in receipt.items
        ],
        "tax_system_code": receipt.tax_system_code,
    }


def receipt_status(document: Any) -> str | None:
    """`receipt_registration` of a payment or refund, if it is one Kassa knows."""
    status = document.get("receipt_registration")
    return status if status in RECEIPT_STATUSES else None


def payment_update(document: Any) -> PaymentUpdate:
    """A YooKassa payment object as a `PaymentUpdate`. Raises `ValueError`, `KeyError`,
    `TypeError`, `AttributeError` or a money error if it is malformed."""
    party, reason = _cancellation(document)
    try:
        status = kassa_status(YooKassaStatus(document["status"]), party=party, reason=reason)
    except ValueError:
        status = PaymentStatus.PENDING  # a status YooKassa may add later: decide nothing yet
    amount = shared.parse_value_amount(document["amount"])
    metadata = document.get("metadata") or {}
    captured = status == PaymentStatus.SUCCEEDED
    failed = status == PaymentStatus.FAILED
    return PaymentUpdate(
        status=status,
        payment_id=shared.text(metadata, METADATA_KEY, required=False),
        provider_payment_id=shared.text(document, "id"),
        # Captured: `amount` is what was taken (see the module docstring), not the order's sum.
        amount=None if captured else amount,
        amount_captured=amount.amount if captured else None,
        failure_code=(reason or "canceled") if failed else None,
        failure_message=(
            f"YooKassa canceled the payment ({party or 'unknown party'}: "
            f"{reason or 'no reason given'})"
            if failed
            else None
        ),
        receipt_status=receipt_status(document),
    )


def refund_update(document: Any) -> RefundUpdate:
    """A YooKassa refund object as a `RefundUpdate` (raises as `payment_update` does)."""
    try:
        status = kassa_refund_status(YooKassaRefundStatus(document["status"]))
    except ValueError:
        status = RefundStatus.PENDING
    party, reason = _cancellation(document)
    return RefundUpdate(
        status=status,
        amount=shared.parse_value_amount(document["amount"]).amount,
        provider_refund_id=shared.text(document, "id"),
        provider_payment_id=shared.text(document, "payment_id"),
        failure_message=(
            f"YooKassa canceled the refund ({party or 'unknown party'}: "
            f"{reason or 'no reason given'})"
            if status == RefundStatus.FAILED
            else None
        ),
        receipt_status=receipt_status(document),
    )


def created_payment(document: Any) -> ProviderPayment:
    """YooKassa's answer to a create: its id, the payer's page, and its status."""
    confirmation = document.get("confirmation") or {}
    url = shared.text(confirmation, "confirmation_url", required=False)
    return ProviderPayment(
        provider_payment_id=shared.text(document, "id"),
        confirmation=RedirectConfirmation(url) if url else None,
        status=payment_update(document).status,
    )


def read_notification(body: bytes) -> tuple[str, str]:
    """The event name and object id of a notification body, or `NotificationRejected`."""
    try:
        document = json.loads(body)
        if document["type"] != "notification":
            raise ValueError(f"type is {document['type']!r}, not 'notification'")
        event, object_id = document["event"], document["object"]["id"]
    except (ValueError, KeyError, TypeError) as exc:
        raise NotificationRejected(f"Unreadable YooKassa notification: {exc!r}") from exc
    if not isinstance(event, str) or not _EVENT.fullmatch(event):
        raise NotificationRejected(f"Unreadable YooKassa notification: event {event!r}")
    if not isinstance(object_id, str) or not _OBJECT_ID.fullmatch(object_id):
        raise NotificationRejected(f"Unreadable YooKassa notification: object id {object_id!r}")
    return event, object_id


def stage(update: PaymentUpdate | RefundUpdate) -> int:
    """How far along the API shows an object, on the scale of `CLAIMED_STAGE`."""
    if update.status in (PaymentStatus.PENDING, RefundStatus.PENDING):
        return 0
    return 1 if update.status == PaymentStatus.REQUIRES_CAPTURE else 2


def timestamp(value: datetime) -> str:
    """YooKassa's timestamp form: UTC with milliseconds, "2026-11-22T06:25:58.358Z"."""
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
