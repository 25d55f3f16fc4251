"""Calls to the kiosk's local services, and what each outcome means for the hub.

Every outcome becomes a result (docs/terminal-protocol.md, "error.code"), never an exception:
`unknown` says whether the service may have acted. Nothing was sent when the connection could
not be made (`connection_refused`, unknown false); anything after the request left the agent
without a clear answer (5xx, timeout, a broken connection, garbage) is unknown, since a card
may have been charged.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx

from kassa.agent.routing import Route

log = logging.getLogger(__name__)

#: How long a health check waits for the service to answer at all.
HEALTH_TIMEOUT = 3.0
#: How much of an error answer goes into the result's message.
MESSAGE_LIMIT = 500


def ok(body: Any) -> dict[str, Any]:
    return {"ok": True, "body": body}


def failure(code: str, message: str, *, unknown: bool, status: int | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "unknown": unknown}
    if status is not None:
        error["status"] = status
    return {"ok": False, "error": error}


class LocalServices:
    """One long-lived HTTP client for every local service. Environment proxies are ignored:
    local services are on the kiosk's own network."""

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self.client = client or httpx.AsyncClient(trust_env=False, follow_redirects=False)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def call(self, route: Route, method: str, body: Any, request_id: str) -> dict[str, Any]:
        """Send `body` to `route` (a GET carries it as the query string) and return the
        result to send to the hub."""
        method = method.upper()
        request: dict[str, Any] = {"timeout": route.timeout}
        if method == "GET":
            request["params"] = _query(body)
        else:
            request["json"] = body
        started = time.monotonic()
        try:
            response = await self.client.request(method, route.url, **request)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol) as exc:
            return failure("connection_refused", f"{route.url}: {_describe(exc)}", unknown=False)
        except httpx.TimeoutException:
            return failure(
                "timeout", f"{route.url} did not answer in {route.timeout:g} s", unknown=True
            )
        except httpx.TransportError as exc:
            # The request may have been delivered and acted on; only the answer was lost.
            return failure(
                "outcome_unknown",
                f"the connection to {route.url} broke during the call: {_describe(exc)}",
                unknown=True,
            )
        elapsed = time.monotonic() - started
        log.info(
            "request_id=%s %s %s -> HTTP %d in %.2f s",
            request_id,
            method,
            route.url,
            response.status_code,
            elapsed,
        )
        if not response.is_success:
            text = response.text.strip()[:MESSAGE_LIMIT]
            return failure(
                "http_error",
                f"HTTP {response.status_code}: {text}" if text else f"HTTP {response.status_code}",
                unknown=response.status_code >= 500,
                status=response.status_code,
            )
        try:
            return ok(response.json())
        except ValueError:
            return failure(
                "invalid_json",
                f"HTTP {response.status_code} but not JSON: {response.text[:100]!r}",
                unknown=True,
            )

    async def check(self, route: Route) -> dict[str, Any]:
        """Whether the service answers at all: a GET of its origin, where any HTTP answer
        (even a 404) counts as reachable."""
        started = time.monotonic()
        try:
            await self.client.get(route.origin, timeout=HEALTH_TIMEOUT)
        except httpx.HTTPError as exc:
            return {"ok": False, "error": _describe(exc)}
        return {"ok": True, "latency_ms": round((time.monotonic() - started) * 1000)}


def _query(body: Any) -> dict[str, str]:
    """A GET's query string from the body's top-level fields (nested values as JSON)."""
    if not isinstance(body, dict):
        return {}
    return {
        str(key): value if isinstance(value, str) else json.dumps(value)
        for key, value in body.items()
    }


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
