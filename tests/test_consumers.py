"""Event consumers run by the background job: what each takes, its effect committed with its
receipt (once per event), failures retried later and then given up on, several workers at
once, and events whose transactions commit out of order (PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import Event, EventType
from kassa.services.context import Context, utcnow
from kassa.services.events.consumers import (
    MAX_ATTEMPTS,
    RETRY_DELAYS,
    Consumer,
    Registry,
    dispatch,
)
from kassa.services.webhooks import endpoints as webhooks
from tests import consumer_plugin
from tests.consumer_db import effects, failures, prepare, receipts, run_on, write_events


class Handler:
    """Writes the test consumer's effect, then sleeps `seconds`, and fails the first
    `failures` calls for each event whose object says `"fails": true`; counts its calls."""

    def __init__(self, *, failures: int = 0, seconds: float = 0.0) -> None:
        self.failures = failures
        self.seconds = seconds
        self.calls: Counter[str] = Counter()

    async def __call__(self, conn: AsyncConnection, event: Event) -> None:
        self.calls[event.id] += 1
        table = consumer_plugin.effects
        await conn.execute(insert(table).values(event_id=event.id, pid=os.getpid()))
        await asyncio.sleep(self.seconds)
        if event.data["object"].get("fails") and self.calls[event.id] <= self.failures:
            raise RuntimeError(f"down ({self.calls[event.id]})")


def registry_of(*consumers: Consumer) -> Registry:
    registry = Registry()
    for each in consumers:
        registry.register(each)
    return registry


@pytest.fixture(scope="module")
def shop_id(own_database_url: str) -> str:
    return run_on(own_database_url, prepare)


def test_a_consumer_takes_its_types_from_where_the_outbox_was_when_it_started(
    own_database_url: str, shop_id: str
) -> None:
    handler = Handler()
    registry = registry_of(Consumer("types", ("payment.succeeded", "refund.*"), handler))

    async def scenario(ctx: Context) -> tuple[list[str], set[str], Counter[str]]:
        before = await write_events(ctx, shop_id, {})
        assert await dispatch(ctx, registry) == 0  # it starts at the end
        taken = await write_events(ctx, shop_id, {})
        taken += await write_events(ctx, shop_id, {}, type=EventType.REFUND_FAILED)
        left = before + await write_events(ctx, shop_id, {}, type=EventType.PAYMENT_CREATED)
        assert await dispatch(ctx, registry) == 2
        assert await dispatch(ctx, registry) == 0  # nothing twice
        # Neither those before it started nor those of other types:
        return taken, await receipts(ctx, "types"), await effects(ctx, taken + left)

    taken, received, effected = run_on(own_database_url, scenario)
    assert received == set(taken)
    assert effected == Counter(taken)
    assert handler.calls == Counter(taken)


def test_a_consumer_from_the_start_goes_through_the_events_written_before_it(
    own_database_url: str, shop_id: str
) -> None:
    handler = Handler()
    registry = registry_of(Consumer("history", ("*",), handler, from_start=True))

    async def scenario(ctx: Context) -> tuple[list[str], set[str]]:
        before = await write_events(ctx, shop_id, {}, {})
        await dispatch(ctx, registry)
        return before, await receipts(ctx, "history")

    before, received = run_on(own_database_url, scenario)
    assert received >= set(before)
    assert all(handler.calls[event_id] == 1 for event_id in before)


def test_a_failed_event_leaves_no_effect_holds_up_nothing_and_is_tried_again_later(
    own_database_url: str, shop_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    flaky, steady = Handler(failures=1), Handler()
    registry = registry_of(
        Consumer("flaky", ("payment.*",), flaky), Consumer("steady", ("payment.*",), steady)
    )

    async def scenario(ctx: Context) -> tuple[str, str]:
        await dispatch(ctx, registry)
        (bad,) = await write_events(ctx, shop_id, {"fails": True})
        assert await dispatch(ctx, registry) == 1  # the steady one only
        assert await receipts(ctx, "flaky") == set()
        assert await effects(ctx, [bad]) == Counter([bad])  # the steady one's
        failure = (await failures(ctx, "flaky"))[bad]
        assert (failure["attempts"], failure["error"]) == (1, "RuntimeError: down (1)")
        assert failure["retry_at"] - failure["first_failed_at"] == RETRY_DELAYS[0]

        (good,) = await write_events(ctx, shop_id, {})
        assert await dispatch(ctx, registry) == 2  # the failed event holds up neither
        assert await dispatch(ctx, registry) == 0  # not due yet

        ctx.clock = lambda: utcnow() + RETRY_DELAYS[0] + timedelta(seconds=1)
        assert await dispatch(ctx, registry) == 1
        assert await receipts(ctx, "flaky") == {bad, good}
        assert await failures(ctx, "flaky") == {}
        assert await effects(ctx, [bad, good]) == Counter({bad: 2, good: 2})
        return bad, good

    with caplog.at_level(logging.WARNING, logger="kassa.services.events.consumers"):
        bad, good = run_on(own_database_url, scenario)
    assert flaky.calls == Counter({bad: 2, good: 1})
    assert f"event consumer 'flaky' failed on event {bad} (attempt 1 of 7)" in caplog.text
    assert "RuntimeError: down (1)" in caplog.text  # with its traceback


def test_an_event_failing_every_time_is_given_up_on(
    own_database_url: str, shop_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    broken = Handler(failures=MAX_ATTEMPTS + 1)
    registry = registry_of(Consumer("broken", ("payment.succeeded",), broken))
    now = [utcnow()]

    async def scenario(ctx: Context) -> str:
        ctx.clock = lambda: now[0]
        await dispatch(ctx, registry)
        (bad,) = await write_events(ctx, shop_id, {"fails": True})
        await dispatch(ctx, registry)
        for delay in RETRY_DELAYS:
            now[0] += delay + timedelta(seconds=1)
            await dispatch(ctx, registry)
        failure = (await failures(ctx, "broken"))[bad]
        assert (failure["attempts"], failure["retry_at"]) == (MAX_ATTEMPTS, None)
        now[0] += timedelta(days=30)
        await dispatch(ctx, registry)  # given up: not tried again
        assert await effects(ctx, [bad]) == Counter()
        return bad

    with caplog.at_level(logging.ERROR, logger="kassa.services.events.consumers"):
        bad = run_on(own_database_url, scenario)
    assert broken.calls[bad] == MAX_ATTEMPTS
    assert f"event consumer 'broken' gave up on event {bad} after 7 attempts" in caplog.text


def test_workers_at_once_handle_each_event_once(own_database_url: str, shop_id: str) -> None:
    """Each worker has its own database pool, as separate processes would."""
    handler = Handler(seconds=0.01)
    registry = registry_of(Consumer("race", ("payment.*",), handler))

    async def scenario(ctx: Context) -> tuple[list[str], list[int], Counter[str]]:
        await dispatch(ctx, registry)
        batch = await write_events(ctx, shop_id, *({} for _ in range(20)))
        workers = [Context.open(ctx.settings) for _ in range(4)]
        try:
            handled = await asyncio.gather(*(dispatch(worker, registry) for worker in workers))
        finally:
            for worker in workers:
                await worker.close()
        return batch, handled, await effects(ctx, batch)

    batch, handled, effected = run_on(own_database_url, scenario)
    assert sum(handled) == 20
    assert effected == Counter(batch)
    assert handler.calls == Counter(batch)  # a second worker waits, then skips


def test_an_event_committed_after_a_newer_one_is_still_handled(
    own_database_url: str, shop_id: str
) -> None:
    if own_database_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer: its commits never land out of order")
    handler = Handler()
    registry = registry_of(Consumer("gap", ("payment.*",), handler))

    async def scenario(ctx: Context) -> tuple[str, str]:
        await dispatch(ctx, registry)
        async with ctx.db.write() as slow:  # takes its seq first, commits last
            late = await webhooks.record_event(
                slow,
                type=EventType.PAYMENT_SUCCEEDED,
                shop_id=shop_id,
                test=True,
                data={"id": "pay_late", "object": "payment"},
                now=ctx.clock(),
            )
            (early,) = await write_events(ctx, shop_id, {})
            assert await dispatch(ctx, registry) == 1
        assert await dispatch(ctx, registry) == 1
        assert await dispatch(ctx, registry) == 0
        return early, late

    early, late = run_on(own_database_url, scenario)
    assert list(handler.calls) == [early, late]
    assert handler.calls == Counter([early, late])
