"""Sending webhook deliveries, Standard Webhooks style, and resending events by hand.

A worker claims due deliveries in a short transaction (on PostgreSQL with `FOR UPDATE SKIP
LOCKED`, so workers never take the same one; SQLite's single writer serialises claims) and
marks each with a claim token and a lease. The same transaction records each delivery's next
attempt as in flight, so that every POST that may leave has an attempt in the record. The
worker posts each with no transaction open, then records the attempt's outcome, and the
delivery's next step only if its claim still holds. A worker that dies mid-way loses its
claims when their lease runs out; whoever claims those deliveries next marks the attempts left
in flight as of unknown outcome (they count as attempts) and sends them again.

The background loop's dispatcher (`deliver_continuously`) keeps one HTTP client and a fixed
number of lanes: each of its transactions records the attempts finished since the last one and
claims deliveries for the free lanes. It fans out and sends as soon as events commit
(`kassa.services.webhooks.wakeups`), as a lane frees up, and every second.

A delivery that runs out of retries fails with a `webhook_delivery.failed` event. An endpoint
whose every attempt failed for five days is disabled, with a reason and a
`webhook_endpoint.disabled` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import (
    RowMapping,
    Select,
    bindparam,
    delete,
    insert,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa import __version__
from kassa.domain import Conflict, EventType, NotFound, new_id
from kassa.services.context import Context
from kassa.services.events.outbox import event_object
from kassa.services.webhooks import deliveries, wakeups
from kassa.services.webhooks import destinations as webhook_destinations
from kassa.services.webhooks import endpoints as webhooks
from kassa.services.webhooks import fanout as webhook_fanout
from kassa.services.webhooks.deliveries import LEASE, AttemptState, Delivery, Status
from kassa.services.webhooks.endpoints import Endpoint, Scope
from kassa.store.keyring import Keyring
from kassa.store.tables import events, webhook_attempts, webhook_deliveries, webhook_endpoints

log = logging.getLogger(__name__)

#: A 2xx within this many seconds is a success.
TIMEOUT = 15.0
#: How much of a response is kept with its attempt.
RESPONSE_KEPT = 1024
#: An endpoint whose every attempt failed for this long is disabled.
DISABLE_AFTER = timedelta(days=5)
#: Deliveries sent at once by one worker, and how long one round keeps taking more.
LANES = 16
ROUND_SECONDS = 5.0
#: How often the dispatcher looks for work when nothing woke it.
TICK = 1.0
#: A claimed delivery still waiting for a lane this long after its claim is not sent but
#: released: its attempt must end (`TIMEOUT`) well within the claim's lease.
STALE = (LEASE - 2 * timedelta(seconds=TIMEOUT)).total_seconds()
USER_AGENT = f"Kassa/{__version__} (webhooks)"

_random = secrets.SystemRandom()


async def dispatch(ctx: Context) -> int:
    """The background job: fan new events out, then send what is due. Returns how many
    deliveries it created and attempts it made."""
    return await webhook_fanout.fan_out(ctx) + await deliver_due(ctx)


@dataclass(frozen=True, slots=True)
class _Job:
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


@dataclass(frozen=True, slots=True)
class _Outcome:
    attempted_at: datetime
    latency_ms: int
    status_code: int | None = None
    body: str | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def summary(self) -> str:
        return f"HTTP {self.status_code}" if self.status_code is not None else str(self.error)


async def deliver_due(ctx: Context, *, lanes: int = LANES, seconds: float = ROUND_SECONDS) -> int:
    """Send due deliveries, up to `lanes` at a time, taking more for about `seconds`; returns
    how many attempts were made."""
    deadline = time.monotonic() + seconds
    async with _client(ctx) as http:
        sender = Sender(ctx, http, lanes=lanes)
        try:
            while True:
                claimed = await sender.step(claim=time.monotonic() < deadline)
                if not sender.busy and not claimed:
                    return sender.attempts
                await sender.changed()
        finally:
            await sender.abandon()


async def deliver_continuously(
    ctx: Context, stop: asyncio.Event, *, lanes: int = LANES, tick: float = TICK
) -> None:
    """The dispatcher of the background loop, until `stop` is set: fans out new events and
    sends due deliveries over `lanes` lanes that keep taking more. It looks again as soon as
    events commit (`kassa.services.webhooks.wakeups`), when a lane is free, and every `tick` seconds
    (retries falling due, lapsed claims, missed wake-ups). Once `stop` is set it claims no
    more, finishes and records the attempts in hand, and returns."""
    wakes = _Wakes()
    unsubscribe = wakeups.on_events(ctx.db, wakes.events_written)
    helpers = [asyncio.create_task(_relay(stop, wakes.poke))]
    if not ctx.db.is_sqlite:
        helpers.append(asyncio.create_task(wakeups.listen(ctx.db, wakes.events_written)))
    try:
        async with _client(ctx) as http:
            sender = Sender(ctx, http, lanes=lanes, poke=wakes.poke)
            try:
                await _serve(ctx, sender, stop, tick=tick, wakes=wakes)
                await _finish(sender)
            finally:
                await sender.abandon()
    finally:
        unsubscribe()
        for helper in helpers:
            helper.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)


class _Wakes:
    """What wakes the dispatcher: `poke` (a lane is free, the stop, new events), and whether
    events were written since it last fanned out."""

    def __init__(self) -> None:
        self.poke = asyncio.Event()
        self.new_events = True

    def events_written(self) -> None:
        self.new_events = True
        self.poke.set()


async def _serve(
    ctx: Context, sender: Sender, stop: asyncio.Event, *, tick: float, wakes: _Wakes
) -> None:
    looked = 0.0
    while not stop.is_set():
        wakes.poke.clear()
        try:
            created = 0
            if wakes.new_events or time.monotonic() - looked >= tick:
                wakes.new_events = False
                looked = time.monotonic()
                created = await webhook_fanout.fan_out(ctx)
            await sender.step(claim=True, look=not created)
        except Exception:
            log.exception("webhook dispatcher: a round failed; trying again shortly")
            await _pause(stop, tick)
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakes.poke.wait(), timeout=tick)


async def _finish(sender: Sender) -> None:
    """Let the attempts in hand finish and record them; release the claims not yet sent."""
    sender.stop_taking()
    while True:
        try:
            await sender.step(claim=False)
        except Exception:
            log.exception("webhook dispatcher: could not record the last attempts")
        if not sender.busy:
            return
        await sender.changed()


async def _relay(stop: asyncio.Event, poke: asyncio.Event) -> None:
    await stop.wait()
    poke.set()


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


class Sender:
    """Sends claimed deliveries over at most `lanes` concurrent POSTs, with up to `ahead`
    more claimed and waiting for a lane (so the lanes keep busy while the next claim waits for
    the database). `step` records the attempts finished since the last step and claims due
    deliveries for the free places, in one transaction; a lane that finishes sets `poke`."""

    def __init__(
        self,
        ctx: Context,
        http: httpx.AsyncClient,
        *,
        lanes: int,
        ahead: int | None = None,
        poke: asyncio.Event | None = None,
    ) -> None:
        self.ctx = ctx
        self.http = http
        self.places = lanes + (lanes if ahead is None else ahead)
        self.poke = poke or asyncio.Event()
        self.attempts = 0
        self._lanes = asyncio.Semaphore(lanes)
        self._sending: set[asyncio.Task[None]] = set()
        self._waiting: dict[asyncio.Task[None], _Job] = {}
        self._finished: list[tuple[_Job, _Outcome]] = []
        self._released: list[_Job] = []

    @property
    def busy(self) -> bool:
        """Whether attempts are being made, or made (or given up) and not yet recorded."""
        return bool(self._sending or self._finished or self._released)

    def stop_taking(self) -> None:
        """Send no more: the claims still waiting for a lane are released at the next step."""
        for task, job in list(self._waiting.items()):
            task.cancel()
            self._released.append(job)
        self._waiting.clear()

    async def changed(self) -> None:
        """Wait until a lane has finished (or anything else set `poke`)."""
        await self.poke.wait()
        self.poke.clear()

    async def step(self, *, claim: bool, look: bool = True) -> int:
        """Record the finished attempts and, with `claim`, claim deliveries for the free
        lanes; returns how many it claimed. If recording fails, those deliveries keep their
        claims until the lease lapses, and are then sent again. With nothing to record, it
        first looks (unless told not to: deliveries were just made) whether anything is due."""
        finished, self._finished = self._finished, []
        released, self._released = self._released, []
        room = self.places - len(self._sending) if claim else 0
        if not finished and not released and (room <= 0 or look):
            if room <= 0:
                return 0
            async with self.ctx.db.read() as conn:
                # Looking first keeps an idle worker from taking SQLite's write lock.
                if (await conn.execute(_due(self.ctx.clock()).limit(1))).first() is None:
                    return 0
        jobs: list[_Job] = []
        async with self.ctx.db.write() as conn:
            if finished:
                await _record_all(conn, finished, now=self.ctx.clock())
            if released:
                await _release(conn, released)
            if room > 0:
                jobs = await _claim_in(conn, now=self.ctx.clock(), limit=room)
        for job in jobs:
            task = asyncio.create_task(self._lane(job))
            self._sending.add(task)
            self._waiting[task] = job
            task.add_done_callback(self._lane_done)
        return len(jobs)

    async def _lane(self, job: _Job) -> None:
        async with self._lanes:
            task = asyncio.current_task()
            if task is not None:
                self._waiting.pop(task, None)
            if time.monotonic() - job.claimed > STALE:
                self._released.append(job)
                return
            outcome = await _send(self.http, job, self.ctx.keyring, now=self.ctx.clock())
        self.attempts += 1
        self._finished.append((job, outcome))

    async def abandon(self) -> None:
        """Cancel the attempts still being made (their claims lapse, and they are sent
        again later)."""
        for task in list(self._sending):
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)

    def _lane_done(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        self._waiting.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("a webhook lane failed", exc_info=task.exception())
        self.poke.set()


def _client(ctx: Context) -> httpx.AsyncClient:
    """The client deliveries go out through: it connects only to public addresses (unless
    the settings allow others; `kassa.services.webhooks.destinations`), and never follows a
    redirect (a 3xx is a failure). An explicit transport also keeps proxies from the
    environment out of it."""
    transport = webhook_destinations.delivery_transport(
        allow_private=ctx.settings.webhooks_allow_private
    )
    return httpx.AsyncClient(
        transport=transport,
        timeout=TIMEOUT,
        follow_redirects=False,
        headers={"user-agent": USER_AGENT},
    )


def _due(now: datetime) -> Select[tuple[str]]:
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


async def _claim(ctx: Context, *, limit: int) -> list[_Job]:
    async with ctx.db.write() as conn:
        return await _claim_in(conn, now=ctx.clock(), limit=limit)


async def _claim_in(conn: AsyncConnection, *, now: datetime, limit: int) -> list[_Job]:
    """Claim up to `limit` due deliveries in the transaction on `conn`."""
    claim = secrets.token_hex(16)
    delivery = webhook_deliveries.c
    due = _due(now).limit(limit).with_for_update(skip_locked=True, of=webhook_deliveries)
    claimed = (
        await conn.execute(
            update(webhook_deliveries)
            .where(delivery.id.in_(due))
            .values(claim=claim, locked_until=now + LEASE)
            .returning(*webhook_deliveries.c)
        )
    ).mappings()
    return await _start(conn, list(claimed), claim, now=now)


async def _start(
    conn: AsyncConnection, rows: Sequence[Mapping[Any, Any]], claim: str, *, now: datetime
) -> list[_Job]:
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


def _in_flight(job: _Job, now: datetime) -> dict[str, Any]:
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
) -> list[_Job]:
    """The jobs of the claimed deliveries `rows`, with their events and endpoints;
    `unknown` attempts of theirs were just counted."""
    event_ids = {row["event_id"] for row in rows}
    endpoint_ids = {row["endpoint_id"] for row in rows}
    found_events = {
        row["id"]: event_object(row)
        for row in (await conn.execute(select(events).where(events.c.id.in_(event_ids))))
        .mappings()
        .all()
    }
    query = select(webhook_endpoints).where(webhook_endpoints.c.id.in_(endpoint_ids))
    found_endpoints = {
        row["id"]: webhooks.endpoint(row) for row in (await conn.execute(query)).mappings().all()
    }
    return [
        _Job(
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


async def _attempt(ctx: Context, http: httpx.AsyncClient, job: _Job) -> None:
    outcome = await _send(http, job, ctx.keyring, now=ctx.clock())
    await _record(ctx, job, outcome)


def _body(event: Mapping[str, Any]) -> bytes:
    """The event object as compact JSON: the exact bytes that are signed and sent."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def signed_headers(
    endpoint: Endpoint, keyring: Keyring, *, msg_id: str, body: bytes, now: datetime
) -> dict[str, str]:
    """The Standard Webhooks headers of a delivery made at `now`: one signature per secret
    that signs at that moment, space-separated."""
    stamp = int(now.timestamp())
    signatures = (
        webhooks.sign(secret, msg_id=msg_id, timestamp=stamp, body=body)
        for secret in endpoint.signing_secrets(now, keyring)
    )
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": " ".join(signatures),
    }


