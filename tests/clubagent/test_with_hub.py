"""The club agent's core and link against the real hub on loopback (through a forwarder the
test cuts): a session started on the hub unlocks the PC and its countdown follows the lease,
actions are acknowledged and recorded done, and a PC cut off locks at its lease's end by
itself and tells the hub when it is back. The hub's clock and the agent's monotonic clock are
both moved by hand; heartbeats are made fast."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from kassa.clubagent.model import Mode, Notice
from kassa.services.club import actions, session_records, sessions
from kassa.services.club.clubs import Club
from tests.club.conftest import customer
from tests.club.pc import Clock
from tests.clubagent.hub import Pc, eventually, fast, hub_events, lease_until, running_pc
from tests.live import LiveServer


@pytest.fixture
def pc(
    server: LiveServer, club: Club, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Pc]:
    fast(monkeypatch)
    with running_pc(server, club, tmp_path) as running:
        yield running


def action_state(server: LiveServer, club: Club, request_id: str) -> str | None:
    found = server.call(actions.recent(server.ctx, club=club, pc="PC-01"))
    states = {each.request_id: str(each.state) for each in found}
    return states.get(request_id)


def test_a_session_on_the_hub_plays_on_its_lease_and_locks_when_cut_off(
    server: LiveServer, club: Club, clock: Clock, pc: Pc
) -> None:
    login = customer(server, club, balance=100_000)
    session = server.call(
        sessions.start(server.ctx, club=club, pc="PC-01", login=login, minutes=30, actor="test")
    )
    view = eventually(lambda: pc.thread.view if pc.thread.view.mode is Mode.PLAYING else None)
    assert (view.session, view.seconds_left) == (session.id, 1800)

    # Two minutes on both clocks: the countdown follows the renewed lease.
    pc.mono.advance(120)
    clock.advance(120)
    lease_until(pc, clock.now + timedelta(seconds=300))
    eventually(lambda: pc.thread.view.seconds_left == 1680)  # the next tick shows it

    sent = server.call(
        actions.send(
            server.ctx, club=club, pc="PC-01", action="message", actor="test", text="Closing soon"
        )
    )
    eventually(lambda: pc.thread.view.message == "Closing soon")
    eventually(lambda: action_state(server, club, sent.request_id) == "done")

    # The network fails: the PC plays to its lease's end (5 minutes on) and locks by itself.
    pc.link.cut()
    eventually(lambda: not pc.thread.view.online)
    pc.mono.advance(290)
    time.sleep(1.2)
    assert pc.thread.view.mode is Mode.PLAYING
    pc.mono.advance(11)
    view = eventually(lambda: pc.thread.view if pc.thread.view.mode is Mode.LOCKED else None)
    assert view.notice is Notice.LEASE_EXPIRED
    lease_end = clock.now + timedelta(seconds=300)

    # Back online: the agent reports the lock, the hub records it, the report stops.
    clock.advance(301)
    pc.link.mend()

    def recorded() -> session_records.Session | None:
        listed = server.call(
            session_records.list_sessions(server.ctx, club=club, include_ended=True)
        )
        return listed[0] if listed[0].agent_ended_at is not None else None

    ended = eventually(recorded)
    assert ended.agent_ended_at == lease_end
    eventually(lambda: pc.thread.core.unreported == [])
    eventually(lambda: ("lock", "lease_expired") in hub_events(server, club))


def test_a_staff_lock_holds_through_renewals_until_staff_unlock(
    server: LiveServer, club: Club, clock: Clock, pc: Pc
) -> None:
    login = customer(server, club, balance=100_000)
    server.call(
        sessions.start(server.ctx, club=club, pc="PC-01", login=login, minutes=30, actor="test")
    )
    eventually(lambda: pc.thread.view.mode is Mode.PLAYING)
    locked = server.call(
        actions.send(server.ctx, club=club, pc="PC-01", action="lock", actor="test")
    )
    eventually(lambda: action_state(server, club, locked.request_id) == "done")
    assert pc.thread.view.mode is Mode.LOCKED
    seq = pc.thread.core.countdown.held
    time.sleep(1.0)  # several heartbeats, each renewing the session's lease
    assert pc.thread.core.countdown.held != seq
    assert pc.thread.view.mode is Mode.LOCKED
    unlocked = server.call(
        actions.send(server.ctx, club=club, pc="PC-01", action="unlock", actor="test")
    )
    eventually(lambda: action_state(server, club, unlocked.request_id) == "done")
    eventually(lambda: pc.thread.view.mode is Mode.PLAYING)


def test_a_session_started_from_the_pc_plays_on_the_start_answer_with_the_link_cut(
    server: LiveServer, club: Club, clock: Clock, tmp_path: Path
) -> None:
    login = customer(server, club, balance=100_000)
    with running_pc(server, club, tmp_path, link_cut=True) as pc:
        thread = pc.thread
        assert thread.core.server.reference is None  # the hub never heard
        thread.sign_in(login, "secret-1").result(10)
        started = thread.start(package=None, minutes=30).result(10)
        view = thread.view
        assert (view.mode, view.session, view.seconds_left) == (Mode.PLAYING, started.session, 1800)
        assert not view.online

        # It counts on its own clock, and locks at the lease's end (the club's 5 minutes).
        pc.mono.advance(120)
        eventually(lambda: thread.view.seconds_left == 1680)
        pc.mono.advance(179)
        time.sleep(1.2)
        assert thread.view.mode is Mode.PLAYING
        pc.mono.advance(2)
        view = eventually(lambda: thread.view if thread.view.mode is Mode.LOCKED else None)
        assert view.notice is Notice.LEASE_EXPIRED
        assert [e.session for e in thread.core.unreported] == [started.session]
