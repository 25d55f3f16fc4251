"""The club agent as the PC runs it, against a real hub on loopback: `kassa club-agent` (the
watchdog and its UI child) as real processes, the UI killed and back within a second with the
hub told ("agent killed while in use"); and `kassa club-agent --ui-only` drawing real windows
on an X server (Xvfb), screenshots in `test-artifacts/club-agent/` (not committed).

Heartbeats are made fast (the hub's `welcome` tells the agent the interval); what the hub
keeps of a PC's heartbeats is read as staff see it (`pcs.reports`, written every second)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from kassa.clubagent.config import NAME
from kassa.clubagent.watchdog import KILLED_WHILE_IN_USE
from kassa.services.club import floor as floor_module
from kassa.services.club import pcs, sessions
from kassa.services.club.clubs import Club
from kassa.services.club.pcs import Report
from kassa.web.admin.club import Problem, Tile, tile_of, with_alarms
from tests.club.conftest import customer
from tests.club.pc import add_pc
from tests.clubagent.processes import (
    Processes,
    agent_command,
    agent_environment,
    children,
    group_members,
    screenshot,
    start_xvfb,
    viewable,
    wait_gone,
)
from tests.live import LiveServer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and X11"),
]

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "club-agent"
T = TypeVar("T")
#: The lock screen's title, in the club's language (Russian by default).
LOCK_SCREEN = "Kassa — клуб"


def eventually(
    probe: Callable[[], T | None], timeout: float = 20.0, what: Callable[[], str] | None = None
) -> T:
    """`probe()` once it is truthy; `what()` says what was awaited if it never is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not reached in {timeout} s: {what() if what else probe()!r}")


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path)
    try:
        yield started
    finally:
        started.close()


@pytest.fixture
def token(server: LiveServer, club: Club, monkeypatch: pytest.MonkeyPatch) -> str:
    """PC-01 of `club`'s token; the hub asks its PCs for a heartbeat every 0.3 s."""
    monkeypatch.setattr(floor_module, "HEARTBEAT_INTERVAL", 0.3)
    return add_pc(server, club)


def report(server: LiveServer, club: Club) -> Report | None:
    """What the hub recorded of PC-01's last heartbeat (None before its first)."""
    found = server.call(pcs.reports(server.ctx, club=club)).get("PC-01")
    return found if found is not None and found.screen is not None else None


def screen_is(server: LiveServer, club: Club, screen: str) -> Callable[[], Report | None]:
    def probe() -> Report | None:
        found = report(server, club)
        return found if found is not None and found.screen == screen else None

    return probe


def start_session(server: LiveServer, club: Club) -> str:
    login = customer(server, club, balance=100_000)
    started = server.call(
        sessions.start(server.ctx, club=club, pc="PC-01", login=login, minutes=30, actor="test")
    )
    return started.id


def test_the_ui_killed_while_playing_is_back_within_a_second_and_the_hub_told(
    server: LiveServer, club: Club, token: str, processes: Processes, tmp_path: Path
) -> None:
    env = agent_environment(server.url, token, tmp_path / "agent", QT_QPA_PLATFORM="offscreen")
    watchdog = processes.start("watchdog", agent_command(), env)
    log = watchdog.text
    eventually(screen_is(server, club, "locked"), what=lambda: f"the PC locked\n{log()}")
    start_session(server, club)
    eventually(screen_is(server, club, "unlocked"), what=lambda: f"the PC unlocked\n{log()}")

    (ui,) = children(watchdog.pid)
    time.sleep(0.5)  # the watchdog is polling its UI, not starting one
    killed_at = time.monotonic()
    os.kill(ui, signal.SIGKILL)
    back = eventually(lambda: [pid for pid in children(watchdog.pid) if pid != ui], timeout=5)
    assert time.monotonic() - killed_at < 1.0
    assert len(back) == 1

    # The new UI links again, still playing on its saved lease, and carries the alarm.
    def alarmed() -> Report | None:
        found = report(server, club)
        return found if found is not None and KILLED_WHILE_IN_USE in found.alarms else None

    told = eventually(alarmed, what=lambda: f"the alarm on the hub\n{log()}")
    assert (told.screen, told.alarms) == ("unlocked", (KILLED_WHILE_IN_USE,))
    assert floor_tile(server, club).problem is Problem.AGENT_ALARM
    assert children(watchdog.pid) == back

    watchdog.process.send_signal(signal.SIGTERM)
    assert watchdog.process.wait(15) == 0, log()
    wait_gone(back[0], 5)
    assert group_members(watchdog.pid) == []
    assert "the UI process exits" in ui_log(tmp_path / "agent")


def floor_tile(server: LiveServer, club: Club) -> Tile:
    """PC-01 as the admin's floor shows it, with its agent's alarms."""
    pc = server.call(pcs.get(server.ctx, club=club, name="PC-01"))
    reports = server.call(pcs.reports(server.ctx, club=club))
    (tile,) = with_alarms([tile_of(pc, server.ctx.clock())], reports)
    return tile


def ui_log(data_dir: Path) -> str:
    """The UI process's log files, in order."""
    files = sorted((data_dir / "logs").glob("kassa-club-agent-*.log"))
    return "".join(each.read_text(errors="replace") for each in files)


@pytest.fixture
def display(processes: Processes) -> str:
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (.ci/run installs it)")
    if shutil.which("xwininfo") is None:
        pytest.skip("xwininfo is not installed (x11-utils; .ci/run installs it)")
    return start_xvfb(processes)


def test_the_agent_draws_its_windows_on_an_x_server(
    server: LiveServer,
    club: Club,
    token: str,
    processes: Processes,
    display: str,
) -> None:
    env = agent_environment(
        server.url, token, processes.directory / "agent", QT_QPA_PLATFORM="xcb", DISPLAY=display
    )
    agent = processes.start("agent", agent_command("--ui-only"), env)
    eventually(screen_is(server, club, "locked"), what=lambda: f"the PC locked\n{agent.text()}")
    assert server.call(pcs.reports(server.ctx, club=club))["PC-01"].liveness == "online"

    # The lock screen, over the whole screen.
    eventually(
        lambda: (LOCK_SCREEN, "1280x720+0+0") in viewable(display),
        what=lambda: f"the lock screen shown: {viewable(display)}",
    )
    colours = eventually(
        lambda: (n := screenshot(display, SHOTS / "xvfb-lock-screen.png")) > 20 and n,
        what=lambda: "a lock screen drawn",
    )
    assert colours > 20

    start_session(server, club)
    eventually(screen_is(server, club, "unlocked"), what=lambda: f"the PC unlocked\n{agent.text()}")
    # The session bar along the top, centred; the lock screen gone.
    eventually(
        lambda: (
            [(name, re.sub(r"x\d+", "", at)) for name, at in viewable(display)]
            == [(NAME, "1000+140+0")]
        ),
        what=lambda: f"the session bar alone: {viewable(display)}",
    )
    colours = screenshot(display, SHOTS / "xvfb-session-bar.png")
    assert colours > 20

    agent.process.send_signal(signal.SIGTERM)
    assert agent.process.wait(15) == 0, agent.text()
