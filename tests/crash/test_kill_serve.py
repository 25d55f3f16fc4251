"""`kill -9` of a real `kassa serve` in the middle of its work, on each database.

1. **Mid-burst**: sixteen senders post signed sandbox notifications (each transition reported
   under two provider event ids, and each of those sent twice) and the server is killed once
   a third of them have been acknowledged. After a restart, every acknowledged notification
   is applied, exactly once; sending the whole burst again applies what the kill cut off and
   nothing twice, and a further resend changes nothing at all.
2. **Mid-delivery**: the merchant's receiver answers slowly, and the server is killed while it
   holds some deliveries. After the restart every event reaches the receiver at least once,
   and every POST the receiver got is an attempt in the record: the one the kill cut off is
   recorded as of unknown outcome.

Each assertion holds wherever the kill lands: acknowledged means committed (Kassa answers a
notification after its commit), and what was not acknowledged may or may not have been
applied, until the resend. A killed server's claims on deliveries lapse after a lease of a
minute, which a test cannot wait for: the test's own worker takes them over with its clock
at the lease's end (claims of the restarted server are still live then).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from kassa.services.context import Context, utcnow
from kassa.services.shops import keys, shops
from kassa.services.webhooks import endpoints as webhooks
from kassa.services.webhooks import sending as webhook_sending
from kassa.services.webhooks.deliveries import LEASE
from kassa.store.tables import events, payments, webhook_attempts, webhook_deliveries
from tests.crash.serve import Kassa, Served, on_database
from tests.helpers import sandbox_notification
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.slow

SENDERS = 16
#: The sandbox's statuses reported, and the payment status each one means.
TARGETS = {
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "canceled",
    "authorized": "requires_capture",
}
PAYMENTS = 32
#: Acknowledgements seen before the kill, in the burst of PAYMENTS * 4 notifications.
KILL_AFTER_ACKS = 40
#: Deliveries the receiver has had before the kill, and how slowly it answers.
DELIVERIES = 24
KILL_AFTER_DELIVERIES = 6
RECEIVER_DELAY = 1.0
SETTLE_WITHIN = 60.0


def reported(n: int) -> str:
    """What the sandbox reports about the n-th payment of a test."""
    return list(TARGETS)[n % len(TARGETS)]


@pytest.fixture(scope="module")
def kassa(own_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kassa]:
    """`kassa serve` on a database of the module's own (it runs every background job)."""
    running = Kassa(own_database_url, tmp_path_factory.mktemp("crash") / "serve.log")
    try:
        yield running
    finally:
        running.stop()


@dataclass(frozen=True)
class Shop:
    id: str
    name: str
    key: str
    secret: str
    #: The receiver's path its webhook endpoint posts to.
    path: str


def make_shop(database_url: str, receiver: Receiver) -> Shop:
    """A shop with the sandbox, a test key, and a webhook endpoint for its payment events."""

    async def setup(ctx: Context) -> Shop:
        shop = await shops.create_shop(ctx, name=f"t-{secrets.token_hex(5)}")
        sandbox = await shops.configure_provider(ctx, shop=shop, provider="sandbox", settings={})
        _, key = await keys.create_key(ctx, shop=shop, live=False)
        path = f"/{shop.name}"
        await webhooks.create_endpoint(
            ctx, shop_id=shop.id, test=True, url=receiver.url + path, events=["payment.*"]
        )
        return Shop(shop.id, shop.name, key, sandbox.account.credentials["secret"], path)

    return on_database(database_url, setup)


def create_payments(served: Served, shop: Shop, count: int) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {shop.key}"}
    with httpx.Client(base_url=served.url, headers=headers, timeout=30) as api:
        created = []
        for n in range(count):
            hold = reported(n) == "authorized"
            response = api.post(
                "/v1/payments", json={"amount": 1000 + n, "currency": "RUB", "capture": not hold}
            )
            assert response.status_code == 201, response.text
            created.append(response.json())
    return created


Note = tuple[bytes, dict[str, str]]


