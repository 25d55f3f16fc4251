"""`kassa audit`'s check of the club: every customer's balance and time bank equal the sums
of their ledger entries (`kassa.services.operations.integrity.CHECKS` runs it)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.store.tables import club_customers, club_ledger

#: Customers read at once.
BATCH = 1000


async def balances(conn: AsyncConnection) -> AsyncIterator[tuple[str, str]]:
    """(customer id, problem) for each customer whose balance or time bank is not the sum of
    their entries."""
    c, entry = club_customers.c, club_ledger.c
    after = ""
    while True:
        rows = (
            await conn.execute(
                select(c.id, c.balance, c.time_bank).where(c.id > after).order_by(c.id).limit(BATCH)
            )
        ).all()
        if not rows:
            return
        sums = {
            customer_id: (int(amount), int(seconds))
            for customer_id, amount, seconds in await conn.execute(
                select(entry.customer_id, func.sum(entry.amount), func.sum(entry.seconds))
                .where(entry.customer_id.in_([row.id for row in rows]))
                .group_by(entry.customer_id)
            )
        }
        for customer_id, balance, time_bank in rows:
            amount, seconds = sums.get(customer_id, (0, 0))
            if balance != amount:
                yield customer_id, f"its balance is {balance}, its ledger adds up to {amount}"
            if time_bank != seconds:
                yield (
                    customer_id,
                    f"its time bank is {time_bank} s, its ledger adds up to {seconds} s",
                )
        after = rows[-1].id
