"""ASGI middleware: request body limit, NUL refusal, security headers, request metrics."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kassa.web.errors import RequestRefused, error_body, json_bytes
from kassa.web.metrics import Metrics

#: The strict policy for Kassa's own pages: nothing from elsewhere, no inline script or style.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


class BodyLimit:
    """Refuse request bodies over `max_bytes` with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._too_large(send)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, self._message)
            return message

        await self.app(scope, limited, send)

    @property
    def _message(self) -> str:
        return f"The request body is larger than {self.max_bytes} bytes"

    async def _too_large(self, send: Send) -> None:
        await _send_error(send, 413, error_body("payload_too_large", self._message), close=True)


async def _send_error(send: Send, status: int, document: dict[str, Any], *, close: bool) -> None:
    """Answer with Kassa's error document before the app has seen the request."""
    headers = [(b"content-type", b"application/json")]
    if close:  # the body was not read: the connection cannot carry another request
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": json_bytes(document)})


_FORM = b"application/x-www-form-urlencoded"
_JSON_NUL = b"\\u0000"


def body_has_nul(body: bytes, content_type: bytes) -> bool:
    """Whether a request body carries U+0000: as a raw byte (in any body), as `%00` in a
    form, or as the escape `\\u0000` in anything else (JSON, which is all Kassa reads)."""
    if b"\x00" in body:
        return True
    if content_type.lower().startswith(_FORM):
        return b"%00" in body
    return _json_has_nul(body)


def _json_has_nul(body: bytes) -> bool:
    """Whether JSON text has the escape `\\u0000`, not itself escaped: `\\\\u0000` is the six
    characters `\\u0000`, so the run of backslashes before the `u` must be odd. (A plain
    search first: it is what almost every body needs, at the speed of a substring search.)"""
    found = body.find(_JSON_NUL)
    while found != -1:
        start = found
        while start > 0 and body[start - 1] == 0x5C:  # backslash
            start -= 1
        if (found - start) % 2 == 0:
            return True
        found = body.find(_JSON_NUL, found + 1)
    return False


class RejectNul:
    """Refuse text with U+0000 (NUL) in the path, the query string or the body: `400
    invalid_character`, before anything acts on it.

    PostgreSQL's text cannot hold NUL at all, and nothing Kassa takes (ids, names, references,
    metadata, provider notifications) has a use for it, so it is refused once, here, instead
    of by a validator on every field (a NUL that reached a query was a 500 on PostgreSQL, and,
    in a payment's description, an orphan payment at the provider). The HTTP server already
    refuses a raw NUL in the request line and in headers; in a path or a query it comes as
    `%00`. A body is checked once it has been read whole: a route that never reads its body
    never acts on it either."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        where = _nul_in_url(scope)
        if where is not None:
            if scope["type"] == "websocket":
                # Closing before accepting: the server answers the handshake with 403.
                await send({"type": "websocket.close", "code": 1008})
                return
            place, param = where
            message = f"The request's {place} contains the NUL character (U+0000)"
            await _send_error(
                send, 400, error_body("invalid_character", message, param), close=True
            )
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        content_type = next((v for n, v in scope["headers"] if n == b"content-type"), b"")
        chunks: list[bytes] = []

        async def checked() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                    chunks.clear()
                    if body_has_nul(body, content_type):
                        raise RequestRefused(
                            400,
                            "invalid_character",
                            "The request body contains the NUL character (U+0000)",
                        )
            return message

        await self.app(scope, checked, send)


def _nul_in_url(scope: Scope) -> tuple[str, str | None] | None:
    """Where the URL has a NUL: ("path", None), ("query", the parameter's name), or None."""
    if "\x00" in scope["path"]:
        return "path", None
    query: bytes = scope.get("query_string", b"")
    if b"%00" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in value and "\x00" not in name:
            return "query", name
    return "query", None


class SecurityHeaders:
    """Headers every response carries; pages also get the strict Content-Security-Policy,
    unless the page set its own (the payment page allows its provider's widget)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                if any(n == b"content-type" and v.startswith(b"text/html") for n, v in headers):
                    if not any(n == b"content-security-policy" for n, _ in headers):
                        policy = CONTENT_SECURITY_POLICY.encode()
                        headers.append((b"content-security-policy", policy))
                    headers.append((b"x-frame-options", b"DENY"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class RequestMetrics:
    """Counts requests and their latency by method, route template and status."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording)
        finally:
            route = scope.get("route")
            template = str(getattr(route, "path_format", None) or "unmatched")
            self.metrics.observe_request(
                scope["method"], template, status, time.perf_counter() - started
            )
