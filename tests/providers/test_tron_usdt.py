"""USDT-TRC20 end to end over real HTTP on loopback: merchant → Kassa, the payer's transfers on
the emulated chain → Kassa's watcher (TronGrid's emulator) → the payment, on both databases.
What is particular to it: unique amounts under concurrent creates, what the watcher credits
and what it only records, its back-off, its panel, the transfers' retention, and
`kassa simulate`."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from kassa.domain import Role
from kassa.domain.money import format_major, from_decimal
from kassa.providers import PaymentRequest
from kassa.services.notifications import simulate
from kassa.services.payments import expiry
from kassa.services.providers import panels, provider_jobs
from kassa.services.providers import tron_usdt as state
from kassa.services.shops import shops
from kassa.store.tables import tron_reservations, tron_transfers, tron_watches
from tests.admin.conftest import new_user, signed_in, text_of
from tests.emulators.tron_usdt import TronGridEmulator, new_address, running
from tests.helpers import ProviderShop, event_types, later, make_provider_shop, stored_notifications
from tests.live import LiveServer

PRICE = 10_000_000  # 10 USDT


@pytest.fixture(scope="module")
def trongrid() -> Iterator[TronGridEmulator]:
    with running() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def server(own_database_url: str) -> Iterator[LiveServer]:
    """The module's own database: the watcher looks at every account it holds."""
    live = LiveServer(own_database_url, provider_timeout=2.0).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def shop(server: LiveServer, trongrid: TronGridEmulator) -> ProviderShop:
    settings = {"address": new_address(), "api_url": trongrid.base_url}
    return make_provider_shop(server, "tron_usdt", settings)


@pytest.fixture
def api(server: LiveServer, shop: ProviderShop) -> Iterator[httpx.Client]:
    with shop.api(server) as client:
        yield client


def address(shop: ProviderShop) -> str:
    return shop.account.credentials["address"]


