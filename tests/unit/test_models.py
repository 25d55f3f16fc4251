"""Payment amount rules: capture and refund limits."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kassa.domain import AmountInvalid, PaymentStatus
from tests.unit.test_updates import PAYMENT


def test_capture_amount_defaults_to_everything_and_is_bounded() -> None:
    assert PAYMENT.check_capture_amount(None) == 1000
    assert PAYMENT.check_capture_amount(1) == 1
    for amount in (0, 1001):
        with pytest.raises(AmountInvalid):
            PAYMENT.check_capture_amount(amount)


def test_refundable_counts_refunds_done_and_under_way() -> None:
    paid = replace(
        PAYMENT,
        status=PaymentStatus.SUCCEEDED,
        amount_captured=800,
        amount_refunded=300,
        amount_refund_pending=200,
    )
    assert paid.refundable == 300
    assert paid.check_refund_amount(None) == 300
    assert paid.check_refund_amount(300) == 300
    with pytest.raises(AmountInvalid) as error:
        paid.check_refund_amount(301)
    assert error.value.param == "amount"


def test_nothing_left_to_refund() -> None:
    done = replace(PAYMENT, amount_captured=100, amount_refunded=100)
    with pytest.raises(AmountInvalid):
        done.check_refund_amount(None)