async def _send(http: httpx.AsyncClient, job: _Job, keyring: Keyring, *, now: datetime) -> _Outcome:
    body = _body(job.event)
    headers = signed_headers(job.endpoint, keyring, msg_id=job.event["id"], body=body, now=now)
    started = time.monotonic()

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        async with asyncio.timeout(TIMEOUT):
            async with http.stream(
                "POST", job.endpoint.url, content=body, headers=headers
            ) as response:
                kept = await _first_bytes(response.aiter_bytes(), RESPONSE_KEPT)
    except (TimeoutError, httpx.TimeoutException):
        return _Outcome(now, elapsed(), error=f"no answer within {TIMEOUT:g} s")
    except httpx.HTTPError as exc:
        if isinstance(exc.__cause__, webhook_destinations.DestinationRefused):
            return _Outcome(now, elapsed(), error=str(exc))
        # The exception's text names the host and the failure, never the URL's credentials.
        return _Outcome(now, elapsed(), error=f"{type(exc).__name__}: {exc}"[:500])
    # PostgreSQL's text cannot hold NUL: an answer with one must not make the attempt unstorable.
    text = kept.decode("utf-8", "replace").replace("\x00", "\ufffd")
    return _Outcome(now, elapsed(), status_code=response.status_code, body=text)


