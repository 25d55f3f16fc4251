"""The transition table: what may follow what, and nothing else."""

from __future__ import annotations

import itertools

import pytest

from kassa.domain import (
    OPEN_STATUSES,
    PAYMENT_TRANSITIONS,
    EventType,
    PaymentStatus,
    RefundStatus,
    TransitionRejected,
    can_transition,
    check_transition,
    payment_event,
    refund_event,
    sources_of,
)

S = PaymentStatus
ALLOWED = {
    (S.PENDING, S.REQUIRES_CAPTURE),
    (S.PENDING, S.SUCCEEDED),
    (S.PENDING, S.CANCELED),
    (S.PENDING, S.FAILED),
    (S.PENDING, S.EXPIRED),
    (S.REQUIRES_CAPTURE, S.SUCCEEDED),
    (S.REQUIRES_CAPTURE, S.CANCELED),
    (S.SUCCEEDED, S.REFUNDED),
}


@pytest.mark.parametrize(("source", "target"), list(itertools.product(S, S)))
def test_every_pair(source: PaymentStatus, target: PaymentStatus) -> None:
    allowed = (source, target) in ALLOWED
    assert can_transition(source, target) is allowed
    if allowed:
        check_transition(source, target)
        assert source in sources_of(target)
    else:
        with pytest.raises(TransitionRejected) as error:
            check_transition(source, target)
        assert (error.value.source, error.value.target) == (source.value, target.value)
        assert error.value.code == "invalid_state"
        assert source not in sources_of(target)


def test_table_covers_every_status() -> None:
    assert set(PAYMENT_TRANSITIONS) == set(S)


def test_final_and_open_statuses() -> None:
    final = {status for status, targets in PAYMENT_TRANSITIONS.items() if not targets}
    assert final == {S.CANCELED, S.FAILED, S.EXPIRED, S.REFUNDED}
    assert OPEN_STATUSES == {S.PENDING, S.REQUIRES_CAPTURE}


def test_no_cycles() -> None:
    """Every walk through the table ends, which `apply_payment_update`'s retry loop relies on."""

    def longest(status: PaymentStatus, seen: frozenset[PaymentStatus]) -> int:
        assert status not in seen
        return 1 + max(
            (longest(t, seen | {status}) for t in PAYMENT_TRANSITIONS[status]), default=0
        )

    assert longest(S.PENDING, frozenset()) == 4  # pending → requires_capture → succeeded → refunded


def test_each_status_has_its_event() -> None:
    assert payment_event(S.PENDING) is EventType.PAYMENT_CREATED
    for status in S:
        if status is not S.PENDING:
            assert payment_event(status).value == f"payment.{status.value}"
    assert refund_event(RefundStatus.PENDING) is EventType.REFUND_CREATED
    assert refund_event(RefundStatus.SUCCEEDED) is EventType.REFUND_SUCCEEDED
    assert refund_event(RefundStatus.FAILED) is EventType.REFUND_FAILED
