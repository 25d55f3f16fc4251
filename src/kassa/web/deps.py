"""Dependencies of the API routes, named once: the context, the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kassa.domain import AuthenticationFailed
from kassa.services.context import Context
from kassa.services.idempotency import MAX_KEY_LENGTH, WAIT_SECONDS
from kassa.services.pagination import MAX_LIMIT
from kassa.services.shops import keys
from kassa.services.shops.keys import Caller

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

IDEMPOTENCY_RULES = (
    f"Makes retrying this POST safe. 1-{MAX_KEY_LENGTH} printable ASCII characters naming the "
    "operation in your system (an order number, a UUID); keys belong to the API key's shop and "
    "mode. A retry with the same key, method, path and JSON body gets the first answer again "
    "(its status and body, errors of Kassa's rules included) with `Idempotent-Replayed: true`, "
    "and nothing runs twice. The same key with another request: `409 idempotency_key_reused`. "
    f"While the first request still runs, a retry waits up to {WAIT_SECONDS:.0f} s for it, then "
    "replays its answer or answers `409 idempotency_key_in_use`. After `502 "
    "provider_unavailable` or `500` the key stays open: a retry runs again under the same "
    "object id, so the provider cannot act twice. Requests refused before they run (invalid "
    "JSON or parameters, a bad API key, the rate limit) do not use a key up. A key lasts "
    "KASSA_IDEMPOTENCY_TTL_HOURS (24 by default) from its first use, then counts as new."
)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=r"^[ -~]+$",
        description=IDEMPOTENCY_RULES,
    ),
]

StartingAfter = Annotated[
    str | None,
    Query(
        description="The id of the last object you got: list the ones older than it. "
        "Absent or empty: from the newest."
    ),
]

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="How many objects, 1-100.")]
