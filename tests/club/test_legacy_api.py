"""LoVHub's launcher API served by Kassa for one club (`KASSA_CLUB_LEGACY_API`), driven by a
script that talks as LoVHub's launcher does (`/work/shared/reference/lovhub-api.md`), from the
club's LAN as Kassa sees it behind a trusted proxy; on both databases, on a Kassa of the
module's own (the `club-topups` consumer reads the outbox from its start)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from kassa.config import Settings
from kassa.domain import InsufficientFunds
from kassa.services.club import (
    apps,
    clubs,
    customers,
    ledger,
    legacy,
    packages,
    pcs,
    session_records,
)
from kassa.services.club.clubs import Club
from kassa.web.app import create_app
from tests.club.test_topups import consume
from tests.helpers import make_shop
from tests.live import LiveServer
from tests.test_concurrency import fire

CLUB = "lovhub"
LAN = "192.168.1.0/24"
#: The packages LoVHub's launcher sold: name, seconds, tenge.
SEED_PACKAGES = (
    ("30 мин", 1800, 150),
    ("1 час", 3600, 350),
    ("2 часа", 7200, 700),
    ("3 часа", 10800, 1000),
    ("5 часов", 18000, 2000),
    ("10 часов", 36000, 3500),
)


@pytest.fixture(scope="module")
def server(own_database_url: str) -> Iterator[LiveServer]:
    live = LiveServer(
        own_database_url,
        club_legacy_api=CLUB,
        club_legacy_networks=[LAN],
        club_legacy_test=True,
        trusted_proxies=["127.0.0.1"],
    ).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def club(server: LiveServer) -> Club:
    shop = make_shop(server)

    async def setup() -> Club:
        made = await clubs.create(
            server.ctx, shop=shop.shop, name=CLUB, currency="KZT", timezone="Asia/Almaty"
        )
        await clubs.add_zone(server.ctx, club=made, name="Standard")
        for name, seconds, price in SEED_PACKAGES:
            await packages.add(server.ctx, club=made, name=name, seconds=seconds, price=price * 100)
        await apps.add(
            server.ctx, club=made, name="Dota 2", path=r"C:\Games\dota2.exe", kind="game"
        )
        return made

    return server.call(setup())


def register(server: LiveServer, club: Club, *, tenge: int) -> str:
    login = f"p{secrets.token_hex(4)}"

    async def setup() -> None:
        await customers.register(server.ctx, club=club, login=login, password="lovhub-pw")
        await ledger.topup(server.ctx, club=club, login=login, amount=tenge * 100, actor="test")

    server.call(setup())
    return login


class Launcher:
    """What LoVHub's launcher on PC `pc` sends, from `address` on the club's LAN (the proxy
    in front of Kassa passes it on as X-Forwarded-For)."""

    def __init__(self, server: LiveServer, pc: str = "PC-07", address: str = "192.168.1.107"):
        self.pc = pc
        self.client = httpx.Client(
            base_url=server.url, headers={"X-Forwarded-For": address}, timeout=30
        )

    def login(self, username: str, password: str) -> httpx.Response:
        return self.client.post("/api/login", json={"username": username, "password": password})

    def status(self, username: str) -> dict[str, Any]:
        answer = self.client.get("/api/get_user_status", params={"username": username})
        assert answer.status_code == 200, answer.text
        document: dict[str, Any] = answer.json()
        return document

    def buy(self, username: str, name: str, seconds: int, price: int) -> httpx.Response:
        body = {
            "username": username,
            "seconds": seconds,
            "price": price,
            "package_name": name,
            "pc_name": self.pc,
        }
        return self.client.post("/api/buy_package", json=body)

    def update_time(self, username: str, time_left: int) -> httpx.Response:
        return self.client.post(
            "/api/update_time", json={"username": username, "time_left": time_left}
        )

    def heartbeat(self, username: str | None, time_left: int) -> httpx.Response:
        body = {"pc_name": self.pc, "status": "Используется", "user": username}
        return self.client.post("/api/heartbeat", json={**body, "time_left": time_left})


def purchases(server: LiveServer, club: Club, login: str) -> list[int]:
    found = server.call(ledger.entries(server.ctx, club=club, login=login))
    return [entry.amount for entry in found if entry.kind == "purchase"]


def test_a_lovhub_launcher_is_served_on_the_ledger(
    server: LiveServer, club: Club, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=legacy.__name__)
    login = register(server, club, tenge=300)
    pc = Launcher(server)

    assert pc.login(login, "wrong").status_code == 401
    missing = pc.client.post("/api/login", json={"username": login})
    assert (missing.status_code, missing.json()["status"]) == (400, "error")
    assert pc.login(login, "lovhub-pw").json() == {"status": "success", "username": login}
    assert pc.status(login) == {
        "status": "success",
        "username": login,
        "balance": 300,
        "time_left": 0,
    }
    assert pc.status("nobody")["balance"] == 0  # LoVHub answered zeros

    short = pc.buy(login, "1 час", 3600, 350)
    assert short.status_code == 402
    assert short.json()["message"] == "Недостаточно средств"
    # The launcher says 30 minutes cost 1 tenge: the club's 150 is charged.
    bought = pc.buy(login, "30 мин", 1800, 1)
    assert bought.json() == {"status": "success", "new_balance": 150, "new_time": 1800}
    # LoVHub's retry (no key): the same answer, one purchase.
    assert pc.buy(login, "30 мин", 1800, 1).json() == bought.json()
    # Matched by seconds when the name is not the club's.
    assert pc.buy(login, "half an hour", 1800, 150).json()["new_balance"] == 150
    unknown = pc.buy(login, "7 часов", 25200, 2500)
    assert (unknown.status_code, unknown.json()["code"]) == (400, "package_unknown")
    wrong = pc.client.post("/api/buy_package", json={"username": login, "seconds": "1800"})
    assert (wrong.status_code, wrong.json()["code"]) == (400, "parameter_invalid")
    assert purchases(server, club, login) == [-15000]

    # The PC's time is its report, never the customer's.
    assert pc.update_time(login, 999_999).json() == {"status": "success", "time_left": 1800}
    assert pc.heartbeat(login, 999_999).json() == {"status": "success"}
    assert pc.status(login)["time_left"] == 1800
    said = [r.getMessage() for r in caplog.records if r.name == legacy.__name__]
    assert any("update_time" in line and "999999 s left" in line for line in said)
    assert any("sent price 1 " in line for line in said)  # the launcher's price, not taken

    assert pc.client.get("/api/apps").json() == [
        {
            "id": pc.client.get("/api/apps").json()[0]["id"],
            "name": "Dota 2",
            "path": r"C:\Games\dota2.exe",
            "type": "game",
            "icon": None,
        }
    ]
    launch = {"computer_name": pc.pc, "ip_address": "192.168.1.107", "user": login}
    answer = pc.client.post("/log_launch", json={**launch, "app_name": "Dota 2"})
    assert answer.json() == {"status": "success"}
    logged = server.call(apps.launches(server.ctx, club=club))[0]
    assert (logged.pc, logged.customer, logged.app) == (pc.pc, login, "Dota 2")

    made = pc.client.post("/api/create_payment", json={"username": login, "amount": 1000})
    assert made.status_code == 200, made.text
    assert made.json()["status"] == "success"
    consume(server)
    assert pc.status(login)["balance"] == 150  # nothing before it is paid
    paid = httpx.post(made.json()["payment_url"], data={"action": "pay", "lang": "en"}, timeout=30)
    assert paid.status_code == 200
    consume(server)
    consume(server)
    assert pc.status(login)["balance"] == 1150
    entries = server.call(ledger.entries(server.ctx, club=club, login=login))
    assert [entry.amount for entry in entries if entry.method == "online"] == [100_000]


def test_a_purchase_on_a_pc_of_the_club_is_played_as_a_session(
    server: LiveServer, club: Club
) -> None:
    login = register(server, club, tenge=1000)
    name = f"LOV-{secrets.token_hex(3)}"
    server.call(pcs.add(server.ctx, club=club, name=name, zone="Standard"))
    pc = Launcher(server, pc=name)

    assert pc.buy(login, "1 час", 3600, 350).json()["new_balance"] == 650
    started = server.call(session_records.get(server.ctx, club=club, pc=name))
    assert (started.login, started.state, started.charged_seconds) == (login, "active", 3600)
    # The time left is the session's paid time left, whatever the PC says.
    assert 3500 < pc.update_time(login, 999_999).json()["time_left"] <= 3600
    assert 3500 < pc.status(login)["time_left"] <= 3600

    # A heartbeat renews the session's lease, as the agent's does.
    assert pc.heartbeat(login, 999_999).json() == {"status": "success"}
    renewed = server.call(session_records.get(server.ctx, club=club, pc=name))
    assert renewed.lease_seq == started.lease_seq + 1
    assert renewed.lease_expires_at >= started.lease_expires_at

    # A lease that ran out is not renewed: the session ends at its end (the lock policy).
    later = replace(server.ctx, clock=lambda: renewed.lease_expires_at + timedelta(seconds=10))
    assert not server.call(legacy.heartbeat(later, club=club, pc=name))
    assert (
        server.call(session_records.get(server.ctx, club=club, pc=name)).lease_seq
        == renewed.lease_seq
    )

    # Another package bought on the PC extends the session by its time.
    assert pc.buy(login, "30 мин", 1800, 150).json()["new_balance"] == 500
    extended = server.call(session_records.get(server.ctx, club=club, pc=name))
    assert (extended.id, extended.charged_seconds) == (started.id, 5400)
    assert sorted(purchases(server, club, login)) == [-35000, -15000]


def test_a_purchase_sent_many_times_at_once_is_made_once(server: LiveServer, club: Club) -> None:
    login = register(server, club, tenge=1000)
    name = f"LOV-{secrets.token_hex(3)}"
    server.call(pcs.add(server.ctx, club=club, name=name, zone="Standard"))
    body = {"username": login, "seconds": 3600, "package_name": "1 час", "pc_name": name}
    headers = {"X-Forwarded-For": "192.168.1.20"}
    answers = asyncio.run(
        fire([("POST", f"{server.url}/api/buy_package", {"json": body, "headers": headers})] * 8)
    )
    assert {answer.status_code for answer in answers} == {200}
    assert {answer.json()["new_balance"] for answer in answers} == {650}
    assert purchases(server, club, login) == [-35000]
    played = server.call(session_records.get(server.ctx, club=club, pc=name))
    assert played.charged_seconds == 3600  # one session, charged once


def test_the_same_package_is_bought_again_after_the_retry_window(
    server: LiveServer, club: Club
) -> None:
    login = register(server, club, tenge=1000)
    start = datetime(2026, 12, 6, 12, 0, 50, tzinfo=UTC)  # 10 s before a slot ends

    def buy_at(moment: datetime) -> legacy.Status:
        ctx = replace(server.ctx, clock=lambda: moment)
        return server.call(
            legacy.buy_package(
                ctx, club=club, login=login, package_name="1 час", seconds=0, price=None, pc="PC-1"
            )
        )

    assert buy_at(start).balance == 650
    assert buy_at(start + timedelta(seconds=30)).balance == 650  # the next slot: a retry
    assert buy_at(start + timedelta(seconds=legacy.DEDUP_SECONDS + 1)).balance == 300
    with pytest.raises(InsufficientFunds):
        buy_at(start + timedelta(seconds=3 * legacy.DEDUP_SECONDS))
    assert purchases(server, club, login) == [-35000, -35000]


@pytest.mark.parametrize("forwarded", [None, "10.0.0.5", "192.168.2.1"])
def test_only_the_club_network_is_answered(
    server: LiveServer, club: Club, forwarded: str | None
) -> None:
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
    for method, path in (("GET", "/api/apps"), ("POST", "/api/buy_package")):
        answer = httpx.request(method, f"{server.url}{path}", headers=headers, json={})
        assert answer.status_code == 403
        assert answer.json()["code"] == "network_forbidden"


def test_the_api_is_not_there_unless_a_club_is_named(database_url: str) -> None:
    """Off by default (404); named, with no networks given, it answers nobody (403)."""

    async def status(**settings: Any) -> int:
        app = create_app(Settings(database_url=database_url, **settings))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kassa") as client:
            return (await client.post("/api/login", json={})).status_code

    assert asyncio.run(status()) == 404
    assert asyncio.run(status(club_legacy_api=CLUB)) == 403
