"""The WebSocket link to the hub: connect, hand each message to the session, heartbeat, and
reconnect with backoff for as long as the agent runs. The same for every kind of device: what
to say and what to do with each message is the session's (`kassa.agentkit.agent.Agent`).

The loop is the agent's own rather than websockets' `async for … in connect()`: that one treats
a 401 as fatal but reconnects at once after a close, resets its backoff on every handshake, and
knows nothing of the hub's application close codes (docs/terminal-protocol.md, "Connecting").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from kassa.agentkit.backoff import Backoff
from kassa.agentkit.stats import Stats
from kassa.protocol import MAX_FRAME_BYTES, CloseCode, Frame, FrameError, MessageType

log = logging.getLogger(__name__)

OPEN_TIMEOUT = 10.0


class TokenRefused(Exception):
    """The hub refused the device's token for good (HTTP 401 or close 4401): retrying with
    the same token cannot work."""

    def __init__(self, device: str, code: str, message: str) -> None:
        super().__init__(f"the hub refused the {device} token: {code} {message}")


class LinkSettings(Protocol):
    """What the link reads of the agent's settings."""

    @property
    def hub_url(self) -> str:
        """The `ws(s)://` URL of the hub's endpoint for this kind of device."""

    @property
    def token(self) -> str:
        """The device's token, sent as `Authorization: Bearer`."""

    @property
    def ping_interval(self) -> float:
        """Seconds between WebSocket pings (and the wait for their pong); 0: none."""

    @property
    def heartbeat(self) -> float:
        """Seconds between `heartbeat` messages."""


class Session(Protocol):
    """What the link needs from the agent."""

    async def hello(self) -> dict[str, Any]:
        """The `hello` data, sent first on every connection."""

    async def opened(self) -> None:
        """Called once `hello` is sent and `send` works: re-send what the hub lacks."""

    def heartbeat(self) -> dict[str, Any]:
        """The `heartbeat` data."""

    async def received(self, frame: Frame) -> None:
        """Handle one message from the hub."""


class Link:
    def __init__(
        self,
        settings: LinkSettings,
        session: Session,
        *,
        backoff: Backoff,
        stats: Stats,
        user_agent: str,
        device: str,
    ) -> None:
        """`device` names the kind of device in log lines ("terminal")."""
        self.settings = settings
        self.session = session
        self.backoff = backoff
        self.stats = stats
        self.user_agent = user_agent
        self.device = device
        self._ws: ClientConnection | None = None
        self._stopping = asyncio.Event()
        self._retimed = asyncio.Event()
        self._connections = 0

    @property
    def connected(self) -> bool:
        return self._ws is not None

    async def send(self, kind: MessageType, data: dict[str, Any]) -> bool:
        """Send a message if connected (after `hello`); False if it could not be sent. What
        must not be lost is in the journal and is sent again after the next `hello`."""
        ws = self._ws
        if ws is None:
            return False
        return await self._send(ws, kind, data)

    async def close(self) -> None:
        """Stop reconnecting and close the connection with 1001 (going away)."""
        self._stopping.set()
        ws = self._ws
        if ws is not None:
            await ws.close(CloseCode.GOING_AWAY, "agent shutting down")

    async def run(self) -> None:
        """Stay connected until `close`; raises `TokenRefused` when the hub refuses the token."""
        delay = 0.0
        streak = 0
        while not self._stopping.is_set():
            if delay:
                log.info("reconnecting in %.1f s", delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                if self._stopping.is_set():
                    return
            try:
                code, reason = await self._connection()
            except InvalidStatus as exc:
                status = exc.response.status_code
                error_code, message = refusal(exc.response.body)
                if status == 401:
                    raise TokenRefused(self.device, error_code or str(status), message) from None
                streak += 1
                if status == 403:
                    log.error(
                        "the hub refused the %s: %s %s (an operator disabled it); retrying slowly",
                        self.device,
                        error_code or status,
                        message,
                    )
                    delay = self.backoff.slow_delay()
                else:
                    log.warning("the hub refused the connection: HTTP %d %s", status, message)
                    delay = self.backoff.next_delay()
                continue
            except (OSError, TimeoutError, WebSocketException) as exc:
                streak += 1
                log.log(
                    logging.WARNING if streak == 1 else logging.INFO,
                    "cannot reach the hub at %s: %s",
                    self.settings.hub_url,
                    str(exc) or type(exc).__name__,
                )
                delay = self.backoff.next_delay()
                continue
            streak = 0
            if self._stopping.is_set():
                return
            if code == CloseCode.REVOKED:
                raise TokenRefused(self.device, str(code), reason or "token revoked")
            if code == CloseCode.DISABLED:
                log.error(
                    "the hub disabled this %s (close %d %s); retrying slowly",
                    self.device,
                    code,
                    reason,
                )
                delay = self.backoff.slow_delay()
            else:
                log.warning("disconnected from the hub: close %s %s", code, reason)
                delay = self.backoff.next_delay()

    async def _connection(self) -> tuple[int | None, str]:
        """One connection, from the handshake to its close; returns the close code and reason."""
        interval = self.settings.ping_interval or None
        async with connect(
            self.settings.hub_url,
            additional_headers={"Authorization": f"Bearer {self.settings.token}"},
            user_agent_header=self.user_agent,
            ping_interval=interval,
            ping_timeout=interval,
            open_timeout=OPEN_TIMEOUT,
            max_size=MAX_FRAME_BYTES,
        ) as ws:
            self.backoff.connected()
            self._connections += 1
            if self._connections > 1:
                self.stats.reconnects += 1
            log.info("connected to %s", self.settings.hub_url)
            heartbeat: asyncio.Task[None] | None = None
            try:
                if await self._send(ws, MessageType.HELLO, await self.session.hello()):
                    self._ws = ws
                    await self.session.opened()
                    heartbeat = asyncio.create_task(self._heartbeats(ws))
                    await self._read(ws)
            finally:
                self._ws = None
                self.backoff.disconnected()
                if heartbeat is not None:
                    heartbeat.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await heartbeat
        return ws.close_code, ws.close_reason or ""

    async def _read(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in ws:
                self.stats.messages_received += 1
                try:
                    message = Frame.decode(frame)
                except FrameError as error:
                    self.stats.errors += 1
                    log.warning("ignored a frame that is not a {type, data} JSON object: %s", error)
                    continue
                await self.session.received(message)

    def retime(self) -> None:
        """The heartbeat interval changed (a hub that dictates it): the next heartbeat is one
        new interval from now."""
        self._retimed.set()

    async def _heartbeats(self, ws: ClientConnection) -> None:
        while True:
            self._retimed.clear()
            try:
                await asyncio.wait_for(self._retimed.wait(), self.settings.heartbeat)
            except TimeoutError:
                await self._send(ws, MessageType.HEARTBEAT, self.session.heartbeat())

    async def _send(self, ws: ClientConnection, kind: MessageType, data: dict[str, Any]) -> bool:
        try:
            await ws.send(Frame(kind, data).encode())
        except ConnectionClosed:
            return False
        self.stats.messages_sent += 1
        return True


def refusal(body: bytes | bytearray | None) -> tuple[str, str]:
    """The `{"error": {code, message}}` of a refused handshake, as far as it can be read."""
    try:
        error = json.loads(body or b"")["error"]
        return str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        return "", (body or b"").decode("utf-8", "replace")[:200]