async def _first_bytes(chunks: AsyncIterator[bytes], size: int) -> bytes:
    kept = bytearray()
    async for chunk in chunks:
        kept += chunk
        if len(kept) >= size:
            break
    return bytes(kept[:size])


async def _record(ctx: Context, job: _Job, outcome: _Outcome) -> None:
    """Store the attempt and the delivery's next step, if the claim still holds (the lease
    may have lapsed, or the endpoint been deleted meanwhile)."""
    async with ctx.db.write() as conn:
        await _record_all(conn, [(job, outcome)], now=ctx.clock())


async def _record_all(
    conn: AsyncConnection, finished: Sequence[tuple[_Job, _Outcome]], *, now: datetime
) -> None:
    """Record finished attempts in the transaction on `conn`: each attempt's outcome always,
    its delivery's next step only if its claim still holds. The successes of endpoints with
    nothing but successes here take three statements in all (deliveries, attempts, their
    endpoints' health); the rest are recorded one by one,
    in the order they were made, endpoint by endpoint (a fixed order of locks across
    workers). Each takes its delivery's row before its attempt's, the order a claim takes
    them in (`_claim_in`, then `_settle_unknown`), so a worker whose claim lapsed and the
    worker claiming the delivery anew never wait for each other (on PostgreSQL, a
    deadlock)."""
    by_endpoint: dict[str, list[tuple[_Job, _Outcome]]] = {}
    for job, outcome in finished:
        by_endpoint.setdefault(job.endpoint.id, []).append((job, outcome))
    plain: list[tuple[_Job, _Outcome]] = []
    mixed: list[tuple[_Job, _Outcome]] = []
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
    conn: AsyncConnection, finished: Sequence[tuple[_Job, _Outcome]], *, now: datetime
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


