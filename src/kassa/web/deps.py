"""Dependencies of the API routes, named once: the context, the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kassa.domain import AuthenticationFailed
from kassa.services import keys
from kassa.services.context import Context
from kassa.services.keys import Caller

_bearer = HTTPBearer(auto_error=False, description="Your API key: sk_test_… or sk_live_…")


async def get_context(request: Request) -> Context:
    # async: a plain `def` dependency would be run in the thread pool on every request.
    context: Context = request.app.state.ctx
    return context


ContextDep = Annotated[Context, Depends(get_context)]


async def get_caller(
    request: Request,
    ctx: ContextDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The shop and mode of the API key in `Authorization: Bearer …`, within its rate limit."""
    if credentials is None:
        raise AuthenticationFailed(
            "Send your API key as 'Authorization: Bearer sk_…'", code="authentication_required"
        )
    caller = await keys.authenticate(ctx, credentials.credentials)
    request.app.state.limiter.check(caller.key_id)
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Makes a retried POST safe: the same key and body replay the first answer.",
    ),
]
