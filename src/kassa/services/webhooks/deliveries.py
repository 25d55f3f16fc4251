"""Webhook deliveries: an event on its way to one endpoint, every attempt at it, the retry
schedule, and reading them back.

A delivery is made by fan-out (`kassa.services.webhooks.fanout`, automatic: one per event and
subscribed endpoint) or by a resend (manual), and sent by `kassa.services.webhooks.sending`.
Retries follow Standard Webhooks' schedule with ±10 % jitter, then every 12 hours until three
days after the delivery began; then it fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import NotFound, new_id
from kassa.services.context import Context
from kassa.services.objects import timestamp
from kassa.services.pagination import PageRequest, fetch_page
from kassa.services.webhooks import endpoints as webhooks
from kassa.services.webhooks.endpoints import Scope
from kassa.store.tables import webhook_attempts, webhook_deliveries

#: The wait after each failed attempt (Standard Webhooks); then `RETRY_EVERY`.
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
RETRY_EVERY = timedelta(hours=12)
#: No attempt is made later than this after a delivery began.
RETRY_FOR = timedelta(days=3)
#: The spread of each wait, as a fraction of it either way.
JITTER = 0.1
#: How long a worker's claim on a delivery holds: longer than any send, so only a dead
#: worker's claims lapse.
LEASE = timedelta(seconds=60)


class Status(StrEnum):
    """Where a delivery is: retries to come, or done either way."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class AttemptState(StrEnum):
    """Whether an attempt's answer is known. An attempt is recorded `in_flight`, and committed,
    before its POST is sent, and `done` once the answer (or its absence) is known; an attempt
    still in flight when its sender died becomes `unknown` (it may have reached the endpoint)
    when the delivery is next taken up. So every POST made is an attempt in the record."""

    IN_FLIGHT = "in_flight"
    DONE = "done"
    UNKNOWN = "unknown"


#: The error of an attempt whose outcome is unknown.
OUTCOME_UNKNOWN = (
    "outcome unknown: Kassa stopped while making this attempt; it may have reached the endpoint"
)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One POST to an endpoint and what came of it."""

    id: str
    state: AttemptState
    attempted_at: datetime
    succeeded: bool
    status_code: int | None
    latency_ms: int
    response_body: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """An event on its way to one endpoint: automatic (fan-out) or `manual` (a resend)."""

    id: str
    endpoint_id: str
    event_id: str
    manual: bool
    status: Status
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    attempts: tuple[Attempt, ...]


def delivery_object(delivery: Delivery) -> dict[str, Any]:
    """A delivery as the API shows it, with its attempts oldest first."""
    return {
        "id": delivery.id,
        "object": "webhook_delivery",
        "endpoint": delivery.endpoint_id,
        "event": delivery.event_id,
        "manual": delivery.manual,
        "status": delivery.status.value,
        "next_attempt_at": timestamp(delivery.next_attempt_at),
        "created_at": timestamp(delivery.created_at),
        "updated_at": timestamp(delivery.updated_at),
        "attempts": [
            {
                "id": attempt.id,
                "state": attempt.state.value,
                "attempted_at": timestamp(attempt.attempted_at),
                "succeeded": attempt.succeeded,
                "status_code": attempt.status_code,
                "latency_ms": attempt.latency_ms,
                "response_body": attempt.response_body,
                "error": attempt.error,
            }
            for attempt in delivery.attempts
        ],
    }


def retry_delay(failures: int, *, jitter: float = 0.0) -> timedelta:
    """The wait after the `failures`-th failed attempt; `jitter` in [-1, 1] moves it by up to
    `JITTER` of itself, so endpoints that failed together are not all retried together."""
    base = RETRY_DELAYS[failures - 1] if failures <= len(RETRY_DELAYS) else RETRY_EVERY
    return base * (1 + JITTER * jitter)


def next_attempt_at(
    *, began: datetime, attempted_at: datetime, failures: int, jitter: float = 0.0
) -> datetime | None:
    """When to try again after `failures` failed attempts, the last at `attempted_at`; None
    once that would be more than `RETRY_FOR` after the delivery `began`."""
    due = attempted_at + retry_delay(failures, jitter=jitter)
    return due if due <= began + RETRY_FOR else None


def new_delivery(
    *, event_id: str, endpoint_id: str, manual: bool, now: datetime, claim: str | None = None
) -> dict[str, Any]:
    """The row of a new delivery, due now; with `claim`, already claimed by its maker."""
    return {
        "id": new_id("wd"),
        "endpoint_id": endpoint_id,
        "event_id": event_id,
        "manual": manual,
        "status": Status.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "claim": claim,
        "locked_until": now + LEASE if claim else None,
        "created_at": now,
        "updated_at": now,
    }


async def list_deliveries(
    ctx: Context,
    *,
    scope: Scope,
    endpoint_id: str,
    page: PageRequest,
    event_id: str | None = None,
) -> tuple[list[Delivery], bool]:
    """A page of the endpoint's deliveries with their attempts, newest first."""
    await webhooks.get_endpoint(ctx, scope=scope, endpoint_id=endpoint_id)
    conditions = [webhook_deliveries.c.endpoint_id == endpoint_id]
    if event_id is not None:
        conditions.append(webhook_deliveries.c.event_id == event_id)
    async with ctx.db.read() as conn:
        rows, has_more = await fetch_page(conn, webhook_deliveries, conditions, page)
        return await load_deliveries(conn, [row["id"] for row in rows]), has_more


