"""Applying a verified notification: the one definition of what it decides and writes.

`apply_updates` takes a notification's updates in order. It finds the payment each is about,
among the payments of the account that verified it; for a payment update the domain decides
what it means (`decide`, through `apply_payment_update`), and the payment moves through the
transition table with its event; a refund update goes to `apply_refund_update`. `accepted`
is what the notification's row then says: verdict, outcome, payment, when. An event is
accepted at most once (a partial unique index on the provider's event identity): a second
copy is a `Duplicate` and nothing of it is applied.

It runs in the caller's transaction, in one of three ways:

- `apply_alone`: every read and write at once, the notification stored by an insert that does
  nothing if its event was accepted before (the receive path, in a savepoint of a group
  commit);
- `kassa.services.notifications.batch`: the same for many simple notifications together, with
  the reads made up front for all of them and their moves and rows written together at the
  end;
- `reapply`: a notification stored as pending, its row claimed first and then updated
  (re-processing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import EventSource, Payment, PaymentUpdate, ProviderAccount, ReceiptUpdate
from kassa.providers import Notification, Verdict
from kassa.services.payments.receipts import apply_receipt_update
from kassa.services.payments.refunds import apply_refund_update
from kassa.services.payments.transitions import Move, apply_payment_update, find_reported
from kassa.store.db import insert_ignoring_conflict
from kassa.store.tables import ACCEPTED, notifications

#: The outcome stored for a notification about a payment Kassa does not have.
NO_SUCH_PAYMENT = "ignored: no such payment"
#: The outcome stored for a notification with no updates.
NOTHING_TO_APPLY = "nothing to apply"


@dataclass(frozen=True, slots=True)
class Verified:
    """A verified notification to apply: its notification row (as received, or as stored
    pending), the account that verified it, what it says, and the time its writes bear."""

    row: dict[str, Any]
    account: ProviderAccount
    parsed: Notification
    now: datetime


class Duplicate(Exception):
    """The notification's event was accepted before: nothing of it is applied. `payment_id`
    is the payment it is about, for the duplicate's own row."""

    def __init__(self, payment_id: str | None) -> None:
        super().__init__(payment_id)
        self.payment_id = payment_id


async def apply_updates(
    conn: AsyncConnection,
    item: Verified,
    *,
    payments: Sequence[Payment | None] | None = None,
    moves: list[Move] | None = None,
) -> tuple[str, str | None]:
    """Apply every update of `item` on `conn`; the outcome and the payment it was about.

    A batch gives the `payments` its updates are about, in order, as it read them for all its
    notifications at once, and takes their `moves` to make them together (`transition_many`).
    Otherwise each payment is read, and moved, here."""
    outcomes: list[str] = []
    payment_id: str | None = None
    for index, reported in enumerate(item.parsed.updates):
        if payments is not None:
            payment = payments[index]
        else:
            payment = await find_reported(
                conn,
                account=item.account,
                payment_id=reported.payment_id,
                provider_payment_id=reported.provider_payment_id,
            )
        if payment is None:
            outcomes.append(NO_SUCH_PAYMENT)
            continue
        payment_id = payment.id
        if isinstance(reported, PaymentUpdate):
            applied = await apply_payment_update(
                conn,
                payment=payment,
                reported=reported,
                source=EventSource.PROVIDER,
                now=item.now,
                moves=moves,
            )
            outcomes.append(applied.outcome)
        elif moves is not None:
            raise ValueError("a batch applies payment updates only")
        elif isinstance(reported, ReceiptUpdate):
            outcomes.append(await apply_receipt_update(conn, payment=payment, reported=reported))
        else:
            refund = await apply_refund_update(
                conn, payment=payment, reported=reported, source=EventSource.PROVIDER, now=item.now
            )
            outcomes.append(refund.outcome)
    return "; ".join(outcomes) or NOTHING_TO_APPLY, payment_id


def accepted(item: Verified, outcome: str, payment_id: str | None) -> dict[str, Any]:
    """The columns of an accepted notification's row that applying it sets."""
    return {
        "verdict": Verdict.ACCEPTED.value,
        "outcome": outcome,
        "payment_id": payment_id,
        "event_key": item.parsed.event_key,
        "processed_at": item.now,
    }


async def apply_alone(conn: AsyncConnection, item: Verified) -> str:
    """Apply a notification just received and store it as accepted, on `conn`; its outcome.
    Raises `Duplicate` if its event was accepted before, having written part of it: roll
    the caller's savepoint back."""
    outcome, payment_id = await apply_updates(conn, item)
    values = {**item.row, **accepted(item, outcome, payment_id)}
    if (await conn.execute(_accepted_insert(conn.dialect.name), values)).first() is None:
        raise Duplicate(payment_id)
    return outcome


@cache
def _accepted_insert(dialect: str) -> Insert:
    """The insert of an accepted notification, built once per dialect (values are given at
    execution, and a reused statement is not traversed again for SQLAlchemy's cache key)."""
    return insert_ignoring_conflict(
        dialect,
        notifications,
        index_elements=["provider", "shop_id", "event_key"],
        # PostgreSQL matches an ON CONFLICT target to a partial index only by the same
        # predicate, written as a literal (a bound parameter does not match).
        index_where=ACCEPTED,
    ).returning(notifications.c.id)


async def reapply(conn: AsyncConnection, item: Verified) -> bool:
    """Apply a notification stored as pending and mark it accepted, on `conn`; False if it
    is pending no more (another worker settled it). Its row is claimed first, so concurrent
    workers cannot both apply it. If its event was accepted meanwhile (the provider resent
    it), marking it accepted raises `IntegrityError`, having written part of it: roll the
    transaction back."""
    this = notifications.c.id == item.row["id"]
    claimed = await conn.execute(
        update(notifications)
        .where(this, notifications.c.verdict == Verdict.PENDING.value)
        .values(attempts=notifications.c.attempts + 1)
        .returning(notifications.c.id)
    )
    if claimed.first() is None:
        return False
    outcome, payment_id = await apply_updates(conn, item)
    await conn.execute(
        update(notifications).where(this).values(accepted(item, outcome, payment_id))
    )
    return True
