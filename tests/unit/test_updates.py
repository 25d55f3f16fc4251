"""`decide`: what a provider's statement does to a payment."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from kassa.domain import Money, Payment, PaymentStatus, PaymentUpdate, decide

NOW = datetime(2026, 11, 22, tzinfo=UTC)
PAYMENT = Payment(
    id="pay_1",
    shop_id="shop_1",
    test=True,
    provider="sandbox",
    provider_account_id="pa_1",
    status=PaymentStatus.PENDING,
    amount=1000,
    currency="RUB",
    capture=True,
    created_at=NOW,
    updated_at=NOW,
)
S = PaymentStatus


def test_success_captures_the_whole_amount_by_default() -> None:
    decision = decide(PAYMENT, PaymentUpdate(status=S.SUCCEEDED, provider_payment_id="x"))
    assert decision.target is S.SUCCEEDED
    assert decision.changes == {"amount_captured": 1000, "provider_payment_id": "x"}
    assert decision.outcome == "pending → succeeded"
    assert not decision.rejected


def test_success_with_a_partial_capture() -> None:
    held = replace(PAYMENT, status=S.REQUIRES_CAPTURE, provider_payment_id="x")
    decision = decide(held, PaymentUpdate(status=S.SUCCEEDED, amount_captured=400))
    assert decision.changes == {"amount_captured": 400}


@pytest.mark.parametrize("captured", [0, -1, 1001])
def test_impossible_captured_amounts_are_rejected(captured: int) -> None:
    decision = decide(PAYMENT, PaymentUpdate(status=S.SUCCEEDED, amount_captured=captured))
    assert decision.target is None
    assert decision.rejected


def test_failure_keeps_the_reason() -> None:
    decision = decide(
        PAYMENT, PaymentUpdate(status=S.FAILED, failure_code="card_declined", failure_message="no")
    )
    assert decision.changes == {"failure_code": "card_declined", "failure_message": "no"}


def test_a_reason_for_ending_unpaid_is_kept_when_the_provider_gives_one() -> None:
    expired = PaymentUpdate(status=S.CANCELED, failure_code="expired", failure_message="late")
    changes = decide(PAYMENT, expired).changes
    assert changes == {"failure_code": "expired", "failure_message": "late"}
    assert decide(PAYMENT, PaymentUpdate(status=S.CANCELED)).changes == {}


def test_same_status_is_no_change() -> None:
    decision = decide(PAYMENT, PaymentUpdate(status=S.PENDING))
    assert decision.target is None
    assert not decision.rejected
    assert decision.outcome == "no change: already pending"


def test_going_back_is_rejected() -> None:
    paid = replace(PAYMENT, status=S.SUCCEEDED, amount_captured=1000)
    decision = decide(paid, PaymentUpdate(status=S.PENDING))
    assert decision.target is None
    assert decision.rejected
    assert "succeeded → pending" in decision.outcome


def test_an_older_answer_is_marked_stale_and_a_contradiction_is_not() -> None:
    paid = replace(PAYMENT, status=S.SUCCEEDED, amount_captured=1000)
    assert decide(paid, PaymentUpdate(status=S.PENDING)).stale
    assert decide(paid, PaymentUpdate(status=S.REQUIRES_CAPTURE)).stale
    contradiction = decide(paid, PaymentUpdate(status=S.FAILED))
    assert contradiction.rejected
    assert not contradiction.stale


@pytest.mark.parametrize("amount", [Money(999, "RUB"), Money(1000, "USD")])
def test_a_different_amount_or_currency_is_never_applied(amount: Money) -> None:
    decision = decide(PAYMENT, PaymentUpdate(status=S.SUCCEEDED, amount=amount))
    assert decision.target is None
    assert decision.rejected
    assert "provider reports" in decision.outcome


def test_refunded_status_alone_is_not_applied() -> None:
    paid = replace(PAYMENT, status=S.SUCCEEDED, amount_captured=1000)
    decision = decide(paid, PaymentUpdate(status=S.REFUNDED))
    assert decision.target is None
    assert not decision.rejected


def test_known_provider_id_is_not_overwritten() -> None:
    known = replace(PAYMENT, provider_payment_id="first")
    decision = decide(known, PaymentUpdate(status=S.CANCELED, provider_payment_id="second"))
    assert "provider_payment_id" not in decision.changes
