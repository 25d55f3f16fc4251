"""The WebSocket endpoints of the kiosk agents already in the field, so they can move to Kassa
without being reinstalled (formats: ../shared/reference/kiosk-protocols.md; operators'
view: docs/terminals.md).

- `/ws?token=…`: ws_client 1.0.x (the ws-gateway "version 3" agent). Each operation is one
  `{request_id, headers, body}` message; the agent answers it with the local service's JSON
  plus the `request_id`.
- `/ws/{KIOSK_ID}`: the first gateway proxy ("version 1"), which knows card payments only:
  `payment_request` out, `payment_response` back, and application-level pings.

Neither agent keeps a journal or can be asked about an operation, so the hub never sends
them anything twice: what they were sent and never answered becomes `unknown` when the
connection ends (see `kassa.web.terminals.hub.TerminalHub.detach`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from abc import abstractmethod
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, WebSocket

from kassa.domain import AuthenticationFailed, KassaError
from kassa.domain.terminals import AgentKind, Operation, OperationError, Terminal
from kassa.protocol import CloseCode
from kassa.services.context import Context
from kassa.web.terminals.hub import Link, TerminalHub, authenticate, token_of

log = logging.getLogger(__name__)

router = APIRouter()

#: How often the first proxy is sent an application-level ping (its server's interval).
PING_INTERVAL = 30.0

#: ws_client's error codes after which the local service may have acted (the request reached
#: it, or nobody knows): the operation's outcome is unknown, and it is never sent again.
#: Its other codes (`missing_header`, `route_not_found`, `connection_refused`) mean the local
#: service was not called. Codes not listed here are taken as unknown, to be safe.
NOT_RUN = frozenset({"missing_header", "route_not_found", "connection_refused"})


def timestamp(ctx: Context) -> str:
    """Now, as ISO-8601 UTC with a `Z`, the way the field's servers wrote it."""
    return ctx.clock().isoformat().replace("+00:00", "Z")


class FieldLink(Link):
    """A field agent's connection: JSON text frames, one send at a time (the hub's pump and
    the endpoint's own messages share the socket)."""

    def __init__(self, terminal: Terminal, websocket: WebSocket) -> None:
        super().__init__(terminal)
        self.websocket = websocket
        self._sending = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        async with self._sending:
            await self.websocket.send_text(
                json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=str)
            )

    @abstractmethod
    async def take(self, hub: TerminalHub, message: dict[str, Any]) -> None:
        """Handle one message from the agent."""

    async def query(self, request_id: str) -> None:
        """Field agents cannot be asked about an operation; the hub never calls this for
        them (they are not journaled)."""

    async def close(self, code: int, reason: str) -> None:
        await self.websocket.close(code, reason)

    async def record(
        self,
        hub: TerminalHub,
        request_id: str,
        *,
        body: dict[str, Any] | None = None,
        error: OperationError | None = None,
    ) -> None:
        """Store the agent's answer to `request_id`; answers to nothing it was sent (unknown
        ids, another terminal's) are dropped."""
        recorded = await hub.record_result(
            self, request_id, ok=error is None, body=body, error=error
        )
        if recorded is None:
            log.debug("terminal %s answered unknown request %s", self.terminal.id, request_id)
        else:
            log.info(
                "request_id=%s answer from terminal %s: %s",
                request_id,
                self.terminal.id,
                error.code if error else "ok",
            )


class WsClientLink(FieldLink):
    """ws_client 1.0.x: any operation kind its `routing_config.yaml` knows."""

    kind = AgentKind.WS_CLIENT

    async def deliver(self, operation: Operation) -> None:
        await self.send(
            {
                "request_id": operation.request_id,
                "headers": {
                    "header-kiosk-id": self.terminal.id,
                    "header-operation-type": operation.kind,
                    "header-http-method": operation.method,
                },
                "body": dict(operation.body),
            }
        )

    async def take(self, hub: TerminalHub, message: dict[str, Any]) -> None:
        """A reply: the local service's JSON plus `request_id`, or ws_client's own error
        `{request_id, status: "error", error, message}`."""
        reply = dict(message)
        request_id = reply.pop("request_id", None)
        if not isinstance(request_id, str):
            log.debug("terminal %s sent a message without a request_id", self.terminal.id)
            return
        code = reply.get("error")
        if reply.get("status") == "error" and isinstance(code, str) and code:
            error = OperationError(
                code=code[:64], message=str(reply.get("message") or ""), unknown=code not in NOT_RUN
            )
            await self.record(hub, request_id, error=error)
        else:
            await self.record(hub, request_id, body=reply)


