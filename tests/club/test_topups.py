"""Online top-ups: a Kassa payment through the sandbox (or Kaspi first, when the shop has it),
whose `payment.succeeded` credits the customer once, however often the provider says so and
however many workers read the event; on both databases, on a Kassa of the module's own (the
`club-topups` consumer goes through the outbox from its start)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, insert, select, update

from kassa.domain import Event
from kassa.services.club import clubs, customers, topups
from kassa.services.club.clubs import Club
from kassa.services.events.consumers import Registry, dispatch
from kassa.services.shops import shops
from kassa.store import records
from kassa.store.tables import club_ledger, club_topups, consumer_receipts, events
from tests.club.conftest import customer
from tests.conformance.drivers.kaspi import settings as kaspi_settings
from tests.emulators.kaspi import running as kaspi_running
from tests.helpers import checkout, make_provider_shop, sandbox_notification
from tests.live import LiveServer
from tests.test_concurrency import fire

ONLY_TOPUPS = Registry()
ONLY_TOPUPS.register(topups.CONSUMER)


@pytest.fixture(scope="module")
def server(own_database_url: str) -> Iterator[LiveServer]:
    """The club's fixtures on a Kassa of the module's own."""
    live = LiveServer(own_database_url).start()
    try:
        yield live
    finally:
        live.stop()


def consume(server: LiveServer) -> None:
    """Two workers at once run the consumer, twice."""

    async def rounds() -> None:
        for _ in range(2):
            await asyncio.gather(
                dispatch(server.ctx, ONLY_TOPUPS), dispatch(server.ctx, ONLY_TOPUPS)
            )

    server.call(rounds())


def online_entries(server: LiveServer, club: Club, login: str) -> list[tuple[int, str, str]]:
    """The customer's ledger entries of online top-ups: amount, method, key."""

    async def read() -> list[tuple[int, str, str]]:
        async with server.ctx.db.read() as conn:
            found = await customers.find(conn, club=club, login=login)
            rows = await conn.execute(
                select(club_ledger.c.amount, club_ledger.c.method, club_ledger.c.idempotency_key)
                .where(club_ledger.c.customer_id == found.id, club_ledger.c.method == "online")
                .order_by(club_ledger.c.seq)
            )
            return [tuple(row) for row in rows]

    return server.call(read())


def balance(api: httpx.Client, club: Club, login: str) -> str:
    answer: str = api.get(f"/v1/club/{club.name}/customers/{login}").json()["balance"]
    return answer


def start(api: httpx.Client, club: Club, login: str, **fields: Any) -> dict[str, Any]:
    answer = api.post(
        f"/v1/club/{club.name}/topups", json={"customer": login, "amount": "1500", **fields}
    )
    assert answer.status_code == 201, answer.text
    document: dict[str, Any] = answer.json()
    return document


def test_a_sandbox_topup_is_credited_once_it_is_paid(
    server: LiveServer, api: httpx.Client, club: Club
) -> None:
    login = customer(server, club)
    headers = {"Idempotency-Key": f"lock-screen-{login}"}
    answer = api.post(
        f"/v1/club/{club.name}/topups",
        json={"customer": login, "amount": "1500"},
        headers=headers,
    )
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert (made["object"], made["provider"], made["status"]) == (
        "club_topup",
        "sandbox",
        "pending",
    )
    assert (made["amount"], made["currency"], made["payment_status"]) == (
        "1500.00",
        "KZT",
        "pending",
    )
    assert made["confirmation"]["type"] == "redirect"
    again = api.post(
        f"/v1/club/{club.name}/topups", json={"customer": login, "amount": "1500"}, headers=headers
    )
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["payment"] == made["payment"]
    payment = api.get(f"/v1/payments/{made['payment']}").json()
    assert payment["metadata"] == {"club_topup": made["id"], "club": club.name}

    consume(server)
    assert balance(api, club, login) == "0.00"  # nothing before it is paid
    assert checkout(server, made, "pay").status_code == 200
    consume(server)
    consume(server)
    assert balance(api, club, login) == "1500.00"
    assert online_entries(server, club, login) == [(150000, "online", f"payment:{made['payment']}")]
    listed = api.get(f"/v1/club/{club.name}/topups").json()["data"]
    assert [(t["id"], t["status"], t["customer"], t["payment_status"]) for t in listed] == [
        (made["id"], "credited", login, "succeeded")
    ]
    ledger = api.get(f"/v1/club/{club.name}/customers/{login}/ledger").json()["data"]
    assert [(e["kind"], e["method"]) for e in ledger] == [("topup", "online")]
    assert ledger[0]["actor"].startswith("key:")  # who asked for it


def test_duplicated_notifications_at_once_credit_once(
    server: LiveServer, api: httpx.Client, shop: Any, club: Club
) -> None:
    login = customer(server, club)
    made = start(api, club, login)
    payment = api.get(f"/v1/payments/{made['payment']}").json()
    same = sandbox_notification(shop.secret, payment, "succeeded")
    signed = [same] * 10 + [
        sandbox_notification(shop.secret, payment, "succeeded") for _ in range(10)
    ]
    url = f"{server.url}/hooks/sandbox/{shop.name}"
    answers = asyncio.run(fire([("POST", url, {"content": b, "headers": h}) for b, h in signed]))
    assert {a.status_code for a in answers} == {200}

    consume(server)
    assert balance(api, club, login) == "1500.00"
    assert len(online_entries(server, club, login)) == 1

    # The handler given the same event again (as a consumer that lost its receipt would):
    # the top-up is credited already, and its ledger key is taken.
    event = succeeded(server, made["payment"])

    async def again() -> None:
        async with server.ctx.db.write() as conn:
            await topups.credit(conn, event)

    server.call(again())
    assert balance(api, club, login) == "1500.00"


