"""Kassa's objects as the API shows them (and as events carry them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from kassa.domain import Payment, Refund
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
        "test": refund.test,
        "created_at": timestamp(refund.created_at),
        "updated_at": timestamp(refund.updated_at),
    }


def list_object(data: list[dict[str, Any]], *, has_more: bool) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": has_more}
