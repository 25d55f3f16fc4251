"""Notifications that arrive together: the simple ones are applied as a batch
(`kassa.services.notifications.batch`, a way of running `kassa.services.notifications.
applying`), and every one ends exactly as it would alone: duplicates within the batch and from
before, a second notification for a payment of the batch, a payment of another shop, and event
snapshots that match the stored payment."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from kassa.domain import EventSource, PaymentStatus
from kassa.providers import InboundRequest
from kassa.services.notifications import inbound as notifications
from kassa.services.notifications.applying import Verified
from kassa.services.notifications.batch import apply_together
from kassa.services.payments import lifecycle as payments
from kassa.services.payments import transitions
from kassa.store.tables import events
from tests.helpers import (
    ShopSetup,
    create_payment,
    event_types,
    make_shop,
    sandbox_notification,
    stored_notifications,
)
from tests.live import LiveServer

Sent = tuple[bytes, dict[str, str]]


def receive_together(
    server: LiveServer, shop: ShopSetup, sent: Sequence[Sent], monkeypatch: pytest.MonkeyPatch
) -> tuple[list[notifications.Result], list[int]]:
    """Hand `sent` to ingestion at once, on the server's loop; what became of each, and the
    sizes of the batches that applied them together. A batch that fails
    fails the test: its notifications would end right all the same, applied alone."""
    batches: list[int] = []

    async def recorded(conn: Any, items: Sequence[Verified]) -> list[Any]:
        batches.append(len(items))
        try:
            return await apply_together(conn, items)
        except Exception:
            batches.append(-1)
            raise

    monkeypatch.setattr(notifications, "apply_together", recorded)

    def inbound(body: bytes, headers: dict[str, str]) -> InboundRequest:
        return InboundRequest(method="POST", headers=headers, body=body, source_ip="127.0.0.1")

    async def together() -> list[notifications.Result]:
        ctx = server.ctx
        # Every one starts before any reaches the writer, so they queue for one group.
        return await asyncio.gather(
            *(
                notifications.receive(
                    ctx, provider="sandbox", shop_ref=shop.name, request=inbound(*one)
                )
                for one in sent
            )
        )

    return server.call(together()), batches


def by_body(server: LiveServer, shop: ShopSetup) -> dict[bytes, list[Any]]:
    stored: dict[bytes, list[Any]] = {}
    for row in stored_notifications(server, shop.name):
        stored.setdefault(row["body"], []).append(row)
    return stored


def test_notifications_together_end_as_each_would_alone(
    server: LiveServer, shop: ShopSetup, api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third = (create_payment(api) for _ in range(3))
    other_shop = make_shop(server)
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {other_shop.key}"}
    ) as other_api:
        elsewhere = create_payment(other_api)
    secret = shop.secret
    # The third payment's event is accepted before (this also warms the account cache).
    before = sandbox_notification(secret, third, "succeeded", event_id="evt-third")
    (accepted_before,), _ = receive_together(server, shop, [before], monkeypatch)
    assert accepted_before.verdict.value == "accepted"

    paid = sandbox_notification(secret, first, "succeeded", event_id="evt-first")
    sent = [
        paid,
        paid,  # the same event again, in the same batch
        sandbox_notification(secret, second, "succeeded", event_id="evt-second"),
        # Another event for a payment the batch moves: applied alone, after it.
        sandbox_notification(secret, second, "failed", event_id="evt-second-failed"),
        # Signed by this shop's account, about another shop's payment.
        sandbox_notification(secret, elsewhere, "succeeded", event_id="evt-elsewhere"),
        before,  # accepted before
    ]
    results, batches = receive_together(server, shop, sent, monkeypatch)

    # All six are applied in batches and none fails. On PostgreSQL several groups may be in
    # flight, so a loaded machine can split them ([2, 4]); the verdicts must not change.
    assert -1 not in batches, f"a batch failed: {batches}"
    assert sum(batches) == 6, f"not all six were applied in batches: {batches}"
    verdicts = [(result.verdict.value, result.outcome) for result in results]
    assert verdicts == [
        ("accepted", "pending → succeeded"),
        ("duplicate", "the same event was accepted before"),
        ("accepted", "pending → succeeded"),
        ("accepted", verdicts[3][1]),
        ("accepted", "ignored: no such payment"),
        ("duplicate", "the same event was accepted before"),
    ]
    assert verdicts[3][1].startswith("rejected"), "a succeeded payment cannot fail"

    stored = by_body(server, shop)
    assert [row["verdict"] for row in stored[paid[0]]] == ["accepted", "duplicate"]
    assert [row["verdict"] for row in stored[before[0]]] == ["accepted", "duplicate"]
    assert all(row["payment_id"] == first["id"] for row in stored[paid[0]])
    assert stored[sent[4][0]][0]["payment_id"] is None
    assert all(row["processed_at"] is not None for rows in stored.values() for row in rows)

    for payment in (first, second, third):
        assert event_types(server, payment["id"]).count("payment.succeeded") == 1
        after = api.get(f"/v1/payments/{payment['id']}").json()
        assert after["status"] == "succeeded"
        # The event carries the payment exactly as stored.
        assert succeeded_snapshot(server, payment["id"]) == after
    assert event_types(server, elsewhere["id"]) == ["payment.created"]


def succeeded_snapshot(server: LiveServer, payment_id: str) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        query = select(events.c.data).where(
            events.c.payment_id == payment_id, events.c.type == "payment.succeeded"
        )
        async with server.ctx.db.read() as conn:
            data: dict[str, Any] = (await conn.execute(query)).scalar_one()
        snapshot: dict[str, Any] = data["object"]
        return snapshot

    return server.call(read())


def test_moving_many_refuses_a_payment_that_moved_meanwhile(
    server: LiveServer, api: httpx.Client
) -> None:
    created = create_payment(api)

    async def move_both_ways() -> None:
        ctx = server.ctx
        stale = await payments.find_payment(ctx, payment_id=created["id"])
        now = ctx.clock()
        async with ctx.db.write() as conn:
            await transitions.transition(
                conn, payment=stale, target=PaymentStatus.CANCELED, source=EventSource.API, now=now
            )
            # Decided on the stale copy, which still says pending.
            move = transitions.Move(stale, PaymentStatus.SUCCEEDED, {}, now)
            await transitions.transition_many(conn, [move], source=EventSource.PROVIDER)

    with pytest.raises(transitions.ConcurrentChange):
        server.call(move_both_ways())
    # The whole transaction was rolled back: not even the cancel stands.
    assert api.get(f"/v1/payments/{created['id']}").json()["status"] == "pending"
