"""Calls to the kiosk's local services, and what each outcome means for the hub.

Every outcome becomes a result (docs/terminal-protocol.md, "error.code"), never an exception:
`unknown` says whether the service may have acted. Nothing was sent when the connection could
not be made (`connection_refused`, unknown false); anything after the request left the agent
without a clear answer (5xx, timeout, a broken connection, garbage) is unknown, since a card
may have been charged.

Such an unknown outcome can be settled by asking the route's optional `status_url` (`look_up`):
a GET, never the operation again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import httpx

from kassa.agent.routing import MissingField, Route
from kassa.protocol import ResultCode, failed_result, ok_result

log = logging.getLogger(__name__)

#: How long a health check waits for the service to answer at all.
HEALTH_TIMEOUT = 3.0
#: How much of an error answer goes into the result's message.
MESSAGE_LIMIT = 500
#: How often a status lookup is tried, within the route's timeout, before giving up.
STATUS_TRIES = 3
#: The pause before the second try, as a share of the route's timeout; it doubles after.
STATUS_FIRST_PAUSE = 0.25


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
            return failed_result(
                ResultCode.CONNECTION_REFUSED, f"{route.url}: {_describe(exc)}", unknown=False
            )
        except httpx.TimeoutException:
            return failed_result(
                ResultCode.TIMEOUT,
                f"{route.url} did not answer in {route.timeout:g} s",
                unknown=True,
            )
        except httpx.TransportError as exc:
            # The request may have been delivered and acted on; only the answer was lost.
            return failed_result(
                ResultCode.OUTCOME_UNKNOWN,
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
            return failed_result(
                ResultCode.HTTP_ERROR,
                f"HTTP {response.status_code}: {text}" if text else f"HTTP {response.status_code}",
                unknown=response.status_code >= 500,
                status=response.status_code,
            )
        try:
            return ok_result(response.json())
        except ValueError:
            return failed_result(
                ResultCode.INVALID_JSON,
                f"HTTP {response.status_code} but not JSON: {response.text[:100]!r}",
                unknown=True,
            )

    async def look_up(
        self, route: Route, body: Any, request_id: str, unknown: dict[str, Any]
    ) -> dict[str, Any]:
        """What became of the call of `body` whose result was `unknown`, asked of the route's
        `status_url`: its answer (HTTP 200 with JSON) as an ok result, `not_processed` if the
        service never got the call (HTTP 404), else, after STATUS_TRIES tries within the
        route's timeout, `unknown` itself with why the lookup did not tell."""
        try:
            url = route.status_url_for(body)
        except MissingField as exc:
            return _still_unknown(
                unknown, f"the body has no field {exc.args[0]!r} for {route.status_url}"
            )
        deadline = time.monotonic() + route.timeout
        why = "no time left"
        for attempt in range(STATUS_TRIES):
            if attempt:
                pause = route.timeout * STATUS_FIRST_PAUSE * 2 ** (attempt - 1)
                await asyncio.sleep(min(pause, max(deadline - time.monotonic(), 0)))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            answer, why = await self._ask(url, remaining, request_id)
            if answer is not None:
                return answer
        return _still_unknown(unknown, why)

    async def _ask(
        self, url: str, within: float, request_id: str
    ) -> tuple[dict[str, Any] | None, str]:
        """One status lookup: the settled result, or None and why it does not tell."""
        try:
            response = await self.client.get(url, timeout=within)
        except httpx.HTTPError as exc:
            return None, f"{url}: {_describe(exc)}"
        log.info(
            "request_id=%s status lookup GET %s -> HTTP %d", request_id, url, response.status_code
        )
        if response.status_code == 404:
            message = (
                f"{url}: the service never processed the call (HTTP 404); it was not sent again"
            )
            return failed_result(ResultCode.NOT_PROCESSED, message, unknown=False, status=404), ""
        if response.status_code != 200:
            return None, f"{url}: HTTP {response.status_code} {response.text.strip()[:100]!r}"
        try:
            return ok_result(response.json()), ""
        except ValueError:
            return None, f"{url}: HTTP 200 but not JSON: {response.text[:100]!r}"

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


def _still_unknown(unknown: dict[str, Any], why: str) -> dict[str, Any]:
    """`unknown` with why the status lookup could not settle it."""
    error = unknown["error"]
    return {**unknown, "error": {**error, "message": f"{error['message']}; status lookup: {why}"}}


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
