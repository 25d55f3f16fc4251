"""Rows to domain objects."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import RowMapping

from kassa.domain import (
    AdminUser,
    Event,
    Payment,
    PaymentStatus,
    ProviderAccount,
    Refund,
    RefundStatus,
    Role,
    Shop,
)
from kassa.domain.receipts import FiscalSettings, Receipt, items_from_documents
from kassa.store.keyring import Keyring


def shop(row: RowMapping) -> Shop:
    return Shop(
        id=row["id"],
        name=row["name"],
        created_at=row["created_at"],
        timezone=row["timezone"],
        fiscal=FiscalSettings.from_document(row["fiscal"]),
        language=row["language"],
        email_from=row["email_from"],
    )


def admin_user(row: RowMapping) -> AdminUser:
    return AdminUser(
        id=row["id"],
        name=row["name"],
        role=Role(row["role"]),
        active=row["active"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def provider_account(row: RowMapping, keyring: Keyring) -> ProviderAccount:
    """The account, its secret credentials decrypted."""
    return ProviderAccount(
        id=row["id"],
        shop_id=row["shop_id"],
        provider=row["provider"],
        test=row["test"],
        enabled=row["enabled"],
        credentials=keyring.decrypt_values(row["credentials"]),
        api_url=row["api_url"],
    )


def payment(row: Mapping[Any, Any]) -> Payment:
    return Payment(
        id=row["id"],
        shop_id=row["shop_id"],
        test=row["test"],
        provider=row["provider"],
        provider_account_id=row["provider_account_id"],
        method=row["method"],
        provider_payment_id=row["provider_payment_id"],
        status=PaymentStatus(row["status"]),
        amount=row["amount"],
        currency=row["currency"],
        capture=row["capture"],
        amount_captured=row["amount_captured"],
        amount_refunded=row["amount_refunded"],
        amount_refund_pending=row["amount_refund_pending"],
        description=row["description"],
        customer=row["customer"],
        metadata=dict(row["metadata"]),
        confirmation=row["confirmation"],
        return_url=row["return_url"],
        failure_code=row["failure_code"],
        failure_message=row["failure_message"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        expires_at=row["expires_at"],
        customer_email=row["customer_email"],
        customer_phone=row["customer_phone"],
        items=items_from_documents(row["items"]),
        receipt=Receipt.from_document(row["receipt"]),
        receipt_status=row["receipt_status"],
        poll_every=timedelta(seconds=row["poll_seconds"]) if row["poll_seconds"] else None,
    )


def refund(row: RowMapping) -> Refund:
    return Refund(
        id=row["id"],
        payment_id=row["payment_id"],
        shop_id=row["shop_id"],
        test=row["test"],
        amount=row["amount"],
        currency=row["currency"],
        status=RefundStatus(row["status"]),
        reason=row["reason"],
        provider_refund_id=row["provider_refund_id"],
        failure_message=row["failure_message"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        receipt_status=row["receipt_status"],
    )


def event(row: RowMapping) -> Event:
    return Event(
        id=row["id"],
        shop_id=row["shop_id"],
        test=row["test"],
        type=row["type"],
        source=row["source"],
        data=row["data"],
        created_at=row["created_at"],
        payment_id=row["payment_id"],
        refund_id=row["refund_id"],
    )


def payment_values(payment: Payment) -> dict[str, Any]:
    """A payment as the column values of an insert."""
    return {
        "id": payment.id,
        "shop_id": payment.shop_id,
        "test": payment.test,
        "provider": payment.provider,
        "provider_account_id": payment.provider_account_id,
        "method": payment.method,
        "provider_payment_id": payment.provider_payment_id,
        "status": payment.status.value,
        "amount": payment.amount,
        "currency": payment.currency,
        "capture": payment.capture,
        "amount_captured": payment.amount_captured,
        "amount_refunded": payment.amount_refunded,
        "amount_refund_pending": payment.amount_refund_pending,
        "description": payment.description,
        "customer": payment.customer,
        "metadata": dict(payment.metadata),
        "confirmation": dict(payment.confirmation) if payment.confirmation else None,
        "return_url": payment.return_url,
        "failure_code": payment.failure_code,
        "failure_message": payment.failure_message,
        "created_at": payment.created_at,
        "updated_at": payment.updated_at,
        "expires_at": payment.expires_at,
        "customer_email": payment.customer_email,
        "customer_phone": payment.customer_phone,
        "items": [item.document() for item in payment.items] or None,
        "receipt": payment.receipt.document() if payment.receipt else None,
        "receipt_status": payment.receipt_status,
        "poll_seconds": int(payment.poll_every.total_seconds()) if payment.poll_every else None,
    }
