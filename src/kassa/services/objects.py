"""Kassa's objects as events carry them, which is also how the API shows them.

An event's `data.object` is the snapshot of a payment or refund in exactly the shape `GET
/v1/payments/{id}` answers, and a webhook's body is the event as `GET /v1/events` lists it;
so these shapes are kept here, once, for the events the services write and for the web layer
alike. (An endpoint's and a delivery's, which events about webhooks carry, are beside their
records: `kassa.services.webhooks.endpoints.endpoint_object`, `deliveries.delivery_object`.)
Every other API shape (lists, terminals, operations…) is the web layer's: `kassa.web.objects`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from kassa.domain import Event, Payment, Refund
from kassa.providers import Confirmation


def timestamp(value: datetime | None) -> str | None:
    """An ISO 8601 UTC timestamp ending in `Z`, full precision, or None."""
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


def confirmation_object(confirmation: Confirmation) -> dict[str, Any]:
    """What the payer must do, as the API shows it and the payment keeps it: `type` first,
    then every field (times as timestamps), absent ones as null."""
    document: dict[str, Any] = {"type": confirmation.type}
    for item in fields(confirmation):
        value = getattr(confirmation, item.name)
        if isinstance(value, datetime):
            value = timestamp(value.astimezone(UTC))
        elif isinstance(value, Mapping):
            value = dict(value)
        document[item.name] = value
    return document


def payment_object(payment: Payment) -> dict[str, Any]:
    failure = (
        {"code": payment.failure_code, "message": payment.failure_message}
        if payment.failure_code
        else None
    )
    return {
        "id": payment.id,
        "object": "payment",
        "status": payment.status.value,
        "amount": payment.amount,
        "currency": payment.currency,
        "amount_captured": payment.amount_captured,
        "amount_refunded": payment.amount_refunded,
        "capture": payment.capture,
        "provider": payment.provider,
        "method": payment.method,
        "provider_payment_id": payment.provider_payment_id,
        "confirmation": dict(payment.confirmation) if payment.confirmation else None,
        "description": payment.description,
        "customer": payment.customer,
        "customer_email": payment.customer_email,
        "customer_phone": payment.customer_phone,
        "items": [item.document() for item in payment.items],
        "receipt_status": payment.receipt_status,
        "metadata": dict(payment.metadata),
        "return_url": payment.return_url,
        "failure": failure,
        "test": payment.test,
        "created_at": timestamp(payment.created_at),
        "updated_at": timestamp(payment.updated_at),
        "expires_at": timestamp(payment.expires_at),
    }


def refund_object(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "object": "refund",
        "payment": refund.payment_id,
        "status": refund.status.value,
        "amount": refund.amount,
        "currency": refund.currency,
        "reason": refund.reason,
        "provider_refund_id": refund.provider_refund_id,
        "failure_message": refund.failure_message,
        "receipt_status": refund.receipt_status,
        "test": refund.test,
        "created_at": timestamp(refund.created_at),
        "updated_at": timestamp(refund.updated_at),
    }


def event_object(event: Event) -> dict[str, Any]:
    """An event as the API lists it and a webhook delivers it."""
    return {
        "id": event.id,
        "object": "event",
        "type": event.type,
        "source": event.source,
        "payment": event.payment_id,
        "refund": event.refund_id,
        "test": event.test,
        "created_at": timestamp(event.created_at),
        "data": event.data,
    }