def burst_of(shop: Shop, created: list[dict[str, Any]]) -> tuple[list[Note], list[str]]:
    """Each payment's transition reported under two provider event ids, each sent twice, in
    a shuffled order; and the payment id each notification is about."""
    notes: list[tuple[Note, str]] = []
    for n, payment in enumerate(created):
        for _ in range(2):
            note = sandbox_notification(shop.secret, payment, reported(n))
            notes += [(note, payment["id"])] * 2
    secrets.SystemRandom().shuffle(notes)
    return [note for note, _ in notes], [payment_id for _, payment_id in notes]


def post_all(
    served: Served, shop: Shop, notes: list[Note], *, kill_after: int | None = None
) -> dict[int, int]:
    """POST the notifications from SENDERS senders at once; with `kill_after`, SIGKILL the
    server as soon as that many have been acknowledged. Returns each answered notification's
    status code, by its index (those without an answer are missing)."""
    answered: dict[int, int] = {}
    todo = list(enumerate(notes))

    async def sender(http: httpx.AsyncClient) -> None:
        while todo:
            index, (body, headers) = todo.pop(0)
            try:
                response = await http.post(
                    f"/hooks/sandbox/{shop.name}", content=body, headers=headers
                )
            except httpx.TransportError:
                continue  # the server was killed: not acknowledged
            answered[index] = response.status_code
            acks = sum(200 <= code < 300 for code in answered.values())
            if kill_after is not None and acks >= kill_after and served.process.poll() is None:
                served.process.kill()

    async def main() -> None:
        limits = httpx.Limits(max_connections=SENDERS)
        async with httpx.AsyncClient(base_url=served.url, timeout=30, limits=limits) as http:
            await asyncio.gather(*(sender(http) for _ in range(SENDERS)))

    asyncio.run(main())
    return answered


@dataclass(frozen=True)
class Ledger:
    """A shop's payments and events as the database has them."""

    statuses: dict[str, str]
    #: Each payment's event ids by type.
    events: dict[str, dict[str, list[str]]]

    def event_types(self, payment_id: str) -> Counter[str]:
        return Counter({kind: len(ids) for kind, ids in self.events[payment_id].items()})


def ledger(database_url: str, shop: Shop) -> Ledger:
    async def read(ctx: Context) -> Ledger:
        async with ctx.db.read() as conn:
            statuses = dict(
                (
                    await conn.execute(
                        select(payments.c.id, payments.c.status).where(
                            payments.c.shop_id == shop.id
                        )
                    )
                ).all()
            )
            found: dict[str, dict[str, list[str]]] = {pid: {} for pid in statuses}
            query = (
                select(events.c.payment_id, events.c.type, events.c.id)
                .where(events.c.shop_id == shop.id)
                .order_by(events.c.seq)
            )
            for payment_id, kind, event_id in (await conn.execute(query)).all():
                found[payment_id].setdefault(kind, []).append(event_id)
        return Ledger(statuses, found)

    return on_database(database_url, read)


def test_a_kill_mid_burst_loses_no_acknowledged_notification_and_doubles_none(
    kassa: Kassa, receiver: Receiver
) -> None:
    url = kassa.database_url
    shop = make_shop(url, receiver)
    first = kassa.running()
    created = create_payments(first, shop, PAYMENTS)
    notes, about = burst_of(shop, created)
    answered = post_all(first, shop, notes, kill_after=KILL_AFTER_ACKS)
    killed_at = utcnow()
    first.process.wait(timeout=10)
    acknowledged = {i for i, code in answered.items() if 200 <= code < 300}
    assert len(acknowledged) >= KILL_AFTER_ACKS
    assert len(answered) < len(notes), "the kill came after the burst"
    target = {payment["id"]: TARGETS[reported(n)] for n, payment in enumerate(created)}

    after_kill = ledger(url, shop)
    for index in acknowledged:
        payment_id = about[index]
        assert after_kill.statuses[payment_id] == target[payment_id]
    for payment_id, status in after_kill.statuses.items():
        expected = Counter(
            {"payment.created": 1} | ({} if status == "pending" else {f"payment.{status}": 1})
        )
        assert after_kill.event_types(payment_id) == expected, payment_id
        assert status in {"pending", target[payment_id]}

    second = kassa.running()
    again = post_all(second, shop, notes)
    after_resend = ledger(url, shop)
    once_more = post_all(second, shop, notes)
    settle_deliveries(url, shop, since=killed_at)
    assert set(again.values()) == set(once_more.values()) == {200}
    for payment_id, status in after_resend.statuses.items():
        assert status == target[payment_id]
        assert after_resend.event_types(payment_id) == Counter(
            {"payment.created": 1, f"payment.{status}": 1}
        )
        if any(about[i] == payment_id for i in acknowledged):
            assert after_resend.events[payment_id] == after_kill.events[payment_id]
    assert ledger(url, shop) == after_resend  # the second resend changed nothing
    check_delivered(url, shop, receiver)