async def get_delivery(
    ctx: Context, *, scope: Scope, endpoint_id: str, delivery_id: str
) -> Delivery:
    """One of the endpoint's deliveries with its attempts; `NotFound` if the endpoint is not
    in `scope` or has no such delivery."""
    await webhooks.get_endpoint(ctx, scope=scope, endpoint_id=endpoint_id)
    async with ctx.db.read() as conn:
        found = await load_deliveries(conn, [delivery_id])
    if not found or found[0].endpoint_id != endpoint_id:
        raise NotFound(f"No delivery {delivery_id!r} to endpoint {endpoint_id!r}", param="delivery")
    return found[0]


async def load_deliveries(conn: AsyncConnection, delivery_ids: Sequence[str]) -> list[Delivery]:
    """The deliveries `delivery_ids` with their attempts, in that order."""
    query = select(webhook_deliveries).where(webhook_deliveries.c.id.in_(delivery_ids))
    rows = {row["id"]: row for row in (await conn.execute(query)).mappings().all()}
    attempts = await _attempts_of(conn, delivery_ids)
    return [
        Delivery(
            id=row["id"],
            endpoint_id=row["endpoint_id"],
            event_id=row["event_id"],
            manual=row["manual"],
            status=Status(row["status"]),
            next_attempt_at=row["next_attempt_at"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            attempts=tuple(attempts.get(row["id"], ())),
        )
        for row in (rows[delivery_id] for delivery_id in delivery_ids if delivery_id in rows)
    ]


async def _attempts_of(
    conn: AsyncConnection, delivery_ids: Iterable[str]
) -> dict[str, list[Attempt]]:
    query = (
        select(webhook_attempts)
        .where(webhook_attempts.c.delivery_id.in_(list(delivery_ids)))
        .order_by(webhook_attempts.c.attempted_at, webhook_attempts.c.id)
    )
    found: dict[str, list[Attempt]] = {}
    for row in (await conn.execute(query)).mappings():
        found.setdefault(row["delivery_id"], []).append(
            Attempt(
                id=row["id"],
                state=AttemptState(row["state"]),
                attempted_at=row["attempted_at"],
                succeeded=row["succeeded"],
                status_code=row["status_code"],
                latency_ms=row["latency_ms"],
                response_body=row["response_body"],
                error=row["error"],
            )
        )
    return found
