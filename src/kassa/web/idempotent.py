"""Answering a POST under its Idempotency-Key (see `kassa.services.idempotency`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response

from kassa.domain import KassaError, ProviderUnavailable, new_id
from kassa.services import idempotency
from kassa.services.context import Context
from kassa.services.idempotency import KeyRef, StoredResponse
from kassa.services.shops.keys import Caller
from kassa.web.errors import error_body, json_bytes, status_of

Run = Callable[[str], Awaitable[dict[str, Any]]]


async def respond(
    request: Request,
    ctx: Context,
    caller: Caller,
    key: str | None,
    *,
    prefix: str,
    status: int,
    run: Run,
    secret: bool = False,
) -> Response:
    """Run `run(resource_id)` at most once per Idempotency-Key and answer `status` with its
    document, or replay the stored answer of an earlier run.

    A domain error is an answer too and is stored; an unknown outcome (provider unreachable,
    an unexpected failure) is not, and the key stays retryable with its reserved id. An
    answer that holds a `secret` (shown once, such as a signing secret) is stored encrypted.
    """
    if key is None:
        return _json(status, await run(new_id(prefix)))
    ref = KeyRef(shop_id=caller.shop.id, test=caller.test, key=key)
    request_hash = idempotency.fingerprint(request.method, request.url.path, await request.body())
    claim = await idempotency.claim(ctx, ref, request_hash=request_hash, prefix=prefix)
    if claim.replay is not None:
        return Response(
            claim.replay.body,
            claim.replay.status,
            media_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )
    try:
        document = await run(claim.resource_id)
    except ProviderUnavailable:
        await idempotency.release(ctx, ref)
        raise
    except KassaError as exc:
        status, document = status_of(exc), error_body(exc.code, exc.message, exc.param)
    except BaseException:
        await idempotency.release(ctx, ref)
        raise
    body = json_bytes(document)
    await idempotency.complete(ctx, ref, StoredResponse(status, body), secret=secret)
    return Response(body, status, media_type="application/json")


def _json(status: int, document: dict[str, Any]) -> Response:
    return Response(json_bytes(document), status, media_type="application/json")
