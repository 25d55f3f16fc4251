"""`/hooks/{provider}/{shop}[/{kind}]`: where providers send their notifications.

The busiest route, so it is a plain ASGI endpoint (`HookRoute`) placed before Kassa's
routers: FastAPI's request handling (dependency solving, the request and response wrappers,
the included routers it walks) was about a sixth of a notification's CPU (`bench/ingest.py`),
and the route needs none of it: it reads its path parts as plain strings and hands the raw
bytes over. It is still a route of the app, behind the same middleware as every other one
(the body limit's 413, the refusal of NUL, the security headers, the request metrics) and the
same error handlers, which turn what it raises (404, 405) into Kassa's error document.

Rejected notifications are limited per sender (`KASSA_REJECTED_NOTIFICATION_LIMIT` a minute
per client address, an IPv6 client's /64, as `KASSA_TRUSTED_PROXIES` makes it known): past
that they are answered 429 and not stored, so nobody can fill the disk through `/hooks`. The
limit is taken only once a notification has been rejected, so a verified one is never
limited, whoever else sends from its address or proxy. Every rejection counts alike, whether
the shop or the provider exists or not, so that the limit says no more than the answers do
about which shops exist.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from kassa.domain import RateLimited
from kassa.services import providers as provider_state
from kassa.services.catalog import PROVIDERS, InboundRequest, Verdict
from kassa.services.context import Context
from kassa.services.notifications import inbound as notifications
from kassa.services.providers import Received
from kassa.web.errors import error_response
from kassa.web.metrics import Metrics
from kassa.web.ratelimit import RateLimiter, client_network

PATHS = ("/hooks/{provider}/{shop}", "/hooks/{provider}/{shop}/{kind}")
METHODS = ("GET", "POST")


class HookRoute(Route):
    """A route of `PATHS` to the app's `HookEndpoint`. Like FastAPI's routes it puts itself in
    the scope (`scope["route"]`), where the request metrics read its path template; it takes
    GET and POST only (no implicit HEAD, as before it was a plain route)."""

    def __init__(self, path: str, endpoint: HookEndpoint) -> None:
        super().__init__(
            path, endpoint, methods=list(METHODS), name="hook", include_in_schema=False
        )
        self.methods = set(METHODS)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


class HookEndpoint:
    """The ASGI endpoint of the hook routes of one app: hand the raw request to ingestion
    (bytes first: signatures are over raw bytes) and answer in the provider's own format."""

    def __init__(self, app: FastAPI) -> None:
        self._state = app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = await self._answer(scope, receive)
        if isinstance(answer, Response):
            await answer(scope, receive, send)
            return
        status, headers, body = answer
        await send({"type": "http.response.start", "status": status, "headers": list(headers)})
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, scope: Scope, receive: Receive) -> Response | _Reply:
        """The provider's reply to the notification, or Kassa's own answer (429)."""
        state = self._state
        path_params: dict[str, str] = scope["path_params"]
        provider = path_params["provider"]
        # The peer, or the client a trusted proxy names (see KASSA_TRUSTED_PROXIES).
        client = scope.get("client")
        source_ip: str | None = client[0] if client else None
        limiter: RateLimiter = state.rejected_notifications
        wait = 0

        def may_store_rejected() -> bool:
            nonlocal wait
            wait = limiter.take(client_network(source_ip))
            return wait == 0

        cls = PROVIDERS.get(provider)
        if cls is None or not cls.sends_notifications():
            if not may_store_rejected():
                return self._too_many(wait)
            raise HTTPException(404, f"No provider called {provider!r} sends notifications")
        inbound = InboundRequest(
            method=scope["method"],
            headers=_headers(scope),
            body=await Request(scope, receive).body(),
            query=scope.get("query_string", b"").decode(errors="replace"),
            kind=path_params.get("kind"),
            source_ip=source_ip,
        )
        ctx: Context = state.ctx
        result = await notifications.receive(
            ctx,
            provider=provider,
            shop_ref=path_params["shop"],
            request=inbound,
            may_store_rejected=may_store_rejected,
        )
        if result.limited:
            return self._too_many(wait)
        metrics: Metrics = state.metrics
        metrics.count_notification(provider, result.verdict.value)
        if provider_state.answers(provider):
            received = Received(inbound, result.verdict, result.notification_id, result.check)
            own = await provider_state.answer(ctx, provider, received)
            if own is not None:
                return Response(own.body, own.status_code, media_type=own.media_type)
        return _reply(provider, result.verdict, result.answer, result.check)

    def _too_many(self, wait: int) -> Response:
        """429, the same for every path: the sender has had too many notifications rejected."""
        self._state.metrics.notifications_limited.inc()
        message = f"Too many rejected notifications from this address; retry in {wait} s"
        return error_response(RateLimited(message, retry_after=wait))


def install(app: FastAPI) -> None:
    """Put the hook routes first among `app`'s routes (ahead of FastAPI's own, too)."""
    endpoint = HookEndpoint(app)
    app.router.routes[0:0] = [HookRoute(path, endpoint) for path in PATHS]


#: A reply as it is sent: status, raw headers, body.
_Reply = tuple[int, tuple[tuple[bytes, bytes], ...], bytes]


@lru_cache(maxsize=256)
def _reply(provider: str, verdict: Verdict, answer: str, check: Any) -> _Reply:
    """The provider's reply (`Provider.reply`), with the headers Starlette's `Response` gives
    it. It depends on nothing else, so it is kept: most notifications get one of a few. (A
    provider whose answer reads Kassa's records answers through its state module instead:
    `kassa.services.providers`, its `answer`.)"""
    reply = PROVIDERS[provider].reply(verdict, answer, check)
    response = Response(reply.body, reply.status_code, media_type=reply.media_type)
    return response.status_code, tuple(response.raw_headers), reply.body


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name (the server gives them so); one sent more than
    once has its values joined by ", " as HTTP reads them, so a doubled signature matches
    nothing rather than whichever copy came first or last."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers
