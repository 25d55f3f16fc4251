"""`kassa serve` as a real process for the crash tests, and the database as another process
sees it (a context of the test's own on the same database)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import httpx

from kassa.config import Settings
from kassa.services.context import Context
from tests.live import free_socket

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


class Served:
    """A running `python -m kassa serve` on a loopback port; its output goes to `log`."""

    def __init__(self, database_url: str, log: Path) -> None:
        with free_socket() as sock:
            self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "KASSA_DATABASE_URL": database_url,
            "KASSA_PORT": str(self.port),
            "KASSA_PUBLIC_URL": self.url,
            # The merchant's receiver is on 127.0.0.1.
            "KASSA_WEBHOOKS_ALLOW_PRIVATE": "true",
            "KASSA_API_RATE_LIMIT": "10000",
            "KASSA_API_RATE_BURST": "10000",
            "KASSA_LOG_LEVEL": "warning",
        }
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "kassa", "serve"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def ready(self, timeout: float = 60) -> Served:
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"kassa serve not ready:\n{self.log.read_text()}"
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flushing, no finishing of anything in hand."""
        self.process.kill()
        self.process.wait(timeout=10)


class Kassa:
    """A test module's `kassa serve` on one database: started when a test needs it running,
    killed by the tests, started again by the next that needs it (each start costs seconds
    of a busy machine, so the tests share them). Its output is appended to `log`."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.database_url = database_url
        self.log = log
        self._served: Served | None = None

    def running(self) -> Served:
        if self._served is None or self._served.process.poll() is not None:
            self._served = Served(self.database_url, self.log).ready()
        return self._served

    def stop(self) -> None:
        if self._served is not None and self._served.process.poll() is None:
            self._served.kill()


def on_database(
    database_url: str, work: Callable[[Context], Awaitable[T]], *, at: datetime | None = None
) -> T:
    """Run `work` in a context of this test process on `database_url`, with its clock
    stopped at `at` if given (to see the leases of a killed process as lapsed)."""

    async def main() -> T:
        settings = Settings(database_url=database_url, webhooks_allow_private=True)
        ctx = Context.open(settings)
        if at is not None:
            ctx.clock = lambda: at
        try:
            return await work(ctx)
        finally:
            await ctx.close()

    return asyncio.run(main())
