"""Posting a claimed delivery: the HTTP client deliveries go out through, the Standard
Webhooks headers and signatures, and the POST with its outcome."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from kassa import __version__
from kassa.services.context import Context
from kassa.services.webhooks import destinations as webhook_destinations
from kassa.services.webhooks import endpoints as webhooks
from kassa.services.webhooks.claims import Job
from kassa.services.webhooks.endpoints import Endpoint
from kassa.store.keyring import Keyring

#: A 2xx within this many seconds is a success.
TIMEOUT = 15.0
#: How much of a response is kept with its attempt.
RESPONSE_KEPT = 1024
USER_AGENT = f"Kassa/{__version__} (webhooks)"


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one POST of a delivery went: an HTTP status and the start of the answer, or why
    there was none."""

    attempted_at: datetime
    latency_ms: int
    status_code: int | None = None
    body: str | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def summary(self) -> str:
        return f"HTTP {self.status_code}" if self.status_code is not None else str(self.error)


def client(ctx: Context) -> httpx.AsyncClient:
    """The client deliveries go out through: it connects only to public addresses (unless
    the settings allow others; `kassa.services.webhooks.destinations`), and never follows a
    redirect (a 3xx is a failure). An explicit transport also keeps proxies from the
    environment out of it."""
    transport = webhook_destinations.delivery_transport(
        allow_private=ctx.settings.webhooks_allow_private
    )
    return httpx.AsyncClient(
        transport=transport,
        timeout=TIMEOUT,
        follow_redirects=False,
        headers={"user-agent": USER_AGENT},
    )


def _body(event: Mapping[str, Any]) -> bytes:
    """The event object as compact JSON: the exact bytes that are signed and sent."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def signed_headers(
    endpoint: Endpoint, keyring: Keyring, *, msg_id: str, body: bytes, now: datetime
) -> dict[str, str]:
    """The Standard Webhooks headers of a delivery made at `now`: one signature per secret
    that signs at that moment, space-separated."""
    stamp = int(now.timestamp())
    signatures = (
        webhooks.sign(secret, msg_id=msg_id, timestamp=stamp, body=body)
        for secret in endpoint.signing_secrets(now, keyring)
    )
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": " ".join(signatures),
    }


async def send(http: httpx.AsyncClient, job: Job, keyring: Keyring, *, now: datetime) -> Outcome:
    """POST the job's event, signed, to its endpoint: how it went, a failure included."""
    body = _body(job.event)
    headers = signed_headers(job.endpoint, keyring, msg_id=job.event["id"], body=body, now=now)
    started = time.monotonic()

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        async with asyncio.timeout(TIMEOUT):
            async with http.stream(
                "POST", job.endpoint.url, content=body, headers=headers
            ) as response:
                kept = await _first_bytes(response.aiter_bytes(), RESPONSE_KEPT)
    except (TimeoutError, httpx.TimeoutException):
        return Outcome(now, elapsed(), error=f"no answer within {TIMEOUT:g} s")
    except httpx.HTTPError as exc:
        if isinstance(exc.__cause__, webhook_destinations.DestinationRefused):
            return Outcome(now, elapsed(), error=str(exc))
        # The exception's text names the host and the failure, never the URL's credentials.
        return Outcome(now, elapsed(), error=f"{type(exc).__name__}: {exc}"[:500])
    # PostgreSQL's text cannot hold NUL: an answer with one must not make the attempt unstorable.
    text = kept.decode("utf-8", "replace").replace("\x00", "\ufffd")
    return Outcome(now, elapsed(), status_code=response.status_code, body=text)


async def _first_bytes(chunks: AsyncIterator[bytes], size: int) -> bytes:
    kept = bytearray()
    async for chunk in chunks:
        kept += chunk
        if len(kept) >= size:
            break
    return bytes(kept[:size])