class ProxyV1Link(FieldLink):
    """The first gateway proxy: card payments only."""

    kind = AgentKind.PROXY_V1
    kinds = frozenset({"payment"})

    async def deliver(self, operation: Operation) -> None:
        body = operation.body
        await self.send(
            {
                "type": "payment_request",
                "data": {
                    "request_id": operation.request_id,
                    "kiosk_id": body.get("kiosk_id", self.terminal.id),
                    "order_id": body.get("order_id"),
                    "sum": body.get("sum"),
                },
            }
        )

    async def take(self, hub: TerminalHub, message: dict[str, Any]) -> None:
        """`payment_response` settles an operation; `pong` and anything else is ignored."""
        data = message.get("data")
        if message.get("type") != "payment_response" or not isinstance(data, dict):
            return
        request_id = data.get("request_id")
        if not isinstance(request_id, str):
            log.debug("terminal %s sent a payment_response without a request_id", self.terminal.id)
            return
        await self.record(hub, request_id, body=payment_answer(data))

    async def ping_every(self, ctx: Context, interval: float) -> None:
        """The proxy's keep-alive, as its server sent it; ends when the socket fails."""
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(interval)
                await self.send({"type": "ping", "timestamp": timestamp(ctx)})


def payment_answer(data: dict[str, Any]) -> dict[str, Any]:
    """The gateway's answer inside a `payment_response`: its `payment_data` (the whole
    answer) when there is one, else the response itself; with the `status` (SUCCESS,
    DECLINED…) that settles the payment, which the proxy also puts at `data.status`."""
    given = data.get("payment_data")
    if isinstance(given, dict):
        answer = dict(given)
    else:
        answer = {key: value for key, value in data.items() if key != "request_id"}
    if answer.get("status") is None and data.get("status") is not None:
        answer["status"] = data["status"]
    return answer


# Connecting


async def admit(websocket: WebSocket, *, kiosk_id: str | None = None) -> Terminal | None:
    """The terminal behind the connection's token (`?token=` or `Authorization: Bearer`),
    or `None` after refusing the handshake the way the ws-gateway server did: a close with
    1008 and a reason before accepting (HTTP 403 to the agent). With `kiosk_id` (the first
    proxy's path), the token must be that terminal's."""
    ctx: Context = websocket.app.state.ctx
    try:
        terminal = await authenticate(ctx, token_of(websocket))
        if kiosk_id is not None and kiosk_id != terminal.id:
            raise AuthenticationFailed("The token is not this kiosk's", code="token_mismatch")
    except KassaError as error:
        log.info("refused a field agent's connection (%s)", error.code)
        await websocket.close(CloseCode.POLICY_VIOLATION, error.message[:120])
        return None
    return terminal


async def messages(websocket: WebSocket) -> AsyncIterator[dict[str, Any]]:
    """The JSON objects the agent sends, until it disconnects; other frames are skipped."""
    while True:
        frame = await websocket.receive()
        if frame["type"] == "websocket.disconnect":
            return
        raw = frame.get("text") or frame.get("bytes") or b""
        try:
            message = json.loads(raw)
        except ValueError:
            message = None
        if isinstance(message, dict):
            yield message
        else:
            log.debug("terminal sent a frame that is not a JSON object; ignored")


async def serve(hub: TerminalHub, link: FieldLink) -> None:
    """Attach the accepted connection to the hub and take the agent's messages until it
    goes; then detach, which makes what it left unanswered `unknown`."""
    try:
        await hub.attach(link, version=None)
        async for message in messages(link.websocket):
            await link.take(hub, message)
    finally:
        await hub.detach(link)


@router.websocket("/ws")
async def ws_client_socket(websocket: WebSocket) -> None:
    terminal = await admit(websocket)
    if terminal is None:
        return
    await websocket.accept()
    await serve(websocket.app.state.terminals, WsClientLink(terminal, websocket))


@router.websocket("/ws/{kiosk_id}")
async def proxy_v1_socket(websocket: WebSocket, kiosk_id: str) -> None:
    terminal = await admit(websocket, kiosk_id=kiosk_id)
    if terminal is None:
        return
    await websocket.accept()
    ctx: Context = websocket.app.state.ctx
    link = ProxyV1Link(terminal, websocket)
    await link.send(
        {
            "type": "connection_status",
            "data": {"status": "connected", "kiosk_id": terminal.id, "timestamp": timestamp(ctx)},
        }
    )
    pinging = asyncio.create_task(link.ping_every(ctx, PING_INTERVAL))
    try:
        await serve(websocket.app.state.terminals, link)
    finally:
        pinging.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pinging
