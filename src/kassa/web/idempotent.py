"""`@idempotent`: a POST route answered under its Idempotency-Key, declared once.

The route's handler is written as if it ran once: it takes `resource_id` (the id reserved
for what it creates, the same on every retry) if it needs one, and returns its document. The
decorator adds the `Idempotency-Key` header to the route, runs the handler through
`kassa.services.idempotency.run` (where the claim and the replay are, for every front-end),
and answers the document as JSON with the route's status, or the stored answer of an earlier
run with `Idempotent-Replayed: true`. Domain errors are answered (and stored) as the API's
error bodies. What the handler's service writes through `idempotency.transaction` commits
together with the stored answer, so the handler shapes its document without waiting on I/O.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, get_type_hints

from fastapi import Request, Response

from kassa.domain import KassaError
from kassa.services import idempotency
from kassa.services.idempotency import Answer
from kassa.web.deps import CallerDep, ContextDep, IdempotencyKey
from kassa.web.errors import error_body, json_bytes, status_of

Handler = Callable[..., Awaitable[dict[str, Any]]]
Endpoint = Callable[..., Awaitable[Response]]

#: The parameter through which a handler gets the id reserved for it.
RESOURCE_ID = "resource_id"
#: What the decorator needs besides the handler's own parameters: the request, the context and
#: the caller (taken from the handler's parameters of the same type if it declares them, so
#: that FastAPI solves each once; else added under these names), and the key.
_NEEDED = {
    "request": inspect.Parameter(
        "_idempotent_request", inspect.Parameter.KEYWORD_ONLY, annotation=Request
    ),
    "ctx": inspect.Parameter(
        "_idempotent_ctx", inspect.Parameter.KEYWORD_ONLY, annotation=ContextDep
    ),
    "caller": inspect.Parameter(
        "_idempotent_caller", inspect.Parameter.KEYWORD_ONLY, annotation=CallerDep
    ),
}
_KEY = inspect.Parameter(
    "idempotency_key", inspect.Parameter.KEYWORD_ONLY, annotation=IdempotencyKey, default=None
)


def _refused(exc: KassaError) -> Answer:
    return Answer(status_of(exc), json_bytes(error_body(exc.code, exc.message, exc.param)))


def _json(answer: Answer, *, replayed: bool) -> Response:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return Response(answer.body, answer.status, media_type="application/json", headers=headers)


def idempotent(
    *, status: int = 200, prefix: str = "req", secret: bool = False
) -> Callable[[Handler], Endpoint]:
    """Answer the handler's document with `status`, at most one run per Idempotency-Key.
    `prefix` is the kind of id reserved for a created object (`pay`); `secret` stores an
    answer that shows a secret once (a signing secret, a token) encrypted."""

    def decorate(handler: Handler) -> Endpoint:
        hints = get_type_hints(handler, include_extras=True)
        declared = inspect.signature(handler).parameters
        takes_id = RESOURCE_ID in declared
        # Real types, not the handler module's strings: the signature is FastAPI's to read.
        kept = [
            parameter.replace(annotation=hints[parameter.name])
            for parameter in declared.values()
            if parameter.name != RESOURCE_ID
        ]
        # The handler's own parameter for each need, or one added (and not passed on to it).
        names: dict[str, str] = {}
        added: list[inspect.Parameter] = []
        for need, parameter in _NEEDED.items():
            own = next((p.name for p in kept if p.annotation == parameter.annotation), None)
            names[need] = own or parameter.name
            if own is None:
                added.append(parameter)
        dropped = [parameter.name for parameter in added]
        added.append(_KEY)

        @functools.wraps(handler)
        async def endpoint(**values: Any) -> Response:
            request: Request = values[names["request"]]
            ctx = values[names["ctx"]]
            caller = values[names["caller"]]
            key: str | None = values.pop(_KEY.name)
            for name in dropped:
                del values[name]

            async def action(resource_id: str) -> Answer:
                reserved = {RESOURCE_ID: resource_id} if takes_id else {}
                return Answer(status, json_bytes(await handler(**values, **reserved)))

            # Only a key is compared by the request's fingerprint: without one, none is made.
            fingerprint = (
                idempotency.fingerprint(request.method, request.url.path, await request.body())
                if key is not None
                else ""
            )
            outcome = await idempotency.run(
                ctx,
                caller,
                key,
                fingerprint=fingerprint,
                prefix=prefix,
                action=action,
                refused=_refused,
                secret=secret,
            )
            return _json(outcome.answer, replayed=outcome.replayed)

        endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [*kept, *added], return_annotation=Response
        )
        return endpoint

    return decorate
