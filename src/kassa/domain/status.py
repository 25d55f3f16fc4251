"""Payment and refund statuses and the one table of allowed transitions.

Every status change in Kassa is checked here first. The store applies it as a conditional
update whose `WHERE status IN (...)` comes from `sources_of`, so two concurrent changes cannot
both win.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from kassa.domain.errors import TransitionRejected


class PaymentStatus(StrEnum):
    """Where a payment is in its life."""

    PENDING = "pending"
    """Created; waiting for the payer or the provider."""
    REQUIRES_CAPTURE = "requires_capture"
    """Authorized (money held); the shop must capture or cancel."""
    SUCCEEDED = "succeeded"
    """Paid; `amount_captured` is the money taken."""
    CANCELED = "canceled"
    """Canceled by the shop or the provider before money was taken."""
    FAILED = "failed"
    """The payer or the provider declined."""
    EXPIRED = "expired"
    """Nobody paid before `expires_at`."""
    REFUNDED = "refunded"
    """Everything captured has been refunded."""


PAYMENT_TRANSITIONS: Mapping[PaymentStatus, frozenset[PaymentStatus]] = MappingProxyType(
    {
        PaymentStatus.PENDING: frozenset(
            {
                PaymentStatus.REQUIRES_CAPTURE,
                PaymentStatus.SUCCEEDED,
                PaymentStatus.CANCELED,
                PaymentStatus.FAILED,
                PaymentStatus.EXPIRED,
            }
        ),
        PaymentStatus.REQUIRES_CAPTURE: frozenset(
            {PaymentStatus.SUCCEEDED, PaymentStatus.CANCELED}
        ),
        PaymentStatus.SUCCEEDED: frozenset({PaymentStatus.REFUNDED}),
        PaymentStatus.CANCELED: frozenset(),
        PaymentStatus.FAILED: frozenset(),
        PaymentStatus.EXPIRED: frozenset(),
        PaymentStatus.REFUNDED: frozenset(),
    }
)

#: Statuses in which the payment's outcome is still open (reconciliation watches these).
OPEN_STATUSES = frozenset({PaymentStatus.PENDING, PaymentStatus.REQUIRES_CAPTURE})


def can_transition(source: PaymentStatus, target: PaymentStatus) -> bool:
    """Whether the table allows `source` → `target`."""
    return target in PAYMENT_TRANSITIONS[source]


def check_transition(source: PaymentStatus, target: PaymentStatus) -> None:
    """Raise `TransitionRejected` unless the table allows `source` → `target`."""
    if not can_transition(source, target):
        raise TransitionRejected(source.value, target.value)


def is_behind(reported: PaymentStatus, current: PaymentStatus) -> bool:
    """Whether a payment in `current` has already passed through `reported` (or could have):
    a report of `reported` is an older answer (a stale read, an out-of-order copy), not news."""
    seen, frontier = set(), {reported}
    while frontier:
        seen |= frontier
        frontier = {t for s in frontier for t in PAYMENT_TRANSITIONS[s]} - seen
    return current != reported and current in seen


def sources_of(target: PaymentStatus) -> frozenset[PaymentStatus]:
    """Every status from which `target` may be reached."""
    return _SOURCES[target]


_SOURCES: Mapping[PaymentStatus, frozenset[PaymentStatus]] = MappingProxyType(
    {
        target: frozenset(s for s, targets in PAYMENT_TRANSITIONS.items() if target in targets)
        for target in PaymentStatus
    }
)


class RefundStatus(StrEnum):
    """Where a refund is: asked for, done, or refused."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


REFUND_TRANSITIONS: Mapping[RefundStatus, frozenset[RefundStatus]] = MappingProxyType(
    {
        RefundStatus.PENDING: frozenset({RefundStatus.SUCCEEDED, RefundStatus.FAILED}),
        RefundStatus.SUCCEEDED: frozenset(),
        RefundStatus.FAILED: frozenset(),
    }
)


def can_refund_transition(source: RefundStatus, target: RefundStatus) -> bool:
    """Whether the refund table allows `source` → `target`."""
    return target in REFUND_TRANSITIONS[source]
