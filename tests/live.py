"""Test infrastructure: a real Kassa server on loopback, and databases to run it on."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self, TypeVar

import asyncpg
import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import make_url

from kassa.config import Settings
from kassa.services.context import Context
from kassa.store import upgrade
from kassa.web import create_app

T = TypeVar("T")


def free_socket() -> socket.socket:
    # IPPROTO_TCP given explicitly: only then does asyncio set TCP_NODELAY on the accepted
    # connections (without it every request on a kept-alive connection waits ~40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class LiveApp:
    """Any ASGI app (Kassa, a provider emulator, a merchant's receiver) served by uvicorn in a
    background thread, on a real loopback socket."""

    def __init__(
        self, app: Any, *, name: str = "live-app", sock: socket.socket | None = None
    ) -> None:
        self.sock = sock or free_socket()
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = app
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, log_level="warning", lifespan="on", loop="asyncio", proxy_headers=False
            )
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._serve, name=name, daemon=True)

    def _serve(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve(sockets=[self.sock]))

    def start(self) -> Self:
        self.thread.start()
        for _ in range(500):
            if self.server.started:
                return self
            if not self.thread.is_alive():
                break
            threading.Event().wait(0.01)
        raise RuntimeError(f"{self.thread.name} did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run `coro` on the server's loop and wait for its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


class LiveServer(LiveApp):
    """Kassa on a loopback socket. `call()` runs a coroutine on the server's own event loop,
    with the app's context, so tests can set things up through the services exactly as the
    CLI would."""

    app: FastAPI

    def __init__(self, database_url: str, **settings: Any) -> None:
        sock = free_socket()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.settings = Settings(
            database_url=database_url,
            public_url=url,
            background=False,
            api_rate_limit=10_000,
            api_rate_burst=10_000,
            **{
                # The tests' webhook receivers listen on 127.0.0.1, which Kassa refuses by
                # default; tests send many rejected notifications from 127.0.0.1, and those of
                # the limit itself start a server with a low one.
                "webhooks_allow_private": True,
                "rejected_notification_limit": 100_000,
                **settings,
            },
        )
        super().__init__(create_app(self.settings), name="kassa-test-server", sock=sock)

    @property
    def ctx(self) -> Context:
        context: Context = self.app.state.ctx
        return context


def sqlite_url(directory: str, revision: str = "head") -> str:
    url = f"sqlite+aiosqlite:///{directory}/kassa.db"
    upgrade(url, revision)
    return url


def fresh_postgres(base_url: str, revision: str = "head") -> Iterator[str]:
    """A new database on the server of `base_url`, migrated to `revision`, dropped
    afterwards."""
    base = make_url(base_url)
    name = f"kassa_test_{secrets.token_hex(4)}"
    admin_dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url, revision)
        yield url
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


class Served:
    """A running `kassa serve` process and the lines it has printed so far."""

    def __init__(self, port: int, process: subprocess.Popen[str]) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.process = process
        self.lines: list[str] = []

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@contextmanager
def serve_process(data_dir: Path, *args: str, database_url: str | None = None) -> Iterator[Served]:
    """Run `python -m kassa serve ARGS` on a free port, on `database_url` or its SQLite
    database in `data_dir`, until the block ends; it must then stop cleanly on SIGINT."""
    with free_socket() as sock:
        port = int(sock.getsockname()[1])
    env = {**os.environ, "KASSA_DATA_DIR": str(data_dir), "KASSA_PORT": str(port)}
    env.pop("KASSA_DATABASE_URL", None)
    if database_url is not None:
        env["KASSA_DATABASE_URL"] = database_url
    process = subprocess.Popen(
        [sys.executable, "-m", "kassa", "serve", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    served = Served(port, process)
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
