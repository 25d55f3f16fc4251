"""Errors as the API shows them: `{"error": {"code", "message", "param"?}}` with the right status.

Domain errors map to statuses here, once. Unexpected exceptions become a bare 500 whose body
says nothing about the cause (it is logged), so no secret or internal detail reaches a caller.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException

from kassa.domain import (
    AuthenticationFailed,
    Conflict,
    InsufficientFunds,
    InvalidRequest,
    KassaError,
    NotFound,
    NotificationRejected,
    NotSupported,
    OperationTimedOut,
    PermissionDenied,
    ProviderDeclined,
    ProviderError,
    RateLimited,
)

log = logging.getLogger(__name__)

# Most specific first: the first class an error is an instance of decides its status.
_STATUSES: tuple[tuple[type[KassaError], int], ...] = (
    (InvalidRequest, 422),
    (AuthenticationFailed, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (InsufficientFunds, 402),
    (RateLimited, 429),
    (OperationTimedOut, 504),
    (ProviderDeclined, 402),
    (NotSupported, 422),
    (NotificationRejected, 400),
    (ProviderError, 502),
)

_HTTP_CODES = {
    400: "bad_request",
    401: "authentication_required",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


class RequestRefused(HTTPException):
    """A refusal with a code of Kassa's own, raised where a domain error cannot go: while the
    body is read (FastAPI turns anything but an `HTTPException` raised there into a generic
    400), before the request has been interpreted."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(status_code, message)
        self.code = code


def status_of(error: KassaError) -> int:
    """The HTTP status for a domain error."""
    for cls, status in _STATUSES:
        if isinstance(error, cls):
            return status
    return 400


def error_body(code: str, message: str, param: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if param is not None:
        error["param"] = param
    return {"error": error}


def error_response(error: KassaError) -> JSONResponse:
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimited) else None
    return JSONResponse(
        error_body(error.code, error.message, error.param), status_of(error), headers=headers
    )


#: Where FastAPI says it found a parameter (first in an error's `loc`); `param` names the
#: parameter alone.
_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    first: dict[str, Any] = errors[0] if errors else {}
    kind = first.get("type", "")
    if kind == "json_invalid":
        return JSONResponse(
            error_body("invalid_json", "The request body is not valid JSON"), status_code=400
        )
    loc = list(first.get("loc", ()))
    location = [str(part) for part in (loc[1:] if loc and loc[0] in _LOCATIONS else loc)]
    param = ".".join(location) or None
    if kind == "missing":
        code, message = "parameter_missing", f"{param} is required"
    elif kind == "extra_forbidden":
        code, message = "parameter_unknown", f"{param} is not a parameter of this request"
    elif kind == "model_attributes_type" or (kind.endswith("_type") and not location):
        return JSONResponse(
            error_body("invalid_request", "The request body must be a JSON object"),
            status_code=400,
        )
    else:
        code, message = "parameter_invalid", f"{param}: {first.get('msg', 'invalid value')}"
    return JSONResponse(error_body(code, message, param), status_code=422)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into Kassa's error shape."""

    @app.exception_handler(KassaError)
    async def _kassa_error(_request: Request, exc: KassaError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if isinstance(exc, RequestRefused):
            code = exc.code
        else:
            code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        headers = exc.headers
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(
            error_body("internal_error", "Kassa failed to handle the request; it was logged"),
            status_code=500,
        )


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at the request's path.

    The router answers 405 from the first route whose path matched, so its `Allow` named that
    route's methods only: `GET` for `/v1/payments`, which also takes `POST` (a route each)."""
    path = request.scope.get("path", "")
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        regex = getattr(route, "path_regex", None)
        if route.methods and regex is not None and regex.match(path):
            methods |= route.methods
    return sorted(methods)


def json_bytes(document: Any) -> bytes:
    """The compact JSON encoding Kassa answers and stores responses in."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
