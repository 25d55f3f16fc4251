"""Test doubles for the agent: the fake gateway served on loopback, a fake hub speaking
docs/terminal-protocol.md, the agent as a real process, and terminal tokens."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, Self

import httpx
import uvicorn
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from kassa.devtools.fake_gateway import PAYMENT_PATH, create_app

TIMEOUT = 10.0


def make_token(
    kiosk_id: str = "KIOSK_001", shop: str = "demo", expires_in: timedelta = timedelta(days=365)
) -> str:
    """A JWT-shaped terminal token (the agent never checks the signature; the fake hub
    compares the whole string)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {
        "kiosk_id": kiosk_id,
        "shop": shop,
        "ver": 1,
        "iat": now,
        "exp": now + int(expires_in.total_seconds()),
    }
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def closed_url(path: str = "/") -> str:
    """A URL where nothing listens."""
    return f"http://127.0.0.1:{free_port()}{path}"


def deadline(seconds: float = 60) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


class Gateway:
    """The fake gateway (`kassa dev fake-gateway`) served by uvicorn in a thread."""

    def __init__(self, mode: str = "approve", delay: float = 40.0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.app = create_app(mode, delay)
        self.server = uvicorn.Server(
            uvicorn.Config(
                self.app, log_level="critical", lifespan="off", timeout_graceful_shutdown=0
            )
        )
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])), daemon=True
        )

    @property
    def payment_url(self) -> str:
        return self.url + PAYMENT_PATH

    @property
    def status_url(self) -> str:
        """The fake gateway's status lookup, as a route's `status_url` template."""
        return self.payment_url + "/{order_id}"

    def start(self) -> Self:
        self.thread.start()
        for _ in range(500):
            if self.server.started:
                return self
            time.sleep(0.01)
        raise RuntimeError("the fake gateway did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()

    def calls(self) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = httpx.get(self.url + "/calls").json()
        return calls

    def charges(self) -> dict[str, int]:
        charges: dict[str, int] = httpx.get(self.url + "/charges").json()
        return charges


class HubConnection:
    """One agent connection as the fake hub sees it."""

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.messages: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self.heartbeats: list[dict[str, Any]] = []
        self.closed = asyncio.Event()

    async def read(self) -> None:
        try:
            async for frame in self.ws:
                message = json.loads(frame)
                assert set(message) == {"type", "data"}, message
                if message["type"] == "heartbeat":
                    self.heartbeats.append(message["data"])
                else:
                    await self.messages.put((message["type"], message["data"]))
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()

    async def next(self, within: float = TIMEOUT) -> tuple[str, dict[str, Any]]:
        return await asyncio.wait_for(self.messages.get(), within)

    async def expect(self, kind: str, within: float = TIMEOUT) -> dict[str, Any]:
        got, data = await self.next(within)
        assert got == kind, (got, data)
        return data

    async def nothing(self, seconds: float) -> None:
        """Assert that the agent sends nothing (but heartbeats) for `seconds`."""
        try:
            got = await asyncio.wait_for(self.messages.get(), seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message {got}")

    async def send(self, kind: str, data: dict[str, Any]) -> None:
        await self.ws.send(json.dumps({"type": kind, "data": data}))

    async def operation(
        self, request_id: str, body: Any, *, kind: str = "payment", expires: str | None = None
    ) -> None:
        await self.send(
            "operation",
            {
                "request_id": request_id,
                "kind": kind,
                "body": body,
                "deadline": expires or deadline(),
            },
        )


class FakeHub:
    """A hub on 127.0.0.1 that accepts `token` (or refuses every handshake with `refuse`:
    an HTTP status and an error code), hands each connection to the test, and answers
    `hello` with `welcome`."""

    def __init__(self, token: str, refuse: tuple[int, str] | None = None) -> None:
        self.token = token
        self.refuse = refuse
        self.handshakes = 0
        self.connections: asyncio.Queue[HubConnection] = asyncio.Queue()
        self.server: Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}"

    async def __aenter__(self) -> Self:
        self.server = await serve(
            self._handle, "127.0.0.1", 0, process_request=self._check, ping_interval=None
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        self.handshakes += 1
        assert request.path == "/terminals/ws"
        if self.refuse is None and request.headers.get("Authorization") == f"Bearer {self.token}":
            return None
        status, code = self.refuse or (401, "token_invalid")
        response = connection.respond(status, "")
        body = json.dumps({"error": {"code": code, "message": f"refused: {code}"}}).encode()
        del response.headers["Content-Type"]
        del response.headers["Content-Length"]
        response.headers["Content-Type"] = "application/json"
        response.headers["Content-Length"] = str(len(body))
        response.body = body
        return response

    async def _handle(self, ws: ServerConnection) -> None:
        connection = HubConnection(ws)
        await self.connections.put(connection)
        await connection.read()

    async def accept(self, within: float = TIMEOUT) -> tuple[HubConnection, dict[str, Any]]:
        """The next connection, its `hello` read and answered with `welcome`."""
        connection = await asyncio.wait_for(self.connections.get(), within)
        hello = await connection.expect("hello")
        await connection.send(
            "welcome",
            {
                "terminal": "KIOSK_001",
                "heartbeat_interval": 30,
                "server_time": datetime.now(UTC).isoformat(),
            },
        )
        return connection, hello


class AgentProcess:
    """`python -m kassa.agent` in `directory`, with exactly the environment given (and a HOME
    of its own, so no real ~/.kassa-agent/.env is read)."""

    def __init__(self, directory: Path, env: Mapping[str, str], *args: str) -> None:
        self.directory = directory
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(directory),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.args = args
        self.output = directory / "agent.out"
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.kill()

    async def start(self) -> Self:
        """Start the process; its output goes to a file of its own (`text()` reads it)."""
        self.output = self.directory / f"agent-{time.monotonic_ns()}.out"
        with self.output.open("wb") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "kassa.agent",
                *self.args,
                cwd=self.directory,
                env=self.env,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        return self

    def signal(self, signum: int = signal.SIGTERM) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    async def wait(self, within: float = TIMEOUT) -> int:
        assert self.process is not None
        try:
            return await asyncio.wait_for(self.process.wait(), within)
        except TimeoutError:
            raise AssertionError(f"the agent did not exit in {within} s:\n{self.text()}") from None

    async def stop(self) -> int:
        """SIGTERM, and the exit code."""
        self.signal(signal.SIGTERM)
        return await self.wait()

    async def kill(self) -> None:
        """SIGKILL if still running (no drain, as a power cut)."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def restart(self) -> Self:
        """Start again in the same directory with the same environment (the journal and the
        settings survive), after a SIGKILL if it is still running."""
        await self.kill()
        return await self.start()

    def text(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")


class HubAddress(Protocol):
    """Where an agent connects, and with which token: a `FakeHub` or a real hub."""

    @property
    def url(self) -> str: ...

    @property
    def token(self) -> str: ...


def agent_env(
    directory: Path, hub: HubAddress, routes: Mapping[str, Mapping[str, Any]], **extra: str
) -> dict[str, str]:
    """Settings for an agent in `directory` connecting to `hub`, with quick timings."""
    routing = directory / "routing_config.yaml"
    routing.write_text(json.dumps({"routes": routes}), encoding="utf-8")  # JSON is YAML
    return {
        "KASSA_HUB_URL": hub.url,
        "KASSA_TERMINAL_TOKEN": hub.token,
        "KASSA_ROUTING_CONFIG": str(routing),
        "KASSA_AGENT_JOURNAL": str(directory / "journal.db"),
        "KASSA_AGENT_LOG_DIR": str(directory / "logs"),
        "KASSA_AGENT_HEALTH_PORT": "0",
        "KASSA_AGENT_HEARTBEAT": "0.5",
        "KASSA_AGENT_GRACE": "10",
        "KASSA_AGENT_BACKOFF_MAX": "0.5",
        "KASSA_AGENT_STABLE_AFTER": "1",
        **extra,
    }


async def until(condition: Callable[[], bool], within: float = 5) -> None:
    """Poll `condition` (state in another thread or process: no event to wait on)."""
    async with asyncio.timeout(within):
        while not await asyncio.to_thread(condition):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
