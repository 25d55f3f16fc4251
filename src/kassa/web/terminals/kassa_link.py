"""`/terminals/ws`: Kassa's own protocol with `kassa agent` (docs/terminal-protocol.md)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from kassa.domain import KassaError
from kassa.domain.terminals import AgentKind, Operation, OperationError, Terminal
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

    async def send(self, kind: str, data: dict[str, Any]) -> None:
        async with self._sending:
            await self.websocket.send_text(
                json.dumps({"type": kind, "data": data}, separators=(",", ":"), default=str)
            )

    async def deliver(self, operation: Operation) -> None:
        await self.send(
            "operation",
            {
                "request_id": operation.request_id,
                "kind": operation.kind,
                "body": dict(operation.body),
                "deadline": timestamp(operation.deadline),
                "method": operation.method,
            },
        )

    async def query(self, request_id: str) -> None:
        await self.send("status_query", {"request_id": request_id})

    async def close(self, code: int, reason: str) -> None:
        await self.websocket.close(code, reason)


@router.websocket("/terminals/ws")
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
        message = _parse(hello)
        if message is None or message[0] != "hello":
            await websocket.close(1002, "The first message must be hello")
            return
        data = message[1]
        await hub.attach(link, version=str(data.get("version") or "") or None)
        await link.send(
            "welcome",
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
            message = _parse(await websocket.receive_text())
            if message is None:
                await link.send(
                    "error", {"code": "malformed", "message": "Expected {type, data} JSON"}
                )
                continue
            await _handle(hub, link, *message)
    except (WebSocketDisconnect, ConnectionError, TimeoutError):
        pass  # the agent went, or the hub cut the connection (its right to connect is gone)
    except RuntimeError as error:
        # What Starlette raises for a receive after the hub closed the connection; said, so
        # that a fault of another kind does not end a connection without a word.
        log.info("terminal %s: connection ended: %s", link.terminal.id, error)
    finally:
        await hub.detach(link)


def _parse(text: str) -> tuple[str, dict[str, Any]] | None:
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return None
    data = message.get("data")
    return message["type"], data if isinstance(data, dict) else {}


async def _handle(hub: TerminalHub, link: KassaLink, kind: str, data: dict[str, Any]) -> None:
    terminal = link.terminal
    request_id = data.get("request_id")
    if kind == "heartbeat":
        health, stats = data.get("health"), data.get("stats")
        link.report(
            health=health if isinstance(health, dict) else {},
            stats=stats if isinstance(stats, dict) else {},
        )
    elif not isinstance(request_id, str):
        return  # unknown types, and messages about no request, are ignored
    elif kind == "ack":
        await terminal_operations.record_ack(
            hub.ctx, shop_id=terminal.shop_id, terminal_id=terminal.id, request_id=request_id
        )
    elif kind == "result":
        await _take_result(hub, link, request_id, data)
    elif kind == "status" and data.get("state") == "not_found":
        # The agent has no record of an operation it acknowledged (its journal was lost):
        # whether it ran is unknown, and it must not be sent again.
        await hub.record_result(
            link,
            request_id,
            ok=False,
            body=None,
            error=OperationError(
                "agent_lost_record",
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
            code=str(raw.get("code") or "failed")[:64],
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
        await link.send("ack", {"request_id": request_id})
