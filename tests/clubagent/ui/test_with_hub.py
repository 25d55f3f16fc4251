"""The club agent's windows on the real core (`CoreThread`) against the real hub on loopback,
driven as a person would: signing in, buying a package (its price first), the session bar's
countdown from the lease and "End session"; a top-up paid through the sandbox from the lock
screen's QR; and the link cut mid-session: the PC locks at its lease's end by itself and the
ledger charges exactly the time played. On a Kassa of the module's own (the top-ups' consumer
reads the outbox from its start)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from kassa.clubagent.controller import CoreThread
from kassa.clubagent.model import Mode, Notice
from kassa.clubagent.ui import AgentWindows, texts
from kassa.services.club import apps, clubs, ledger, packages, session_records
from kassa.services.club.clubs import Club
from tests.club.conftest import customer
from tests.club.pc import Clock, entries, floor
from tests.club.test_topups import consume, online_entries
from tests.clubagent.hub import Pc, eventually, fast, lease_until, running_pc
from tests.clubagent.ui.helpers import click, click_item, press, says, type_in
from tests.clubagent.ui.test_screenshots import SCREEN, shoot
from tests.helpers import checkout
from tests.live import LiveServer

#: Milliseconds the windows may take to show what the hub answered.
WAIT = 10_000


@pytest.fixture(scope="module")
def server(own_database_url: str) -> Iterator[LiveServer]:
    live = LiveServer(own_database_url).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def language() -> str:
    return "ru"


@pytest.fixture
def pc(
    server: LiveServer,
    club: Club,
    language: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Pc]:
    """PC-01 of a club in `language`, in test mode (top-ups through the sandbox), selling an
    hour's package and a game that starts and ends at once wherever the tests run."""
    fast(monkeypatch)

    async def setup() -> None:
        await clubs.configure(server.ctx, club=club, language=language, test=True)
        await packages.add(server.ctx, club=club, name="Hour", seconds=3600, price=50_000)
        await apps.add(server.ctx, club=club, name="True", path="/bin/true", kind="game")

    server.call(setup())
    with running_pc(server, club, tmp_path) as running:
        yield running


@pytest.fixture
def controller(pc: Pc) -> CoreThread:
    """The windows' controller (`windows` of the UI's conftest): the real core."""
    return pc.thread


def sign_in(windows: AgentWindows, qtbot: QtBot, login: str) -> None:
    panel = windows.lock_screen.sign_in
    type_in(panel.login, login)
    type_in(panel.password, "secret-1")
    press(panel.password, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: windows.view.mode is Mode.SIGNED_IN, timeout=WAIT)


@pytest.mark.parametrize("language", ["ru", "en"])
def test_a_customer_buys_a_package_plays_and_ends_the_session(
    *,
    server: LiveServer,
    club: Club,
    clock: Clock,
    pc: Pc,
    windows: AgentWindows,
    qtbot: QtBot,
    language: str,
) -> None:
    login = customer(server, club, balance=80_000)
    lock = windows.lock_screen
    qtbot.waitUntil(lambda: lock.club.text() == club.name, timeout=WAIT)
    sign_in(windows, qtbot, login)
    assert says(lock.customer, texts.money("800.00", "KZT", language))

    panel = lock.purchase
    click_item(panel.packages, "Hour")
    qtbot.waitUntil(panel.price.isVisible, timeout=WAIT)
    assert texts.duration(3600, language) in panel.price.text()
    assert texts.money("500.00", "KZT", language) in panel.price.text()
    shoot(lock, f"signed-in-hub-{language}", SCREEN)

    click(panel.start)
    bar = windows.session_bar
    qtbot.waitUntil(bar.isVisible, timeout=WAIT)
    assert not lock.isVisible()
    assert (windows.view.seconds_left, bar.clock.text()) == (3600, "1:00:00")
    pc.mono.advance(75)
    clock.advance(75)
    qtbot.waitUntil(lambda: bar.clock.text() == "0:58:45", timeout=WAIT)
    shoot(bar, f"session-bar-hub-{language}")
    (game,) = (each for each in bar.catalogue.findChildren(QPushButton) if each.text() == "True")
    click(game)
    qtbot.waitUntil(lambda: bool(server.call(apps.launches(server.ctx, club=club))), timeout=WAIT)

    click(bar.end)
    click(bar.confirm_yes)
    qtbot.waitUntil(lock.isVisible, timeout=WAIT)
    assert not bar.isVisible()
    assert lock.notice.text() == texts.notice(language, Notice.SESSION_ENDED)
    ended = server.call(session_records.list_sessions(server.ctx, club=club, include_ended=True))
    assert [(each.state, each.end_reason) for each in ended] == [("ended", "customer")]
    # The package bought and 75 s of it played: the rest of its hour is the customer's.
    assert entries(server, club, login) == [
        ("topup", 80_000, 0),
        ("purchase", -50_000, 0),
        ("session_charge", 0, 0),
        ("correction", 0, 0),
    ]
    back = pc.thread.sign_in(login, "secret-1").result(10)
    assert (back.balance, back.package_seconds) == ("300.00", 3600 - 75)


