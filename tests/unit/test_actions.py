"""What may be done with a payment: the domain's one answer, which the services enforce and
the admin shows as buttons."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kassa.domain import (
    AmountInvalid,
    Payment,
    PaymentAction,
    PaymentInvalidState,
    PaymentStatus,
    RefundStatus,
    can_refund_transition,
    check_cancel,
    check_capture,
    check_refund,
    payment_actions,
)
from tests.unit.test_updates import PAYMENT

S = PaymentStatus
A = PaymentAction

#: The actions of a payment in each status that has captured money and none refunded.
EXPECTED = {
    S.PENDING: {A.CANCEL, A.REFRESH},
    S.REQUIRES_CAPTURE: {A.CAPTURE, A.CANCEL, A.REFRESH},
    S.SUCCEEDED: {A.REFUND},
    S.CANCELED: set(),
    S.FAILED: set(),
    S.EXPIRED: set(),
    S.REFUNDED: set(),
}


@pytest.mark.parametrize("status", list(S))
def test_each_status_offers_its_actions(status: PaymentStatus) -> None:
    paid = replace(PAYMENT, status=status, amount_captured=1000)
    assert payment_actions(paid) == EXPECTED[status]


def test_a_succeeded_payment_with_nothing_left_offers_no_refund() -> None:
    done = replace(PAYMENT, status=S.SUCCEEDED, amount_captured=1000, amount_refund_pending=1000)
    assert payment_actions(done) == frozenset()


def accepts(payment: Payment, action: PaymentAction) -> bool:
    """Whether the service's guard for `action` lets it through (for the default amount)."""
    try:
        if action is A.CAPTURE:
            check_capture(payment, None)
        elif action is A.CANCEL:
            check_cancel(payment)
        elif action is A.REFUND:
            check_refund(payment, None)
        else:
            return payment.status in {S.PENDING, S.REQUIRES_CAPTURE}
    except (PaymentInvalidState, AmountInvalid):
        return False
    return True


payments = st.builds(
    lambda status, amount, captured, refunded, reserved: replace(
        PAYMENT,
        status=status,
        amount=amount,
        amount_captured=captured,
        amount_refunded=refunded,
        amount_refund_pending=reserved,
    ),
    st.sampled_from(S),
    st.integers(1, 10**6),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
)


@given(payments)
def test_an_action_is_offered_exactly_when_the_service_accepts_it(payment: Payment) -> None:
    offered = payment_actions(payment)
    for action in A:
        assert (action in offered) is accepts(payment, action), action


@given(payments)
def test_the_guards_refuse_with_the_services_errors(payment: Payment) -> None:
    if payment.status != S.REQUIRES_CAPTURE:
        with pytest.raises(PaymentInvalidState) as capture:
            check_capture(payment, None)
        assert capture.value.message == (
            f"Only a payment in requires_capture can be captured; this one is {payment.status}"
        )
        assert capture.value.param is None
    if payment.status not in {S.PENDING, S.REQUIRES_CAPTURE}:
        with pytest.raises(PaymentInvalidState) as cancel:
            check_cancel(payment)
        assert cancel.value.message == (
            f"Only a pending or requires_capture payment can be canceled; this one is "
            f"{payment.status}"
        )
    if payment.status != S.SUCCEEDED:
        with pytest.raises(PaymentInvalidState) as refund:
            check_refund(payment, 1)
        assert refund.value.message == (
            f"Only a succeeded payment can be refunded; this one is {payment.status}"
        )
        assert refund.value.param == "payment"


def test_the_guards_return_the_amount_taken() -> None:
    held = replace(PAYMENT, status=S.REQUIRES_CAPTURE)
    assert check_capture(held, None) == 1000
    assert check_capture(held, 400) == 400
    with pytest.raises(AmountInvalid):
        check_capture(held, 1001)
    paid = replace(PAYMENT, status=S.SUCCEEDED, amount_captured=800, amount_refunded=300)
    assert check_refund(paid, None) == 500
    assert check_refund(paid, 200) == 200
    with pytest.raises(AmountInvalid):
        check_refund(paid, 501)


@pytest.mark.parametrize(("source", "target"), list(itertools.product(RefundStatus, repeat=2)))
def test_a_refund_moves_only_from_pending_to_a_settled_status(
    source: RefundStatus, target: RefundStatus
) -> None:
    allowed = source is RefundStatus.PENDING and target is not RefundStatus.PENDING
    assert can_refund_transition(source, target) is allowed
