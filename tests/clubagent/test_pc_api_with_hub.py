"""The club agent's core (`CoreThread`) against the hub's real PC API on loopback: the lock
screen fetched and kept for an offline start, signing in, the price of a package and of
per-minute play, a session started and ended from the PC (the rest given back on the
ledger), the journal of events replayed after a reconnect and stored once however often it
is sent, and the staff PIN with its limit."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from kassa.clubagent.controller import CoreThread
from kassa.clubagent.model import AgentError, Mode, Notice
from kassa.protocol import club_pc
from kassa.protocol.club_pc import AppEntry
from kassa.services.club import apps, packages, session_records, staff_pin
from kassa.services.club.clubs import Club
from tests.club.conftest import customer
from tests.club.pc import RATE, Clock, entries
from tests.clubagent.fakes import FakeClock
from tests.clubagent.hub import Pc, eventually, fast, hub_events, running_pc
from tests.live import LiveServer, free_socket

PIN = "4821"
#: An app that starts and ends at once wherever the tests run.
TRUE = AppEntry(name="True", path="/bin/true", kind="app", icon=None)


@pytest.fixture
def pc(
    server: LiveServer, club: Club, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Pc]:
    fast(monkeypatch)

    async def setup() -> None:
        await packages.add(server.ctx, club=club, name="Hour", seconds=3600, price=50_000)
        await apps.add(server.ctx, club=club, name="Dota 2", path="C:\\dota2.exe", kind="game")

    server.call(setup())
    with running_pc(server, club, tmp_path) as running:
        yield running


def test_the_screen_is_fetched_and_kept_for_a_start_without_the_hub(
    server: LiveServer, club: Club, pc: Pc, tmp_path: Path
) -> None:
    view = pc.thread.view
    assert view.screen is not None
    assert (view.screen.club, view.screen.alias, view.screen.zone) == (
        club.name,
        "PC-01",
        "Standard",
    )
    assert [(each.name, each.price) for each in view.screen.packages] == [("Hour", "500.00")]
    eventually(lambda: [each.name for each in pc.thread.view.apps] == ["Dota 2"])
    pc.thread.close()

    nowhere = free_socket()  # bound, never listening: the hub cannot be reached
    port = nowhere.getsockname()[1]
    offline = replace(
        pc.config, hub_url=f"ws://127.0.0.1:{port}/club/ws", api_url=f"http://127.0.0.1:{port}"
    )
    again = CoreThread(offline, clock=FakeClock(), boot="boot-2")
    again.open()
    try:
        assert again.view.screen == view.screen
        assert (again.view.mode, again.view.online) == (Mode.LOCKED, False)
        with pytest.raises(AgentError) as refused:
            again.sign_in("anyone", "secret-1").result(15)
        assert refused.value.code == "hub_unreachable"
    finally:
        again.close()
        nowhere.close()


def test_signing_in_right_and_wrong_and_the_prices_before_starting(
    server: LiveServer, club: Club, pc: Pc
) -> None:
    login = customer(server, club, balance=150_000)
    with pytest.raises(AgentError) as wrong:
        pc.thread.sign_in(login, "wrong-1").result(10)
    assert wrong.value.code == "sign_in_failed"
    assert pc.thread.view.mode is Mode.LOCKED

    signed = pc.thread.sign_in(login, "secret-1").result(10)
    assert (signed.login, signed.balance) == (login, "1500.00")
    eventually(lambda: pc.thread.view.mode is Mode.SIGNED_IN)
    assert pc.thread.view.customer == signed

    package = pc.thread.preview(package="Hour", minutes=None).result(10)
    assert (package.seconds, package.price, package.balance_after) == (3600, "500.00", "1000.00")
    minutes = pc.thread.preview(package=None, minutes=30).result(10)
    assert (minutes.seconds, minutes.price, minutes.balance_after) == (1800, "300.00", "1200.00")
    assert entries(server, club, login) == [("topup", 150_000, 0)]  # a price changes nothing

    pc.thread.sign_out()
    eventually(lambda: pc.thread.view.mode is Mode.LOCKED)
    with pytest.raises(AgentError) as signed_out:
        pc.thread.preview(package="Hour", minutes=None).result(10)
    assert signed_out.value.code == "not_signed_in"


def test_a_session_started_and_ended_on_the_pc_charges_the_minutes_started(
    server: LiveServer, club: Club, clock: Clock, pc: Pc
) -> None:
    login = customer(server, club, balance=100_000)
    pc.thread.sign_in(login, "secret-1").result(10)
    started = pc.thread.start(package=None, minutes=30).result(10)
    view = eventually(lambda: pc.thread.view if pc.thread.view.mode is Mode.PLAYING else None)
    assert (view.session, view.seconds_left, view.customer) == (started.session, 1800, None)
    live = server.call(session_records.get(server.ctx, club=club, pc="PC-01"))
    assert (live.id, live.login, live.state) == (started.session, login, "active")

    pc.mono.advance(90)  # a minute and a half played: two minutes started
    clock.advance(90)
    eventually(lambda: pc.thread.view.seconds_left == 1710)
    pc.thread.end_session().result(10)
    view = eventually(lambda: pc.thread.view if pc.thread.view.mode is Mode.LOCKED else None)
    assert view.notice is Notice.SESSION_ENDED
    assert entries(server, club, login) == [
        ("topup", 100_000, 0),
        ("session_charge", -30 * RATE, 0),
        ("correction", 28 * RATE, 0),
    ]
    ended = server.call(session_records.list_sessions(server.ctx, club=club, include_ended=True))
    assert [(each.id, each.state, each.end_reason) for each in ended] == [
        (started.session, "ended", "customer")
    ]


def test_events_are_replayed_after_a_reconnect_and_stored_once(
    server: LiveServer, club: Club, pc: Pc
) -> None:
    login = customer(server, club, balance=100_000)
    pc.thread.sign_in(login, "secret-1").result(10)
    session = pc.thread.start(package=None, minutes=30).result(10).session
    eventually(lambda: ("unlock", None) in hub_events(server, club))

    pc.link.cut()
    eventually(lambda: not pc.thread.view.online)
    pc.thread.launch(TRUE).result(10)  # journalled while the hub cannot hear of it
    waiting = eventually(lambda: pc.thread.core.events.unsent() or None)
    assert [(each.kind, each.app) for each in waiting] == [("launch", "True")]
    assert ("launch", None) not in hub_events(server, club)

    pc.link.mend()
    eventually(lambda: ("launch", None) in hub_events(server, club))
    eventually(lambda: pc.thread.core.events.unsent() == [])
    replayed = asyncio.run_coroutine_threadsafe(pc.thread.hub.events(waiting), pc.thread.loop)
    again = replayed.result(10)
    assert (again.accepted, again.duplicates) == (0, 1)
    assert hub_events(server, club) == [("unlock", None), ("launch", None)]
    launched = server.call(apps.launches(server.ctx, club=club))
    assert [(each.pc, each.customer, each.app) for each in launched] == [("PC-01", login, "True")]
    assert session == pc.thread.view.session


def test_the_staff_pin_right_wrong_and_too_often_wrong(
    server: LiveServer, club: Club, pc: Pc
) -> None:
    with pytest.raises(AgentError) as unset:
        pc.thread.staff_unlock(PIN).result(10)
    assert unset.value.code == "staff_pin_not_set"
    server.call(staff_pin.set_pin(server.ctx, club=club, pin=PIN))

    grant = pc.thread.staff_unlock(PIN).result(10)
    assert grant.seconds == staff_pin.GRANT_SECONDS
    view = eventually(lambda: pc.thread.view if pc.thread.view.mode is Mode.STAFF else None)
    assert view.staff_seconds_left == staff_pin.GRANT_SECONDS
    pc.thread.staff_lock()
    eventually(lambda: pc.thread.view.mode is Mode.LOCKED)

    for _ in range(club_pc.PIN_ATTEMPTS):
        with pytest.raises(AgentError) as wrong:
            pc.thread.staff_unlock("0000").result(10)
        assert wrong.value.code == "pin_invalid"
    with pytest.raises(AgentError) as limited:
        pc.thread.staff_unlock(PIN).result(10)
    assert limited.value.code == "too_many_attempts"
    assert pc.thread.view.mode is Mode.LOCKED