async def _release(conn: AsyncConnection, released: Sequence[_Job]) -> None:
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


async def _complete(conn: AsyncConnection, finished: Sequence[tuple[_Job, _Outcome]]) -> None:
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


async def _record_one(
    conn: AsyncConnection, job: _Job, outcome: _Outcome, *, now: datetime
) -> None:
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
    # After the delivery's row, as a claim takes them (see `_record_all`).
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
    conn: AsyncConnection, endpoint: Endpoint, outcome: _Outcome, *, now: datetime
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


async def resend(
    ctx: Context, *, scope: Scope, event_id: str, endpoint_id: str | None = None
) -> list[Delivery]:
    """Send an event again, now: to `endpoint_id` (any enabled endpoint of the event's shop
    and mode, whatever its filter), or to every enabled endpoint that takes events of its
    type. Each resend is a new delivery, retried like any other if this attempt fails."""
    now = ctx.clock()
    claim = secrets.token_hex(16)
    async with ctx.db.write() as conn:
        query = select(events).where(events.c.id == event_id, *scope.scope(events))
        event = (await conn.execute(query)).mappings().first()
        if event is None:
            raise NotFound(f"No event {event_id!r}", param="event")
        targets = await _resend_targets(conn, scope, event, endpoint_id)
        rows = [
            deliveries.new_delivery(
                event_id=event_id, endpoint_id=target, manual=True, now=now, claim=claim
            )
            for target in targets
        ]
        await conn.execute(insert(webhook_deliveries), rows)
        jobs = await _start(conn, rows, claim, now=now)
    async with _client(ctx) as http, asyncio.TaskGroup() as group:
        for job in jobs:
            group.create_task(_attempt(ctx, http, job))
    async with ctx.db.read() as conn:
        return await deliveries.load_deliveries(conn, [row["id"] for row in rows])


