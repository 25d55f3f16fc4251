"""What may be done with a payment as it stands: capture, cancel, refund, re-check.

The one answer to "may I?": the services refuse with the `check_*` functions, and the admin
asks `payment_actions` which buttons to show, so a button is never offered that the service
would refuse for the payment's status. Whether the provider can do it (`Capabilities`) is the
services' second question, after these.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from types import MappingProxyType

from kassa.domain.errors import PaymentInvalidState
from kassa.domain.models import Payment
from kassa.domain.status import OPEN_STATUSES, PaymentStatus, can_transition


class PaymentAction(StrEnum):
    """Something a shop or an operator may ask of a payment."""

    CAPTURE = "capture"
    CANCEL = "cancel"
    REFUND = "refund"
    REFRESH = "refresh"


def can_capture(payment: Payment) -> bool:
    """Whether the payment's money is held, waiting to be captured."""
    return payment.status == PaymentStatus.REQUIRES_CAPTURE


def can_cancel(payment: Payment) -> bool:
    """Whether the transition table lets the payment be canceled (nobody paid yet, or held)."""
    return can_transition(payment.status, PaymentStatus.CANCELED)


def _refunds_allowed(status: PaymentStatus) -> bool:
    """Refunds are made while the payment may still become `refunded`."""
    return can_transition(status, PaymentStatus.REFUNDED)


def can_refund(payment: Payment) -> bool:
    """Whether a refund may be asked for: the payment succeeded and has money left to refund."""
    return _refunds_allowed(payment.status) and payment.refundable > 0


def can_refresh(payment: Payment) -> bool:
    """Whether the payment's outcome is still open, so that its provider may have news."""
    return payment.status in OPEN_STATUSES


_OFFERED: Mapping[PaymentAction, Callable[[Payment], bool]] = MappingProxyType(
    {
        PaymentAction.CAPTURE: can_capture,
        PaymentAction.CANCEL: can_cancel,
        PaymentAction.REFUND: can_refund,
        PaymentAction.REFRESH: can_refresh,
    }
)


def payment_actions(payment: Payment) -> frozenset[PaymentAction]:
    """The actions that make sense for the payment as it stands."""
    return frozenset(action for action, offered in _OFFERED.items() if offered(payment))


def check_capture(payment: Payment, amount: int | None) -> int:
    """The amount a capture of `payment` takes (all of it by default); `PaymentInvalidState`
    unless the payment is held, `AmountInvalid` for an amount it cannot take."""
    if not can_capture(payment):
        raise PaymentInvalidState(
            f"Only a payment in requires_capture can be captured; this one is {payment.status}",
        )
    return payment.check_capture_amount(amount)


def check_cancel(payment: Payment) -> None:
    """`PaymentInvalidState` unless the payment may be canceled."""
    if not can_cancel(payment):
        raise PaymentInvalidState(
            f"Only a pending or requires_capture payment can be canceled; this one is "
            f"{payment.status}",
        )


def check_refund(payment: Payment, amount: int | None) -> int:
    """The amount a refund of `payment` takes (everything refundable by default);
    `PaymentInvalidState` unless the payment succeeded, `AmountInvalid` for an amount it
    has not left to refund."""
    if not _refunds_allowed(payment.status):
        raise PaymentInvalidState(
            f"Only a succeeded payment can be refunded; this one is {payment.status}",
            param="payment",
        )
    return payment.check_refund_amount(amount)
