"""Test helpers for terminals: a shop with a terminal, and a scripted agent speaking Kassa's
terminal protocol (docs/terminal-protocol.md) over a real WebSocket."""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from kassa.domain import Shop
from kassa.services.devices import terminals
from kassa.services.shops import keys, shops
from tests.live import LiveServer


@dataclass(frozen=True)
class KioskShop:
    shop: Shop
    key: str
    terminal_id: str
    token: str

    def api(self, server: LiveServer) -> httpx.Client:
        return httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=30
        )


def make_kiosk_shop(server: LiveServer, *, terminal_id: str = "KIOSK_001") -> KioskShop:
    """A new shop with one terminal, its token, and a test API key."""

    async def setup() -> KioskShop:
        ctx = server.ctx
        shop = await shops.create_shop(ctx, name=f"k-{secrets.token_hex(5)}")
        issued = await terminals.add_terminal(ctx, shop=shop, terminal_id=terminal_id)
        _, key = await keys.create_key(ctx, shop=shop, live=False)
        return KioskShop(shop=shop, key=key, terminal_id=terminal_id, token=issued.token)

    return server.call(setup())


def ws_url(server: LiveServer, path: str = "/terminals/ws") -> str:
    return server.url.replace("http://", "ws://") + path


class ScriptedAgent:
    """A hand-driven agent: the test decides what it sends and reads what it gets."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    @classmethod
    async def connect(cls, server: LiveServer, token: str, **hello: Any) -> ScriptedAgent:
        ws = await connect(ws_url(server), additional_headers={"Authorization": f"Bearer {token}"})
        agent = cls(ws)
        await agent.send("hello", {"agent": "test", "version": "0", "unacked": [], **hello})
        assert (await agent.receive("welcome"))["terminal"]
        return agent

    async def send(self, kind: str, data: dict[str, Any]) -> None:
        await self.ws.send(json.dumps({"type": kind, "data": data}))

    async def receive(self, kind: str | None = None, timeout: float = 10) -> dict[str, Any]:  # noqa: ASYNC109
        """The next message (of `kind`, skipping others)."""
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if kind is None or message["type"] == kind:
                data: dict[str, Any] = message["data"]
                return data

    async def close(self) -> None:
        await self.ws.close()


def create_payment(server: LiveServer, kiosk: KioskShop, **extra: object) -> dict[str, Any]:
    with kiosk.api(server) as api:
        response = api.post(
            "/v1/payments",
            json={
                "amount": 15000,
                "currency": "RUB",
                "provider": "terminal",
                "terminal": kiosk.terminal_id,
                **extra,
            },
        )
    assert response.status_code == 201, response.text
    payment: dict[str, Any] = response.json()
    return payment


def get_payment(server: LiveServer, kiosk: KioskShop, payment_id: object) -> dict[str, Any]:
    with kiosk.api(server) as api:
        payment: dict[str, Any] = api.get(f"/v1/payments/{payment_id}").json()
    return payment
