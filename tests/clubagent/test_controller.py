"""The Controller the UI uses (`CoreThread`), with a fake of the hub's PC API (its routes are
tested against the real hub) and no link (the hub's address refuses connections): requests
and their futures, the views published, the lock at zero and the `ended` report."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kassa.clubagent import alarms, lease_store, os_adapter
from kassa.clubagent import core as core_module
from kassa.clubagent.config import ClubAgentConfig
from kassa.clubagent.controller import CoreThread
from kassa.clubagent.lease import CONTINUE
from kassa.clubagent.lease_store import LeaseStore
from kassa.clubagent.model import AgentError, Mode, Notice, View
from kassa.protocol import Frame, MessageType
from kassa.protocol.club import Lease
from kassa.protocol.club_pc import (
    AppEntry,
    EventsAccepted,
    PcEvent,
    Preview,
    Screen,
    SignedIn,
    StaffGrant,
    Started,
    Topup,
)
from tests.clubagent.fakes import T0, FakeClock, lease

SCREEN = Screen("club", "PC-01", "PC-01", "Standard", "KZT", "en", "lock", [], topups=True)


@dataclass
class FakeHub:
    calls: list[str] = field(default_factory=list)
    topups: list[str] = field(default_factory=lambda: ["pending", "credited"])
    events_sent: list[PcEvent] = field(default_factory=list)

    async def screen(self) -> Screen:
        return SCREEN

    async def apps(self) -> list[AppEntry]:
        return []

    async def topup(self, topup_id: str) -> Topup:
        return _topup(self.topups.pop(0) if self.topups else "credited")

    async def events(self, events: list[PcEvent]) -> EventsAccepted:
        self.events_sent.extend(events)
        return EventsAccepted(len(events), 0)

    async def sign_in(self, login: str, password: str) -> SignedIn:
        if password != "right":
            raise AgentError("sign_in_failed", "wrong login or password")
        return SignedIn("ticket-1", login, None, "500.00", 0, 0)

    async def preview(self, ticket: str, package: str | None, minutes: int | None) -> Preview:
        self.calls.append(f"preview {ticket} {minutes}")
        return Preview(3600, "600.00", 0, 0, "0.00")

    async def start(self, ticket: str, package: str | None, minutes: int | None) -> Started:
        self.calls.append(f"start {ticket} {minutes}")
        chosen = lease("s1", seq=0, lease_s=300, paid_s=3600)
        return Started("s1", "2026-01-01T13:00:00Z", chosen.to_data())

    async def end_session(self) -> str | None:
        self.calls.append("end")
        return "s1"

    async def top_up(self, login: str, amount: str) -> Topup:
        return _topup("pending")

    async def staff(self, pin: str) -> StaffGrant:
        if pin != "1234":
            raise AgentError("pin_invalid", "wrong PIN")
        return StaffGrant(600)

    async def aclose(self) -> None:
        pass


def message(chosen: Lease) -> dict[str, Any]:
    """`chosen` as the hub sends it at `T0`."""
    return chosen.to_data() | {"server_time": T0.isoformat()}


def _topup(status: str) -> Topup:
    return Topup("tp1", "arman", "100.00", "KZT", status, "https://pay.example/tp1")


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"ws://127.0.0.1:{port}/club/ws"


@dataclass
class Running:
    thread: CoreThread
    clock: FakeClock = field(default_factory=FakeClock)
    hub: FakeHub = field(default_factory=FakeHub)
    views: list[View] = field(default_factory=list)

    def wait(self, check: Callable[[View], bool], timeout: float = 5.0) -> View:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            view = self.thread.view
            if check(view):
                return view
            time.sleep(0.02)
        raise AssertionError(f"not reached; the view is {self.thread.view}")

    def on_loop(self, call: Callable[[], Any]) -> Any:
        async def run() -> Any:
            return call()

        return self.thread._submit(run()).result(5)


@pytest.fixture
def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    monkeypatch.setattr(core_module, "TOPUP_POLL", 0.05)
    monkeypatch.setattr(core_module, "TOPUP_SHOWN", 0.3)
    config = ClubAgentConfig(
        hub_url=dead_url(), api_url="http://127.0.0.1:9", token="pc-token", data_dir=tmp_path
    )
    clock, hub = FakeClock(), FakeHub()
    thread = CoreThread(config, hub=hub, clock=clock, boot="boot-1")
    views: list[View] = []
    thread.subscribe(views.append)
    thread.open()
    try:
        yield Running(thread, clock, hub, views)
    finally:
        thread.close()


def test_sign_in_start_play_and_end(running: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    core = running.thread.core
    with pytest.raises(AgentError) as caught:
        running.thread.sign_in("arman", "wrong").result(5)
    assert caught.value.code == "sign_in_failed"
    customer = running.thread.sign_in("arman", "right").result(5)
    assert running.wait(lambda v: v.mode is Mode.SIGNED_IN).customer == customer
    assert running.thread.preview(package=None, minutes=60).result(5).price == "600.00"

    running.on_loop(lambda: core.server.heard(T0))  # as the link's welcome would
    running.thread.start(package=None, minutes=60).result(5)
    view = running.wait(lambda v: v.mode is Mode.PLAYING)
    assert (view.session, view.seconds_left, view.customer) == ("s1", 3600, None)
    assert running.hub.calls == ["preview ticket-1 60", "start ticket-1 60"]

    launched: list[str] = []
    monkeypatch.setattr(os_adapter, "launch", launched.append)
    running.thread.launch(AppEntry("CS2", "C:/Games/cs2.exe", "game", None)).result(5)
    assert launched == ["C:/Games/cs2.exe"]

    def broken(path: str) -> None:
        raise FileNotFoundError(2, "No such file")

    monkeypatch.setattr(os_adapter, "launch", broken)
    with pytest.raises(AgentError) as failed:
        running.thread.launch(AppEntry("Old", "C:/gone.exe", "app", None)).result(5)
    assert failed.value.code == "launch_failed"

    running.clock.advance(61)
    running.wait(lambda v: v.seconds_left == 3539)
    running.thread.end_session().result(5)
    view = running.wait(lambda v: v.mode is Mode.LOCKED)
    assert view.notice is Notice.SESSION_ENDED
    kinds = [(e.kind, e.session, e.app, e.reason) for e in core.events.unsent()]
    assert kinds == [
        ("unlock", "s1", None, None),
        ("launch", "s1", "CS2", None),
        ("tick", "s1", None, None),
        ("lock", "s1", None, "customer"),
    ]
    # Its leases no longer unlock the PC.
    running.on_loop(lambda: core.leased(message(lease("s1", seq=5))))
    assert running.thread.view.mode is Mode.LOCKED


def test_the_pc_locks_at_the_lease_end_and_reports_it_until_the_hub_answers(
    running: Running,
) -> None:
    core = running.thread.core
    running.on_loop(lambda: core.leased(message(lease("s1", seq=2, paid_s=330))))
    running.wait(lambda v: v.mode is Mode.PLAYING)
    running.clock.advance(240)
    assert running.wait(lambda v: v.warning in {1, 5}).warning == 5
    running.clock.advance(60)
    view = running.wait(lambda v: v.mode is Mode.LOCKED)
    assert view.notice is Notice.LEASE_EXPIRED
    report = {"session": "s1", "at": "2026-01-01T12:05:00Z"}
    first = running.on_loop(core.heartbeat)
    assert first["ended"] == report
    assert first["state"] == "locked"
    assert first["session"] is None
    # The answer to a heartbeat that did not carry it acknowledges nothing.
    running.on_loop(lambda: core.leased({**lease(None).to_data(), "heartbeat": 99}))
    second = running.on_loop(core.heartbeat)
    assert second["ended"] == report
    # The answer to the one that carried it, no longer naming the session, does.
    running.on_loop(lambda: core.leased({**lease(None).to_data(), "heartbeat": second["seq"]}))
    assert "ended" not in running.on_loop(core.heartbeat)
    locks = [e for e in core.events.unsent() if e.kind == "lock"]
    assert [(e.reason, e.at) for e in locks] == [("lease_expired", "2026-01-01T12:05:00Z")]


def test_the_session_survives_a_restart_of_the_agent(tmp_path: Path, running: Running) -> None:
    core = running.thread.core
    running.on_loop(lambda: core.leased(message(lease("s1", seq=2))))
    running.wait(lambda v: v.mode is Mode.PLAYING)
    running.thread.close()
    running.clock.advance(100)
    config = ClubAgentConfig(
        hub_url=dead_url(), api_url="http://127.0.0.1:9", token="pc-token", data_dir=tmp_path
    )
    again = CoreThread(config, hub=FakeHub(), clock=running.clock, boot="boot-1")
    again.open()
    try:
        assert again.view.mode is Mode.PLAYING
        assert again.view.seconds_left == 3500
    finally:
        again.close()
    rebooted = CoreThread(config, hub=FakeHub(), clock=FakeClock(5.0), boot="boot-2")
    rebooted.open()
    try:
        assert rebooted.view.mode is Mode.LOCKED
    finally:
        rebooted.close()


def test_the_saved_lease_tells_the_watchdog_what_plays_under_continue_and_a_staff_lock(
    tmp_path: Path, running: Running
) -> None:
    core = running.thread.core
    store = LeaseStore(tmp_path / lease_store.FILE, "pc-token", running.clock, "boot-1")
    running.on_loop(
        lambda: core.welcomed({"offline_policy": CONTINUE, "server_time": T0.isoformat()})
    )
    running.on_loop(lambda: core.leased(message(lease("s1", seq=2, lease_s=300, paid_s=900))))
    running.wait(lambda v: v.mode is Mode.PLAYING)
    assert store.load().policy == CONTINUE
    assert store.playing_now()
    # Past the lease's end, the link down: `continue` plays on to the paid time.
    running.clock.advance(400)
    running.wait(lambda v: v.seconds_left == 500)
    assert store.playing_now()

    running.on_loop(core.lock_by_staff)
    assert running.thread.view.mode is Mode.LOCKED
    assert not store.playing_now()
    # A restart does not undo the staff lock; staff's unlock does.
    running.thread.close()
    config = ClubAgentConfig(
        hub_url=dead_url(), api_url="http://127.0.0.1:9", token="pc-token", data_dir=tmp_path
    )
    again = Running(CoreThread(config, hub=FakeHub(), clock=running.clock, boot="boot-1"))
    again.thread.open()
    try:
        assert again.thread.view.mode is Mode.LOCKED
        again.on_loop(lambda: again.thread.core.unlock_by_staff(None))
        assert again.wait(lambda v: v.mode is Mode.PLAYING).seconds_left == 500
        assert store.playing_now()
        running.clock.advance(500)
        assert again.wait(lambda v: v.mode is Mode.LOCKED).notice is Notice.TIME_UP
        assert not store.playing_now()
    finally:
        again.thread.close()


def test_top_up_staff_and_alarms(running: Running) -> None:
    core = running.thread.core
    alarms.add(core.data_dir / alarms.FILE, "agent killed while in use")
    assert running.wait(lambda v: bool(v.alarms)).alarms == ("agent killed while in use",)
    assert running.on_loop(core.heartbeat)["alarms"] == ["agent killed while in use"]

    topup = running.thread.top_up("arman", "100.00").result(5)
    assert running.wait(lambda v: v.topup is not None).topup == topup
    credited = running.wait(lambda v: v.topup is not None and v.topup.status == "credited")
    assert credited.topup is not None
    assert credited.topup.id == topup.id  # said on the screen
    running.wait(lambda v: v.topup is None)  # then cleared

    with pytest.raises(AgentError):
        running.thread.staff_unlock("0000").result(5)
    running.thread.staff_unlock("1234").result(5)
    view = running.wait(lambda v: v.mode is Mode.STAFF)
    assert view.staff_seconds_left == 600
    assert view.alarms == ()  # staff have seen them
    assert running.on_loop(core.heartbeat)["state"] == "unlocked"
    running.clock.advance(601)
    assert running.wait(lambda v: v.mode is Mode.LOCKED).notice is Notice.LOCKED_BY_STAFF


def test_the_same_operation_delivered_twice_at_once_runs_once(running: Running) -> None:
    agent = running.thread.agent
    ran: list[str] = []
    original = agent.call

    async def counted(operation: Any) -> Any:
        ran.append(operation.request_id)
        return await original(operation)

    agent.call = counted  # type: ignore[method-assign]
    frame = Frame(
        MessageType.OPERATION,
        {"request_id": "op-1", "kind": "message", "body": {"text": "Closing at 23:00"}},
    )

    async def twice() -> None:
        await asyncio.gather(agent.received(frame), agent.received(frame))
        await asyncio.gather(*agent.in_flight.values())

    running.thread._submit(twice()).result(5)
    assert ran == ["op-1"]
    assert running.wait(lambda v: v.message is not None).message == "Closing at 23:00"
    entry = running.thread.journal.get("op-1")
    assert entry is not None
    assert entry.result == {"ok": True, "body": {"mode": "locked"}}
    running.thread.dismiss_message()
    running.wait(lambda v: v.message is None)


def test_views_are_published_to_subscribers(running: Running) -> None:
    running.thread.sign_in("arman", "right").result(5)
    running.wait(lambda v: v.mode is Mode.SIGNED_IN)
    assert running.views[0].mode is Mode.LOCKED
    assert any(view.mode is Mode.SIGNED_IN for view in running.views)
    running.thread.sign_out()
    running.wait(lambda v: v.mode is Mode.LOCKED)
