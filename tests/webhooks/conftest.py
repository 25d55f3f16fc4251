"""Fixtures for webhook tests: a merchant's receiver on loopback, and the shop's endpoints
(removed after each test, so no other test's dispatch sends to them)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import httpx
import pytest

from kassa.services.callers import Caller
from kassa.services.context import Context
from kassa.services.pagination import PageRequest
from kassa.services.webhooks import claims
from kassa.services.webhooks import endpoints as webhooks
from kassa.services.webhooks import sending as webhook_sending
from kassa.services.webhooks.claims import Job
from tests.cli.conftest import kassa  # noqa: F401 - the `kassa …` runner, for the CLI tests
from tests.helpers import ShopSetup
from tests.live import LiveServer
from tests.webhooks.receiver import Receiver, merchant, receiver  # noqa: F401 - fixtures


def at(server: LiveServer, when: datetime) -> Context:
    """The server's context with its clock stopped at `when`."""
    return replace(server.ctx, clock=lambda: when)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def claim_due(ctx: Context, *, limit: int) -> list[Job]:
    """Claim due deliveries as a worker does, in a transaction of their own, and send none."""
    async with ctx.db.write() as conn:
        return await claims.claim(conn, now=ctx.clock(), limit=limit)


@dataclass
class Hooks:
    """The shop's webhook endpoints through the API, and the dispatcher run by hand."""

    server: LiveServer
    api: httpx.Client

    def create(self, url: str, **fields: Any) -> dict[str, Any]:
        response = self.api.post("/v1/webhook_endpoints", json={"url": url, **fields})
        assert response.status_code == 201, response.text
        document: dict[str, Any] = response.json()
        return document

    def get(self, endpoint_id: str) -> dict[str, Any]:
        response = self.api.get(f"/v1/webhook_endpoints/{endpoint_id}")
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document

    def deliveries(self, endpoint_id: str, **params: Any) -> list[dict[str, Any]]:
        response = self.api.get(
            f"/v1/webhook_endpoints/{endpoint_id}/deliveries", params={"limit": 100, **params}
        )
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["data"]
        return found

    def events(self, **params: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.api.get(
            "/v1/events", params={"limit": 100, **params}
        ).json()["data"]
        return found

    def run(self, ctx: Context | None = None) -> int:
        """One round of the background job: fan out, then send what is due."""
        return self.server.call(webhook_sending.dispatch(ctx or self.server.ctx), timeout=60)


@pytest.fixture
def hooks(server: LiveServer, shop: ShopSetup, api: httpx.Client) -> Iterator[Hooks]:
    yield Hooks(server, api)

    async def remove_all() -> None:
        caller = Caller.system(shop=shop.shop)
        found = await webhooks.list_endpoints(
            server.ctx, caller=caller, page=PageRequest(kind="we", limit=100)
        )
        for endpoint in found.items:
            await webhooks.delete_endpoint(server.ctx, caller=caller, endpoint_id=endpoint.id)

    server.call(remove_all())
