"""`/terminals/ws`: Kassa's own protocol with `kassa agent` (docs/terminal-protocol.md)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from kassa.domain import KassaError
from kassa.domain.terminals import AgentKind, Operation, OperationError, Terminal
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
from kassa.services.objects import timestamp
from kassa.web.errors import error_body
from kassa.web.terminals.hub import (
    Link,
    TerminalHub,
    authenticate,
    refusal,
    token_of,
)

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

    async def send(self, kind: MessageType, data: dict[str, Any]) -> None:
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


@router.websocket(PATH)
async def terminal_socket(websocket: WebSocket) -> None:
    ctx: Context = websocket.app.state.ctx
    hub: TerminalHub = websocket.app.state.terminals
    try:
        terminal = await authenticate(ctx, token_of(websocket))
    except KassaError as error:
        status, code = refusal(error)
        await websocket.send_denial_response(
            JSONResponse(error_body(code, error.message), status_code=status)
        )
        return
    await websocket.accept()
    link = KassaLink(terminal, websocket)
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
        await link.send(
            MessageType.WELCOME,
            {
                "terminal": terminal.id,
                "heartbeat_interval": HEARTBEAT_INTERVAL,
                "server_time": timestamp(ctx.clock()),
            },
        )
        if isinstance(data.get("stats"), dict):
            link.report(health={}, stats=data["stats"])
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
            await _handle(hub, link, frame)
    except (WebSocketDisconnect, ConnectionError, TimeoutError):
        pass  # the agent went, or the hub cut the connection (its right to connect is gone)
    except RuntimeError as error:
        # What Starlette raises for a receive after the hub closed the connection; said, so
        # that a fault of another kind does not end a connection without a word.
        log.info("terminal %s: connection ended: %s", link.terminal.id, error)
    finally:
        await hub.detach(link)


async def _handle(hub: TerminalHub, link: KassaLink, frame: Frame) -> None:
    terminal, kind, data = link.terminal, frame.type, frame.data
    request_id = data.get("request_id")
    if kind == MessageType.HEARTBEAT:
        health, stats = data.get("health"), data.get("stats")
        link.report(
            health=health if isinstance(health, dict) else {},
            stats=stats if isinstance(stats, dict) else {},
        )
    elif not isinstance(request_id, str):
        return  # unknown types, and messages about no request, are ignored
    elif kind == MessageType.ACK:
        await terminal_operations.record_ack(
            hub.ctx, shop_id=terminal.shop_id, terminal_id=terminal.id, request_id=request_id
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
    hub: TerminalHub, link: KassaLink, request_id: str, data: dict[str, Any]
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
        "request_id=%s result from terminal %s: %s",
        request_id,
        link.terminal.id,
        "ok" if ok else error.code if error else "failed",
    )
    if recorded is not None:
        # Acknowledged also when it was a repeat: the agent may forget it now.
        await link.send(MessageType.ACK, {"request_id": request_id})
