"""The sandbox acquirer's API, defined once, and the two ways it is reached.

`answer` is the whole API as the sandbox's merchants see it: a call (`ApiRequest`: a method,
a path under `/sandbox/api`, the `Authorization` and `Idempotence-Key` headers, a raw body)
in; a status and a JSON body out, errors as `{"error": {"code", "message"}}`. It routes,
authenticates (HTTP Basic: Kassa's shop id and the account's secret) and calls the acquirer
(`sandbox_acquirer`), which keeps its own records.

Two front doors lead to it, both thin:

- over HTTP, `web/routes/sandbox.py` serves it at `/sandbox/api` (what a CLI command's
  `SandboxProvider` calls, at `KASSA_PUBLIC_URL`);
- in the process that serves it, `in_process` hands the provider's calls to it directly:
  `SandboxProvider` builds the same call (Basic auth, JSON, `Idempotence-Key`) and reads the
  same answer, without HTTP, the app, its middleware or FastAPI (`Gateways` injects it).
  The acquirer's signed notifications still go to `/hooks/sandbox/{shop}` through the app."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kassa.domain import ProviderAccount
from kassa.providers.sandbox import ApiAnswer, ApiRequest, SandboxApi, SandboxProvider
from kassa.services.context import Context
from kassa.services.payments import sandbox_acquirer as acquirer
from kassa.services.payments.sandbox_acquirer import AcquirerError

__all__ = ["PREFIX", "ApiAnswer", "ApiRequest", "answer", "in_process"]

log = logging.getLogger(__name__)

#: Where Kassa serves the API (the provider's `default_api_url`).
PREFIX = SandboxProvider.default_api_url


def _merchant_credentials(authorization: str | None) -> tuple[str, str]:
    scheme, _, encoded = (authorization or "").partition(" ")
    try:
        shop_id, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        shop_id = secret = ""
    if scheme.lower() != "basic" or not shop_id:
        raise AcquirerError(401, "unauthorized", "HTTP Basic auth (shop id, secret) is required")
    return shop_id, secret


def _document(body: bytes) -> Any:
    if not body:
        return {}
    try:
        return json.loads(body)
    except ValueError:
        raise AcquirerError(400, "invalid_json", "The body is not JSON") from None


Handler = Callable[[Context, ProviderAccount, list[str], ApiRequest], Awaitable[Any]]


async def _create(ctx: Context, account: ProviderAccount, _: list[str], call: ApiRequest) -> Any:
    return await acquirer.create(ctx, account, _document(call.body))


async def _get(ctx: Context, account: ProviderAccount, parts: list[str], _: ApiRequest) -> Any:
    return await acquirer.get(ctx, account, parts[1])


async def _capture(
    ctx: Context, account: ProviderAccount, parts: list[str], call: ApiRequest
) -> Any:
    return await acquirer.capture(ctx, account, parts[1], _document(call.body))


async def _cancel(ctx: Context, account: ProviderAccount, parts: list[str], _: ApiRequest) -> Any:
    return await acquirer.cancel(ctx, account, parts[1])


async def _refund(ctx: Context, account: ProviderAccount, _: list[str], call: ApiRequest) -> Any:
    document = _document(call.body)
    return await acquirer.refund(ctx, account, document, key=call.idempotence_key)


#: The routes: (method, the path's shape with `*` for an id) → the status of success and the
#: handler, which gets the path's parts.
ROUTES: dict[tuple[str, tuple[str, ...]], tuple[int, Handler]] = {
    ("POST", ("payments",)): (201, _create),
    ("GET", ("payments", "*")): (200, _get),
    ("POST", ("payments", "*", "capture")): (200, _capture),
    ("POST", ("payments", "*", "cancel")): (200, _cancel),
    ("POST", ("refunds",)): (201, _refund),
}


def _route(method: str, path: str) -> tuple[list[str], int, Handler]:
    parts = path.strip("/").split("/")
    shape = tuple("*" if index == 1 else part for index, part in enumerate(parts))
    if all(parts):
        if route := ROUTES.get((method, shape)):
            return parts, *route
        if any(known == shape for _, known in ROUTES):
            raise AcquirerError(405, "method_not_allowed", f"{method} is not allowed here")
    raise AcquirerError(404, "not_found", "No such API endpoint")


async def answer(ctx: Context, call: ApiRequest) -> ApiAnswer:
    """The API's answer to `call`: routed (404, 405), then the merchant authenticated (401),
    then the body read and the acquirer asked."""
    try:
        parts, status, handler = _route(call.method, call.path)
        shop_id, secret = _merchant_credentials(call.authorization)
        account = await acquirer.authenticate(ctx, shop_id=shop_id, secret=secret)
        document = await handler(ctx, account, parts, call)
    except AcquirerError as exc:
        status, document = exc.status, {"error": {"code": exc.code, "message": exc.message}}
    return ApiAnswer(status, json.dumps(document).encode())


#: What the API answers in-process when the acquirer fails unexpectedly (as the HTTP route
#: does, through Kassa's error handler).
_FAILED = ApiAnswer(
    500, json.dumps({"error": {"code": "internal_error", "message": "The sandbox failed"}}).encode()
)


def in_process(context: Callable[[], Context]) -> SandboxApi:
    """The API answered in this process, for the sandbox provider (`Gateways` gives it): no
    HTTP, no app. `context` gives the running `Context` (made after the `Gateways`). An
    unexpected failure answers 500, which the provider reads as `ProviderUnavailable`."""

    async def call(request: ApiRequest) -> ApiAnswer:
        try:
            return await answer(context(), request)
        except Exception:
            log.exception("the sandbox acquirer failed on %s %s", request.method, request.path)
            return _FAILED

    return call
