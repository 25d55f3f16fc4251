"""The objects Kassa keeps, as plain immutable values (the store turns rows into these)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kassa.domain.errors import AmountInvalid
from kassa.domain.receipts import FiscalSettings, Receipt, ReceiptItem
from kassa.domain.status import PaymentStatus, RefundStatus


@dataclass(frozen=True, slots=True)
class Shop:
    """A business served by Kassa; API keys, provider accounts and payments belong to one."""

    id: str
    name: str
    created_at: datetime
    #: The IANA time zone the shop's times are shown in.
    timezone: str = "Europe/Moscow"
    #: What its fiscal receipts (54-FZ) say by default; None: the shop sends none.
    fiscal: FiscalSettings | None = None
    #: The language of its customers' e-mails (`ru` or `en`).
    language: str = "ru"
    #: The sender of its receipt e-mails (`Shop <receipts@shop.example>`); None: none sent.
    email_from: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderAccount:
    """A shop's account with one provider, in test or live mode."""

    id: str
    shop_id: str
    provider: str
    test: bool
    enabled: bool
    credentials: Mapping[str, str]
    api_url: str | None = None


@dataclass(frozen=True, slots=True)
class Payment:
    """One payment. Amounts are minor units of `currency`."""

    id: str
    shop_id: str
    test: bool
    provider: str
    provider_account_id: str
    status: PaymentStatus
    amount: int
    currency: str
    capture: bool
    created_at: datetime
    updated_at: datetime
    method: str | None = None
    provider_payment_id: str | None = None
    amount_captured: int = 0
    amount_refunded: int = 0
    amount_refund_pending: int = 0
    description: str | None = None
    customer: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    confirmation: Mapping[str, Any] | None = None
    return_url: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    expires_at: datetime | None = None
    #: For the fiscal receipt: where it is sent, and its lines (which add up to `amount`).
    customer_email: str | None = None
    customer_phone: str | None = None
    items: tuple[ReceiptItem, ...] = ()
    #: The receipt sent to the provider with the payment, complete (`domain.receipts`);
    #: None when none was (the shop sends none, or the payment names no one to send it to).
    receipt: Receipt | None = None
    #: The receipt's registration as the provider reports it (`pending`, `succeeded`,
    #: `canceled`), or None when it has said nothing.
    receipt_status: str | None = None
    #: For a provider that is polled rather than notifying: how often it asked, when the
    #: payment was created, to be asked about it (Kaspi's `StatusPollingInterval`); None: as
    #: the provider's `poll_interval` says.
    poll_every: timedelta | None = None

    @property
    def refundable(self) -> int:
        """What may still be refunded: captured, less refunds done or under way."""
        return self.amount_captured - self.amount_refunded - self.amount_refund_pending

    def check_capture_amount(self, amount: int | None) -> int:
        """The amount a capture takes: all of it by default, or a part no larger than `amount`."""
        if amount is None:
            return self.amount
        if not 0 < amount <= self.amount:
            raise AmountInvalid(f"A capture must be between 1 and the payment's {self.amount}")
        return amount

    def check_refund_amount(self, amount: int | None) -> int:
        """The amount a refund takes: everything refundable by default, never more."""
        if amount is None:
            amount = self.refundable
        if amount <= 0:
            raise AmountInvalid("Nothing is left to refund on this payment")
        if amount > self.refundable:
            raise AmountInvalid(
                f"A refund of {amount} exceeds what can still be refunded ({self.refundable})"
            )
        return amount


@dataclass(frozen=True, slots=True)
class Refund:
    """A refund of part or all of a payment's captured amount."""

    id: str
    payment_id: str
    shop_id: str
    test: bool
    amount: int
    currency: str
    status: RefundStatus
    created_at: datetime
    updated_at: datetime
    reason: str | None = None
    provider_refund_id: str | None = None
    failure_message: str | None = None
    #: The refund receipt's registration as the provider reports it, as for a payment.
    receipt_status: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened, as the outbox keeps it. `data["object"]` is the snapshot of
    the payment, refund or other object it is about, taken when it happened."""

    id: str
    shop_id: str
    test: bool
    type: str
    source: str
    data: Mapping[str, Any]
    created_at: datetime
    payment_id: str | None = None
    refund_id: str | None = None
