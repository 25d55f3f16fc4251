"""What a provider says about a payment or refund, and what Kassa decides to do with it.

Providers translate their wire formats into `PaymentUpdate` and `RefundUpdate`; `decide` turns
a payment update into a transition (or a reasoned refusal) without touching storage, so the
rules are tested here, once, for every provider.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kassa.domain.models import Payment
from kassa.domain.money import Money
from kassa.domain.status import PaymentStatus, RefundStatus, can_transition, is_behind


@dataclass(frozen=True, slots=True)
class PaymentUpdate:
    """A provider's statement about a payment's state.

    `payment_id` is Kassa's id where the provider echoes it back; `amount` is what the provider
    says the payment is for, checked against Kassa's record before anything is applied.
    """

    status: PaymentStatus
    payment_id: str | None = None
    provider_payment_id: str | None = None
    amount: Money | None = None
    amount_captured: int | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    #: The fiscal receipt's registration (`domain.receipts.RECEIPT_STATUSES`), if reported.
    receipt_status: str | None = None


@dataclass(frozen=True, slots=True)
class RefundUpdate:
    """A provider's statement about a refund (one Kassa asked for, or one made elsewhere)."""

    status: RefundStatus
    amount: int
    refund_id: str | None = None
    provider_refund_id: str | None = None
    payment_id: str | None = None
    provider_payment_id: str | None = None
    failure_message: str | None = None
    receipt_status: str | None = None


@dataclass(frozen=True, slots=True)
class ReceiptUpdate:
    """A provider's word about a fiscal receipt alone (CloudPayments' Receipt notification):
    the registration `status` of the receipt of a payment or, with `provider_refund_id`, of
    that refund. It never moves the payment or the refund."""

    status: str
    payment_id: str | None = None
    provider_payment_id: str | None = None
    provider_refund_id: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a payment update: move to `target` with `changes`, or nothing."""

    outcome: str
    target: PaymentStatus | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    rejected: bool = False
    #: Rejected because the provider's answer is older than what Kassa knows (the payment has
    #: moved past the reported status): expected with concurrent readers, not a warning sign.
    stale: bool = False


def decide(payment: Payment, update: PaymentUpdate) -> Decision:
    """Turn a provider's update into a transition of `payment`, or say why not."""
    if update.amount is not None and (
        update.amount.amount != payment.amount or update.amount.currency != payment.currency
    ):
        return Decision(
            f"rejected: provider reports {update.amount}, payment is for "
            f"{Money(payment.amount, payment.currency)}",
            rejected=True,
        )
    if update.status == payment.status:
        return Decision(f"no change: already {payment.status}")
    if update.status == PaymentStatus.REFUNDED:
        # Refunded amounts come from refund records, never from a payment status alone.
        return Decision("no change: refunds are applied from refund updates")
    if not can_transition(payment.status, update.status):
        stale = is_behind(update.status, payment.status)
        note = " (an older answer)" if stale else ""
        return Decision(
            f"rejected: {payment.status} → {update.status} is not allowed{note}",
            rejected=True,
            stale=stale,
        )
    changes: dict[str, Any] = {}
    if update.provider_payment_id and not payment.provider_payment_id:
        changes["provider_payment_id"] = update.provider_payment_id
    if update.status == PaymentStatus.SUCCEEDED:
        captured = update.amount_captured if update.amount_captured is not None else payment.amount
        if not 0 < captured <= payment.amount:
            return Decision(
                f"rejected: captured {captured} is outside 1..{payment.amount}", rejected=True
            )
        changes["amount_captured"] = captured
    elif update.status == PaymentStatus.FAILED:
        changes["failure_code"] = update.failure_code or "declined"
        changes["failure_message"] = update.failure_message
    elif update.failure_code is not None:
        # A provider's reason for ending a payment unpaid (an invoice that expired), kept.
        changes["failure_code"] = update.failure_code
        changes["failure_message"] = update.failure_message
    return Decision(f"{payment.status} → {update.status}", target=update.status, changes=changes)
