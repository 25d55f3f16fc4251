"""What the club agent asks of the operating system: start a catalogue app, restart or shut down
the PC (the dashboard's `restart` and `shutdown` actions).

Only Windows is restarted or shut down for real (`shutdown /r /t 0`, `shutdown /s /t 0`).
Elsewhere those two are logged no-ops, so the agent runs and is tested on Linux without taking
the machine down; `KASSA_CLUB_AGENT_DRY_RUN=1` makes them no-ops on Windows too, for a PC the
agent is being tried on.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

log = logging.getLogger(__name__)

#: Set to 1 (or true/yes) to log restart and shutdown instead of doing them, on Windows too.
DRY_RUN = "KASSA_CLUB_AGENT_DRY_RUN"


def launch(path: str) -> None:
    """Start the app at `path` detached from the agent (it outlives the agent's UI process).

    On Windows through the shell's association (`os.startfile`), so a `.lnk` or a `steam://`
    address works as a double-click would; elsewhere the file is executed in a session of its
    own. OSError when it cannot be started (missing, not executable)."""
    if sys.platform == "win32":
        os.startfile(path)  # noqa: S606
        return
    subprocess.Popen(  # noqa: S603  # the club's own catalogue, not a customer's input
        [path],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def restart() -> None:
    """Restart the PC at once (`shutdown /r /t 0`). A logged no-op outside Windows or with
    `KASSA_CLUB_AGENT_DRY_RUN=1`. OSError when Windows refuses."""
    _shutdown("/r", "restart")


def shutdown() -> None:
    """Shut the PC down at once (`shutdown /s /t 0`). A logged no-op outside Windows or with
    `KASSA_CLUB_AGENT_DRY_RUN=1`. OSError when Windows refuses."""
    _shutdown("/s", "shutdown")


def dry_run() -> bool:
    return os.environ.get(DRY_RUN, "").strip().lower() in {"1", "true", "yes"}


def _shutdown(switch: str, what: str) -> None:
    if sys.platform != "win32":
        log.warning("%s asked for: not on Windows, so nothing is done", what)
        return
    if dry_run():
        log.warning("%s asked for: %s=1, so nothing is done", what, DRY_RUN)
        return
    log.warning("%s: running shutdown %s /t 0", what, switch)
    done = subprocess.run(  # noqa: S603
        ["shutdown", switch, "/t", "0"],  # noqa: S607  # shutdown.exe from System32
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise OSError(f"shutdown {switch} failed ({done.returncode}): {done.stderr.strip()}")
