"""What must hold of a payment's and a refund's records, whatever happened to them: the events
their history left, and their amounts. `kassa audit` (`services/operations/integrity.py`)
checks stored rows against these rules.

The event rules follow from the transition tables alone. Every status change writes one event
in the transaction that makes it, and no table has a cycle, so a record has been in each
status at most once: it has exactly one event of each status it must have passed through on
its way to the status it is in now (a refunded payment was succeeded first), at most one of a
status it may have passed through (a succeeded payment may have been authorized first), and
none of any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from kassa.domain.events import payment_event, refund_event
from kassa.domain.status import (
    PAYMENT_TRANSITIONS,
    REFUND_TRANSITIONS,
    PaymentStatus,
    RefundStatus,
)

S = TypeVar("S", bound=StrEnum)


def _reachable(transitions: Mapping[S, frozenset[S]], start: S, *, without: S | None) -> set[S]:
    """The statuses reachable from `start` (itself included), never going through `without`."""
    seen = {start}
    frontier = [start]
    while frontier:
        for target in transitions[frontier.pop()]:
            if target not in seen and target != without:
                seen.add(target)
                frontier.append(target)
    return seen


def history(
    transitions: Mapping[S, frozenset[S]], start: S, target: S
) -> tuple[frozenset[S], frozenset[S]]:
    """For a record that began in `start` and is in `target` now: the statuses it has surely
    been in (on every way from one to the other, both included) and those it may have been in
    (on some way)."""
    may = frozenset(
        status
        for status in _reachable(transitions, start, without=None)
        if target in _reachable(transitions, status, without=None)
    )
    surely = frozenset(
        status
        for status in may
        if status in {start, target} or target not in _reachable(transitions, start, without=status)
    )
    return surely, may


def _event_problems(
    required: set[str], allowed: set[str], counts: Mapping[str, int], now: str
) -> list[str]:
    problems = []
    for kind in sorted(required | allowed | set(counts)):
        count = counts.get(kind, 0)
        if kind in required and count != 1:
            problems.append(f"{now}, so it has exactly one {kind} event, not {count}")
        elif kind not in allowed and count:
            problems.append(f"{now}, so it has no {kind} event, yet has {count}")
        elif count > 1:
            problems.append(f"has {count} {kind} events; a status is entered once")
    return problems


def payment_event_problems(status: PaymentStatus, counts: Mapping[str, int]) -> list[str]:
    """What is wrong with the `payment.*` events (how many of each type) of a payment in
    `status`: each status it has surely been in has exactly one event, any other it may have
    been in at most one, and the rest none."""
    surely, may = history(PAYMENT_TRANSITIONS, PaymentStatus.PENDING, status)
    return _event_problems(
        {payment_event(s).value for s in surely},
        {payment_event(s).value for s in may},
        counts,
        f"the payment is {status.value}",
    )


def refund_event_problems(status: RefundStatus, counts: Mapping[str, int]) -> list[str]:
    """What is wrong with the `refund.*` events of a refund in `status`: one of its status
    (`refund.created` for a pending one), at most one of each it may have passed through.
    `refund.created` is not required of a settled refund: one made at the provider (in its
    dashboard) is recorded already succeeded."""
    _, may = history(REFUND_TRANSITIONS, RefundStatus.PENDING, status)
    return _event_problems(
        {refund_event(status).value},
        {refund_event(s).value for s in may},
        counts,
        f"the refund is {status.value}",
    )


def payment_amount_problems(
    status: PaymentStatus, *, amount: int, captured: int, refunded: int, refund_pending: int
) -> list[str]:
    """What is wrong with a payment's amounts: refunded (with refunds under way) ≤ captured
    ≤ authorized ≤ amount, all in minor units. A payment authorizes its whole amount (Kassa
    keeps no separate authorized amount), so the middle step is captured ≤ amount. Money is
    captured exactly when the payment succeeded (and stays so when it is refunded), and a
    payment whose whole capture is refunded is `refunded`, not `succeeded`."""
    problems = []
    if amount <= 0:
        problems.append(f"its amount {amount} is not positive")
    for name, value in (
        ("captured", captured),
        ("refunded", refunded),
        ("reserved for refunds", refund_pending),
    ):
        if value < 0:
            problems.append(f"its amount {name} {value} is negative")
    if captured > amount:
        problems.append(f"it captured {captured}, more than its amount {amount}")
    if refunded + refund_pending > captured:
        problems.append(
            f"refunded {refunded} and reserved for refunds {refund_pending} exceed "
            f"the captured {captured}"
        )
    paid = status in {PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED}
    if paid and captured <= 0:
        problems.append(f"it is {status.value} with nothing captured")
    if not paid and (captured or refunded or refund_pending):
        problems.append(
            f"it is {status.value}, yet captured {captured}, refunded {refunded} and "
            f"reserved {refund_pending} for refunds"
        )
    if status == PaymentStatus.SUCCEEDED and 0 < captured <= refunded:
        problems.append(f"everything captured ({captured}) is refunded, yet it is succeeded")
    if status == PaymentStatus.REFUNDED and refunded != captured:
        problems.append(f"it is refunded, yet refunded {refunded} of the captured {captured}")
    return problems
