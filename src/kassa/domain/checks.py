"""When Kassa asks a provider about an open payment (reconciliation's schedule).

A `pending` or `requires_capture` payment is asked about 1, 5 and 15 minutes after it was
created, after 1 and 6 hours, then daily for 7 days; a pending payment's checks stop at its
`expires_at`, where expiry asks the last question.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from kassa.domain.models import Payment
from kassa.domain.status import PaymentStatus

#: When, counted from its creation, an open payment is asked about.
SCHEDULE = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=6),
    *(timedelta(days=day) for day in range(1, 8)),
)


def next_check(payment: Payment, *, after: datetime) -> datetime | None:
    """The first scheduled check of `payment` later than `after`, or None when there is none
    left (past 7 days, or, for a pending payment, at or past its expiry)."""
    for offset in SCHEDULE:
        due = payment.created_at + offset
        if due <= after:
            continue
        expires = payment.expires_at if payment.status == PaymentStatus.PENDING else None
        if expires is not None and due >= expires:
            return None
        return due
    return None


def first_check(payment: Payment) -> datetime | None:
    """When a new payment is first asked about."""
    return next_check(payment, after=payment.created_at)
