"""The sandbox acquirer's pages and API (the embedded test provider's side, not Kassa's API)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Header, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from kassa.domain import ProviderAccount
from kassa.services.payments import sandbox_acquirer as acquirer
from kassa.services.payments.sandbox_acquirer import AcquirerError, PayerAction
from kassa.web.deps import ContextDep
from kassa.web.i18n import negotiate
from kassa.web.templating import Pages

pages = APIRouter(prefix="/sandbox/checkout", include_in_schema=False)
api = APIRouter(prefix="/sandbox/api", include_in_schema=False)


def _locale(request: Request, lang: str | None) -> str:
    return negotiate(lang, request.headers.get("accept-language"))


def _render(
    request: Request, view: acquirer.Checkout | None, locale: str, *, error: str | None = None
) -> HTMLResponse:
    status = 200 if view else 404
    pages: Pages = request.app.state.pages
    return pages.render(
        "sandbox/checkout.html", locale=locale, status_code=status, view=view, error=error
    )


@pages.get("/{sandbox_id}")
async def checkout(
    request: Request, ctx: ContextDep, sandbox_id: str, lang: str | None = None
) -> HTMLResponse:
    """The hosted test checkout page a sandbox payment's confirmation URL opens."""
    locale = _locale(request, lang)
    try:
        view = await acquirer.checkout(ctx, sandbox_id)
    except AcquirerError:
        return _render(request, None, locale)
    return _render(request, view, locale)


@pages.post("/{sandbox_id}")
async def checkout_action(
    request: Request,
    ctx: ContextDep,
    sandbox_id: str,
    action: Annotated[str, Form()],
    lang: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    """Pay, authorize or decline; the sandbox then notifies Kassa, signed."""
    locale = _locale(request, lang)
    try:
        view = await acquirer.payer_action(ctx, sandbox_id, PayerAction(action))
    except (AcquirerError, ValueError) as exc:
        try:
            view = await acquirer.checkout(ctx, sandbox_id)
        except AcquirerError:
            return _render(request, None, locale)
        message = exc.message if isinstance(exc, AcquirerError) else "unknown action"
        return _render(request, view, locale, error=message)
    return _render(request, view, locale)


async def _merchant(ctx: ContextDep, authorization: str | None) -> ProviderAccount:
    scheme, _, encoded = (authorization or "").partition(" ")
    try:
        shop_id, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        shop_id = secret = ""
    if scheme.lower() != "basic" or not shop_id:
        raise AcquirerError(401, "unauthorized", "HTTP Basic auth (shop id, secret) is required")
    return await acquirer.authenticate(ctx, shop_id=shop_id, secret=secret)


async def _document(request: Request) -> Any:
    body = await request.body()
    if not body:
        return {}
    try:
        return json.loads(body)
    except ValueError:
        raise AcquirerError(400, "invalid_json", "The body is not JSON") from None


def _failure(_request: Request, exc: Exception) -> Response:
    """The acquirer's own error shape: `{"error": {"code", "message"}}`."""
    assert isinstance(exc, AcquirerError)
    return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, exc.status)


def install(app: FastAPI) -> None:
    """Mount the sandbox's pages and API, with the acquirer's error answers."""
    app.include_router(pages)
    app.include_router(api)
    app.add_exception_handler(AcquirerError, _failure)


Auth = Annotated[str | None, Header()]


@api.post("/payments", status_code=201)
async def create(request: Request, ctx: ContextDep, authorization: Auth = None) -> Any:
    account = await _merchant(ctx, authorization)
    return await acquirer.create(ctx, account, await _document(request))


@api.get("/payments/{sandbox_id}")
async def get(ctx: ContextDep, sandbox_id: str, authorization: Auth = None) -> Any:
    account = await _merchant(ctx, authorization)
    return await acquirer.get(ctx, account, sandbox_id)


@api.post("/payments/{sandbox_id}/capture")
async def capture(
    request: Request, ctx: ContextDep, sandbox_id: str, authorization: Auth = None
) -> Any:
    account = await _merchant(ctx, authorization)
    return await acquirer.capture(ctx, account, sandbox_id, await _document(request))


@api.post("/payments/{sandbox_id}/cancel")
async def cancel(ctx: ContextDep, sandbox_id: str, authorization: Auth = None) -> Any:
    account = await _merchant(ctx, authorization)
    return await acquirer.cancel(ctx, account, sandbox_id)


@api.post("/refunds", status_code=201)
async def refund(
    request: Request,
    ctx: ContextDep,
    authorization: Auth = None,
    idempotence_key: Annotated[str | None, Header()] = None,
) -> Any:
    account = await _merchant(ctx, authorization)
    return await acquirer.refund(ctx, account, await _document(request), key=idempotence_key)
