"""`/hooks/{provider}/{shop}[/{kind}]`: where providers send their notifications.

Rejected notifications are limited per sender (`KASSA_REJECTED_NOTIFICATION_LIMIT` a minute
per client address, an IPv6 client's /64, as `KASSA_TRUSTED_PROXIES` makes it known): past
that they are answered 429 and not stored, so nobody can fill the disk through `/hooks`. The
limit is taken only once a notification has been rejected, so a verified one is never
limited, whoever else sends from its address or proxy. Every rejection counts alike, whether
the shop or the provider exists or not, so that the limit says no more than the answers do
about which shops exist.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from kassa.domain import RateLimited
from kassa.services.catalog import PROVIDERS, InboundRequest
from kassa.services.context import Context
from kassa.services.notifications import inbound as notifications
from kassa.web.errors import error_response
from kassa.web.ratelimit import RateLimiter, client_network

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
    # The peer, or the client a trusted proxy names (see KASSA_TRUSTED_PROXIES).
    source_ip = request.client.host if request.client else None
    limiter: RateLimiter = request.app.state.rejected_notifications
    sender = client_network(source_ip)
    wait = 0

    def may_store_rejected() -> bool:
        nonlocal wait
        wait = limiter.take(sender)
        return wait == 0

    cls = PROVIDERS.get(provider)
    if cls is None or not cls.sends_notifications():
        if not may_store_rejected():
            return _too_many(request, wait)
        raise HTTPException(404, f"No provider called {provider!r} sends notifications")
    inbound = InboundRequest(
        method=request.method,
        headers=_headers(request),
        body=await request.body(),
        query=request.url.query,
        kind=kind,
        source_ip=source_ip,
    )
    result = await notifications.receive(
        ctx,
        provider=provider,
        shop_ref=shop,
        request=inbound,
        may_store_rejected=may_store_rejected,
    )
    if result.limited:
        return _too_many(request, wait)
    request.app.state.metrics.notifications.labels(provider, result.verdict.value).inc()
    reply = cls.reply(result.verdict, result.answer, result.check)
    return Response(reply.body, reply.status_code, media_type=reply.media_type)


def _headers(request: Request) -> dict[str, str]:
    """The request's headers by lower-case name; one sent more than once has its values
    joined by ", " as HTTP reads them, so a doubled signature matches nothing rather than
    whichever copy came first or last."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():  # Starlette's names are lower-case already
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _too_many(request: Request, wait: int) -> Response:
    """429, the same for every path: the sender has had too many notifications rejected."""
    request.app.state.metrics.notifications_limited.inc()
    message = f"Too many rejected notifications from this address; retry in {wait} s"
    return error_response(RateLimited(message, retry_after=wait))
