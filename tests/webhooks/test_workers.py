"""Several workers at once never send one delivery twice at the same time, and events whose
transactions commit out of order (PostgreSQL) are all sent, once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import EventType
from kassa.services.callers import Caller
from kassa.services.context import Context
from kassa.services.webhooks import claims, posting, recording
from kassa.services.webhooks import endpoints as webhooks
from kassa.services.webhooks import fanout as webhook_fanout
from kassa.services.webhooks import sending as webhook_sending
from kassa.services.webhooks.deliveries import LEASE
from kassa.store import Database
from kassa.store.tables import events, outbox_cursors, webhook_deliveries
from tests.helpers import ShopSetup, create_payment, later
from tests.live import LiveServer
from tests.webhooks.conftest import Hooks, claim_due
from tests.webhooks.receiver import Receiver

WORKERS = 4


def test_four_workers_send_each_event_once(
    server: LiveServer, hooks: Hooks, receiver: Receiver, api: httpx.Client
) -> None:
    """Each worker has its own database pool, as separate processes would."""
    receiver.delay = 0.2  # a slow receiver: claims overlap in time
    endpoint = hooks.create(receiver.url + "/kassa", events=["payment.created"])
    payments = [create_payment(api, amount=100 + i)["id"] for i in range(12)]

    async def race() -> tuple[list[int], list[int]]:
        workers = [Context.open(server.settings) for _ in range(WORKERS)]
        try:
            fanned = await asyncio.gather(*(webhook_fanout.fan_out(w) for w in workers))
            sent = await asyncio.gather(*(webhook_sending.deliver_due(w, lanes=2) for w in workers))
            return list(fanned), list(sent)
        finally:
            for worker in workers:
                await worker.close()

    fanned, sent = server.call(race(), timeout=60)
    assert sum(fanned) == 12  # one delivery per event, however many fanned out
    assert sum(sent) == 12  # one attempt per delivery
    assert sum(1 for n in sent if n) >= 2  # the work was shared
    delivered = Counter(r.event["data"]["object"]["id"] for r in receiver.requests)
    assert delivered == Counter(payments)
    assert receiver.overlaps == []
    found = hooks.deliveries(endpoint["id"])
    assert {d["status"] for d in found} == {"succeeded"}
    assert [len(d["attempts"]) for d in found] == [1] * 12


def test_a_dead_workers_claim_lapses(
    server: LiveServer, hooks: Hooks, receiver: Receiver, api: httpx.Client
) -> None:
    """A worker claimed a delivery and died, here before sending: after the lease, another
    sends it. Whether the first had sent it nobody can tell, so its attempt, recorded in
    flight with the claim, counts as one of unknown outcome."""
    endpoint = hooks.create(receiver.url + "/kassa")
    create_payment(api)
    server.call(webhook_fanout.fan_out(server.ctx))
    (claimed,) = server.call(claim_due(server.ctx, limit=5))
    assert hooks.run() == 0  # taken: nobody else sends it
    assert receiver.requests == []
    (delivery,) = hooks.deliveries(endpoint["id"])
    assert [a["state"] for a in delivery["attempts"]] == ["in_flight"]
    hooks.run(later(server, LEASE + timedelta(seconds=1)))
    assert len(receiver.requests) == 1
    (delivery,) = hooks.deliveries(endpoint["id"])
    assert claimed.delivery_id == delivery["id"]
    assert delivery["status"] == "succeeded"
    unknown, sent = delivery["attempts"]
    assert (unknown["state"], unknown["succeeded"]) == ("unknown", False)
    assert unknown["error"].startswith("outcome unknown")
    assert (sent["state"], sent["succeeded"], sent["status_code"]) == ("done", True, 200)


def test_a_delivery_sent_twice_across_a_crash_is_recorded_twice(
    server: LiveServer, hooks: Hooks, receiver: Receiver, api: httpx.Client
) -> None:
    """A worker sent a delivery and died before recording the answer; the next sends it
    again. Both POSTs are in the record: the first of unknown outcome."""
    endpoint = hooks.create(receiver.url + "/kassa")
    create_payment(api)
    server.call(webhook_fanout.fan_out(server.ctx))
    (claimed,) = server.call(claim_due(server.ctx, limit=5))

    async def send_and_die() -> None:
        async with httpx.AsyncClient() as http:
            await posting.send(http, claimed, server.ctx.keyring, now=server.ctx.clock())

    server.call(send_and_die())
    hooks.run(later(server, LEASE + timedelta(seconds=1)))
    assert len(receiver.requests) == 2
    (delivery,) = hooks.deliveries(endpoint["id"])
    assert len(delivery["attempts"]) == 2  # one per POST made
    assert [(a["state"], a["succeeded"]) for a in delivery["attempts"]] == [
        ("unknown", False),
        ("done", True),
    ]


def postgres_only(server: LiveServer) -> None:
    if server.ctx.db.is_sqlite:
        pytest.skip("SQLite has one writer: its commits never land out of order")


def test_an_event_committed_after_a_newer_one_is_still_sent(
    server: LiveServer, shop: ShopSetup, hooks: Hooks, receiver: Receiver, api: httpx.Client
) -> None:
    postgres_only(server)
    hooks.create(receiver.url + "/kassa", events=["payment.succeeded"])
    db = server.ctx.db

    def payment_event(conn: AsyncConnection, payment_id: str) -> Awaitable[str]:
        return webhooks.record_event(
            conn,
            type=EventType.PAYMENT_SUCCEEDED,
            shop_id=shop.shop.id,
            test=True,
            data={"id": payment_id, "object": "payment"},
            now=server.ctx.clock(),
        )

    async def scenario() -> tuple[list[str], list[str]]:
        async with db.write() as slow:  # takes its seq first, commits last
            late = await payment_event(slow, "pay_late")
            late_seq = await seq_of(slow, late)
            async with db.write() as fast:
                early_seq = await seq_of(fast, await payment_event(fast, "pay_early"))
            assert early_seq > late_seq
            await webhook_sending.dispatch(server.ctx)
            first_round = [r.event["data"]["object"]["id"] for r in receiver.requests]
            assert await cursor(server) < late_seq  # it waits below the uncommitted one
        await webhook_sending.dispatch(server.ctx)
        await webhook_sending.dispatch(server.ctx)
        return first_round, [r.event["data"]["object"]["id"] for r in receiver.requests]

    first_round, everything = server.call(scenario())
    assert first_round == ["pay_early"]
    assert everything == ["pay_early", "pay_late"]


def test_a_gap_left_by_a_rollback_is_stepped_over(
    server: LiveServer, hooks: Hooks, receiver: Receiver, api: httpx.Client
) -> None:
    postgres_only(server)
    hooks.create(receiver.url + "/kassa", events=["payment.created"])

    async def burn_a_seq() -> None:
        async with server.ctx.db.write() as conn:
            await conn.execute(text("SELECT nextval(pg_get_serial_sequence('events', 'seq'))"))

    server.call(burn_a_seq())
    payment = create_payment(api)
    hooks.run()
    assert len(receiver.requests) == 1  # sent at once, the gap below it notwithstanding
    newest = server.call(newest_seq(server))
    assert server.call(cursor(server)) < newest
    hooks.run(later(server, timedelta(minutes=3)))
    assert server.call(cursor(server)) >= newest
    assert [r.event["data"]["object"]["id"] for r in receiver.requests] == [payment["id"]]


@pytest.mark.parametrize("taker", ["a late outcome", "the endpoint's removal"])
def test_a_claim_and_what_meets_it_take_rows_in_one_order(
    server: LiveServer, hooks: Hooks, receiver: Receiver, api: httpx.Client, taker: str
) -> None:
    """A delivery's row first, then its attempts' (the order a claim takes them in): a worker
    recording an outcome after its lease lapsed, or an endpoint's removal, that meets a claim
    of the same delivery waits for it, instead of each waiting for the other until PostgreSQL
    ends one as a deadlock (as it did when they took the attempt's row first)."""
    if server.ctx.db.is_sqlite:
        pytest.skip("SQLite has one writer: two transactions never wait for each other")
    endpoint = hooks.create(receiver.url + "/kassa")
    create_payment(api)
    server.call(webhook_fanout.fan_out(server.ctx))
    (job,) = server.call(claim_due(server.ctx, limit=5))
    ctx, delivery = server.ctx, webhook_deliveries.c

    async def meet_the_claim() -> None:
        if taker == "a late outcome":
            failed = posting.Outcome(ctx.clock(), 5, status_code=500)
            async with ctx.db.write() as conn:
                await recording.record_all(conn, [(job, failed)], now=ctx.clock())
        else:
            await webhooks.delete_endpoint(ctx, caller=Caller.system(), endpoint_id=endpoint["id"])

    async def scenario() -> None:
        async with ctx.db.write() as claim:  # another worker takes the lapsed delivery
            await claim.execute(
                update(webhook_deliveries)
                .where(delivery.id == job.delivery_id)
                .values(claim="another worker's")
            )
            meeting = asyncio.create_task(meet_the_claim())
            await waiting_for_a_lock(ctx.db, meeting)
            await claims._settle_unknown(claim, [job.delivery_id])
        await asyncio.wait_for(meeting, timeout=30)

    server.call(scenario(), timeout=60)
    if taker == "a late outcome":
        (found,) = hooks.deliveries(endpoint["id"])
        assert found["attempts"][0]["state"] == "done"  # its outcome, now known, replaced unknown
    else:
        assert api.get(f"/v1/webhook_endpoints/{endpoint['id']}").status_code == 404


async def waiting_for_a_lock(db: Database, task: asyncio.Task[None]) -> None:
    """Until `task` waits for a row lock in another session of the database (PostgreSQL;
    asked in a transaction of its own each time: a transaction sees one `pg_stat_activity`)."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock'"
    )
    for _ in range(1000):
        if task.done():
            await task  # its error, if it raised
            raise AssertionError("it did not wait for the claim")
        async with db.read() as conn:
            if (await conn.execute(waiting)).scalar_one():
                return
        await asyncio.sleep(0.01)
    raise AssertionError("nothing waited for the claim's lock")


async def cursor(server: LiveServer) -> int:
    query = select(outbox_cursors.c.seq).where(outbox_cursors.c.name == webhook_fanout.CURSOR)
    async with server.ctx.db.read() as conn:
        return int((await conn.execute(query)).scalar_one())


async def seq_of(conn: AsyncConnection, event_id: str) -> int:
    return int(
        (await conn.execute(select(events.c.seq).where(events.c.id == event_id))).scalar_one()
    )


async def newest_seq(server: LiveServer) -> int:
    async with server.ctx.db.read() as conn:
        return int((await conn.execute(select(func.max(events.c.seq)))).scalar_one())
