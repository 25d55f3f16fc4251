"""When Kassa asks a provider about an open payment (reconciliation's schedule).

A `pending` or `requires_capture` payment is asked about 1, 5 and 15 minutes after it was
created, after 1 and 6 hours, then daily for 7 days; a pending payment's checks stop at its
`expires_at`, where expiry asks the last question.

A provider that never notifies (Kaspi QR) asks to be polled instead (`every`, its
`Provider.poll_interval`, or the interval its answer to the create gave for the payment,
`Payment.poll_every`, which wins): its open payment is then asked about that often, within the
same bounds (7 days, and a pending payment's expiry).
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


def next_check(
    payment: Payment, *, after: datetime, every: timedelta | None = None
) -> datetime | None:
    """The first scheduled check of `payment` later than `after` (`every` after it, or the
    payment's own `poll_every`, for a provider that is polled), or None when there is none
    left (past 7 days, or, for a pending payment, at or past its expiry)."""
    every = payment.poll_every or every
    if every is not None:
        due = after + every
        return due if _within(payment, due) and due <= payment.created_at + SCHEDULE[-1] else None
    for offset in SCHEDULE:
        due = payment.created_at + offset
        if due <= after:
            continue
        return due if _within(payment, due) else None
    return None


def _within(payment: Payment, due: datetime) -> bool:
    """Whether a check at `due` comes before a pending payment's expiry (which asks last)."""
    expires = payment.expires_at if payment.status == PaymentStatus.PENDING else None
    return expires is None or due < expires


def first_check(payment: Payment, *, every: timedelta | None = None) -> datetime | None:
    """When a new payment is first asked about."""
    return next_check(payment, after=payment.created_at, every=every)
