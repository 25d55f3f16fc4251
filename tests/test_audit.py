"""`kassa audit`: a database that real payments, captures, cancellations, refunds and an event
consumer went through passes; each invariant, broken on purpose with SQL, is reported."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

import httpx
import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from typer.testing import CliRunner

from kassa.domain import Event
from kassa.services.context import utcnow
from kassa.services.events import consumers
from kassa.services.operations import integrity
from kassa.services.operations.integrity import Check, Report
from kassa.store.tables import (
    consumer_failures,
    consumer_receipts,
    events,
    payments,
    refunds,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
)
from tests import consumer_plugin
from tests.cli.conftest import invoke
from tests.helpers import checkout, create_payment, make_shop
from tests.live import LiveServer

EFFECTS = consumer_plugin.effects


async def handle(conn: AsyncConnection, event: Event) -> None:
    await conn.execute(insert(EFFECTS).values(event_id=event.id, pid=0))


async def receipts_match_effects(conn: AsyncConnection) -> AsyncIterator[str]:
    """The test consumer's own audit: one effect per receipt, no effect without one."""
    receipt = consumer_receipts.c
    handled = set(
        (await conn.execute(select(receipt.event_id).where(receipt.consumer == "audited")))
        .scalars()
        .all()
    )
    done = list((await conn.execute(select(EFFECTS.c.event_id))).scalars())
    for event_id in sorted(handled - set(done)):
        yield f"event {event_id} has a receipt but no effect"
    for event_id in sorted(set(done) - handled):
        yield f"event {event_id} has an effect but no receipt"


AUDITED = consumers.Consumer(
    "audited", ("payment.succeeded",), handle, from_start=True, audit=receipts_match_effects
)


@dataclass(frozen=True)
class World:
    """Payments in every status, made through the API and the sandbox's checkout page."""

    server: LiveServer
    pending: str
    succeeded: str
    refunded: str
    partly_refunded: str
    partial_refund: str
    captured: str
    canceled: str
    failed: str

    def checks(self) -> list[Check]:
        """Kassa's checks, the consumer check with the test consumer registered."""
        registry = consumers.Registry()
        registry.register(AUDITED)
        return [
            Check(c.name, c.invariant, partial(integrity.consumer_effects, registry=registry))
            if c.name == "consumer_receipts"
            else c
            for c in integrity.CHECKS
        ]


@pytest.fixture(scope="module")
def world(own_database_url: str) -> Iterator[World]:
    server = LiveServer(own_database_url).start()
    try:
        shop = make_shop(server)
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {shop.key}"}, timeout=30
        ) as api:
            yield _make_world(server, api)
    finally:
        server.stop()


def _make_world(server: LiveServer, api: httpx.Client) -> World:
    def paid() -> str:
        payment = create_payment(api)
        assert checkout(server, payment, "pay").status_code == 200
        return str(payment["id"])

    def authorized() -> str:
        payment = create_payment(api, capture=False)
        assert checkout(server, payment, "authorize").status_code == 200
        return str(payment["id"])

    def refund(payment_id: str, **fields: object) -> str:
        answer = api.post("/v1/refunds", json={"payment": payment_id, **fields})
        assert answer.status_code == 201, answer.text
        assert answer.json()["status"] == "succeeded"
        return str(answer.json()["id"])

    refunded = paid()
    refund(refunded)
    partly_refunded = paid()
    partial_refund = refund(partly_refunded, amount=50000)
    captured = authorized()
    assert api.post(f"/v1/payments/{captured}/capture", json={"amount": 100000}).status_code == 200
    canceled = authorized()
    assert api.post(f"/v1/payments/{canceled}/cancel").status_code == 200
    failed = create_payment(api)
    assert checkout(server, failed, "decline").status_code == 200

    async def consume() -> None:
        async with server.ctx.db.write() as conn:
            await conn.run_sync(consumer_plugin.metadata.create_all)
        registry = consumers.Registry()
        registry.register(AUDITED)
        await consumers.dispatch(server.ctx, registry)

    world = World(
        server,
        pending=create_payment(api)["id"],
        succeeded=paid(),
        refunded=refunded,
        partly_refunded=partly_refunded,
        partial_refund=partial_refund,
        captured=captured,
        canceled=canceled,
        failed=failed["id"],
    )
    statuses = {
        "pending": world.pending,
        "succeeded": world.succeeded,
        "refunded": world.refunded,
        "canceled": world.canceled,
        "failed": world.failed,
    }
    for status, payment_id in statuses.items():
        assert api.get(f"/v1/payments/{payment_id}").json()["status"] == status
    server.call(consume())
    return world