def test_a_kill_mid_delivery_delivers_every_event_and_records_every_post(
    kassa: Kassa, receiver: Receiver
) -> None:
    url = kassa.database_url
    shop = make_shop(url, receiver)
    receiver.delay = RECEIVER_DELAY
    first = kassa.running()
    create_payments(first, shop, DELIVERIES)
    eventually(
        lambda: (
            len(receiver.on(shop.path)) >= KILL_AFTER_DELIVERIES
            and sum(receiver.in_flight.values()) > 0
        ),
        what="deliveries under way",
    )
    killed_at = utcnow()
    first.kill()
    # Sent and not yet answered when the server died: their outcome cannot be recorded.
    unanswered = {msg_id for msg_id, n in receiver.in_flight.items() if n}
    receiver.delay = 0.0
    kassa.running()
    settle_deliveries(url, shop, since=killed_at)
    attempts = check_delivered(url, shop, receiver)
    for event_id in unanswered:
        assert "unknown" in attempts[event_id], attempts[event_id]


def settle_deliveries(database_url: str, shop: Shop, *, since: datetime) -> None:
    """Wait until every event of the shop is delivered: the running server sends what is
    new, and this process's worker, its clock a lease after `since`, takes over the claims a
    server killed before `since` held."""
    lapsed = since + LEASE + timedelta(seconds=0.5)
    deadline = time.monotonic() + SETTLE_WITHIN
    while True:
        on_database(database_url, webhook_sending.dispatch, at=lapsed)
        if not undelivered(database_url, shop):
            return
        assert time.monotonic() < deadline, f"still undelivered: {undelivered(database_url, shop)}"
        time.sleep(0.2)


def undelivered(database_url: str, shop: Shop) -> list[str]:
    """The shop's events without a succeeded delivery."""

    async def read(ctx: Context) -> list[str]:
        delivered = select(webhook_deliveries.c.event_id).where(
            webhook_deliveries.c.status == "succeeded"
        )
        query = select(events.c.id).where(
            events.c.shop_id == shop.id, events.c.id.not_in(delivered)
        )
        async with ctx.db.read() as conn:
            return list((await conn.execute(query)).scalars())

    return on_database(database_url, read)


def check_delivered(database_url: str, shop: Shop, receiver: Receiver) -> dict[str, list[str]]:
    """Every event of the shop reached the receiver at least once, through one delivery,
    and each delivery has at least as many attempts as the receiver got POSTs of its event,
    none still in flight. Returns each event's attempts' states."""

    async def read(ctx: Context) -> tuple[list[str], dict[str, list[str]]]:
        delivery, attempt = webhook_deliveries.c, webhook_attempts.c
        async with ctx.db.read() as conn:
            event_ids = list(
                (
                    await conn.execute(select(events.c.id).where(events.c.shop_id == shop.id))
                ).scalars()
            )
            query = (
                select(delivery.event_id, attempt.state)
                .join(webhook_attempts, attempt.delivery_id == delivery.id)
                .where(delivery.event_id.in_(event_ids))
                .order_by(attempt.attempted_at)
            )
            states: dict[str, list[str]] = {}
            for event_id, state in (await conn.execute(query)).all():
                states.setdefault(event_id, []).append(state)
        return event_ids, states

    event_ids, states = on_database(database_url, read)
    received = Counter(receiver.event_ids(shop.path))
    assert set(received) == set(event_ids)
    for event_id in event_ids:
        assert len(states[event_id]) >= received[event_id], (event_id, states[event_id])
        assert "in_flight" not in states[event_id]
    return states


def eventually(check: Callable[[], bool], *, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.01)
