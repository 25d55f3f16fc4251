"""The watchdog with a real child process standing in for the UI (a tiny script given as the
command): killed → back within a second, and the alarm raised when a session was playing; a
clean exit stops the watchdog; a crash loop is slowed down; a stop reaches the UI."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kassa.clubagent import alarms
from kassa.clubagent.watchdog import KILLED_WHILE_IN_USE, Supervision, Watchdog

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

#: The UI's stand-in: records `pid monotonic-time` for each start, then does what the file
#: `mode` says: `live` (sleeps until killed), `clean` (exits 0) or `crash` (exits 3).
UI = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    here = Path(sys.argv[1])
    with (here / "starts").open("a") as starts:
        starts.write(f"{os.getpid()} {time.monotonic()}\\n")
    mode = (here / "mode").read_text().strip()
    if mode == "clean":
        sys.exit(0)
    if mode == "crash":
        sys.exit(3)
    time.sleep(60)
    """
)


class Stage:
    """The stand-in UI's directory, and a watchdog running it in a thread."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path
        (tmp_path / "ui.py").write_text(UI)
        self.mode("live")
        self.playing = False
        self.restored = 0
        self.watchdog: Watchdog | None = None
        self.thread: threading.Thread | None = None
        self.result: list[int] = []

    def mode(self, mode: str) -> None:
        (self.dir / "mode").write_text(mode)

    def starts(self) -> list[tuple[int, float]]:
        path = self.dir / "starts"
        lines = path.read_text().splitlines() if path.exists() else []
        return [(int(pid), float(at)) for pid, at in (line.split() for line in lines)]

    def alarms(self) -> list[str]:
        return alarms.read(self.dir / alarms.FILE)

    def restore(self) -> None:
        self.restored += 1

    def start(self, **options: float) -> None:
        supervision = Supervision(
            data_dir=self.dir,
            in_use=lambda: self.playing,
            command=(sys.executable, str(self.dir / "ui.py"), str(self.dir)),
            restore=self.restore,
            **options,  # type: ignore[arg-type]
        )
        watchdog = self.watchdog = Watchdog(supervision)
        self.thread = threading.Thread(target=lambda: self.result.append(watchdog.run()))
        self.thread.start()

    def wait_for(self, starts: int, timeout: float = 10.0) -> list[tuple[int, float]]:
        deadline = time.monotonic() + timeout
        while len(found := self.starts()) < starts:
            assert time.monotonic() < deadline, f"{len(found)} start(s), {starts} expected"
            time.sleep(0.02)
        return found

    def finish(self, timeout: float = 15.0) -> None:
        assert self.watchdog is not None
        assert self.thread is not None
        self.watchdog.stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive()


@pytest.fixture
def stage(tmp_path: Path) -> Iterator[Stage]:
    stage = Stage(tmp_path)
    yield stage
    if stage.thread is not None and stage.thread.is_alive():
        stage.finish()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie not yet reaped still answers; its /proc status says so.
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "zombie" not in status.read_text()


def killed_and_back(stage: Stage) -> tuple[float, int]:
    """SIGKILL the running UI; how long until the next one started, and its pid."""
    ((pid, _),) = stage.wait_for(1)
    time.sleep(0.3)  # the watchdog is polling, not starting
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    (_, (new_pid, started_at)) = stage.wait_for(2)
    assert new_pid != pid
    return started_at - killed_at, new_pid


def test_a_ui_killed_while_playing_is_back_within_a_second_and_the_alarm_raised(
    stage: Stage,
) -> None:
    stage.playing = True
    stage.start()
    delay, pid = killed_and_back(stage)
    assert delay < 1.0
    assert alive(pid)
    assert stage.alarms() == [KILLED_WHILE_IN_USE]
    # Restarted at once: the hardening is not undone in between (the new UI keeps it).
    assert stage.restored == 0
    stage.finish()
    assert not alive(pid)
    assert stage.result == [0]
    assert stage.restored == 1


def test_a_ui_killed_while_locked_is_back_without_an_alarm(stage: Stage) -> None:
    stage.start()
    delay, _ = killed_and_back(stage)
    assert delay < 1.0
    assert stage.alarms() == []


def test_a_clean_exit_stops_the_watchdog_without_an_alarm(stage: Stage) -> None:
    stage.playing = True
    stage.mode("clean")
    stage.start()
    assert stage.thread is not None
    stage.thread.join(10)
    assert not stage.thread.is_alive()
    assert stage.result == [0]
    assert len(stage.starts()) == 1
    assert stage.alarms() == []
    assert stage.restored == 1


def test_a_crash_loop_is_started_again_only_after_the_backoff(stage: Stage) -> None:
    stage.mode("crash")
    stage.start(crash_limit=3, crash_window=30.0, backoff=1.5)
    starts = stage.wait_for(5)
    gaps = [later - earlier for (_, earlier), (_, later) in itertools.pairwise(starts)]
    # Three quick deaths, then one start per backoff (the hardening restored meanwhile).
    assert max(gaps[:2]) < 1.0
    assert min(gaps[2:4]) >= 1.5
    assert stage.restored >= 2
    stage.finish()


def test_a_ui_that_cannot_be_started_counts_as_a_crash(tmp_path: Path) -> None:
    supervision = Supervision(
        data_dir=tmp_path,
        in_use=lambda: False,
        command=(str(tmp_path / "missing"),),
        crash_limit=2,
        backoff=30.0,
        restore=lambda: None,
    )
    watchdog = Watchdog(supervision)
    thread = threading.Thread(target=watchdog.run)
    thread.start()
    time.sleep(0.5)  # two failures, then the backoff: still running, not spinning
    assert thread.is_alive()
    watchdog.stop()
    thread.join(5)
    assert not thread.is_alive()


WATCHDOG = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from kassa.clubagent.watchdog import Supervision, main
    here = Path(sys.argv[1])
    code = main(Supervision(
        data_dir=here,
        in_use=lambda: False,
        command=(sys.executable, str(here / "ui.py"), str(here)),
        restore=lambda: print("restored", flush=True),
    ))
    print("exit", code, flush=True)
    """
)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_watchdog_stops_the_ui_and_restores(
    stage: Stage, signum: signal.Signals
) -> None:
    script = stage.dir / "watchdog.py"
    script.write_text(WATCHDOG)
    process = subprocess.Popen(
        [sys.executable, str(script), str(stage.dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        ((pid, _),) = stage.wait_for(1)
        process.send_signal(signum)
        out, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert out.split("\n")[-3:] == ["restored", "exit 0", ""]
    assert not alive(pid)
    assert len(stage.starts()) == 1
