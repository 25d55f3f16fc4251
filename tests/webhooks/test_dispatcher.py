"""The dispatcher of the background loop: woken as soon as an event commits (in this process,
or on PostgreSQL in another), finishing its attempts in hand when stopped, and recording a
batch of attempts with each endpoint's health in the order they were made.

Every dispatcher here has a tick of an hour, so whatever it sends after its first look came
from a wake-up, not from its periodic one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from kassa.services.context import Context
from kassa.services.webhooks import fanout as webhook_fanout
from kassa.services.webhooks import recording
from kassa.services.webhooks import sending as webhook_sending
from kassa.services.webhooks.posting import Outcome
from kassa.store.tables import webhook_deliveries
from tests.helpers import create_payment
from tests.live import LiveServer
from tests.webhooks.conftest import Hooks, claim_due, parse_time
from tests.webhooks.receiver import Receiver

HOUR = 3600.0


def eventually(check: Callable[[], bool], *, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.02)


@contextmanager
def dispatcher(
    server: LiveServer, ctx: Context | None = None, *, lanes: int = 16
) -> Iterator[None]:
    """`deliver_continuously` on the server's loop for the block, then stopped (it must
    return once its attempts in hand are recorded)."""
    stop = asyncio.Event()
    started: list[asyncio.Task[None]] = []

    async def start() -> None:
        started.append(
            asyncio.create_task(
                webhook_sending.deliver_continuously(
                    ctx or server.ctx, stop, lanes=lanes, tick=HOUR
                )
            )
        )

    async def finish() -> None:
        stop.set()
        await asyncio.wait_for(started[0], timeout=20)

    server.call(start())
    try:
        yield
    finally:
        server.call(finish(), timeout=30)


def arrived(receiver: Receiver, payment_id: str) -> bool:
    return any(r.event["data"]["object"]["id"] == payment_id for r in receiver.requests)


def test_a_committed_event_wakes_the_dispatcher(
    server: LiveServer, hooks: Hooks, receiver: Receiver, api: httpx.Client
) -> None:
    endpoint = hooks.create(receiver.url + "/kassa", events=["payment.created"])
    with dispatcher(server):
        first = create_payment(api)
        eventually(lambda: arrived(receiver, first["id"]), what="the first event")
        second = create_payment(api)  # after its first look: only a wake-up sends it
        eventually(lambda: arrived(receiver, second["id"]), what="the second event")
    found = hooks.deliveries(endpoint["id"])
    assert sorted(d["status"] for d in found) == ["succeeded", "succeeded"]
    assert [len(d["attempts"]) for d in found] == [1, 1]


def test_an_event_committed_by_another_process_wakes_it(
    server: LiveServer, hooks: Hooks, receiver: Receiver, api: httpx.Client
) -> None:
    """On PostgreSQL, by NOTIFY: a worker with a database pool of its own, as another process
    has, hears of events the server commits."""
    if server.ctx.db.is_sqlite:
        pytest.skip("SQLite has one process: the in-process wake-up is the one there is")
    hooks.create(receiver.url + "/kassa", events=["payment.created"])
    worker = Context.open(server.settings)
    try:
        with dispatcher(server, worker):
            first = create_payment(api)
            eventually(lambda: arrived(receiver, first["id"]), what="the first event")
            second = create_payment(api)
            eventually(lambda: arrived(receiver, second["id"]), what="the second event")
    finally:
        server.call(worker.close())


def test_a_stop_lets_the_attempts_in_hand_finish(
    server: LiveServer, hooks: Hooks, receiver: Receiver, api: httpx.Client
) -> None:
    receiver.delay = 0.5
    endpoint = hooks.create(receiver.url + "/kassa", events=["payment.created"])
    with dispatcher(server):
        for _ in range(3):
            create_payment(api)
        eventually(lambda: len(receiver.requests) == 3, what="three attempts under way")
    # The block's end stopped the dispatcher while the receiver was still answering.
    found = hooks.deliveries(endpoint["id"])
    assert [d["status"] for d in found] == ["succeeded"] * 3
    assert [len(d["attempts"]) for d in found] == [1, 1, 1]
    assert receiver.overlaps == []


def test_a_stop_releases_the_claims_still_waiting_for_a_lane(
    server: LiveServer, hooks: Hooks, receiver: Receiver, api: httpx.Client
) -> None:
    """One lane, and one more delivery claimed ahead of it: on stop the one being sent
    finishes, and the one waiting is released, so another worker sends it at once."""
    receiver.delay = 1.0
    endpoint = hooks.create(receiver.url + "/kassa", events=["payment.created"])
    with dispatcher(server, lanes=1):
        first = create_payment(api)
        eventually(lambda: arrived(receiver, first["id"]), what="the first attempt under way")
        for _ in range(2):
            create_payment(api)
        eventually(lambda: claimed(server, endpoint["id"]) == 2, what="one claimed ahead")
    assert len(receiver.requests) == 1  # one lane
    assert claimed(server, endpoint["id"]) == 0
    found = hooks.deliveries(endpoint["id"])
    assert sorted((d["status"], len(d["attempts"])) for d in found) == [
        ("pending", 0),
        ("pending", 0),
        ("succeeded", 1),
    ]
    receiver.delay = 0.0
    assert hooks.run() == 2  # now, not once a lease has lapsed
    found = hooks.deliveries(endpoint["id"])
    assert [(d["status"], len(d["attempts"])) for d in found] == [("succeeded", 1)] * 3
    assert receiver.overlaps == []


def claimed(server: LiveServer, endpoint_id: str) -> int:
    """How many of the endpoint's deliveries are claimed now."""
    delivery = webhook_deliveries.c
    query = select(func.count()).where(
        delivery.endpoint_id == endpoint_id, delivery.claim.is_not(None)
    )

    async def count() -> int:
        async with server.ctx.db.read() as conn:
            return int((await conn.execute(query)).scalar_one())

    return server.call(count())


