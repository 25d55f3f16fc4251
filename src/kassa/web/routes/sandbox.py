"""The sandbox acquirer's pages and API (the embedded test provider's side, not Kassa's API)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Request, Response
from fastapi.responses import HTMLResponse

from kassa.services.payments import sandbox_acquirer as acquirer
from kassa.services.payments import sandbox_api
from kassa.services.payments.sandbox_acquirer import AcquirerError, PayerAction
from kassa.services.payments.sandbox_api import ApiRequest
from kassa.web.deps import ContextDep
from kassa.web.i18n import negotiate
from kassa.web.templating import Pages

pages = APIRouter(prefix="/sandbox/checkout", include_in_schema=False)
api = APIRouter(prefix=sandbox_api.PREFIX, include_in_schema=False)


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


def install(app: FastAPI) -> None:
    """Mount the sandbox's pages and API."""
    app.include_router(pages)
    app.include_router(api)


@api.api_route("/{path:path}", methods=["GET", "POST"])
async def call(request: Request, ctx: ContextDep) -> Response:
    """The acquirer's API over HTTP: everything under `/sandbox/api` is answered by
    `sandbox_api.answer`, the one definition, which `kassa serve`'s own sandbox provider calls
    in-process (`sandbox_api.in_process`)."""
    answer = await sandbox_api.answer(
        ctx,
        ApiRequest(
            method=request.method,
            path=request.url.path.removeprefix(sandbox_api.PREFIX),
            authorization=request.headers.get("authorization"),
            idempotence_key=request.headers.get("idempotence-key"),
            body=await request.body(),
        ),
    )
    return Response(answer.body, answer.status, media_type="application/json")
