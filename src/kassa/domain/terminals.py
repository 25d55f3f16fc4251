"""Kiosk terminals: the rules of the first kind of connected device
(`kassa.domain.devices`), which takes card payments through the shop's own card gateway.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from kassa.domain.devices import Device, DeviceKind, OperationError, check_device_id
from kassa.domain.status import PaymentStatus
from kassa.domain.updates import PaymentUpdate

#: A terminal is a device of kind `terminal` (`Device.kind`).
Terminal = Device
#: How long before a terminal payment expires the agent stops starting it: a card payment
#: takes up to ~35 s, so its outcome is known before Kassa expires the payment.
PAYMENT_MARGIN = timedelta(seconds=60)


def check_terminal_id(value: str) -> str:
    return check_device_id(value, DeviceKind.TERMINAL)


def payment_body(*, kiosk_id: str, order_id: str, amount: int) -> dict[str, Any]:
    """The card gateway's request: `sum` in minor units (kopecks)."""
    return {"kiosk_id": kiosk_id, "order_id": order_id, "sum": amount}


def payment_deadline(created_at: datetime, expires_at: datetime) -> datetime:
    """When the agent must no longer start the payment: `PAYMENT_MARGIN` before it expires
    (or halfway there, for a payment that lives shorter than twice the margin)."""
    margin = min(PAYMENT_MARGIN, (expires_at - created_at) / 2)
    return expires_at - margin


def payment_update(
    *, ok: bool, body: Mapping[str, Any] | None, error: OperationError | None
) -> PaymentUpdate | None:
    """What a terminal's answer to a `payment` operation says about the payment; `None` when
    the outcome is unknown (the payment stays pending).

    The card gateway answers HTTP 200 with `status` SUCCESS or DECLINED (3rd-party contract,
    see ../shared/reference/kiosk-protocols.md). A failure where the gateway was never reached,
    or refused the request, means nobody was charged. Any other answer is not understood, so
    it is treated as unknown rather than guessed.
    """
    if not ok:
        if error is None or error.unknown:
            return None
        return PaymentUpdate(
            status=PaymentStatus.FAILED, failure_code=error.code, failure_message=error.message
        )
    answer = body or {}
    status = str(answer.get("status", "")).upper()
    reference = answer.get("payment_id") or answer.get("rrn")
    provider_payment_id = str(reference) if reference else None
    if status == "SUCCESS":
        return PaymentUpdate(
            status=PaymentStatus.SUCCEEDED, provider_payment_id=provider_payment_id
        )
    if status == "DECLINED":
        return PaymentUpdate(
            status=PaymentStatus.FAILED,
            provider_payment_id=provider_payment_id,
            failure_code=str(answer.get("response_code") or "declined"),
            failure_message=str(answer.get("response_message") or "") or None,
        )
    return None
