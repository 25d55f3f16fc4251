"""The watchdog: what `kassa club-agent` (and the Windows scheduled task) runs. It starts the UI
process (`python -m kassa.clubagent.app`, `UI_COMMAND`), looks at it every `poll` seconds and
starts it again at once when it dies, so a customer who kills the lock screen from Task Manager
gets it back within a second, and the hub hears of it: when a session was playing, "agent killed
while in use" is added to the alarms the restarted UI's core carries in its heartbeats.

A UI that exits with code 0 was quit on purpose (staff, from the staff panel): the watchdog
stops too. A UI that keeps dying (`crash_limit` deaths in `crash_window` seconds) is started
again only after `backoff` seconds each time, the PC's hardening restored meanwhile so staff
can use it. The hardening is restored whenever the UI will not be back at once (a clean exit,
the watchdog's stop, a crash loop), not between a death and the immediate restart: that would
only show the customer who killed it the desktop for a moment.

SIGTERM or Ctrl+C (SIGINT), and CTRL_BREAK on Windows, stop the watchdog cleanly: the UI is
asked to stop the same way (on Windows it runs in a process group of its own, which
CTRL_BREAK_EVENT reaches), killed if it has not within `stop_timeout`, and the hardening
restored.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import FrameType

from kassa.clubagent import alarms, hardening, lease_store

log = logging.getLogger(__name__)

#: The UI process: the lock screen, the launcher and the core. A packaged build (PyInstaller,
#: deploy/windows/kassa-club-agent.py) is its own interpreter, without `-m`: it runs itself
#: with `--ui-only`.
UI_MODULE = "kassa.clubagent.app"
UI_COMMAND = (
    (sys.executable, "--ui-only")
    if getattr(sys, "frozen", False)
    else (sys.executable, "-m", UI_MODULE)
)
#: The alarm raised when the UI dies while a session is playing.
KILLED_WHILE_IN_USE = "agent killed while in use"

# How the UI is asked to stop: on Windows it runs in a process group of its own (0 elsewhere,
# where creationflags must be 0), which CTRL_BREAK_EVENT reaches.
if sys.platform == "win32":
    _NEW_GROUP = subprocess.CREATE_NEW_PROCESS_GROUP
    _STOP_SIGNAL = signal.CTRL_BREAK_EVENT
else:
    _NEW_GROUP = 0
    _STOP_SIGNAL = signal.SIGTERM


@dataclass(frozen=True, slots=True)
class Supervision:
    """How the watchdog runs the UI. `in_use` says whether a session was playing, from the
    lease the UI's core persisted in `data_dir` (`session_playing`)."""

    data_dir: Path
    in_use: Callable[[], bool]
    command: Sequence[str] = UI_COMMAND
    #: How often the UI process is looked at, in seconds.
    poll: float = 0.2
    crash_limit: int = 5
    crash_window: float = 30.0
    backoff: float = 10.0
    stop_timeout: float = 10.0
    #: Undoes the PC's hardening (the UI process applied it; it may have died without undoing).
    restore: Callable[[], None] = field(default=partial(hardening.restore, force=True))


class Watchdog:
    def __init__(self, supervision: Supervision) -> None:
        self.supervision = supervision
        self._stopping = threading.Event()
        self._deaths: deque[float] = deque()

    def stop(self) -> None:
        """Stop the UI and the watchdog (safe from a signal handler or another thread)."""
        self._stopping.set()

    def run(self) -> int:
        """Keep the UI running until it exits cleanly or `stop()` is called; 0 then."""
        log.info("watchdog started: %s", " ".join(self.supervision.command))
        try:
            while not self._stopping.is_set():
                code = self._run_once()
                if code is None:
                    break
                if code == 0:
                    log.info("the UI exited cleanly: the watchdog stops too")
                    break
                self._died(code)
        finally:
            self.supervision.restore()
            log.info("watchdog stopped")
        return 0

    def _run_once(self) -> int | None:
        """Start the UI and wait for it: its exit code, or None when the watchdog was stopped
        meanwhile (the UI then stopped too). A UI that cannot be started counts as dead."""
        try:
            child = subprocess.Popen(  # noqa: S603
                list(self.supervision.command), creationflags=_NEW_GROUP
            )
        except OSError:
            log.exception("the UI cannot be started")
            return -1
        log.info("UI started (pid %s)", child.pid)
        while child.poll() is None:
            if self._stopping.wait(self.supervision.poll):
                self._stop_child(child)
                return None
        return child.returncode

    def _died(self, code: int) -> None:
        if self.supervision.in_use():
            log.warning("the UI died (exit code %s) while a session was playing", code)
            alarms.add(self.supervision.data_dir / alarms.FILE, KILLED_WHILE_IN_USE)
        else:
            log.warning("the UI died (exit code %s)", code)
        now = time.monotonic()
        self._deaths.append(now)
        while self._deaths[0] < now - self.supervision.crash_window:
            self._deaths.popleft()
        if len(self._deaths) >= self.supervision.crash_limit:
            log.error(
                "the UI died %s times in %.0f s: starting it again in %.0f s",
                len(self._deaths),
                self.supervision.crash_window,
                self.supervision.backoff,
            )
            self.supervision.restore()
            self._stopping.wait(self.supervision.backoff)

    def _stop_child(self, child: subprocess.Popen[bytes]) -> None:
        log.info("stopping the UI (pid %s)", child.pid)
        child.send_signal(_STOP_SIGNAL)
        try:
            child.wait(self.supervision.stop_timeout)
        except subprocess.TimeoutExpired:
            log.warning("the UI did not stop in %.0f s: killed", self.supervision.stop_timeout)
            child.kill()
            child.wait()


def session_playing(data_dir: Path, token: str) -> Callable[[], bool]:
    """Whether a session was playing when the UI died: the lease its core saved
    (`lease_store`, signed with this PC's token, from this boot) still held the PC unlocked,
    under the club's offline policy and unless staff had locked it."""
    store = lease_store.LeaseStore(
        data_dir / lease_store.FILE, token, time.monotonic, lease_store.boot_id()
    )
    return store.playing_now


def main(supervision: Supervision) -> int:
    """Run the watchdog in this process's main thread until a signal or a clean exit."""
    watchdog = Watchdog(supervision)

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        watchdog.stop()

    wanted = [signal.SIGTERM, signal.SIGINT]
    if sys.platform == "win32":
        wanted.append(signal.SIGBREAK)
    for signum in wanted:
        signal.signal(signum, stop)
    return watchdog.run()