def succeeded(server: LiveServer, payment_id: str) -> Event:
    async def read() -> Event:
        query = select(events).where(
            events.c.payment_id == payment_id, events.c.type == "payment.succeeded"
        )
        async with server.ctx.db.read() as conn:
            return records.event((await conn.execute(query)).mappings().one())

    return server.call(read())


def test_a_topup_paid_for_a_customer_deleted_since_is_left_unclaimed(
    server: LiveServer, api: httpx.Client, club: Club
) -> None:
    login = customer(server, club)
    made = start(api, club, login)
    assert api.delete(f"/v1/club/{club.name}/customers/{login}").status_code == 200
    assert checkout(server, made, "pay").status_code == 200
    consume(server)
    listed = api.get(f"/v1/club/{club.name}/topups").json()["data"]
    assert [t["status"] for t in listed if t["id"] == made["id"]] == ["unclaimed"]
    assert online_entries(server, club, login) == []


def test_topups_refused(server: LiveServer, api: httpx.Client, club: Club) -> None:
    login = customer(server, club)
    base = f"/v1/club/{club.name}/topups"

    def refused(body: dict[str, Any]) -> tuple[int, str]:
        answer = api.post(base, json={"customer": login, **body})
        return answer.status_code, answer.json()["error"]["code"]

    assert refused({"amount": "0"}) == (422, "parameter_invalid")
    desk = {"amount": "10", "method": "cash", "provider": "sandbox"}
    assert refused(desk) == (422, "parameter_invalid")
    assert refused({"amount": "10", "provider": "kaspi"}) == (422, "provider_not_configured")
    assert refused({"amount": "10", "customer": "nobody"}) == (404, "resource_missing")
    assert api.post(f"/v1/club/{club.name}/customers/{login}/block").status_code == 200
    assert refused({"amount": "10"}) == (409, "customer_blocked")
    card = api.post(base, json={"customer": login, "amount": "700", "method": "card"})
    assert (card.status_code, card.json()["method"]) == (201, "card")


def test_kaspi_comes_first_when_the_shop_has_it(server: LiveServer) -> None:
    with kaspi_running() as kaspi:
        shop = make_provider_shop(server, "kaspi", kaspi_settings(kaspi))

        async def with_sandbox_too() -> Club:
            await shops.configure_provider(
                server.ctx, shop=shop.shop, provider="sandbox", settings={"enabled": "true"}
            )
            made = await clubs.create(
                server.ctx, shop=shop.shop, name=f"k-{shop.name}", currency="KZT", timezone="UTC"
            )
            await customers.register(server.ctx, club=made, login="arman", password="secret-1")
            return made

        club = server.call(with_sandbox_too())
        with shop.api(server) as api:
            made = start(api, club, "arman")
            assert made["provider"] == "kaspi"
            assert made["confirmation"]["type"] == "qr"
            assert made["confirmation"]["payload"].startswith("https://qr.kaspi.kz/")
            named = start(api, club, "arman", provider="sandbox")
            assert named["provider"] == "sandbox"


def test_the_audit_finds_a_credit_without_its_receipt_and_a_receipt_without_its_credit(
    server: LiveServer, api: httpx.Client, club: Club
) -> None:
    login = customer(server, club)
    made = start(api, club, login)
    assert checkout(server, made, "pay").status_code == 200
    consume(server)

    def findings() -> list[str]:
        async def read() -> list[str]:
            async with server.ctx.db.read() as conn:
                return [line async for line in topups.audit(conn) if made["id"] in line]

        return server.call(read())

    def set_status(status: str) -> None:
        async def write() -> None:
            async with server.ctx.db.write() as conn:
                await conn.execute(
                    update(club_topups).where(club_topups.c.id == made["id"]).values(status=status)
                )

        server.call(write())

    assert findings() == []
    set_status("pending")  # as if the credit had been lost
    assert findings() == [
        f"club-topups:{made['id']}: its payment's event was received, it is still pending"
    ]
    set_status("credited")
    assert findings() == []

    event = succeeded(server, made["payment"])
    receipt = (consumer_receipts.c.consumer == topups.NAME) & (
        consumer_receipts.c.event_id == event.id
    )

    async def lose_the_receipt() -> Any:
        async with server.ctx.db.write() as conn:
            kept = (await conn.execute(select(consumer_receipts).where(receipt))).mappings().one()
            await conn.execute(delete(consumer_receipts).where(receipt))
            return dict(kept)

    kept = server.call(lose_the_receipt())
    assert findings() == [
        f"club-topups:{made['id']}: credited without the receipt of its payment's event"
    ]

    async def give_it_back() -> None:
        async with server.ctx.db.write() as conn:
            await conn.execute(insert(consumer_receipts).values(**kept))

    server.call(give_it_back())
    assert findings() == []
