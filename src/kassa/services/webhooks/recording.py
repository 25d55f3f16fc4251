"""Recording the attempts made: each attempt's outcome, its delivery's next step if the claim
still holds, and its endpoint's health.

A delivery that runs out of retries fails with a `webhook_delivery.failed` event. An endpoint
whose every attempt failed for five days (`DISABLE_AFTER`) is disabled, with a reason and a
`webhook_endpoint.disabled` event.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import bindparam, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import EventType
from kassa.services.webhooks import deliveries, wakeups
from kassa.services.webhooks import endpoints as webhooks
from kassa.services.webhooks.claims import Job
from kassa.services.webhooks.deliveries import AttemptState, Status
from kassa.services.webhooks.endpoints import Endpoint
from kassa.services.webhooks.posting import Outcome
from kassa.store.tables import webhook_attempts, webhook_deliveries, webhook_endpoints

log = logging.getLogger(__name__)

#: An endpoint whose every attempt failed for this long is disabled.
DISABLE_AFTER = timedelta(days=5)

_random = secrets.SystemRandom()


async def record_all(
    conn: AsyncConnection, finished: Sequence[tuple[Job, Outcome]], *, now: datetime
) -> None:
    """Record finished attempts in the transaction on `conn`: each attempt's outcome always,
    its delivery's next step only if its claim still holds. The successes of endpoints with
    nothing but successes here take three statements in all (deliveries, attempts, their
    endpoints' health); the rest are recorded one by one, in the order they were made,
    endpoint by endpoint (a fixed order of locks across workers). Each takes its delivery's
    row before its attempt's, the order a claim takes them in (`claims.claim`), so a worker
    whose claim lapsed and the worker claiming the delivery anew never wait for each other
    (on PostgreSQL, a deadlock)."""
    by_endpoint: dict[str, list[tuple[Job, Outcome]]] = {}
    for job, outcome in finished:
        by_endpoint.setdefault(job.endpoint.id, []).append((job, outcome))
    plain: list[tuple[Job, Outcome]] = []
    mixed: list[tuple[Job, Outcome]] = []
    for endpoint_id in sorted(by_endpoint):
        theirs = by_endpoint[endpoint_id]
        if all(outcome.succeeded for _, outcome in theirs):
            plain += theirs
        else:
            mixed += sorted(theirs, key=lambda item: item[1].attempted_at)
    if plain:
        await _record_successes(conn, plain, now=now)
    for job, outcome in mixed:
        await _record_one(conn, job, outcome, now=now)


async def _record_successes(
    conn: AsyncConnection, finished: Sequence[tuple[Job, Outcome]], *, now: datetime
) -> None:
    delivery = webhook_deliveries.c
    claims = sorted((job.delivery_id, job.claim) for job, _ in finished)
    updated = await conn.execute(
        update(webhook_deliveries)
        .where(tuple_(delivery.id, delivery.claim).in_(claims))
        .values(
            status=Status.SUCCEEDED.value,
            attempts=delivery.attempts + 1,
            next_attempt_at=None,
            claim=None,
            locked_until=None,
            updated_at=now,
        )
        .returning(delivery.id)
    )
    kept = set(updated.scalars())
    await _complete(conn, finished)
    for job, _ in finished:
        if job.delivery_id not in kept:
            log.warning("delivery %s: claim lost before its attempt was recorded", job.delivery_id)
    recorded = [(job, outcome) for job, outcome in finished if job.delivery_id in kept]
    if not recorded:
        return
    column = webhook_endpoints.c
    await conn.execute(
        update(webhook_endpoints)
        .where(
            column.id.in_(sorted({job.endpoint.id for job, _ in recorded})),
            column.failing_since.is_not(None),
        )
        .values(failing_since=None)
    )


async def _complete(conn: AsyncConnection, finished: Sequence[tuple[Job, Outcome]]) -> None:
    """Record the outcome of attempts made, whether or not their claims still hold: the POST
    was made, so it stays in the record (a worker that took over the delivery may have marked
    it of unknown outcome meanwhile, and counted it; the outcome is now known)."""
    attempt = webhook_attempts.c
    await conn.execute(
        update(webhook_attempts)
        .where(attempt.id == bindparam("attempt_id"))
        .values(
            state=AttemptState.DONE.value,
            attempted_at=bindparam("at"),
            succeeded=bindparam("ok"),
            status_code=bindparam("code"),
            latency_ms=bindparam("ms"),
            response_body=bindparam("body"),
            error=bindparam("why"),
        ),
        [
            {
                "attempt_id": job.attempt_id,
                "at": outcome.attempted_at,
                "ok": outcome.succeeded,
                "code": outcome.status_code,
                "ms": outcome.latency_ms,
                "body": outcome.body,
                "why": outcome.error,
            }
            for job, outcome in finished
        ],
    )


async def _record_one(conn: AsyncConnection, job: Job, outcome: Outcome, *, now: datetime) -> None:
    if outcome.succeeded:
        status, next_at = Status.SUCCEEDED, None
    else:
        next_at = deliveries.next_attempt_at(
            began=job.began,
            attempted_at=outcome.attempted_at,
            failures=job.attempts + 1,
            jitter=_random.uniform(-1.0, 1.0),
        )
        status = Status.PENDING if next_at else Status.FAILED
    delivery = webhook_deliveries.c
    updated = await conn.execute(
        update(webhook_deliveries)
        .where(delivery.id == job.delivery_id, delivery.claim == job.claim)
        .values(
            status=status.value,
            attempts=delivery.attempts + 1,
            next_attempt_at=next_at,
            claim=None,
            locked_until=None,
            updated_at=now,
        )
        .returning(delivery.id)
    )
    # After the delivery's row, as a claim takes them (see `record_all`).
    await _complete(conn, [(job, outcome)])
    if updated.first() is None:
        log.warning("delivery %s: claim lost before its attempt was recorded", job.delivery_id)
        return
    await _update_health(conn, job.endpoint, outcome, now=now)
    if status is Status.FAILED:
        (failed,) = await deliveries.load_deliveries(conn, [job.delivery_id])
        await webhooks.record_event(
            conn,
            type=EventType.WEBHOOK_DELIVERY_FAILED,
            shop_id=job.endpoint.shop_id,
            test=job.endpoint.test,
            data=deliveries.delivery_object(failed),
            now=now,
        )
        await wakeups.event_written(conn)


async def _update_health(
    conn: AsyncConnection, endpoint: Endpoint, outcome: Outcome, *, now: datetime
) -> None:
    """Keep when the endpoint's run of failures began; disable it once that is too long ago."""
    column = webhook_endpoints.c
    this = column.id == endpoint.id
    if outcome.succeeded:
        await conn.execute(
            update(webhook_endpoints)
            .where(this, column.failing_since.is_not(None))
            .values(failing_since=None)
        )
        return
    await conn.execute(
        update(webhook_endpoints)
        .where(this, column.failing_since.is_(None))
        .values(failing_since=outcome.attempted_at)
    )
    disabled = await conn.execute(
        update(webhook_endpoints)
        .where(this, column.enabled, column.failing_since <= now - DISABLE_AFTER)
        .values(
            enabled=False,
            disabled_reason=(
                f"Every delivery failed for {DISABLE_AFTER.days} days "
                f"(the last: {outcome.summary()}); fix the endpoint, then enable it again"
            ),
            updated_at=now,
        )
        .returning(*webhook_endpoints.c)
    )
    row = disabled.mappings().first()
    if row is not None:
        await webhooks.record_event(
            conn,
            type=EventType.WEBHOOK_ENDPOINT_DISABLED,
            shop_id=endpoint.shop_id,
            test=endpoint.test,
            data=webhooks.endpoint_object(webhooks.endpoint(row)),
            now=now,
        )
        await wakeups.event_written(conn)
