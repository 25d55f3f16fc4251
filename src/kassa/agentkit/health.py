"""`GET http://127.0.0.1:<port>/health`: the agent's state for the device's own monitoring
(for the kiosk agent, in the shape ws_client 1.0.2 served). A bare HTTP/1.1 server on asyncio
(no web framework in an agent), bound to loopback only: an agent accepts no connections from
the network."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: The longest request line and headers read before answering.
_READ_TIMEOUT = 5.0


class HealthServer:
    def __init__(self, snapshot: Callable[[], dict[str, Any]], port: int, host: str = "127.0.0.1"):
        self.snapshot = snapshot
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("health endpoint on http://%s:%d/health", self.host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_TIMEOUT)
            method, _, rest = head.decode("latin-1").partition(" ")
            path = rest.partition(" ")[0].partition("?")[0]
            if method not in {"GET", "HEAD"}:
                status, body = "405 Method Not Allowed", {"error": "method not allowed"}
            elif path != "/health":
                status, body = "404 Not Found", {"error": "not found"}
            else:
                status, body = "200 OK", self.snapshot()
            payload = json.dumps(body).encode()
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
            )
            if method != "HEAD":
                writer.write(payload)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
