"""Applying the simple notifications of a group commit together.

Most notifications report one payment's new status and name the payment by Kassa's own id.
When several of those arrive together (`kassa.store.group_commit`), `apply_together` applies
them with a few statements for all of them instead of five or six each: one query finds the
events accepted before, one reads the payments, an `UPDATE` per kind of move moves them, one
`INSERT` writes their events and one stores the notifications. It is an execution strategy of
`kassa.services.notifications.applying`, not a second definition: each notification is
decided and applied by the same `apply_updates` and stored with the same `accepted` columns,
only with its reads made up front and its writes made together at the end, in the same shared
commit; its caller is answered only after that commit.

A notification whose payment, or whose event, an earlier one of the same batch already has is
handed back to be applied alone after the batch, on the state the batch left. If anything
fails, the group commit rolls the batch back and applies every notification alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, insert, literal, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import EventSource, PaymentUpdate
from kassa.services import providers as provider_state
from kassa.services.notifications.applying import Duplicate, Verified, accepted, apply_updates
from kassa.services.payments.transitions import Move, find_many, transition_many
from kassa.store.compiled import execute_many, fetch_all
from kassa.store.db import any_of, unnested
from kassa.store.group_commit import RUN_ALONE
from kassa.store.tables import ACCEPTED, notifications


@cache
def _accepted_before_query(dialect: str) -> Select[Any]:
    """Event keys accepted before, among the list `keys`, for one provider and shop (the
    partial unique index's terms, so the query uses it); built once per dialect.

    On PostgreSQL each key is looked up on its own (`LATERAL … LIMIT 1` for every key of
    `unnest(:keys)`): with `event_key = ANY(:keys)` the planner, misled by its estimate
    of a shop's accepted notifications (one, until the table is analysed), read every one of
    them and filtered the keys (12 ms a batch for a shop of 12,000, against 0.25 ms)."""
    source = (
        notifications.c.provider == bindparam("provider"),
        notifications.c.shop_id == bindparam("shop"),
    )
    if dialect != "postgresql":
        return (
            select(notifications.c.event_key)
            .where(*source, any_of(dialect, notifications.c.event_key, "keys"))
            .where(ACCEPTED)
        )
    wanted = unnested("wanted", {"keys": notifications.c.event_key.type})
    hit = (
        select(literal(1))
        .where(*source, notifications.c.event_key == wanted.c["keys"])
        .where(ACCEPTED)
        .limit(1)
        .lateral("hit")
    )
    return select(wanted.c["keys"].label("event_key")).select_from(wanted.join(hit, true()))


_STORE = insert(notifications)


def simple(item: Verified) -> bool:
    """Whether the notification is a simple one: one payment update that names Kassa's
    payment id, of a provider whose state module does not record its notifications."""
    updates = item.parsed.updates
    return (
        len(updates) == 1
        and isinstance(updates[0], PaymentUpdate)
        and bool(_payment_id(item))
        and not provider_state.records(item.account.provider)
    )


def _payment_id(item: Verified) -> str:
    return item.parsed.updates[0].payment_id or ""


async def apply_together(conn: AsyncConnection, items: Sequence[Verified]) -> list[Any]:
    """Apply the simple notifications `items` and store them as accepted; per item its
    outcome, a `Duplicate`, or `RUN_ALONE` (see the module docstring)."""
    taken_keys = await _accepted_before(conn, items)
    found = await find_many(conn, [_payment_id(item) for item in items])
    taken_payments: set[str] = set()
    alone_keys: set[tuple[Any, ...]] = set()
    answers: list[Any] = []
    moves: list[Move] = []
    stored: list[dict[str, Any]] = []
    for item in items:
        key = _key(item)
        payment = found.get(_payment_id(item))
        if payment is not None and payment.provider_account_id != item.account.id:
            payment = None  # another account's payment: as `find_reported` would not find it
        if (payment is not None and payment.id in taken_payments) or key in alone_keys:
            answers.append(RUN_ALONE)
            if key is not None:
                alone_keys.add(key)
            continue
        if key is not None and key in taken_keys:
            answers.append(Duplicate(payment.id if payment else None))
            continue
        if payment is not None:
            taken_payments.add(payment.id)
        outcome, payment_id = await apply_updates(conn, item, payments=[payment], moves=moves)
        if key is not None:
            taken_keys.add(key)
        stored.append({**item.row, **accepted(item, outcome, payment_id)})
        answers.append(outcome)
    await transition_many(conn, moves, source=EventSource.PROVIDER)
    await execute_many(conn, _STORE, stored)
    return answers


def _key(item: Verified) -> tuple[Any, ...] | None:
    """The notification's event identity, which is accepted at most once."""
    if item.parsed.event_key is None:
        return None
    return (item.row["provider"], item.row["shop_id"], item.parsed.event_key)


async def _accepted_before(
    conn: AsyncConnection, items: Sequence[Verified]
) -> set[tuple[Any, ...]]:
    """The event identities among `items` that were accepted before."""
    by_source: dict[tuple[str, str], list[str]] = {}
    for item in items:
        if item.parsed.event_key is not None:
            source = (item.row["provider"], item.row["shop_id"])
            by_source.setdefault(source, []).append(item.parsed.event_key)
    found: set[tuple[Any, ...]] = set()
    query = _accepted_before_query(conn.dialect.name)
    for (provider, shop), keys in by_source.items():
        params = {"provider": provider, "shop": shop, "keys": keys}
        rows = await fetch_all(conn, query, params)
        found.update((provider, shop, row["event_key"]) for row in rows)
    return found