def audit_with(
    world: World, damage: Callable[[AsyncConnection], Awaitable[object]] | None = None
) -> dict[str, Report]:
    """The reports of every check on the world with `damage` done, which is then undone."""

    async def check() -> dict[str, Report]:
        async with world.server.ctx.db.write() as conn:
            savepoint = await conn.begin_nested()
            if damage is not None:
                await damage(conn)
            reports = await integrity.run_checks(conn, world.checks())
            await savepoint.rollback()
        return {report.check.name: report for report in reports}

    return world.server.call(check())


def test_a_clean_database_passes(world: World) -> None:
    reports = audit_with(world)
    assert set(reports) == {check.name for check in integrity.CHECKS}
    assert [report.findings for report in reports.values() if not report.ok] == []

    async def consumed() -> int:
        async with world.server.ctx.db.read() as conn:
            return len((await conn.execute(select(EFFECTS))).all())

    assert world.server.call(consumed()) == 4  # its own check had something to look at


async def copy_event(conn: AsyncConnection, event_type: str, of: str, **changes: object) -> None:
    """Insert a copy of payment `of`'s event of `event_type`, with `changes`."""
    query = select(events).where(events.c.payment_id == of, events.c.type == event_type)
    row = (await conn.execute(query)).mappings().one()
    values = {k: v for k, v in row.items() if k != "seq"}
    await conn.execute(insert(events).values({**values, "id": f"evt_copy{of[-8:]}", **changes}))


async def drop_event(
    conn: AsyncConnection, event_type: str, *, payment: str | None = None, refund: str | None = None
) -> None:
    """Delete the payment's (or refund's) event of `event_type`, and receipts of it."""
    column = events.c.payment_id if payment else events.c.refund_id
    dropped = select(events.c.id).where(column == (payment or refund), events.c.type == event_type)
    await conn.execute(delete(consumer_receipts).where(consumer_receipts.c.event_id.in_(dropped)))
    await conn.execute(delete(events).where(events.c.id.in_(dropped)))


def set_payment(conn: AsyncConnection, payment_id: str, **values: object) -> Awaitable[object]:
    return conn.execute(update(payments).where(payments.c.id == payment_id).values(**values))


Damage = Callable[[AsyncConnection, World], Awaitable[object]]


@dataclass(frozen=True)
class Broken:
    """An invariant broken on purpose: how, the check that must say so, what its finding
    names (the start of its subject) and a phrase of its problem."""

    what: str
    check: str
    damage: Damage
    subject: Callable[[World], str]
    problem: str


