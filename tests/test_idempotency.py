"""Idempotency keys as a service, without HTTP: what any front-end (the API, the bot, the
club) gets from `idempotency.run`."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import insert, select

from kassa.domain import AmountInvalid, KassaError, ProviderUnavailable
from kassa.services import idempotency
from kassa.services.callers import Caller
from kassa.services.context import utcnow
from kassa.services.idempotency import Answer, Outcome
from kassa.store.tables import hub_secrets
from tests.helpers import ShopSetup
from tests.live import LiveServer


def refused(exc: KassaError) -> Answer:
    return Answer(400, exc.code.encode())


def caller_of(shop: ShopSetup) -> Caller:
    return Caller.api_key(shop.shop, test=True, key_id="key_test")


def test_concurrent_duplicates_have_one_effect(server: LiveServer, shop: ShopSetup) -> None:
    ran: list[str] = []

    async def action(resource_id: str) -> Answer:
        ran.append(resource_id)
        await asyncio.sleep(0.2)  # the duplicate arrives while this one still runs
        return Answer(201, resource_id.encode())

    async def both() -> list[Outcome]:
        calls = [
            idempotency.run(
                server.ctx,
                caller_of(shop),
                "order-1",
                fingerprint="same",
                prefix="pay",
                action=action,
                refused=refused,
            )
            for _ in range(2)
        ]
        return list(await asyncio.gather(*calls))

    first, second = server.call(both())
    assert len(ran) == 1
    assert first.answer == second.answer == Answer(201, ran[0].encode())
    assert sorted([first.replayed, second.replayed]) == [False, True]


def test_a_refusal_is_an_answer_and_is_replayed(server: LiveServer, shop: ShopSetup) -> None:
    calls = 0

    async def action(resource_id: str) -> Answer:
        nonlocal calls
        calls += 1
        raise AmountInvalid("amount must be positive")

    def run() -> Outcome:
        return server.call(
            idempotency.run(
                server.ctx,
                caller_of(shop),
                "refused",
                fingerprint="same",
                prefix="pay",
                action=action,
                refused=refused,
            )
        )

    first, again = run(), run()
    assert first == Outcome(Answer(400, b"amount_invalid"))
    assert again == Outcome(first.answer, replayed=True)
    assert calls == 1


def test_an_unknown_outcome_leaves_the_key_for_a_retry_with_the_same_id(
    server: LiveServer, shop: ShopSetup
) -> None:
    seen: list[str] = []

    async def action(resource_id: str) -> Answer:
        seen.append(resource_id)
        if len(seen) == 1:
            raise ProviderUnavailable("the provider did not answer")
        return Answer(201, b"made")

    def run() -> Outcome:
        return server.call(
            idempotency.run(
                server.ctx,
                caller_of(shop),
                "outage",
                fingerprint="same",
                prefix="pay",
                action=action,
                refused=refused,
            )
        )

    with pytest.raises(ProviderUnavailable):
        run()
    assert run() == Outcome(Answer(201, b"made"))
    assert seen[0] == seen[1]


def test_a_refusal_after_a_write_rolls_the_write_back(server: LiveServer, shop: ShopSetup) -> None:
    name = f"written-{shop.shop.id}"

    async def action(resource_id: str) -> Answer:
        async with idempotency.transaction(server.ctx) as conn:
            await conn.execute(
                insert(hub_secrets), {"name": name, "value": "x", "created_at": utcnow()}
            )
        raise AmountInvalid("refused once written")

    async def written() -> bool:
        async with server.ctx.db.read() as conn:
            query = select(hub_secrets.c.name).where(hub_secrets.c.name == name)
            return (await conn.execute(query)).first() is not None

    outcome = server.call(
        idempotency.run(
            server.ctx,
            caller_of(shop),
            "refused-late",
            fingerprint="same",
            prefix="pay",
            action=action,
            refused=refused,
        )
    )
    assert outcome == Outcome(Answer(400, b"amount_invalid"))
    assert not server.call(written())


def test_an_earlier_transaction_commits_and_the_last_carries_the_answer(
    server: LiveServer, shop: ShopSetup
) -> None:
    names = [f"first-{shop.shop.id}", f"last-{shop.shop.id}"]

    async def action(resource_id: str) -> Answer:
        for name in names:
            async with idempotency.transaction(server.ctx) as conn:
                await conn.execute(
                    insert(hub_secrets), {"name": name, "value": "x", "created_at": utcnow()}
                )
        raise RuntimeError("the process failed after both")

    async def written() -> list[str]:
        async with server.ctx.db.read() as conn:
            query = select(hub_secrets.c.name).where(hub_secrets.c.name.in_(names))
            return [row.name for row in await conn.execute(query)]

    with pytest.raises(RuntimeError):
        server.call(
            idempotency.run(
                server.ctx,
                caller_of(shop),
                "two-writes",
                fingerprint="same",
                prefix="pay",
                action=action,
                refused=refused,
            )
        )
    assert server.call(written()) == names[:1]


def test_a_task_the_action_starts_commits_its_own_writes(
    server: LiveServer, shop: ShopSetup
) -> None:
    name = f"task-{shop.shop.id}"

    async def write() -> None:
        async with idempotency.transaction(server.ctx) as conn:
            await conn.execute(
                insert(hub_secrets), {"name": name, "value": "x", "created_at": utcnow()}
            )

    async def action(resource_id: str) -> Answer:
        await asyncio.create_task(write())  # it inherits the run's context: not its answer's
        raise RuntimeError("the action fails after its task")

    async def written() -> bool:
        async with server.ctx.db.read() as conn:
            query = select(hub_secrets.c.name).where(hub_secrets.c.name == name)
            return (await conn.execute(query)).first() is not None

    with pytest.raises(RuntimeError):
        server.call(
            idempotency.run(
                server.ctx,
                caller_of(shop),
                "with-a-task",
                fingerprint="same",
                prefix="pay",
                action=action,
                refused=refused,
            )
        )
    assert server.call(written())
