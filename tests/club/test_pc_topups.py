"""Online top-ups from a club PC's lock screen: a payment of the club's shop in the club's mode
(test: the sandbox), its QR the payment page, credited once however often the consumer runs;
on a Kassa of the module's own (the `club-topups` consumer reads the outbox from its start)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from kassa.services.club import clubs
from kassa.services.club.clubs import Club
from tests.club.conftest import customer
from tests.club.pc import add_pc
from tests.club.pc_api import error_code, pc_client
from tests.club.test_topups import consume, online_entries
from tests.helpers import checkout
from tests.live import LiveServer


@pytest.fixture(scope="module")
def server(own_database_url: str) -> Iterator[LiveServer]:
    live = LiveServer(own_database_url).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def pc(server: LiveServer, club: Club) -> Iterator[httpx.Client]:
    client = pc_client(server, add_pc(server, club))
    yield client
    client.close()


def test_a_topup_from_the_lock_screen_is_paid_through_the_sandbox_and_credited_once(
    server: LiveServer, club: Club, pc: httpx.Client
) -> None:
    assert pc.get("/club/pc/screen").json()["topups"] is False  # live: the shop has no account
    server.call(clubs.configure(server.ctx, club=club, test=True))
    assert pc.get("/club/pc/screen").json()["topups"] is True
    login = customer(server, club)
    answer = pc.post("/club/pc/topups", json={"login": login, "amount": "1500"})
    assert answer.status_code == 200, answer.text
    made = answer.json()
    assert (made["login"], made["amount"], made["currency"], made["status"]) == (
        login,
        "1500.00",
        "KZT",
        "pending",
    )
    assert made["qr"].startswith(server.url)
    consume(server)
    assert pc.get(f"/club/pc/topups/{made['id']}").json()["status"] == "pending"
    assert checkout(server, {"confirmation": {"url": made["qr"]}}, "pay").status_code == 200
    consume(server)
    now = pc.get(f"/club/pc/topups/{made['id']}").json()
    assert now == {**made, "status": "credited"}
    assert [amount for amount, _, _ in online_entries(server, club, login)] == [150000]


def test_a_topup_for_nobody_or_of_nothing_is_refused(
    server: LiveServer, club: Club, pc: httpx.Client
) -> None:
    server.call(clubs.configure(server.ctx, club=club, test=True))
    nobody = pc.post("/club/pc/topups", json={"login": "nobody", "amount": "1500"})
    assert (nobody.status_code, error_code(nobody)) == (404, "customer_not_found")
    login = customer(server, club)
    for amount in ("0", "-5", "abc", 1.5):
        zero = pc.post("/club/pc/topups", json={"login": login, "amount": amount})
        assert zero.status_code == 422, (amount, zero.text)
    unknown = pc.get("/club/pc/topups/topup_nope")
    assert (unknown.status_code, error_code(unknown)) == (404, "topup_not_found")
