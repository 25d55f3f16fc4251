"""Real processes for the club agent's end-to-end tests: `kassa club-agent` (the watchdog, or
`--ui-only`) and Xvfb, each in a process group of its own so that nothing outlives a test,
even a failed one (`Processes.close` stops them and kills what is left of their groups)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


def children(pid: int) -> list[int]:
    """The live (not zombie) processes whose parent is `pid`, from /proc."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # `pid (comm) state ppid …`: comm may hold spaces and brackets, so split after the last.
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.append(int(entry.name))
    return sorted(found)


def group_members(pgid: int) -> list[int]:
    """The live processes of process group `pgid`."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


@dataclass
class Started:
    """A process the test started, and the file its output goes to."""

    name: str
    process: subprocess.Popen[bytes]
    output: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def text(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""


class Processes:
    """What a test started; `close()` ends all of it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[Started] = []

    def start(
        self, name: str, args: list[str], env: Mapping[str, str], **options: object
    ) -> Started:
        output = self.directory / f"{name}.out"
        with output.open("ab") as sink:
            process = subprocess.Popen(
                args,
                env=dict(env),
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **options,  # type: ignore[call-overload]
            )
        started = Started(name, process, output)
        self.started.append(started)
        return started

    def close(self) -> None:
        """Ask each process to stop (SIGTERM), newest first; kill it and whatever is left in
        its group (a UI whose watchdog died) if it has not within 10 s."""
        for each in reversed(self.started):
            if each.process.poll() is None:
                each.process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    each.process.wait(10)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(each.pid, signal.SIGKILL)
            if each.process.poll() is None:
                each.process.wait(5)


def agent_command(*options: str) -> list[str]:
    """`kassa club-agent OPTIONS`, through the `kassa` command's own dispatch."""
    return [sys.executable, "-m", "kassa", "club-agent", *options]


def agent_environment(hub_url: str, token: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("KASSA_", "QT_")) and name != "DISPLAY"
    }
    return env | {
        "KASSA_HUB_URL": hub_url,
        "KASSA_PC_TOKEN": token,
        "KASSA_CLUB_AGENT_DIR": str(data_dir),
        "KASSA_CLUB_AGENT_LOG_LEVEL": "DEBUG",
        **extra,
    }


def start_xvfb(processes: Processes) -> str:
    """Xvfb on a display number it chooses itself (`-displayfd`, never one in use); its
    `DISPLAY`."""
    read, write = os.pipe()
    try:
        processes.start(
            "xvfb",
            ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
            os.environ,
            pass_fds=(write,),
        )
    finally:
        os.close(write)
    with os.fdopen(read) as told:
        number = told.readline().strip()
    assert number.isdigit(), f"Xvfb did not say its display: {processes.started[-1].text()}"
    return f":{number}"


#: Grabs the X screen (the root window) into a PNG; prints how many colours a grid of its
#: pixels has.
GRAB = """
import sys
from PySide6.QtGui import QGuiApplication
app = QGuiApplication(sys.argv[:1])
image = app.primaryScreen().grabWindow(0).toImage()
assert image.save(sys.argv[1]), "not saved"
step = 4
print(len({image.pixel(x, y) for x in range(0, image.width(), step)
           for y in range(0, image.height(), step)}))
"""


def screenshot(display: str, path: Path) -> int:
    """Grab `display`'s screen to `path` from a process of its own; the colours found."""
    path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    done = subprocess.run(
        [sys.executable, "-c", GRAB, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


#: A window in `xwininfo -root -tree`: `0x200007 "name": ("class" "class")  1280x720+0+0  …`.
TREE_LINE = re.compile(r'^\s*(0x[0-9a-f]+) "(.*)": \(.*\)\s+(\d+x\d+[+-]\d+[+-]\d+)')


def viewable(display: str) -> list[tuple[str, str]]:
    """The named windows of `display` that are mapped and viewable: (name, geometry)."""
    env = {**os.environ, "DISPLAY": display}

    def xwininfo(*args: str) -> str:
        return subprocess.run(
            ["xwininfo", *args],  # noqa: S607
            env=env,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout

    found = [
        match.groups()
        for line in xwininfo("-root", "-tree").splitlines()
        if (match := TREE_LINE.match(line))
    ]
    return [
        (name, geometry)
        for window, name, geometry in found
        if "Map State: IsViewable" in xwininfo("-id", window)
    ]


def wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and "zombie" not in _status(pid):
        assert time.monotonic() < deadline, f"process {pid} still running"
        time.sleep(0.05)


def _status(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "zombie"
