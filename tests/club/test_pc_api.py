"""The club PC's HTTP API (`kassa.protocol.club_pc`) on the hub: the lock screen, sign-in
tickets bound to their PC, previews, sessions started and ended from the PC, the apps of its
zone, and the PC's token checked on every request; on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime

import httpx
import pytest

from kassa.domain.devices import DeviceKind
from kassa.protocol import club_pc
from kassa.services.club import apps, customers, packages
from kassa.services.club.clubs import Club
from kassa.services.devices import registry
from tests.club.conftest import customer
from tests.club.pc import Clock, add_pc, entries
from tests.club.pc_api import error_code, pc_client, sign_in
from tests.live import LiveServer


@pytest.fixture
def pc(server: LiveServer, club: Club) -> Iterator[httpx.Client]:
    client = pc_client(server, add_pc(server, club))
    yield client
    client.close()


def names(data_class: type) -> set[str]:
    return {each.name for each in fields(data_class)}


def test_the_lock_screen_shows_the_club_and_the_packages_of_the_pcs_zone(
    server: LiveServer, club: Club, pc: httpx.Client
) -> None:
    async def setup() -> None:
        await packages.add(server.ctx, club=club, name="Hour", seconds=3600, price=50000)
        await packages.add(
            server.ctx, club=club, name="VIP hour", seconds=3600, price=90000, zone="VIP"
        )
        await packages.add(
            server.ctx, club=club, name="Standard 3h", seconds=10800, price=120000, zone="Standard"
        )

    server.call(setup())
    answer = pc.get("/club/pc/screen")
    assert answer.status_code == 200, answer.text
    screen = answer.json()
    assert set(screen) == names(club_pc.Screen)
    parsed = club_pc.Screen.from_data(screen)
    assert (parsed.club, parsed.pc, parsed.zone, parsed.currency) == (
        club.name,
        "PC-01",
        "Standard",
        "KZT",
    )
    assert (parsed.language, parsed.offline_policy, parsed.topups) == ("ru", "lock", False)
    assert [(each.name, each.price, each.available) for each in parsed.packages] == [
        ("Hour", "500.00", True),
        ("Standard 3h", "1200.00", True),
    ]


def test_the_apps_are_those_of_the_pcs_zone(
    server: LiveServer, club: Club, pc: httpx.Client
) -> None:
    async def setup() -> None:
        await apps.add(server.ctx, club=club, name="Dota 2", path="C:\\dota2.exe", kind="game")
        await apps.add(
            server.ctx, club=club, name="VIP only", path="C:\\v.exe", kind="game", zones=("VIP",)
        )
        await apps.add(server.ctx, club=club, name="Discord", path="C:\\d.exe", kind="app")

    server.call(setup())
    answer = pc.get("/club/pc/apps")
    assert answer.status_code == 200, answer.text
    found = [club_pc.AppEntry.from_data(each) for each in answer.json()["data"]]
    assert [(each.name, each.kind) for each in found] == [("Dota 2", "game"), ("Discord", "app")]


def test_a_bad_token_is_refused_and_a_disabled_pc_forbidden(
    server: LiveServer, club: Club, pc: httpx.Client
) -> None:
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic x"}):
        answer = httpx.get(f"{server.url}/club/pc/screen", headers=headers)
        assert answer.status_code == 401, answer.text

    async def disable() -> None:
        device = await registry.get_device(
            server.ctx, kind=DeviceKind.CLUB_PC, shop_id=club.shop_id, device_id="PC-01"
        )
        await registry.set_enabled(server.ctx, device=device, enabled=False)

    server.call(disable())
    answer = pc.get("/club/pc/screen")
    assert (answer.status_code, error_code(answer)) == (403, "pc_disabled")


def test_signing_in_answers_a_ticket_and_refuses_wrong_passwords_and_the_blocked(
    server: LiveServer, club: Club, pc: httpx.Client
) -> None:
    login = customer(server, club, balance=150000)
    answer = pc.post("/club/pc/sign_in", json={"login": login, "password": "secret-1"})
    assert answer.status_code == 200, answer.text
    signed = club_pc.SignedIn.from_data(answer.json())
    assert (signed.login, signed.balance, signed.time_bank_seconds, signed.package_seconds) == (
        login,
        "1500.00",
        0,
        0,
    )
    wrong = pc.post("/club/pc/sign_in", json={"login": login, "password": "wrong-1"})
    assert (wrong.status_code, error_code(wrong)) == (401, "sign_in_failed")
    nobody = pc.post("/club/pc/sign_in", json={"login": "nobody", "password": "secret-1"})
    assert (nobody.status_code, error_code(nobody)) == (401, "sign_in_failed")
    server.call(customers.block(server.ctx, club=club, login=login))
    blocked = pc.post("/club/pc/sign_in", json={"login": login, "password": "secret-1"})
    assert (blocked.status_code, error_code(blocked)) == (403, "customer_blocked")
    extra = pc.post("/club/pc/sign_in", json={"login": login, "password": "x", "pin": 1})
    assert (extra.status_code, error_code(extra)) == (422, "parameter_unknown")


def test_a_preview_says_what_starting_would_cost_and_changes_nothing(
    server: LiveServer, club: Club, pc: httpx.Client
) -> None:
    login = customer(server, club, balance=150000)
    server.call(packages.add(server.ctx, club=club, name="Hour", seconds=3600, price=50000))
    ticket = sign_in(pc, login)
    answer = pc.post("/club/pc/preview", json={"ticket": ticket, "minutes": 30})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "seconds": 1800,
        "price": "300.00",
        "time_bank_seconds": 0,
        "package_seconds": 0,
        "balance_after": "1200.00",
    }
    whole = pc.post("/club/pc/preview", json={"ticket": ticket}).json()
    assert (whole["seconds"], whole["balance_after"]) == (150 * 60, "0.00")
    bought = pc.post("/club/pc/preview", json={"ticket": ticket, "package": "Hour"}).json()
    assert bought == {
        "seconds": 3600,
        "price": "500.00",
        "time_bank_seconds": 0,
        "package_seconds": 3600,
        "balance_after": "1000.00",
    }
    assert entries(server, club, login) == [("topup", 150000, 0)]
    poor = sign_in(pc, customer(server, club))
    refused = pc.post("/club/pc/preview", json={"ticket": poor, "minutes": 10})
    assert (refused.status_code, error_code(refused)) == (402, "insufficient_funds")


def test_a_session_starts_from_the_pc_and_ends_there(
    server: LiveServer, club: Club, pc: httpx.Client
) -> None:
    login = customer(server, club, balance=150000)
    ticket = sign_in(pc, login)
    answer = pc.post("/club/pc/session", json={"ticket": ticket, "minutes": 30})
    assert answer.status_code == 200, answer.text
    started = club_pc.Started.from_data(answer.json())
    assert started.lease["session"] == started.session
    assert started.paid_until == started.lease["paid_until"]
    sent_at = datetime.fromisoformat(started.lease["server_time"])
    assert abs((sent_at - datetime.now(UTC)).total_seconds()) < 60
    assert entries(server, club, login)[-1] == ("session_charge", -30000, 0)
    again = pc.post("/club/pc/session", json={"ticket": ticket, "minutes": 30})
    assert (again.status_code, error_code(again)) == (409, "session_exists")

    ended = pc.post("/club/pc/session/end", json={})
    assert ended.json() == {"ended": started.session}
    assert entries(server, club, login)[-1][0] == "correction"  # the unplayed time back
    assert pc.post("/club/pc/session/end", json={}).json() == {"ended": None}


def test_a_session_needs_money_and_a_ticket_of_this_pc_still_valid(
    server: LiveServer, club: Club, pc: httpx.Client, clock: Clock
) -> None:
    poor = sign_in(pc, customer(server, club))
    refused = pc.post("/club/pc/session", json={"ticket": poor, "minutes": 10})
    assert (refused.status_code, error_code(refused)) == (402, "insufficient_funds")

    login = customer(server, club, balance=150000)
    other = pc_client(server, add_pc(server, club, "PC-02"))
    elsewhere = sign_in(other, login)
    other.close()
    for ticket in (elsewhere, "not-a-ticket", elsewhere[:-2] + "xx"):
        answer = pc.post("/club/pc/session", json={"ticket": ticket, "minutes": 10})
        assert (answer.status_code, error_code(answer)) == (401, "ticket_invalid"), ticket
    ticket = sign_in(pc, login)
    clock.advance(club_pc.TICKET_SECONDS + 1)
    expired = pc.post("/club/pc/preview", json={"ticket": ticket, "minutes": 10})
    assert (expired.status_code, error_code(expired)) == (401, "ticket_invalid")
    bad = pc.post("/club/pc/session", json={"ticket": ticket, "minutes": 0})
    assert (bad.status_code, error_code(bad)) == (422, "parameter_invalid")


def event(number: int, kind: str = "tick", **more: str) -> dict[str, object]:
    return {
        "id": f"00000000-0000-0000-0000-{number:012d}",
        "seq": number,
        "kind": kind,
        "at": "2026-12-06T10:00:00Z",
        **more,
    }


def test_events_are_stored_once_and_a_launch_logged_once_even_replayed_at_once(
    server: LiveServer, club: Club, pc: httpx.Client
) -> None:
    login = customer(server, club, balance=150000)
    session = pc.post(
        "/club/pc/session", json={"ticket": sign_in(pc, login), "minutes": 30}
    ).json()["session"]
    batch = [
        event(1, "unlock", session=session),
        event(2, "launch", session=session, app="Dota 2"),
        event(3, "tick", session=session),
    ]
    first = pc.post("/club/pc/events", json={"events": batch[:1]})
    assert first.json() == {"accepted": 1, "duplicates": 0, "seq": 1}

    async def together() -> list[httpx.Response]:
        headers = dict(pc.headers)
        async with (
            httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as one,
            httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as two,
        ):
            return list(
                await asyncio.gather(
                    one.post("/club/pc/events", json={"events": batch}),
                    two.post("/club/pc/events", json={"events": batch}),
                )
            )

    answers = [each.json() for each in asyncio.run(together())]
    assert sorted(each["accepted"] for each in answers) == [0, 2], answers
    assert {each["seq"] for each in answers} == {3}
    launched = server.call(apps.launches(server.ctx, club=club))
    assert [(each.pc, each.customer, each.app) for each in launched] == [("PC-01", login, "Dota 2")]
    again = pc.post("/club/pc/events", json={"events": batch}).json()
    assert again == {"accepted": 0, "duplicates": 3, "seq": 3}


def test_events_that_are_not_the_journals_are_refused(
    server: LiveServer, club: Club, pc: httpx.Client
) -> None:
    for wrong, param in (
        (event(1, "dance"), "events.0.kind"),
        (event(1, "launch"), "events.0.app"),
        ({**event(1), "at": "yesterday"}, "events.0.at"),
        ({**event(1), "at": "2026-12-06T10:00:00"}, "events.0.at"),
    ):
        answer = pc.post("/club/pc/events", json={"events": [wrong]})
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["param"] == param
    many = [event(number) for number in range(club_pc.MAX_EVENTS + 1)]
    assert pc.post("/club/pc/events", json={"events": many}).status_code == 422
    assert pc.get("/club/pc/screen").status_code == 200
