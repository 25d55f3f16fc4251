"""Claiming due webhook deliveries: a claim token and a lease on each, and its next attempt
recorded in flight in the same transaction.

A worker claims due deliveries in a short transaction (on PostgreSQL with `FOR UPDATE SKIP
LOCKED`, so workers never take the same one; SQLite's single writer serialises claims) and
marks each with a claim token and a lease. The same transaction records each delivery's next
attempt as in flight, so that every POST that may leave has an attempt in the record. A worker
that dies mid-way loses its claims when their lease runs out; whoever claims those deliveries
next marks the attempts left in flight as of unknown outcome (they count as attempts) and
sends them again. Claims a worker took but did not send are released (`release`).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, insert, literal_column, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import new_id
from kassa.services.objects import event_object
from kassa.services.webhooks import deliveries
from kassa.services.webhooks import endpoints as webhooks
from kassa.services.webhooks.deliveries import LEASE, AttemptState, Status
from kassa.services.webhooks.endpoints import Endpoint
from kassa.store import records
from kassa.store.tables import events, webhook_attempts, webhook_deliveries, webhook_endpoints

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed delivery with what sending it needs."""

    delivery_id: str
    claim: str
    #: The attempts recorded before this one (the retry schedule counts them).
    attempts: int
    #: This attempt's row, recorded in flight with the claim.
    attempt_id: str
    began: datetime
    event: dict[str, Any]
    endpoint: Endpoint
    #: When it was claimed, on this process's monotonic clock.
    claimed: float = field(default_factory=time.monotonic)


def due(now: datetime) -> Select[tuple[str]]:
    """Deliveries due at `now` to enabled endpoints and claimed by no live worker, oldest
    first."""
    delivery = webhook_deliveries.c
    return (
        select(delivery.id)
        .join(webhook_endpoints, webhook_endpoints.c.id == delivery.endpoint_id)
        .where(
            # A literal, so PostgreSQL can use the partial index of pending deliveries.
            delivery.status == literal_column(f"'{Status.PENDING.value}'"),
            delivery.next_attempt_at <= now,
            or_(delivery.locked_until.is_(None), delivery.locked_until < now),
            webhook_endpoints.c.enabled,
        )
        .order_by(delivery.next_attempt_at)
    )


async def claim(conn: AsyncConnection, *, now: datetime, limit: int) -> list[Job]:
    """Claim up to `limit` due deliveries in the transaction on `conn`: the jobs of sending
    them (`start`)."""
    token = secrets.token_hex(16)
    delivery = webhook_deliveries.c
    taken = due(now).limit(limit).with_for_update(skip_locked=True, of=webhook_deliveries)
    claimed = (
        await conn.execute(
            update(webhook_deliveries)
            .where(delivery.id.in_(taken))
            .values(claim=token, locked_until=now + LEASE)
            .returning(*webhook_deliveries.c)
        )
    ).mappings()
    return await start(conn, list(claimed), token, now=now)


async def start(
    conn: AsyncConnection, rows: Sequence[Mapping[Any, Any]], claim: str, *, now: datetime
) -> list[Job]:
    """The jobs of the deliveries `rows`, just claimed with `claim` in the transaction on
    `conn`, each with its attempt recorded in flight in that transaction: once it commits,
    whatever is sent is in the record, even if this process dies before hearing back."""
    if not rows:
        return []
    unknown = await _settle_unknown(conn, [row["id"] for row in rows])
    jobs = await _jobs_of(conn, rows, claim, unknown)
    await conn.execute(insert(webhook_attempts), [_in_flight(job, now) for job in jobs])
    return jobs


async def _settle_unknown(conn: AsyncConnection, delivery_ids: Sequence[str]) -> Counter[str]:
    """Mark the attempts a dead claim left in flight on the deliveries `delivery_ids` (now
    claimed by the caller, so no live worker is making them) as of unknown outcome, and count
    them as attempts of their deliveries; returns how many each delivery had. Each is counted
    once: only rows still in flight are taken, and a slow worker that records the outcome
    later replaces `unknown` with it without counting it again."""
    attempt = webhook_attempts.c
    settled = await conn.execute(
        update(webhook_attempts)
        .where(attempt.delivery_id.in_(delivery_ids), attempt.state == AttemptState.IN_FLIGHT.value)
        .values(state=AttemptState.UNKNOWN.value, error=deliveries.OUTCOME_UNKNOWN)
        .returning(attempt.delivery_id)
    )
    found = Counter(settled.scalars())
    delivery = webhook_deliveries.c
    for delivery_id, count in sorted(found.items()):
        await conn.execute(
            update(webhook_deliveries)
            .where(delivery.id == delivery_id)
            .values(attempts=delivery.attempts + count)
        )
        log.warning(
            "delivery %s: %d attempt(s) left in flight by a stopped worker; outcome unknown",
            delivery_id,
            count,
        )
    return found


def _in_flight(job: Job, now: datetime) -> dict[str, Any]:
    return {
        "id": job.attempt_id,
        "delivery_id": job.delivery_id,
        "state": AttemptState.IN_FLIGHT.value,
        "attempted_at": now,
        "succeeded": False,
        "latency_ms": 0,
    }


async def _jobs_of(
    conn: AsyncConnection,
    rows: Sequence[Mapping[Any, Any]],
    claim: str,
    unknown: Mapping[str, int],
) -> list[Job]:
    """The jobs of the claimed deliveries `rows`, with their events and endpoints;
    `unknown` attempts of theirs were just counted."""
    event_ids = {row["event_id"] for row in rows}
    endpoint_ids = {row["endpoint_id"] for row in rows}
    found_events = {
        row["id"]: event_object(records.event(row))
        for row in (await conn.execute(select(events).where(events.c.id.in_(event_ids))))
        .mappings()
        .all()
    }
    query = select(webhook_endpoints).where(webhook_endpoints.c.id.in_(endpoint_ids))
    found_endpoints = {
        row["id"]: webhooks.endpoint(row) for row in (await conn.execute(query)).mappings().all()
    }
    return [
        Job(
            delivery_id=row["id"],
            claim=claim,
            attempts=row["attempts"] + unknown.get(row["id"], 0),
            attempt_id=new_id("wa"),
            began=row["created_at"],
            event=found_events[row["event_id"]],
            endpoint=found_endpoints[row["endpoint_id"]],
        )
        for row in rows
    ]


async def release(conn: AsyncConnection, released: Sequence[Job]) -> None:
    """Give up claims that were not sent, so that any worker may take them at once, and
    forget their attempts, which were never made (unless the claim was lost meanwhile: then
    its taker has counted the attempt already)."""
    delivery = webhook_deliveries.c
    claims = sorted((job.delivery_id, job.claim) for job in released)
    kept = set(
        (
            await conn.execute(
                update(webhook_deliveries)
                .where(tuple_(delivery.id, delivery.claim).in_(claims))
                .values(claim=None, locked_until=None)
                .returning(delivery.id)
            )
        ).scalars()
    )
    unsent = [job.attempt_id for job in released if job.delivery_id in kept]
    if unsent:
        attempt = webhook_attempts.c
        await conn.execute(
            delete(webhook_attempts).where(
                attempt.id.in_(unsent), attempt.state == AttemptState.IN_FLIGHT.value
            )
        )