def test_a_batch_keeps_each_endpoints_health_in_the_order_of_its_attempts(
    server: LiveServer, hooks: Hooks, receiver: Receiver, api: httpx.Client
) -> None:
    """Attempts recorded together: an endpoint whose failure came after its success is
    failing since then; one whose success came last is healthy; successes alone are too."""
    failing_last = hooks.create(receiver.url + "/a", events=["payment.created"])
    healthy_last = hooks.create(receiver.url + "/b", events=["payment.created"])
    always_fine = hooks.create(receiver.url + "/c", events=["payment.created"])
    create_payment(api)
    create_payment(api)
    ctx = server.ctx
    base = ctx.clock()

    async def scenario() -> None:
        await webhook_fanout.fan_out(ctx)
        jobs = await claim_due(ctx, limit=100)
        order = {failing_last["id"]: (200, 500), healthy_last["id"]: (500, 200)}
        seen: dict[str, int] = {}
        finished = []
        for job in jobs:
            n = seen.get(job.endpoint.id, 0)
            seen[job.endpoint.id] = n + 1
            status = order.get(job.endpoint.id, (200, 200))[n]
            when = base + timedelta(seconds=n + 1)
            finished.append((job, Outcome(when, 1, status_code=status, body="")))
        # Latest first, so the order of the batch is not the order of the attempts.
        finished.reverse()
        async with ctx.db.write() as conn:
            await recording.record_all(conn, finished, now=ctx.clock())

    server.call(scenario())
    failing_since = hooks.get(failing_last["id"])["failing_since"]
    assert parse_time(failing_since) == base + timedelta(seconds=2)  # its second attempt
    assert hooks.get(healthy_last["id"])["failing_since"] is None
    assert hooks.get(always_fine["id"])["failing_since"] is None
    for endpoint, statuses in (
        (failing_last, ["pending", "succeeded"]),
        (healthy_last, ["pending", "succeeded"]),
        (always_fine, ["succeeded", "succeeded"]),
    ):
        found = hooks.deliveries(endpoint["id"])
        assert sorted(d["status"] for d in found) == statuses
        assert [len(d["attempts"]) for d in found] == [1, 1]
