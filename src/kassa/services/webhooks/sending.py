"""Sending webhook deliveries, Standard Webhooks style: the background loop's dispatcher, and
resending events by hand.

A worker claims due deliveries (`kassa.services.webhooks.claims`), posts each with no
transaction open (`kassa.services.webhooks.posting`), then records the attempt's outcome, and
the delivery's next step only if its claim still holds (`kassa.services.webhooks.recording`).

The background loop's dispatcher (`deliver_continuously`) keeps one HTTP client and a fixed
number of lanes: each of its transactions records the attempts finished since the last one and
claims deliveries for the free lanes. It fans out and sends as soon as events commit
(`kassa.services.webhooks.wakeups`), as a lane frees up, and every second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from datetime import timedelta

import httpx
from sqlalchemy import RowMapping, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import Conflict, NotFound
from kassa.services.callers import Caller
from kassa.services.context import Context
from kassa.services.webhooks import claims, deliveries, posting, recording, wakeups
from kassa.services.webhooks import endpoints as webhooks
from kassa.services.webhooks import fanout as webhook_fanout
from kassa.services.webhooks.claims import Job
from kassa.services.webhooks.deliveries import LEASE, Delivery
from kassa.services.webhooks.posting import Outcome
from kassa.store.tables import events, webhook_deliveries, webhook_endpoints

log = logging.getLogger(__name__)

#: Deliveries sent at once by one worker, and how long one round keeps taking more.
LANES = 16
ROUND_SECONDS = 5.0
#: How often the dispatcher looks for work when nothing woke it.
TICK = 1.0
#: A claimed delivery still waiting for a lane this long after its claim is not sent but
#: released: its attempt must end (`posting.TIMEOUT`) well within the claim's lease.
STALE = (LEASE - 2 * timedelta(seconds=posting.TIMEOUT)).total_seconds()


async def dispatch(ctx: Context) -> int:
    """The background job: fan new events out, then send what is due. Returns how many
    deliveries it created and attempts it made."""
    return await webhook_fanout.fan_out(ctx) + await deliver_due(ctx)


async def deliver_due(ctx: Context, *, lanes: int = LANES, seconds: float = ROUND_SECONDS) -> int:
    """Send due deliveries, up to `lanes` at a time, taking more for about `seconds`; returns
    how many attempts were made."""
    deadline = time.monotonic() + seconds
    async with posting.client(ctx) as http:
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
        async with posting.client(ctx) as http:
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
        self._waiting: dict[asyncio.Task[None], Job] = {}
        self._finished: list[tuple[Job, Outcome]] = []
        self._released: list[Job] = []

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
                if (await conn.execute(claims.due(self.ctx.clock()).limit(1))).first() is None:
                    return 0
        jobs: list[Job] = []
        async with self.ctx.db.write() as conn:
            if finished:
                await recording.record_all(conn, finished, now=self.ctx.clock())
            if released:
                await claims.release(conn, released)
            if room > 0:
                jobs = await claims.claim(conn, now=self.ctx.clock(), limit=room)
        for job in jobs:
            task = asyncio.create_task(self._lane(job))
            self._sending.add(task)
            self._waiting[task] = job
            task.add_done_callback(self._lane_done)
        return len(jobs)

    async def _lane(self, job: Job) -> None:
        async with self._lanes:
            task = asyncio.current_task()
            if task is not None:
                self._waiting.pop(task, None)
            if time.monotonic() - job.claimed > STALE:
                self._released.append(job)
                return
            outcome = await posting.send(self.http, job, self.ctx.keyring, now=self.ctx.clock())
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


async def resend(
    ctx: Context, *, caller: Caller, event_id: str, endpoint_id: str | None = None
) -> list[Delivery]:
    """Send an event again, now: to `endpoint_id` (any enabled endpoint of the event's shop
    and mode, whatever its filter), or to every enabled endpoint that takes events of its
    type. Each resend is a new delivery, retried like any other if this attempt fails."""
    now = ctx.clock()
    claim = secrets.token_hex(16)
    async with ctx.db.write() as conn:
        query = select(events).where(events.c.id == event_id, *caller.scope(events))
        event = (await conn.execute(query)).mappings().first()
        if event is None:
            raise NotFound(f"No event {event_id!r}", param="event")
        targets = await _resend_targets(conn, caller, event, endpoint_id)
        rows = [
            deliveries.new_delivery(
                event_id=event_id, endpoint_id=target, manual=True, now=now, claim=claim
            )
            for target in targets
        ]
        await conn.execute(insert(webhook_deliveries), rows)
        jobs = await claims.start(conn, rows, claim, now=now)
    async with posting.client(ctx) as http, asyncio.TaskGroup() as group:
        for job in jobs:
            group.create_task(_attempt(ctx, http, job))
    async with ctx.db.read() as conn:
        return await deliveries.load_deliveries(conn, [row["id"] for row in rows])


async def _attempt(ctx: Context, http: httpx.AsyncClient, job: Job) -> None:
    """Send one delivery and record how it went, in a transaction of its own."""
    outcome = await posting.send(http, job, ctx.keyring, now=ctx.clock())
    async with ctx.db.write() as conn:
        await recording.record_all(conn, [(job, outcome)], now=ctx.clock())


async def _resend_targets(
    conn: AsyncConnection, caller: Caller, event: RowMapping, endpoint_id: str | None
) -> list[str]:
    column = webhook_endpoints.c
    query = select(webhook_endpoints).where(
        column.shop_id == event["shop_id"],
        column.test == event["test"],
        *caller.scope(webhook_endpoints),
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
