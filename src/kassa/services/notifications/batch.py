"""Applying the simple notifications of a group commit together.

Most notifications report one payment's new status and name the payment by Kassa's own id.
When several of those arrive together (`kassa.store.group_commit`), `apply_simple` applies
them with a few statements for all of them instead of five or six each: one query finds the
events accepted before, one reads the payments, an `UPDATE` per kind of move moves them, one
`INSERT` writes their events and one stores the notifications. Per notification it decides and
writes exactly what `notifications._accept` does alone: the same decision (`decide`), the same
transition table and statements, the same event and notification rows, in the same shared
commit, and its caller is answered only after that commit.

A notification whose payment, or whose event, an earlier one of the same batch already has is
handed back to be applied alone after the batch, on the state the batch left. If anything
fails, the group commit rolls the batch back and applies every notification alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import EventSource, PaymentUpdate, ProviderAccount, decide
from kassa.providers import Notification, Verdict
from kassa.services.payments.transitions import Move, find_many, note_decision, transition_many
from kassa.store.group_commit import RUN_ALONE
from kassa.store.tables import ACCEPTED, notifications

#: The outcome stored for a notification about a payment Kassa does not have.
NO_SUCH_PAYMENT = "ignored: no such payment"

#: Event keys accepted before, for one provider and shop (the partial unique index's terms,
#: so the query uses it).
_ACCEPTED_BEFORE = (
    select(notifications.c.event_key)
    .where(
        notifications.c.provider == bindparam("provider"),
        notifications.c.shop_id == bindparam("shop"),
        notifications.c.event_key.in_(bindparam("keys", expanding=True)),
    )
    .where(ACCEPTED)
)
_STORE = insert(notifications)


class Duplicate(Exception):
    """The notification's event was accepted before: nothing of it is applied."""


@dataclass(frozen=True, slots=True)
class Simple:
    """A verified notification with one payment update that names Kassa's payment id;
    `row` is its notification row, completed here as `_accept` completes it."""

    row: dict[str, Any]
    account: ProviderAccount
    update: PaymentUpdate
    payment_id: str


def simple(row: dict[str, Any], account: ProviderAccount, parsed: Notification) -> Simple | None:
    """The notification as a `Simple` one, if it is one."""
    if len(parsed.updates) != 1:
        return None
    update = parsed.updates[0]
    if not isinstance(update, PaymentUpdate) or not update.payment_id:
        return None
    return Simple(row, account, update, update.payment_id)


async def apply_simple(conn: AsyncConnection, items: Sequence[Simple]) -> list[Any]:
    """Apply `items` and store them as accepted; per item its outcome, a `Duplicate`, or
    `RUN_ALONE` (see the module docstring)."""
    taken_keys = await _accepted_before(conn, items)
    payments = await find_many(conn, [item.payment_id for item in items])
    taken_payments: set[str] = set()
    alone_keys: set[tuple[Any, ...]] = set()
    answers: list[Any] = []
    moves: list[Move] = []
    stored: list[dict[str, Any]] = []
    for item in items:
        row, key = item.row, _key(item.row)
        payment = payments.get(item.payment_id)
        if payment is not None and payment.provider_account_id != item.account.id:
            payment = None  # another account's payment: as `find_reported` would not find it
        if (payment is not None and payment.id in taken_payments) or key in alone_keys:
            answers.append(RUN_ALONE)
            if key is not None:
                alone_keys.add(key)
            continue
        row.update(payment_id=payment.id if payment else None, processed_at=row["received_at"])
        if key is not None and key in taken_keys:
            answers.append(Duplicate())
            continue
        if payment is None:
            outcome = NO_SUCH_PAYMENT
        else:
            taken_payments.add(payment.id)
            decision = decide(payment, item.update)
            note_decision(payment, decision, EventSource.PROVIDER)
            if decision.target is not None:
                moves.append(Move(payment, decision.target, decision.changes, row["received_at"]))
            outcome = decision.outcome
        if key is not None:
            taken_keys.add(key)
        stored.append({**row, "verdict": Verdict.ACCEPTED.value, "outcome": outcome})
        answers.append(outcome)
    await transition_many(conn, moves, source=EventSource.PROVIDER)
    if stored:
        await conn.execute(_STORE, stored)
    return answers


def _key(row: dict[str, Any]) -> tuple[Any, ...] | None:
    """The notification's event identity, which is accepted at most once."""
    if row["event_key"] is None:
        return None
    return (row["provider"], row["shop_id"], row["event_key"])


async def _accepted_before(conn: AsyncConnection, items: Sequence[Simple]) -> set[tuple[Any, ...]]:
    """The event identities among `items` that were accepted before."""
    by_source: dict[tuple[str, str], list[str]] = {}
    for item in items:
        if item.row["event_key"] is not None:
            source = (item.row["provider"], item.row["shop_id"])
            by_source.setdefault(source, []).append(item.row["event_key"])
    found: set[tuple[Any, ...]] = set()
    for (provider, shop), keys in by_source.items():
        params = {"provider": provider, "shop": shop, "keys": keys}
        rows = await conn.execute(_ACCEPTED_BEFORE, params)
        found.update((provider, shop, key) for key in rows.scalars())
    return found
