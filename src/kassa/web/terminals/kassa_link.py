"""`/terminals/ws`: Kassa's own protocol with `kassa agent` (docs/terminal-protocol.md), and
`serve_link`, the same protocol for any kind of device: a club's PCs speak it on their own
path (`kassa.web.club_link`), with their own welcome and heartbeats."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from kassa.domain import KassaError
from kassa.domain.devices import AgentKind, DeviceKind, Operation, OperationError
from kassa.domain.terminals import Terminal
from kassa.protocol import (
    CloseCode,
    ErrorCode,
    Frame,
    FrameError,
    MessageType,
    OperationStatus,
    ResultCode,
)
from kassa.protocol.terminal import PATH
from kassa.services.context import Context
from kassa.services.devices import operations as terminal_operations
from kassa.services.devices.hub import DeviceHub
from kassa.services.objects import timestamp
from kassa.web.errors import error_body
from kassa.web.terminals.hub import Link, authenticate, refusal, token_of

log = logging.getLogger(__name__)

router = APIRouter()

HELLO_TIMEOUT = 10.0
HEARTBEAT_INTERVAL = 30


class KassaLink(Link):
    kind = AgentKind.KASSA

    def __init__(self, terminal: Terminal, websocket: WebSocket) -> None:
        super().__init__(terminal)
        self.websocket = websocket
        self._sending = asyncio.Lock()

    async def send(self, kind: str, data: dict[str, Any]) -> None:
        """Send a message (a `MessageType`, or a kind's own, as a club PC's `lease`)."""
        async with self._sending:
            await self.websocket.send_text(Frame(kind, data).encode())

    async def deliver(self, operation: Operation) -> None:
        await self.send(
            MessageType.OPERATION,
            {
                "request_id": operation.request_id,
                "kind": operation.kind,
                "body": dict(operation.body),
                "deadline": timestamp(operation.deadline),
                "method": operation.method,
            },
        )

    async def query(self, request_id: str) -> None:
        await self.send(MessageType.STATUS_QUERY, {"request_id": request_id})

    async def close(self, code: int, reason: str) -> None:
        await self.websocket.close(code, reason)


#: What a kind makes of an agent's `hello`: the `welcome`'s data (after the hub attached it).
Welcome = Callable[["KassaLink", dict[str, Any]], Awaitable[dict[str, Any]]]
#: What a kind does with an agent's `heartbeat`.
Heartbeat = Callable[["KassaLink", dict[str, Any]], Awaitable[None]]
#: What a kind does once the hub has detached the link.
Detached = Callable[["KassaLink"], None]


async def _terminal_welcome(link: KassaLink, hello: dict[str, Any]) -> dict[str, Any]:
    if isinstance(hello.get("stats"), dict):
        link.report(health={}, stats=hello["stats"])
    return {"terminal": link.terminal.id, "heartbeat_interval": HEARTBEAT_INTERVAL}


async def _terminal_heartbeat(link: KassaLink, data: dict[str, Any]) -> None:
    health, stats = data.get("health"), data.get("stats")
    link.report(
        health=health if isinstance(health, dict) else {},
        stats=stats if isinstance(stats, dict) else {},
    )


@router.websocket(PATH)
async def terminal_socket(websocket: WebSocket) -> None:
    await serve_link(
        websocket,
        websocket.app.state.terminals,
        kind=DeviceKind.TERMINAL,
        welcome=_terminal_welcome,
        heartbeat=_terminal_heartbeat,
    )


async def serve_link(
    websocket: WebSocket,
    hub: DeviceHub,
    *,
    kind: DeviceKind,
    welcome: Welcome,
    heartbeat: Heartbeat,
    detached: Detached | None = None,
) -> None:
    """One agent's connection, from its token to its end: authenticated as a device of
    `kind`, attached to `hub` on its `hello`, then its frames: heartbeats to `heartbeat`,
    acks, results and statuses of operations to the hub."""
    ctx: Context = websocket.app.state.ctx
    try:
        terminal = await authenticate(ctx, token_of(websocket), kind)
    except KassaError as error:
        status, code = refusal(error)
        await websocket.send_denial_response(
            JSONResponse(error_body(code, error.message), status_code=status)
        )
        return
    await websocket.accept()
    link = KassaLink(terminal, websocket)
    attached = False
    try:
        hello = await asyncio.wait_for(websocket.receive_text(), HELLO_TIMEOUT)
        try:
            first = Frame.decode(hello)
        except FrameError:
            first = None
        if first is None or first.type != MessageType.HELLO:
            await websocket.close(CloseCode.PROTOCOL_ERROR, "The first message must be hello")
            return
        data = first.data
        await hub.attach(link, version=str(data.get("version") or "") or None)
        attached = True
        greeting = await welcome(link, data)
        await link.send(MessageType.WELCOME, greeting | {"server_time": timestamp(ctx.clock())})
        await hub.ask_unanswered([link])
        while True:
            try:
                frame = Frame.decode(await websocket.receive_text())
            except FrameError as error:
                await link.send(
                    MessageType.ERROR,
                    {
                        "code": ErrorCode.MALFORMED,
                        "message": f"Expected {{type, data}} JSON: {error}",
                    },
                )
                continue
            if frame.type == MessageType.HEARTBEAT:
                await heartbeat(link, frame.data)
            else:
                await _handle(hub, link, frame)
    except (WebSocketDisconnect, ConnectionError, TimeoutError):
        pass  # the agent went, or the hub cut the connection (its right to connect is gone)
    except RuntimeError as error:
        # What Starlette raises for a receive after the hub closed the connection; said, so
        # that a fault of another kind does not end a connection without a word.
        log.info("%s %s: connection ended: %s", hub.noun, link.terminal.id, error)
    finally:
        await hub.detach(link)
        if attached and detached is not None:
            detached(link)


async def _handle(hub: DeviceHub, link: KassaLink, frame: Frame) -> None:
    terminal, kind, data = link.terminal, frame.type, frame.data
    request_id = data.get("request_id")
    if not isinstance(request_id, str):
        return  # unknown types, and messages about no request, are ignored
    elif kind == MessageType.ACK:
        await terminal_operations.record_ack(
            hub.ctx, shop_id=terminal.shop_id, device_id=terminal.id, request_id=request_id
        )
    elif kind == MessageType.RESULT:
        await _take_result(hub, link, request_id, data)
    elif kind == MessageType.STATUS and data.get("state") == OperationStatus.NOT_FOUND:
        # The agent has no record of an operation it acknowledged (its journal was lost):
        # whether it ran is unknown, and it must not be sent again.
        await hub.record_result(
            link,
            request_id,
            ok=False,
            body=None,
            error=OperationError(
                ResultCode.AGENT_LOST_RECORD,
                "The terminal's agent has no record of this operation",
                unknown=True,
            ),
        )


async def _take_result(
    hub: DeviceHub, link: KassaLink, request_id: str, data: dict[str, Any]
) -> None:
    ok = data.get("ok") is True
    body = data.get("body")
    error = None
    if not ok:
        given = data.get("error")
        raw: dict[str, Any] = given if isinstance(given, dict) else {}
        status = raw.get("status")
        error = OperationError(
            code=str(raw.get("code") or ResultCode.FAILED)[:64],
            message=str(raw.get("message") or ""),
            unknown=raw.get("unknown") is not False,
            status=status if isinstance(status, int) else None,
        )
    recorded = await hub.record_result(
        link,
        request_id,
        ok=ok,
        body=body if isinstance(body, dict) else ({"value": body} if body is not None else None),
        error=error,
    )
    log.info(
        "request_id=%s result from %s %s: %s",
        request_id,
        hub.noun,
        link.terminal.id,
        "ok" if ok else error.code if error else "failed",
    )
    if recorded is not None:
        # Acknowledged also when it was a repeat: the agent may forget it now.
        await link.send(MessageType.ACK, {"request_id": request_id})