def test_a_top_up_paid_from_the_lock_screens_qr_is_credited_once(
    server: LiveServer, club: Club, pc: Pc, windows: AgentWindows, qtbot: QtBot
) -> None:
    login = customer(server, club)
    panel = windows.lock_screen.topup
    qtbot.waitUntil(panel.amount.isVisible, timeout=WAIT)
    type_in(panel.login, login)
    type_in(panel.amount, "1500")
    press(panel.amount, Qt.Key.Key_Return)
    qtbot.waitUntil(panel.qr.isVisible, timeout=WAIT)
    shown = windows.view.topup
    assert shown is not None
    assert shown.qr is not None
    assert (shown.login, shown.amount, shown.status) == (login, "1500.00", "pending")
    assert shown.qr.startswith(server.url)  # the payment page: what a phone opens
    assert panel.state.text() == texts.text(
        "ru", "topup_waiting", amount=texts.money("1500.00", "KZT", "ru"), login=login
    )

    assert checkout(server, {"confirmation": {"url": shown.qr}}, "pay").status_code == 200
    consume(server)
    credited = texts.text(
        "ru", "topup_credited", amount=texts.money("1500.00", "KZT", "ru"), login=login
    )
    qtbot.waitUntil(lambda: panel.state.text() == credited, timeout=WAIT)
    assert not panel.qr.isVisible()
    consume(server)
    assert [amount for amount, _, _ in online_entries(server, club, login)] == [150_000]
    qtbot.waitUntil(lambda: not panel.state.isVisible(), timeout=WAIT)  # then it goes


def test_a_pc_cut_off_mid_session_locks_at_its_lease_end_and_is_charged_what_was_played(
    *, server: LiveServer, club: Club, clock: Clock, pc: Pc, windows: AgentWindows, qtbot: QtBot
) -> None:
    login = customer(server, club)
    server.call(
        ledger.correct(server.ctx, club=club, login=login, seconds=3600, reason="gift", actor="t")
    )
    pc.thread.sign_in(login, "secret-1").result(10)
    pc.thread.start(package=None, minutes=30).result(10)
    qtbot.waitUntil(windows.session_bar.isVisible, timeout=WAIT)
    start = clock.now

    # Two minutes played on both clocks: the lease is renewed to 2 + 5 minutes.
    pc.mono.advance(120)
    clock.advance(120)
    lease_end = start + timedelta(seconds=120 + club.lease_max)
    lease_until(pc, lease_end)
    eventually(lambda: pc.thread.view.seconds_left == 1680)  # the next tick shows it
    server.call(floor(server).round())  # the renewed lease reaches the database

    pc.link.cut()
    eventually(lambda: not pc.thread.view.online)
    pc.mono.advance(club.lease_max - 1)
    qtbot.wait(1200)
    assert windows.session_bar.isVisible()
    pc.mono.advance(1)
    qtbot.waitUntil(windows.lock_screen.isVisible, timeout=WAIT)
    assert windows.lock_screen.notice.text() == texts.notice("ru", Notice.LEASE_EXPIRED)
    assert not windows.session_bar.isVisible()

    # The link back (the agent reports its lock) and the hub's watch past the lease's end.
    clock.advance(club.lease_max + 3)
    pc.link.mend()

    def reported() -> session_records.Session | None:
        found = server.call(
            session_records.list_sessions(server.ctx, club=club, include_ended=True)
        )
        return found[0] if found[0].agent_ended_at is not None else None

    assert eventually(reported).agent_ended_at == lease_end
    server.call(floor(server).round())
    (ended,) = server.call(session_records.list_sessions(server.ctx, club=club, include_ended=True))
    assert (ended.state, ended.ended_at) == ("ended", lease_end)
    played = 120 + club.lease_max
    assert entries(server, club, login) == [
        ("correction", 0, 3600),
        ("session_charge", 0, -1800),
        ("correction", 0, 1800 - played),
    ]
