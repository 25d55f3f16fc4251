"""`/hooks/{provider}/{shop}[/{kind}]`: where providers send their notifications."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from kassa.providers import PROVIDERS, InboundRequest
from kassa.services import notifications
from kassa.services.context import Context

router = APIRouter(include_in_schema=False)


@router.api_route("/hooks/{provider}/{shop}", methods=["GET", "POST"])
@router.api_route("/hooks/{provider}/{shop}/{kind}", methods=["GET", "POST"])
async def hook(request: Request) -> Response:
    """Hand the raw request to ingestion (bytes first: signatures are over raw bytes) and
    answer in the provider's own format. The path's parts are read from the request rather
    than declared as parameters: on the busiest route, FastAPI's validation of them was a
    tenth of a notification's CPU (`bench/ingest.py`); they are plain strings anyway."""
    ctx: Context = request.app.state.ctx
    provider: str = request.path_params["provider"]
    shop: str = request.path_params["shop"]
    kind: str | None = request.path_params.get("kind")
    cls = PROVIDERS.get(provider)
    if cls is None or not cls.sends_notifications():
        raise HTTPException(404, f"No provider called {provider!r} sends notifications")
    inbound = InboundRequest(
        method=request.method,
        headers={name.lower(): value for name, value in request.headers.items()},
        body=await request.body(),
        query=request.url.query,
        kind=kind,
        # The peer, or the client a trusted proxy names (see KASSA_TRUSTED_PROXIES).
        source_ip=request.client.host if request.client else None,
    )
    result = await notifications.receive(ctx, provider=provider, shop_ref=shop, request=inbound)
    request.app.state.metrics.notifications.labels(provider, result.verdict.value).inc()
    reply = cls.reply(result.verdict, result.answer, result.check)
    return Response(reply.body, reply.status_code, media_type=reply.media_type)
