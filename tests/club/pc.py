"""A scripted club PC: a small WebSocket client speaking the club PC's protocol
(`kassa.protocol.club`) over the real hub on loopback, driven by the test (the real agent is
the next issue's), a clock the tests move by hand, and the sessions tests' helpers."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from kassa.protocol.club import LEASE, PATH
from kassa.services.club import ledger, pcs, pricing
from kassa.services.club.clubs import Club
from kassa.services.club.floor import Floor
from kassa.services.context import utcnow
from tests.live import LiveServer


class Clock:
    """`ctx.clock` stopped at a moment the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


class ScriptedPc:
    """A PC's agent, by hand: the test decides what it sends and reads what it gets."""

    def __init__(self, ws: ClientConnection, welcome: dict[str, Any]) -> None:
        self.ws = ws
        self.welcome = welcome
        self.seq = 0
        #: Messages read while waiting for another kind, kept for later.
        self.unread: list[dict[str, Any]] = []

    @classmethod
    async def connect(cls, server: LiveServer, token: str) -> ScriptedPc:
        ws = await connect(
            server.url.replace("http://", "ws://") + PATH,
            additional_headers={"Authorization": f"Bearer {token}"},
        )
        await ws.send(json.dumps({"type": "hello", "data": {"agent": "test", "version": "0"}}))
        pc = cls(ws, {})
        pc.welcome = await pc.receive("welcome")
        return pc

    async def send(self, kind: str, data: dict[str, Any]) -> None:
        await self.ws.send(json.dumps({"type": kind, "data": data}))

    async def receive(self, kind: str | None = None, timeout: float = 10) -> dict[str, Any]:  # noqa: ASYNC109
        """The next message (of `kind`; others are kept for later)."""
        for message in self.unread:
            if kind is None or message["type"] == kind:
                self.unread.remove(message)
                return dict(message["data"])
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if kind is None or message["type"] == kind:
                data: dict[str, Any] = message["data"]
                return data
            self.unread.append(message)

    async def heartbeat(self, seq: int | None = None, **data: Any) -> dict[str, Any]:
        """Send a heartbeat (the next `seq`, or the one given) and return the lease that
        answers it."""
        if seq is None:
            self.seq += 1
            seq = self.seq
        await self.send("heartbeat", {"seq": seq, "state": "unlocked", **data})
        while True:  # leases pushed unasked are skipped
            lease = await self.receive(LEASE)
            if lease.get("heartbeat") == seq:
                return lease

    async def operation(self, kind: str) -> dict[str, Any]:
        """The next operation, which must be of `kind`; acknowledged and answered ok."""
        operation = await self.receive("operation")
        assert operation["kind"] == kind, operation
        await self.send("ack", {"request_id": operation["request_id"]})
        await self.send("result", {"request_id": operation["request_id"], "ok": True, "body": {}})
        return operation

    async def close(self) -> None:
        await self.ws.close()


#: 10 KZT a minute, in tiyn.
RATE = 1000


def floor(server: LiveServer) -> Floor:
    found: Floor = server.app.state.club_floor
    return found


def add_pc(server: LiveServer, club: Club, name: str = "PC-01") -> str:
    """A PC of the club's Standard zone (which has a rate); its token (issued by the real
    clock: the hub checks a token's times by it)."""

    async def setup() -> str:
        await pricing.set_rate(server.ctx, club=club, zone="Standard", per_minute=RATE)
        real = replace(server.ctx, clock=utcnow)
        _, token = await pcs.add(real, club=club, name=name, zone="Standard")
        return token

    return server.call(setup())


def when(text: str | None) -> datetime:
    assert text is not None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def entries(server: LiveServer, club: Club, login: str) -> list[tuple[str, int, int]]:
    """The customer's ledger, oldest first, as (kind, amount, seconds)."""
    found = server.call(ledger.entries(server.ctx, club=club, login=login))
    return [(each.kind, each.amount, each.seconds) for each in reversed(found)]


async def round_of(server: LiveServer) -> None:
    await asyncio.to_thread(server.call, floor(server).round())