async def _resend_targets(
    conn: AsyncConnection, scope: Scope, event: RowMapping, endpoint_id: str | None
) -> list[str]:
    column = webhook_endpoints.c
    query = select(webhook_endpoints).where(
        column.shop_id == event["shop_id"],
        column.test == event["test"],
        *scope.scope(webhook_endpoints),
    )
    if endpoint_id is not None:
        row = (await conn.execute(query.where(column.id == endpoint_id))).mappings().first()
        if row is None:
            raise NotFound(
                f"No webhook endpoint {endpoint_id!r} in the event's shop and mode",
                param="endpoint",
            )
        if not row["enabled"]:
            raise Conflict(
                f"Webhook endpoint {endpoint_id} is disabled; enable it first",
                param="endpoint",
                code="endpoint_disabled",
            )
        return [endpoint_id]
    enabled = await conn.execute(query.where(column.enabled))
    found = [webhooks.endpoint(row) for row in enabled.mappings()]
    targets = [
        endpoint.id
        for endpoint in found
        if endpoint.wants(event["type"]) and not webhooks.concerns(event["data"], endpoint.id)
    ]
    if not targets:
        raise Conflict(
            f"No enabled webhook endpoint takes {event['type']} events; name one to send it to",
            param="endpoint",
            code="no_webhook_endpoint",
        )
    return targets
