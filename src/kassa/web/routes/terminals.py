"""`/v1/terminals`: a shop's terminals (kiosks), their tokens, and operations relayed to them.

Terminals belong to a shop, not to a mode: a test key and a live key of the shop see the same
terminals. A token is in the answer that made it only (add, revoke, token); Kassa keeps none
but that answer, encrypted, for Idempotency-Key replays.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from kassa.domain import NotFound, ProviderError
from kassa.domain.terminals import Operation, OperationState, Terminal
from kassa.services.context import Context
from kassa.services.devices import operations as terminal_operations
from kassa.services.devices import terminals
from kassa.services.devices.operations import MAX_TIMEOUT
from kassa.services.objects import list_object
from kassa.services.shops.keys import Caller
from kassa.web import idempotent
from kassa.web.deps import CallerDep, ContextDep, IdempotencyKey
from kassa.web.schemas import ERRORS, Body, ErrorOut
from kassa.web.terminals.hub import TerminalHub

router = APIRouter(prefix="/v1/terminals", tags=["terminals"])

#: How many operations a terminal's list shows (newest first).
RECENT_OPERATIONS = 50

#: What relaying an operation may answer besides the usual errors.
RELAY_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    409: {"model": ErrorOut, "description": "terminal_offline or terminal_disabled"},
    502: {
        "model": ErrorOut,
        "description": "The agent ran the operation and its local service failed; the code "
        "is the agent's (route_not_found, connection_refused, http_error, timeout…)",
    },
    504: {"model": ErrorOut, "description": "The terminal did not answer in time (timeout)"},
}


class TerminalCreate(Body):
    id: str = Field(
        max_length=64,
        description="The kiosk's own name, unique within the shop: 1-64 letters, digits, "
        "'_' or '-'.",
        examples=["KIOSK_001"],
    )
    name: str | None = Field(None, max_length=128, description="For people; default the id.")
    location: str | None = Field(None, max_length=255, examples=["Hall 2, by the entrance"])


class OperationCreate(Body):
    kind: str = Field(
        max_length=32,
        description="A route of the agent's routing_config.yaml: payment, fiscal, kds, print…",
        examples=["fiscal"],
    )
    body: dict[str, Any] = Field(
        default_factory=dict, description="Sent to the local service as it is."
    )
    timeout: float | None = Field(
        None,
        ge=1,
        le=MAX_TIMEOUT,
        description="Seconds to wait for the terminal's answer (default 45).",
    )
    method: Literal["POST", "GET", "PUT", "PATCH", "DELETE"] = Field(
        "POST", description="The HTTP method the agent calls its local service with."
    )


class AgentOut(BaseModel):
    kind: Literal["kassa", "ws_client", "proxy_v1"] | None = Field(
        description="The protocol the agent last connected with."
    )
    version: str | None


class TerminalOut(BaseModel):
    id: str = Field(examples=["KIOSK_001"])
    object: Literal["terminal"]
    name: str
    location: str | None
    enabled: bool
    online: bool = Field(description="Connected and heard from within the last 90 s.")
    agent: AgentOut
    connected_at: str | None
    last_seen_at: str | None
    health: dict[str, Any] = Field(description="The local services' health, per route.")
    stats: dict[str, Any] = Field(description="The agent's counters.")
    created_at: str


class TerminalWithToken(TerminalOut):
    token: str = Field(
        description="The terminal's token (a JWT) for KASSA_TERMINAL_TOKEN; shown only in "
        "this answer."
    )


class TerminalList(BaseModel):
    object: Literal["list"]
    data: list[TerminalOut]
    has_more: bool


class OperationErrorOut(BaseModel):
    code: str
    message: str
    unknown: bool = Field(description="true: the local service may have acted anyway.")


class OperationOut(BaseModel):
    id: str = Field(description="The request id the agent saw.")
    object: Literal["terminal_operation"]
    terminal: str
    kind: str
    state: Literal["queued", "sent", "accepted", "done", "unknown", "expired"]
    payment: str | None
    result: dict[str, Any] | None = Field(description="The local service's answer.")
    error: OperationErrorOut | None
    deadline: str
    created_at: str


class OperationList(BaseModel):
    object: Literal["list"]
    data: list[OperationOut]
    has_more: bool


def terminal_document(
    terminal: Terminal, now: datetime, token: str | None = None
) -> dict[str, Any]:
    document = terminals.terminal_object(terminal, now)
    return document if token is None else document | {"token": token}


def operation_document(operation: Operation) -> dict[str, Any]:
    return terminal_operations.operation_object(operation)


def _hub(request: Request) -> TerminalHub:
    hub: TerminalHub = request.app.state.terminals
    return hub


async def _terminal(ctx: Context, caller: Caller, terminal_id: str) -> Terminal:
    return await terminals.get_terminal(ctx, shop_id=caller.shop.id, terminal_id=terminal_id)


@router.post(
    "",
    status_code=201,
    summary="Add a terminal",
    responses={201: {"model": TerminalWithToken}, **ERRORS},
)
async def add_terminal(
    body: TerminalCreate,
    request: Request,
    ctx: ContextDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Add a terminal to the key's shop. The answer holds its first `token`, for the agent's
    KASSA_TERMINAL_TOKEN; it is never shown again (revoke it, or ask for another)."""

    async def run(_: str) -> dict[str, Any]:
        issued = await terminals.add_terminal(
            ctx,
            shop=caller.shop,
            terminal_id=body.id,
            name=body.name,
            location=body.location,
        )
        return terminal_document(issued.terminal, ctx.clock(), issued.token)

    return await idempotent.respond(
        request, ctx, caller, idempotency_key, prefix="req", status=201, run=run, secret=True
    )