BROKEN = [
    Broken(
        "a succeeded payment without its payment.succeeded event",
        "payment_events",
        lambda conn, w: drop_event(conn, "payment.succeeded", payment=w.succeeded),
        lambda w: w.succeeded,
        "exactly one payment.succeeded event, not 0",
    ),
    Broken(
        "a succeeded payment with two payment.succeeded events",
        "payment_events",
        lambda conn, w: copy_event(conn, "payment.succeeded", w.succeeded),
        lambda w: w.succeeded,
        "exactly one payment.succeeded event, not 2",
    ),
    Broken(
        "a refunded payment without its payment.succeeded event",
        "payment_events",
        lambda conn, w: drop_event(conn, "payment.succeeded", payment=w.refunded),
        lambda w: w.refunded,
        "the payment is refunded, so it has exactly one payment.succeeded event, not 0",
    ),
    Broken(
        "a failed payment with a payment.succeeded event",
        "payment_events",
        lambda conn, w: copy_event(conn, "payment.created", w.failed, type="payment.succeeded"),
        lambda w: w.failed,
        "it has no payment.succeeded event, yet has 1",
    ),
    Broken(
        "an event about a payment that does not exist",
        "payment_events",
        lambda conn, w: copy_event(conn, "payment.created", w.pending, payment_id="pay_gone"),
        lambda w: f"evt_copy{w.pending[-8:]}",
        "payment pay_gone, which does not exist",
    ),
    Broken(
        "a succeeded refund without its refund.succeeded event",
        "refund_events",
        lambda conn, w: drop_event(conn, "refund.succeeded", refund=w.partial_refund),
        lambda w: w.partial_refund,
        "exactly one refund.succeeded event, not 0",
    ),
    Broken(
        "more captured than the amount",
        "payment_amounts",
        lambda conn, w: set_payment(conn, w.captured, amount_captured=150001),
        lambda w: w.captured,
        "captured 150001, more than its amount 150000",
    ),
    Broken(
        "more refunded than captured",
        "payment_amounts",
        lambda conn, w: set_payment(conn, w.partly_refunded, amount_refunded=150001),
        lambda w: w.partly_refunded,
        "refunded 150001 and reserved for refunds 0 exceed the captured 150000",
    ),
    Broken(
        "a canceled payment that captured money",
        "payment_amounts",
        lambda conn, w: set_payment(conn, w.canceled, amount_captured=100),
        lambda w: w.canceled,
        "it is canceled, yet captured 100",
    ),
    Broken(
        "a partly refunded payment whose refunds add up to less",
        "refund_totals",
        lambda conn, w: conn.execute(
            update(refunds).where(refunds.c.id == w.partial_refund).values(amount=49999)
        ),
        lambda w: w.partly_refunded,
        "its refunded amount is 50000, but its succeeded refunds add up to 49999",
    ),
    Broken(
        "a refund in another currency",
        "refund_totals",
        lambda conn, w: conn.execute(
            update(refunds).where(refunds.c.id == w.partial_refund).values(currency="USD")
        ),
        lambda w: w.partial_refund,
        "it is in USD, its payment in RUB",
    ),
    Broken(
        "an event both handled and failing",
        "consumer_receipts",
        lambda conn, w: fail_event(conn, "audited", w.succeeded, retry_in=timedelta(minutes=1)),
        lambda w: "audited:evt_",
        "a receipt (handled) and a failure (not handled) at once",
    ),
    Broken(
        "an event a consumer gave up on",
        "consumer_receipts",
        lambda conn, w: fail_event(conn, "elsewhere", w.pending, retry_in=None),
        lambda w: "elsewhere:evt_",
        "given up after 7 attempts, so its effect never happened",
    ),
    Broken(
        "a receipt of a type the consumer does not take",
        "consumer_receipts",
        lambda conn, w: receive(conn, "audited", w.pending, "payment.created"),
        lambda w: "audited:evt_",
        "handled a payment.created event, which the consumer does not take",
    ),
    Broken(
        "a receipt whose effect is missing (the consumer's own audit)",
        "consumer_receipts",
        lambda conn, w: conn.execute(delete(EFFECTS).where(EFFECTS.c.event_id.like("evt_%"))),
        lambda w: "audited",
        "has a receipt but no effect",
    ),
    Broken(
        "a delivery marked succeeded without a successful attempt",
        "webhook_deliveries",
        lambda conn, w: delivery(conn, w.succeeded, status="succeeded", answered=False),
        lambda w: "wd_broken",
        "it is succeeded, but none of its attempts succeeded",
    ),
    Broken(
        "a delivery marked failed though an attempt succeeded",
        "webhook_deliveries",
        lambda conn, w: delivery(conn, w.succeeded, status="failed", answered=True),
        lambda w: "wd_broken",
        "it is failed, but one of its attempts succeeded",
    ),
]


async def fail_event(
    conn: AsyncConnection, consumer: str, payment_id: str, *, retry_in: timedelta | None
) -> None:
    """Record a failure of `consumer` on the payment's `payment.succeeded` or (if it has none)
    `payment.created` event."""
    event_id = await _event_of(conn, payment_id)
    now = utcnow()
    await conn.execute(
        insert(consumer_failures).values(
            consumer=consumer,
            event_id=event_id,
            attempts=7,
            error="RuntimeError: down",
            first_failed_at=now,
            last_failed_at=now,
            retry_at=now + retry_in if retry_in else None,
        )
    )


