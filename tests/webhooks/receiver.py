"""A merchant's webhook receiver for tests: records every request and answers from a script.

Where it is given secrets for a path, it checks each delivery there the way a merchant
would, with the independent `standardwebhooks` package, and answers 400 when no secret
verifies it.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.live import LiveApp

OK = 200


@dataclass(frozen=True)
class Received:
    path: str
    body: bytes
    headers: dict[str, str]
    #: For each secret the receiver holds for the path: whether it verified the delivery.
    verified: dict[str, bool]

    @property
    def event(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document

    @property
    def signatures(self) -> list[str]:
        return self.headers["webhook-signature"].split(" ")


def verifies(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


@dataclass
class Receiver:
    """Answers `answer(path, n)` to the n-th request (from 0) on `path`, after `delay` s,
    with a `Location` header where `locations` has one for the path."""

    answer: Callable[[str, int], int] = lambda _path, _n: OK
    delay: float = 0.0
    secrets: dict[str, list[str]] = field(default_factory=dict)
    locations: dict[str, str] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    in_flight: Counter[str] = field(default_factory=Counter)
    overlaps: list[str] = field(default_factory=list)
    url: str = ""

    async def _hook(self, request: Request) -> PlainTextResponse:
        body = await request.body()
        headers = dict(request.headers)
        held = self.secrets.get(request.url.path, [])
        verdicts = {secret: verifies(secret, body, headers) for secret in held}
        msg_id = headers.get("webhook-id", "")
        if self.in_flight[msg_id]:
            self.overlaps.append(msg_id)
        self.in_flight[msg_id] += 1
        try:
            count = sum(r.path == request.url.path for r in self.requests)
            self.requests.append(Received(request.url.path, body, headers, verdicts))
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight[msg_id] -= 1
        if held and not any(verdicts.values()):
            return PlainTextResponse("bad signature", status_code=400)
        status = self.answer(request.url.path, count)
        location = self.locations.get(request.url.path)
        extra = {"location": location} if location else None
        return PlainTextResponse(f"answer {count}: {status}", status_code=status, headers=extra)

    def reset(self) -> None:
        """Forget everything and answer 200 again, for the next test."""
        self.answer = lambda _path, _n: OK
        self.delay = 0.0
        for collected in (
            self.secrets,
            self.locations,
            self.requests,
            self.in_flight,
            self.overlaps,
        ):
            collected.clear()

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._hook, methods=["POST"])])

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    def event_ids(self, path: str) -> list[str]:
        return [r.headers["webhook-id"] for r in self.on(path)]


def serve(receiver: Receiver) -> Iterator[Receiver]:
    live = LiveApp(receiver.app(), name="merchant-receiver").start()
    receiver.url = live.url
    try:
        yield receiver
    finally:
        live.stop()


@pytest.fixture(scope="session")
def merchant() -> Iterator[Receiver]:
    """One receiver for the session: starting and stopping a server per test costs more.
    Import it, with `receiver`, where a test module or conftest uses them."""
    yield from serve(Receiver())


@pytest.fixture
def receiver(merchant: Receiver) -> Receiver:
    """The session's receiver, reset for the test."""
    merchant.reset()
    return merchant
