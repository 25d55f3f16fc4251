"""`kassa serve` as a real process, on a free port, with its output kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.live import free_socket


class Served:
    """A running `kassa serve` process and the lines it has printed so far."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@contextmanager
def kassa_serve(data_dir: Path, *args: str) -> Iterator[Served]:
    """Run `python -m kassa serve --demo` on a free port until the block ends."""
    with free_socket() as sock:
        port = int(sock.getsockname()[1])
    served = Served(port)
    env = {**os.environ, "KASSA_DATA_DIR": str(data_dir), "KASSA_PORT": str(port)}
    env.pop("KASSA_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "kassa", "serve", "--demo", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: served.lines.extend(process.stdout or []))
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{served.base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, served.text
            assert time.monotonic() < deadline, "kassa serve did not become ready"
            time.sleep(0.1)
        yield served
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
        reader.join(timeout=5)
    assert process.returncode == 0, served.text