def create(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = api.post("/v1/payments", json={"amount": PRICE, "currency": "USDT", **fields})
    assert response.status_code == 201, response.text
    document: dict[str, Any] = response.json()
    return document


def current(api: httpx.Client, payment: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = api.get(f"/v1/payments/{payment['id']}").json()
    return document


def to_send(payment: dict[str, Any]) -> int:
    return from_decimal(payment["confirmation"]["amount"], "USDT")


_looks = itertools.count(3)


def watch(server: LiveServer, ahead: timedelta | None = None) -> int:
    """The watcher, once, its clock `ahead` (by default further ahead each time, so that
    every account's next look is due)."""
    ahead = ahead or timedelta(minutes=next(_looks))
    return server.call(state.watch(later(server, ahead)))


def transfers(server: LiveServer, payment: dict[str, Any]) -> list[tuple[str, int]]:
    async def read() -> list[tuple[str, int]]:
        query = select(tron_transfers.c.kind, tron_transfers.c.amount).where(
            tron_transfers.c.payment_id == payment["id"]
        )
        async with server.ctx.db.read() as conn:
            rows = (await conn.execute(query.order_by(tron_transfers.c.block_at))).all()
        return [(row.kind, row.amount) for row in rows]

    return server.call(read())


def test_the_payer_is_asked_for_a_unique_exact_amount_at_the_address(
    api: httpx.Client, shop: ProviderShop
) -> None:
    payment = create(api, description="VPN, 1 month")
    confirmation = payment["confirmation"]
    assert confirmation["type"] == "crypto_transfer"
    assert (confirmation["address"], confirmation["payload"]) == (address(shop),) * 2
    assert (confirmation["asset"], confirmation["network"]) == ("USDT", "TRC20")
    assert confirmation["expires_at"] == payment["expires_at"]
    tail = to_send(payment) - PRICE
    assert 0 < tail <= state.TAILS
    assert confirmation["amount"] == f"10.{tail:06d}"
    assert payment["amount"] == PRICE  # the payment is for its price; the tail only marks it


def test_concurrent_creates_never_share_an_amount(api: httpx.Client) -> None:
    with ThreadPoolExecutor(max_workers=12) as pool:
        created = list(pool.map(lambda _: create(api), range(36)))
    amounts = [to_send(payment) for payment in created]
    assert len(set(amounts)) == len(amounts)


def test_when_every_tail_is_taken_the_create_is_refused_clearly(
    api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state, "TAILS", 2)
    first, second = create(api, amount=PRICE + 5_000), create(api, amount=PRICE + 5_000)
    assert {to_send(first), to_send(second)} == {PRICE + 5_001, PRICE + 5_002}
    refused = api.post("/v1/payments", json={"amount": PRICE + 5_000, "currency": "USDT"})
    assert refused.status_code == 409, refused.text
    assert "reserved for an open payment" in refused.json()["error"]["message"]
    assert len(api.get("/v1/payments").json()["data"]) == 2


def test_a_retried_prepare_finds_the_amount_reserved_first(
    server: LiveServer, shop: ProviderShop
) -> None:
    request = PaymentRequest(payment_id="pay_retried", amount=PRICE, currency="USDT", capture=True)

    async def twice_at_once() -> list[PaymentRequest]:
        return list(
            await asyncio.gather(
                *(state.prepare(server.ctx, shop.account, request) for _ in range(5))
            )
        )

    prepared = {dict(done.prepared)["amount"] for done in server.call(twice_at_once())}
    assert len(prepared) == 1


def test_the_exact_transfer_pays_once_and_everything_else_is_only_recorded(
    server: LiveServer, api: httpx.Client, shop: ProviderShop, trongrid: TronGridEmulator
) -> None:
    payment = create(api)
    amount, to = to_send(payment), address(shop)
    # A token calling itself USDT, an unconfirmed transfer, and someone else's address: nothing.
    trongrid.transfer(to, amount, contract=new_address())
    unconfirmed = trongrid.transfer(to, amount, confirmed=False)
    trongrid.transfer(new_address(), amount)
    trongrid.transfer(to, amount - 5_000)  # underpaid
    trongrid.transfer(to, amount + 1_000_000)  # overpaid
    watch(server)
    assert current(api, payment)["status"] == "pending"
    assert transfers(server, payment) == [
        ("underpaid", amount - 5_000),
        ("overpaid", amount + 1_000_000),
    ]

    trongrid.confirm(unconfirmed["transaction_id"])
    watch(server)
    paid = current(api, payment)
    assert (paid["status"], paid["amount_captured"]) == ("succeeded", PRICE)
    assert paid["provider_payment_id"] == unconfirmed["transaction_id"]
    assert event_types(server, payment["id"]) == ["payment.created", "payment.succeeded"]
    (notification,) = stored_notifications(server, shop.name)
    assert notification["verdict"] == "accepted"
    assert notification["event_key"] == unconfirmed["transaction_id"]

    trongrid.transfer(to, amount)  # paid twice
    watch(server)
    watch(server)  # and looked at again: nothing seen twice
    kinds = ["matched", "overpaid", "repeated", "underpaid"]
    assert sorted(kind for kind, _ in transfers(server, payment)) == kinds
    assert len(stored_notifications(server, shop.name)) == 1
    assert event_types(server, payment["id"]) == ["payment.created", "payment.succeeded"]

    (panel,) = server.call(panels(server.ctx, server.call(_payment(server, payment["id"]))))
    assert panel.title == "USDT-TRC20 transfers"
    assert sorted(row[-1] for row in panel.rows) == kinds
    (matched,) = (row for row in panel.rows if row[-1] == "matched")
    assert matched[1] == unconfirmed["transaction_id"]
    assert matched[3] == f"{payment['confirmation']['amount']} USDT"


async def _payment(server: LiveServer, payment_id: str) -> Any:
    from kassa.services.payments.lifecycle import find_payment

    return await find_payment(server.ctx, payment_id=payment_id)


def test_two_exact_transfers_seen_at_once_pay_once(
    server: LiveServer, api: httpx.Client, shop: ProviderShop, trongrid: TronGridEmulator
) -> None:
    payment = create(api)
    first = trongrid.transfer(address(shop), to_send(payment))
    trongrid.transfer(address(shop), to_send(payment))
    watch(server)
    paid = current(api, payment)
    assert (paid["status"], paid["provider_payment_id"]) == ("succeeded", first["transaction_id"])
    assert [kind for kind, _ in transfers(server, payment)] == ["matched", "repeated"]
    assert event_types(server, payment["id"]) == ["payment.created", "payment.succeeded"]


def test_the_admins_payment_page_shows_the_transfers(
    server: LiveServer, api: httpx.Client, shop: ProviderShop, trongrid: TronGridEmulator
) -> None:
    payment = create(api)
    short = trongrid.transfer(address(shop), to_send(payment) - 1)
    watch(server)
    viewer = signed_in(server, new_user(server, Role.VIEWER))
    try:
        page = viewer.get(f"/admin/payments/{payment['id']}")
        assert page.status_code == 200
        shown = text_of(page.text)
        assert "USDT-TRC20 transfers" in shown
        assert short["transaction_id"] in shown
        assert f"{format_major(to_send(payment) - 1, 'USDT')} USDT underpaid" in shown
        viewer.cookies.set("kassa_lang", "ru", path="/admin")
        russian = text_of(viewer.get(f"/admin/payments/{payment['id']}").text)
    finally:
        viewer.close()
    assert "Переводы USDT-TRC20" in russian


def test_watchers_at_once_look_once(
    server: LiveServer, shop: ProviderShop, trongrid: TronGridEmulator
) -> None:
    watched = address(shop)
    ahead = later(server, timedelta(hours=2))

    async def at_once() -> list[int]:
        return list(await asyncio.gather(*(state.watch(ahead) for _ in range(6))))

    before = [key for key in trongrid.looked if key == watched]
    server.call(at_once())
    assert [key for key in trongrid.looked if key == watched] == [*before, watched]


def test_a_match_whose_delivery_broke_off_is_delivered_at_the_next_look(
    server: LiveServer,
    api: httpx.Client,
    shop: ProviderShop,
    trongrid: TronGridEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    payment = create(api)
    trongrid.transfer(address(shop), to_send(payment))

    async def dies(*_: Any) -> None:
        raise RuntimeError("the worker died")

    with monkeypatch.context() as patched:
        patched.setattr(state, "deliver", dies)
        with pytest.raises(RuntimeError):
            watch(server)
    assert transfers(server, payment) == [("matched", to_send(payment))]
    assert current(api, payment)["status"] == "pending"
    watch(server, state.LEASE + timedelta(hours=3))  # once the dead worker's claim has run out
    assert current(api, payment)["status"] == "succeeded"
    assert len(stored_notifications(server, shop.name)) == 1


def test_a_notification_posted_by_anyone_else_is_refused(
    server: LiveServer, api: httpx.Client, shop: ProviderShop
) -> None:
    payment = create(api)
    body = json.dumps({"payment": payment["id"], "transfer": {"value": str(to_send(payment))}})
    forged = httpx.post(
        f"{server.url}/hooks/tron_usdt/{shop.name}",
        content=body,
        headers={"content-type": "application/json", "x-kassa-watcher-signature": "0" * 64},
    )
    assert forged.status_code == 401
    assert current(api, payment)["status"] == "pending"
    assert stored_notifications(server, shop.name)[-1]["verdict"] == "rejected"


def test_a_transfer_after_expiry_is_late_and_the_payment_expires(
    server: LiveServer, api: httpx.Client, shop: ProviderShop, trongrid: TronGridEmulator
) -> None:
    payment = create(api, expires_in=60)
    after = int(later(server, timedelta(seconds=90)).clock().timestamp() * 1000)
    trongrid.transfer(address(shop), to_send(payment), at_ms=after)
    watch(server, timedelta(minutes=3))
    assert current(api, payment)["status"] == "pending"
    assert transfers(server, payment) == [("late", to_send(payment))]
    server.call(expiry.expire_due(later(server, timedelta(minutes=3))))
    assert current(api, payment)["status"] == "expired"
    assert event_types(server, payment["id"]) == ["payment.created", "payment.expired"]


def test_reservations_are_forgotten_a_week_after_they_hold(
    server: LiveServer, api: httpx.Client, shop: ProviderShop
) -> None:
    payment = create(api, expires_in=60)

    async def reserved() -> bool:
        async with server.ctx.db.read() as conn:
            query = select(tron_reservations).where(tron_reservations.c.payment_id == payment["id"])
            return (await conn.execute(query)).first() is not None

    watch(server, timedelta(days=1))
    assert server.call(reserved())
    watch(server, timedelta(days=8))
    assert not server.call(reserved())


def test_transfers_no_payment_needs_are_deleted_past_their_retention(
    server: LiveServer,
    api: httpx.Client,
    shop: ProviderShop,
    trongrid: TronGridEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pending, paid = create(api), create(api)
    to = address(shop)
    short = trongrid.transfer(to, to_send(pending) - 1)
    matched = trongrid.transfer(to, to_send(paid))
    repeated = trongrid.transfer(to, to_send(paid))
    stray = trongrid.transfer(to, 7)
    watch(server)
    assert current(api, paid)["status"] == "succeeded"
    assert current(api, pending)["status"] == "pending"
    days = server.ctx.settings.tron_transfer_retention_days
    assert days == 90
    assert state.PRUNER in provider_jobs()  # so every background loop runs it

    async def held() -> set[str]:
        query = select(tron_transfers.c.transaction_id).where(tron_transfers.c.address == to)
        async with server.ctx.db.read() as conn:
            return set((await conn.execute(query)).scalars())

    every = {entry["transaction_id"] for entry in (short, matched, repeated, stray)}
    assert server.call(held()) == every
    server.call(state.prune(later(server, timedelta(days=days - 1))))
    assert server.call(held()) == every

    monkeypatch.setattr(state, "PRUNE_BATCH", 2)
    pruned = server.call(state.prune(later(server, timedelta(days=days, hours=1))))
    assert pruned >= 3  # the module's other tests' old transfers too
    # The pending payment's underpaid transfer stays for whoever settles it.
    assert server.call(held()) == {short["transaction_id"]}
    assert transfers(server, pending) == [("underpaid", to_send(pending) - 1)]


def test_many_pages_are_read_to_the_end(
    server: LiveServer, api: httpx.Client, shop: ProviderShop, trongrid: TronGridEmulator
) -> None:
    payment = create(api)
    for value in range(1, 402):  # a busy address: two full pages of others first
        trongrid.transfer(address(shop), value)
    trongrid.transfer(address(shop), to_send(payment))
    calls = trongrid.calls
    watch(server)
    assert current(api, payment)["status"] == "succeeded"
    assert trongrid.calls - calls >= 3


def test_limits_put_the_next_look_off_and_the_key_is_sent(
    server: LiveServer, api: httpx.Client, trongrid: TronGridEmulator
) -> None:
    keyed = make_provider_shop(
        server,
        "tron_usdt",
        {"address": new_address(), "api_url": trongrid.base_url, "api_key": "key-1"},
    )
    trongrid.limited = True
    try:
        watch(server)
    finally:
        trongrid.limited = False
    assert "key-1" in trongrid.keys

    async def watched() -> Any:
        query = select(tron_watches).where(tron_watches.c.account_id == keyed.account.id)
        async with server.ctx.db.read() as conn:
            return (await conn.execute(query)).mappings().one()

    row = server.call(watched())
    assert row["failures"] == 1
    assert "429" in row["last_error"]
    ahead = later(server, timedelta(minutes=3)).clock()
    assert row["next_poll_at"] > ahead + timedelta(seconds=10)
    # Once due again, it looks and recovers.
    watch(server, timedelta(hours=1))
    assert server.call(watched())["failures"] == 0


def test_kassa_simulate_sends_a_signed_transfer(
    server: LiveServer, api: httpx.Client, shop: ProviderShop
) -> None:
    payment = create(api)
    delivered = server.call(
        simulate.simulate(
            server.ctx,
            provider="tron_usdt",
            event="transfer",
            payment_id=payment["id"],
            base_url=server.url,
        )
    )
    assert delivered.status_code == 200, delivered.answer
    assert current(api, payment)["status"] == "succeeded"


def test_configuring_generates_the_watchers_secret(server: LiveServer, shop: ProviderShop) -> None:
    account = server.call(shops.get_account(server.ctx, account_id=shop.account.id))
    assert len(account.credentials["watcher_secret"]) >= 32
