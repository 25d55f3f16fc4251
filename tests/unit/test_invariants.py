"""The rules `kassa audit` checks records against, derived from the transition tables."""

from __future__ import annotations

import pytest

from kassa.domain import PaymentStatus, RefundStatus
from kassa.domain.invariants import (
    history,
    payment_amount_problems,
    payment_event_problems,
    refund_event_problems,
)
from kassa.domain.status import PAYMENT_TRANSITIONS

S = PaymentStatus


@pytest.mark.parametrize(
    ("status", "surely", "may"),
    [
        (S.PENDING, {S.PENDING}, {S.PENDING}),
        (S.REQUIRES_CAPTURE, {S.PENDING, S.REQUIRES_CAPTURE}, {S.PENDING, S.REQUIRES_CAPTURE}),
        (S.SUCCEEDED, {S.PENDING, S.SUCCEEDED}, {S.PENDING, S.REQUIRES_CAPTURE, S.SUCCEEDED}),
        (S.CANCELED, {S.PENDING, S.CANCELED}, {S.PENDING, S.REQUIRES_CAPTURE, S.CANCELED}),
        (S.FAILED, {S.PENDING, S.FAILED}, {S.PENDING, S.FAILED}),
        (S.EXPIRED, {S.PENDING, S.EXPIRED}, {S.PENDING, S.EXPIRED}),
        (
            S.REFUNDED,
            {S.PENDING, S.SUCCEEDED, S.REFUNDED},
            {S.PENDING, S.REQUIRES_CAPTURE, S.SUCCEEDED, S.REFUNDED},
        ),
    ],
)
def test_the_history_of_each_status(
    status: PaymentStatus, surely: set[PaymentStatus], may: set[PaymentStatus]
) -> None:
    assert history(PAYMENT_TRANSITIONS, S.PENDING, status) == (frozenset(surely), frozenset(may))


def test_a_clean_history_has_no_problems() -> None:
    authorized_then_refunded = {
        "payment.created": 1,
        "payment.requires_capture": 1,
        "payment.succeeded": 1,
        "payment.refunded": 1,
    }
    assert payment_event_problems(S.REFUNDED, authorized_then_refunded) == []
    assert payment_event_problems(S.SUCCEEDED, {"payment.created": 1, "payment.succeeded": 1}) == []
    assert refund_event_problems(RefundStatus.SUCCEEDED, {"refund.succeeded": 1}) == []
    assert refund_event_problems(RefundStatus.PENDING, {"refund.created": 1}) == []


def test_event_problems() -> None:
    assert payment_event_problems(S.SUCCEEDED, {"payment.created": 1, "payment.succeeded": 2}) == [
        "the payment is succeeded, so it has exactly one payment.succeeded event, not 2"
    ]
    assert payment_event_problems(S.REFUNDED, {"payment.created": 1, "payment.refunded": 1}) == [
        "the payment is refunded, so it has exactly one payment.succeeded event, not 0"
    ]
    assert payment_event_problems(
        S.FAILED, {"payment.created": 1, "payment.failed": 1, "payment.succeeded": 1}
    ) == ["the payment is failed, so it has no payment.succeeded event, yet has 1"]
    assert payment_event_problems(
        S.CANCELED,
        {"payment.created": 1, "payment.requires_capture": 2, "payment.canceled": 1},
    ) == ["has 2 payment.requires_capture events; a status is entered once"]
    assert refund_event_problems(RefundStatus.PENDING, {"refund.created": 1, "refund.failed": 1})


def test_amount_problems() -> None:
    def problems(status: PaymentStatus, **amounts: int) -> list[str]:
        values = {"amount": 1000, "captured": 0, "refunded": 0, "refund_pending": 0, **amounts}
        return payment_amount_problems(status, **values)

    assert problems(S.PENDING) == []
    assert problems(S.SUCCEEDED, captured=600, refunded=200, refund_pending=300) == []
    assert problems(S.REFUNDED, captured=600, refunded=600) == []
    assert problems(S.SUCCEEDED, captured=1001) == ["it captured 1001, more than its amount 1000"]
    assert problems(S.SUCCEEDED, captured=600, refunded=400, refund_pending=300) == [
        "refunded 400 and reserved for refunds 300 exceed the captured 600"
    ]
    assert problems(S.SUCCEEDED) == ["it is succeeded with nothing captured"]
    assert problems(S.CANCELED, captured=5) == [
        "it is canceled, yet captured 5, refunded 0 and reserved 0 for refunds"
    ]
    assert problems(S.SUCCEEDED, captured=500, refunded=500) == [
        "everything captured (500) is refunded, yet it is succeeded"
    ]
    assert problems(S.REFUNDED, captured=500, refunded=400) == [
        "it is refunded, yet refunded 400 of the captured 500"
    ]
    assert "its amount 0 is not positive" in problems(S.PENDING, amount=0)
    assert "its amount refunded -1 is negative" in problems(S.SUCCEEDED, captured=5, refunded=-1)