async def receive(conn: AsyncConnection, consumer: str, payment_id: str, event_type: str) -> None:
    event_id = (
        await conn.execute(
            select(events.c.id).where(
                events.c.payment_id == payment_id, events.c.type == event_type
            )
        )
    ).scalar_one()
    await conn.execute(
        insert(consumer_receipts).values(consumer=consumer, event_id=event_id, handled_at=utcnow())
    )


async def _event_of(conn: AsyncConnection, payment_id: str) -> str:
    found = (
        await conn.execute(
            select(events.c.id, events.c.type).where(events.c.payment_id == payment_id)
        )
    ).all()
    by_type: dict[str, str] = {kind: event_id for event_id, kind in found}
    return by_type.get("payment.succeeded") or by_type["payment.created"]


async def delivery(conn: AsyncConnection, payment_id: str, *, status: str, answered: bool) -> None:
    """A delivery `wd_broken` of the payment's first event, in `status`, with one attempt
    that succeeded if `answered` (else none)."""
    shop_id, event_id = (
        await conn.execute(
            select(events.c.shop_id, events.c.id).where(events.c.payment_id == payment_id).limit(1)
        )
    ).one()
    now = utcnow()
    await conn.execute(
        insert(webhook_endpoints).values(
            id="we_broken",
            shop_id=shop_id,
            test=True,
            url="https://93.184.215.14/hook",
            events=["*"],
            enabled=True,
            secret="whsec_x",
            created_at=now,
            updated_at=now,
        )
    )
    await conn.execute(
        insert(webhook_deliveries).values(
            id="wd_broken",
            endpoint_id="we_broken",
            event_id=event_id,
            manual=False,
            status=status,
            attempts=1,
            created_at=now,
            updated_at=now,
        )
    )
    if answered:
        await conn.execute(
            insert(webhook_attempts).values(
                id="wa_broken",
                delivery_id="wd_broken",
                attempted_at=now,
                succeeded=True,
                status_code=200,
                latency_ms=5,
            )
        )


def test_a_pending_delivery_with_a_late_success_is_not_a_finding(world: World) -> None:
    """An attempt whose claim lapsed while it was sent is recorded when its answer comes,
    while the worker that took the delivery over sends it again: pending, with a success."""
    reports = audit_with(
        world, lambda conn: delivery(conn, world.succeeded, status="pending", answered=True)
    )
    assert reports["webhook_deliveries"].findings == []


@pytest.mark.parametrize("broken", BROKEN, ids=[case.what for case in BROKEN])
def test_each_check_fires_on_what_breaks_it(world: World, broken: Broken) -> None:
    reports = audit_with(world, lambda conn: broken.damage(conn, world))
    assert any(
        found.subject.startswith(broken.subject(world)) and broken.problem in found.problem
        for found in reports[broken.check].findings
    ), reports[broken.check]


@pytest.fixture
def kassa(own_database_url: str, world: World) -> CliRunner:
    return CliRunner(env={"KASSA_DATABASE_URL": own_database_url, "COLUMNS": "80"})


def test_the_command_exits_0_on_a_clean_database_and_1_on_a_finding(
    kassa: CliRunner, world: World
) -> None:
    clean = invoke(kassa, "audit")
    assert clean.exit_code == 0, clean.output
    assert "BROKEN" not in clean.stdout
    assert json.loads(invoke(kassa, "audit", "--json").stdout)["ok"] is True

    async def capture(amount: int) -> None:
        async with world.server.ctx.db.write() as conn:
            await set_payment(conn, world.captured, amount_captured=amount)

    world.server.call(capture(150001))
    try:
        broken = invoke(kassa, "audit")
        assert broken.exit_code == 1
        assert f"{world.captured}" in broken.stdout  # whole, at 80 columns
        assert "captured 150001, more than its amount 150000" in " ".join(broken.stdout.split())
        as_json = invoke(kassa, "audit", "--json")
        assert as_json.exit_code == 1
        report = json.loads(as_json.stdout)
        assert report["ok"] is False
        (amounts,) = (c for c in report["checks"] if c["name"] == "payment_amounts")
        assert amounts["total"] == 1
        assert amounts["findings"][0]["subject"] == world.captured
    finally:
        world.server.call(capture(100000))
    assert invoke(kassa, "audit").exit_code == 0