@router.get("", summary="List terminals", response_model=TerminalList, responses=ERRORS)
async def list_terminals(ctx: ContextDep, caller: CallerDep) -> Any:
    """Every terminal of the key's shop, by id."""
    now = ctx.clock()
    found = await terminals.list_terminals(ctx, shop_id=caller.shop.id)
    return list_object([terminal_document(t, now) for t in found], has_more=False)


@router.get(
    "/{terminal_id}", summary="Get a terminal", response_model=TerminalOut, responses=ERRORS
)
async def get_terminal(terminal_id: str, ctx: ContextDep, caller: CallerDep) -> Any:
    return terminal_document(await _terminal(ctx, caller, terminal_id), ctx.clock())


@router.post(
    "/{terminal_id}/revoke",
    summary="Revoke a terminal's tokens",
    responses={200: {"model": TerminalWithToken}, **ERRORS},
)
async def revoke(
    terminal_id: str,
    request: Request,
    ctx: ContextDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Make every token of the terminal issued so far useless (a connected agent is cut off,
    close code 4401) and answer with a new one, shown only here."""

    async def run(_: str) -> dict[str, Any]:
        issued = await terminals.revoke(ctx, terminal=await _terminal(ctx, caller, terminal_id))
        return terminal_document(issued.terminal, ctx.clock(), issued.token)

    return await idempotent.respond(
        request, ctx, caller, idempotency_key, prefix="req", status=200, run=run, secret=True
    )


@router.post(
    "/{terminal_id}/token",
    summary="Issue another token",
    responses={200: {"model": TerminalWithToken}, **ERRORS},
)
async def issue_token(
    terminal_id: str,
    request: Request,
    ctx: ContextDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Another token for the terminal (shown only here); tokens issued earlier keep working
    until the terminal is revoked."""

    async def run(_: str) -> dict[str, Any]:
        terminal = await _terminal(ctx, caller, terminal_id)
        token = await terminals.issue_token(ctx, terminal=terminal)
        return terminal_document(terminal, ctx.clock(), token)

    return await idempotent.respond(
        request, ctx, caller, idempotency_key, prefix="req", status=200, run=run, secret=True
    )


async def _set_enabled(
    request: Request,
    ctx: Context,
    caller: Caller,
    idempotency_key: str | None,
    *,
    terminal_id: str,
    enabled: bool,
) -> Response:
    async def run(_: str) -> dict[str, Any]:
        terminal = await terminals.set_enabled(
            ctx, terminal=await _terminal(ctx, caller, terminal_id), enabled=enabled
        )
        return terminal_document(terminal, ctx.clock())

    return await idempotent.respond(
        request, ctx, caller, idempotency_key, prefix="req", status=200, run=run
    )


@router.post(
    "/{terminal_id}/enable",
    summary="Enable a terminal",
    responses={200: {"model": TerminalOut}, **ERRORS},
)
async def enable(
    terminal_id: str,
    request: Request,
    ctx: ContextDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Let the terminal connect and take operations again."""
    return await _set_enabled(
        request, ctx, caller, idempotency_key, terminal_id=terminal_id, enabled=True
    )


@router.post(
    "/{terminal_id}/disable",
    summary="Disable a terminal",
    responses={200: {"model": TerminalOut}, **ERRORS},
)
async def disable(
    terminal_id: str,
    request: Request,
    ctx: ContextDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Cut a connected agent off (close code 4403) and refuse its connections and operations
    until the terminal is enabled; its tokens stay valid."""
    return await _set_enabled(
        request, ctx, caller, idempotency_key, terminal_id=terminal_id, enabled=False
    )


def _answered(operation: Operation) -> Operation:
    """The operation if the terminal's local service did it; else the `ProviderError` (502)
    that carries the agent's error code, so a caller tells "Kassa could not reach the
    terminal" (409, 504) from "the terminal's service failed" (502) by the status alone."""
    if operation.state is OperationState.DONE and operation.error is None:
        return operation
    error = operation.error
    code = error.code if error else operation.state.value
    why = error.message if error else "the outcome is unknown"
    raise ProviderError(
        f"Terminal {operation.terminal_id!r} could not do {operation.kind!r} "
        f"(operation {operation.request_id}): {why}",
        code=code,
    )


@router.post(
    "/{terminal_id}/operations",
    summary="Relay an operation to a terminal",
    responses={200: {"model": OperationOut}, **RELAY_ERRORS},
)
async def relay(
    terminal_id: str,
    body: OperationCreate,
    request: Request,
    ctx: ContextDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Send an operation to the terminal's agent, which calls its local service (the route
    `kind`), and answer with the operation once the terminal has answered. A failure of the
    local service is a 502 whose code is the agent's; an offline or disabled terminal a 409;
    no answer within `timeout` a 504 (the operation stays listed; a late answer is kept)."""

    async def run(_: str) -> dict[str, Any]:
        operation = await _hub(request).relay(
            shop_id=caller.shop.id,
            terminal_id=terminal_id,
            kind=body.kind,
            body=body.body,
            answer_within=body.timeout,
            method=body.method,
        )
        return operation_document(_answered(operation))

    return await idempotent.respond(
        request, ctx, caller, idempotency_key, prefix="req", status=200, run=run
    )


@router.get(
    "/{terminal_id}/operations",
    summary="List a terminal's operations",
    response_model=OperationList,
    responses=ERRORS,
)
async def list_operations(terminal_id: str, ctx: ContextDep, caller: CallerDep) -> Any:
    """The terminal's latest 50 operations (payments' included), newest first."""
    terminal = await _terminal(ctx, caller, terminal_id)
    found = await terminal_operations.list_operations(
        ctx, shop_id=terminal.shop_id, terminal_id=terminal.id, limit=RECENT_OPERATIONS
    )
    return list_object([operation_document(o) for o in found], has_more=False)


@router.get(
    "/{terminal_id}/operations/{request_id}",
    summary="Get an operation",
    response_model=OperationOut,
    responses=ERRORS,
)
async def get_operation(
    terminal_id: str, request_id: str, ctx: ContextDep, caller: CallerDep
) -> Any:
    terminal = await _terminal(ctx, caller, terminal_id)
    operation = await terminal_operations.get_operation(
        ctx, shop_id=terminal.shop_id, request_id=request_id
    )
    if operation.terminal_id != terminal.id:
        raise NotFound(f"No terminal operation {request_id!r}", param="id")
    return operation_document(operation)
