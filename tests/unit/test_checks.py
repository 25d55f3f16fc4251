"""Reconciliation's schedule: when an open payment is asked about."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from kassa.domain import Payment, PaymentStatus
from kassa.domain.checks import first_check, next_check

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def payment(status: PaymentStatus = PaymentStatus.PENDING, **fields: Any) -> Payment:
    base = Payment(
        id="pay_1",
        shop_id="shop_1",
        test=True,
        provider="sandbox",
        provider_account_id="pa_1",
        status=status,
        amount=100,
        currency="RUB",
        capture=True,
        created_at=T0,
        updated_at=T0,
        expires_at=T0 + timedelta(days=30),
    )
    return replace(base, **fields)


def checks(p: Payment) -> list[timedelta]:
    """Every check of `p`, as offsets from its creation."""
    found, after = [], p.created_at
    while (due := next_check(p, after=after)) is not None:
        found.append(due - p.created_at)
        after = due
    return found


def test_a_minute_after_creation_then_less_and_less_often_for_a_week() -> None:
    assert first_check(payment()) == T0 + timedelta(minutes=1)
    assert checks(payment()) == [
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(hours=1),
        timedelta(hours=6),
        *(timedelta(days=day) for day in range(1, 8)),
    ]


def test_a_pending_payment_is_left_to_expiry_at_its_expires_at() -> None:
    expiring = payment(expires_at=T0 + timedelta(hours=1))
    assert checks(expiring) == [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15)]
    assert first_check(payment(expires_at=T0 + timedelta(seconds=60))) is None


def test_a_held_payment_is_watched_for_the_whole_week_whatever_its_expiry() -> None:
    held = payment(PaymentStatus.REQUIRES_CAPTURE, expires_at=T0 + timedelta(hours=1))
    assert checks(held)[-1] == timedelta(days=7)


def test_a_check_missed_while_down_is_followed_by_the_next_one_due() -> None:
    # Asked late (the worker was down for two hours): the next check is at 6 hours.
    assert next_check(payment(), after=T0 + timedelta(hours=2)) == T0 + timedelta(hours=6)
    assert next_check(payment(), after=T0 + timedelta(days=8)) is None


def test_a_polled_provider_is_asked_every_interval_within_the_same_bounds() -> None:
    every = timedelta(seconds=5)
    short = payment(expires_at=T0 + timedelta(seconds=12))
    assert first_check(short, every=every) == T0 + every
    assert next_check(short, after=T0 + timedelta(seconds=5), every=every) == T0 + 2 * every
    # At or past the expiry, expiry asks the last question.
    assert next_check(short, after=T0 + timedelta(seconds=7), every=every) is None
    # A hold (no expiry bound) is polled for the schedule's week, no longer.
    held = payment(PaymentStatus.REQUIRES_CAPTURE)
    week = T0 + timedelta(days=7)
    assert next_check(held, after=week - every, every=every) == week
    assert next_check(held, after=week - timedelta(seconds=1), every=every) is None


def test_the_interval_the_provider_gave_for_the_payment_wins_over_its_default() -> None:
    own = payment(poll_every=timedelta(seconds=2))
    assert first_check(own, every=timedelta(seconds=5)) == T0 + timedelta(seconds=2)
    later = T0 + timedelta(seconds=2)
    assert next_check(own, after=later, every=timedelta(seconds=5)) == T0 + timedelta(seconds=4)
    # Even for a provider without a default interval (the sparse schedule otherwise).
    assert first_check(own) == T0 + timedelta(seconds=2)
