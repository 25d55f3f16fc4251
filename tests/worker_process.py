"""`kassa worker` as a real process for the tests, with event consumers of their own loaded
through `KASSA_CONSUMERS`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class Worker:
    """A running `kassa worker` on `database_url` and the lines it has logged so far; `env`
    is added to its environment."""

    def __init__(self, database_url: str, consumers: str, **env: str) -> None:
        environment = {
            **os.environ,
            "KASSA_DATABASE_URL": database_url,
            "KASSA_CONSUMERS": consumers,
            "KASSA_LOG_LEVEL": "info",
            "PYTHONPATH": str(ROOT),
            **env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kassa", "worker"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        self.lines.extend(self.process.stdout)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def started(self) -> Worker:
        """Wait until the worker has loaded its consumers and listens for stop signals."""
        eventually(lambda: "worker started" in self.text, what=f"a start:\n{self.text}")
        assert self.alive, self.text
        return self

    def wait(self, timeout: float = 20) -> int:
        """Wait for the process to end; returns its exit code."""
        code = self.process.wait(timeout)
        self._reader.join(timeout=5)
        return code

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.wait()

    def kill(self) -> None:
        """SIGKILL: nothing in hand is finished; returns once the process is gone."""
        self.process.kill()
        self.wait()


@contextmanager
def worker(database_url: str, consumers: str, **env: str) -> Iterator[Worker]:
    """A `kassa worker` process, killed at the end of the block if it is still running."""
    running = Worker(database_url, consumers, **env)
    try:
        yield running
    finally:
        if running.alive:
            running.kill()


def eventually(check: Callable[[], bool], *, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.05)
