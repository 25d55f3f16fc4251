"""`POST /send`: the kiosk backends' call of the ws-gateway server, relaying one request to a
kiosk and answering with the kiosk's reply (../shared/reference/kiosk-protocols.md; operators'
view: docs/terminals.md).

What is relayed here is only relayed: a `payment` sent through `/send` is not a Kassa payment
(no payment row, no webhook). Merchants who want one use `POST /v1/payments` with the
`terminal` provider.

The answers are the old server's, HTTP 200 with `{"status": "error", "error": …}` for a kiosk
that is unknown, disabled, offline or silent, because the backends read them that way.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from kassa.domain import (
    Conflict,
    NotFound,
    OperationTimedOut,
    ParameterInvalid,
    Shop,
    TerminalUnavailable,
)
from kassa.domain.terminals import Operation, Terminal, check_kind
from kassa.protocol.terminal import PAYMENT_KIND
from kassa.services.context import Context
from kassa.services.devices import terminals
from kassa.web.deps import ContextDep, get_caller
from kassa.web.schemas import ERRORS
from kassa.web.terminals.hub import TerminalHub

router = APIRouter(tags=["terminals"])

_bearer = HTTPBearer(auto_error=False, description="The shop's API key: sk_test_… or sk_live_…")

#: The operation kind when `Header-Operation-Type` is absent: the backends send payments.
DEFAULT_KIND = PAYMENT_KIND
METHOD = re.compile(r"[A-Z]{1,8}")
#: `error` codes of the old server for a kiosk that cannot take the request.
UNAVAILABLE = {"terminal_disabled": "kiosk_disabled", "terminal_offline": "kiosk_offline"}


def legacy_error(error: str, *, status_code: int = 200, **fields: Any) -> JSONResponse:
    return JSONResponse({"status": "error", "error": error, **fields}, status_code=status_code)


class LegacyError(BaseModel):
    """The old server's error shape (also answered with 200, for a kiosk that cannot take
    the request)."""

    model_config = ConfigDict(extra="allow")

    status: Literal["error"]
    error: str = Field(examples=["missing_header", "kiosk_offline"])
    message: str | None = None


@router.post(
    "/send",
    summary="Relay a request to a kiosk (the ws-gateway server's call)",
    response_model=None,
    responses={
        200: {"description": "The kiosk's reply, or the old server's error shape"},
        400: {
            "model": LegacyError,
            "description": "No Header-Kiosk-Id, or a body not a JSON object",
        },
        **{status: ERRORS[status] for status in (401, 422, 429)},
    },
)
async def send_to_kiosk(
    request: Request,
    *,
    ctx: ContextDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    kiosk_id: Annotated[str | None, Header(alias="Header-Kiosk-Id")] = None,
    operation_type: Annotated[str | None, Header(alias="Header-Operation-Type")] = None,
    http_method: Annotated[str | None, Header(alias="Header-Http-Method")] = None,
    method: Annotated[str | None, Header(alias="Header-Method")] = None,
) -> JSONResponse:
    """Send the JSON body to the kiosk `Header-Kiosk-Id` as an operation of kind
    `Header-Operation-Type` (default `payment`) and answer with the kiosk's reply."""
    shop = await _shop(request, ctx, credentials)
    if not kiosk_id:
        return legacy_error(
            "missing_header", status_code=400, message="Header-Kiosk-Id is required"
        )
    body = await _body(request)
    if body is None:
        return legacy_error(
            "invalid_json", status_code=400, message="The request body must be a JSON object"
        )
    kind = check_kind(operation_type or DEFAULT_KIND)
    verb = (http_method or method or "POST").upper()
    if not METHOD.fullmatch(verb):
        raise ParameterInvalid("Header-Http-Method is not an HTTP method", param="method")
    terminal = await _terminal(ctx, kiosk_id, shop)
    if terminal is None:
        return legacy_error("kiosk_not_found", kiosk_id=kiosk_id)
    hub: TerminalHub = request.app.state.terminals
    try:
        operation = await hub.relay(
            shop_id=terminal.shop_id, terminal_id=terminal.id, kind=kind, body=body, method=verb
        )
    except TerminalUnavailable as error:
        return legacy_error(UNAVAILABLE.get(error.code, "kiosk_offline"), kiosk_id=kiosk_id)
    except OperationTimedOut as error:
        # `TerminalHub.relay`'s error does not carry the operation's id yet (null until it
        # does); the id is in Kassa's log ("request_id=… sending …").
        return legacy_error("timeout", kiosk_id=kiosk_id, request_id=error.request_id)
    return JSONResponse(_answer(operation))


async def _shop(
    request: Request, ctx: Context, credentials: HTTPAuthorizationCredentials | None
) -> Shop | None:
    """The API key's shop; `None` (any shop) for a call without a key when
    `legacy_send_unauthenticated` allows it. A key that is sent is always checked."""
    if credentials is None and ctx.settings.legacy_send_unauthenticated:
        return None
    return (await get_caller(request, ctx, credentials)).shop


async def _body(request: Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.body())
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


async def _terminal(ctx: Context, kiosk_id: str, shop: Shop | None) -> Terminal | None:
    """The kiosk in the key's shop or, without a key, in the one shop that has such an id."""
    try:
        return await terminals.find_terminal(ctx, terminal_id=kiosk_id, shop=shop)
    except (NotFound, Conflict):
        return None


def _answer(operation: Operation) -> dict[str, Any]:
    """The kiosk's reply as ws_client sent it (with the `request_id`), or the old server's
    error shape for an operation that failed."""
    if operation.result is not None and operation.error is None:
        return {**operation.result, "request_id": operation.request_id}
    code, message = "failed", ""
    if operation.error is not None:
        code, message = operation.error.code, operation.error.message
    return {
        "status": "error",
        "error": code,
        "message": message,
        "kiosk_id": operation.terminal_id,
        "request_id": operation.request_id,
    }
