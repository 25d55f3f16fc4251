"""What a terminal's answer means for a payment, and when a terminal payment may start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kassa.domain import ParameterInvalid, PaymentStatus
from kassa.domain.devices import OperationError, check_kind
from kassa.domain.terminals import check_terminal_id, payment_deadline, payment_update

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_an_approved_card_payment_succeeds_with_the_gateways_id() -> None:
    update = payment_update(
        ok=True, body={"status": "SUCCESS", "payment_id": "gw-7", "rrn": "1"}, error=None
    )
    assert update is not None
    assert update.status == PaymentStatus.SUCCEEDED
    assert update.provider_payment_id == "gw-7"


def test_a_declined_card_payment_fails_with_the_gateways_code_and_message() -> None:
    update = payment_update(
        ok=True,
        body={"status": "DECLINED", "response_code": "05", "response_message": "Do not honour"},
        error=None,
    )
    assert update is not None
    assert update.status == PaymentStatus.FAILED
    assert (update.failure_code, update.failure_message) == ("05", "Do not honour")


@pytest.mark.parametrize("body", [{}, {"status": "PROCESSING"}, {"status": "ERROR"}])
def test_an_answer_that_is_not_understood_leaves_the_outcome_unknown(body: dict[str, str]) -> None:
    assert payment_update(ok=True, body=body, error=None) is None


def test_a_failure_that_may_have_charged_the_card_leaves_the_outcome_unknown() -> None:
    error = OperationError("timeout", "no answer in 35 s", unknown=True)
    assert payment_update(ok=False, body=None, error=error) is None


def test_a_failure_before_the_gateway_was_reached_fails_the_payment() -> None:
    error = OperationError("connection_refused", "gateway down", unknown=False)
    update = payment_update(ok=False, body=None, error=error)
    assert update is not None
    assert update.status == PaymentStatus.FAILED
    assert update.failure_code == "connection_refused"


def test_a_terminal_payment_stops_being_started_a_minute_before_it_expires() -> None:
    assert payment_deadline(NOW, NOW + timedelta(hours=1)) == NOW + timedelta(minutes=59)
    # A short-lived payment keeps half its life for the card and the answer.
    assert payment_deadline(NOW, NOW + timedelta(seconds=60)) == NOW + timedelta(seconds=30)


@pytest.mark.parametrize("value", ["KIOSK_001", "k-2", "A"])
def test_terminal_ids_as_the_field_uses_them_are_accepted(value: str) -> None:
    assert check_terminal_id(value) == value


@pytest.mark.parametrize("value", ["", "kiosk 1", "киоск", "a" * 65, "x/y"])
def test_terminal_ids_the_card_gateway_would_refuse_are_rejected(value: str) -> None:
    with pytest.raises(ParameterInvalid):
        check_terminal_id(value)


def test_operation_kinds_are_route_names() -> None:
    assert check_kind("fiscal") == "fiscal"
    with pytest.raises(ParameterInvalid):
        check_kind("Fiscal Receipt")
