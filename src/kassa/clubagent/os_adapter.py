"""The PC's operating system, as the core uses it: start an app, restart, shut down.

A minimal stand-in (the launcher's helper owns this module): `launch` starts the program with
subprocess; `restart` and `shutdown` ask Windows to, and do nothing elsewhere (a development
machine is not to be turned off by a test)."""

from __future__ import annotations

import subprocess
import sys


def launch(path: str) -> None:
    """Start the program at `path`, detached; OSError if it cannot be."""
    subprocess.Popen([path], close_fds=True)  # noqa: S603


def restart() -> None:
    if sys.platform == "win32":
        subprocess.Popen(["shutdown", "/r", "/t", "0"])  # noqa: S607


def shutdown() -> None:
    if sys.platform == "win32":
        subprocess.Popen(["shutdown", "/s", "/t", "0"])  # noqa: S607
