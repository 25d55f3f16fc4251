"""The PC API's client, against httpx's MockTransport (a unit test of this one module; the
hub's routes are tested against the real hub)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from kassa.clubagent.hub_client import HubClient
from kassa.clubagent.model import UNREACHABLE, AgentError
from kassa.protocol import club_pc
from kassa.protocol.club_pc import EventKind, PcEvent

Handler = Callable[[httpx.Request], httpx.Response]


def call(handler: Handler, work: Callable[[HubClient], Any]) -> Any:
    async def run() -> Any:
        client = HubClient("http://hub.test", "pc-token", transport=httpx.MockTransport(handler))
        try:
            return await work(client)
        finally:
            await client.aclose()

    return asyncio.run(run())


def test_requests_carry_the_token_and_answers_are_read() -> None:
    seen: list[tuple[str, str, Any]] = []

    def hub(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "Bearer pc-token"
        body = json.loads(request.content) if request.content else None
        seen.append((request.method, request.url.path, body))
        if request.url.path == club_pc.SIGN_IN:
            return httpx.Response(
                200,
                json={
                    "ticket": "tk",
                    "login": "arman",
                    "name": None,
                    "balance": "500.00",
                    "time_bank_seconds": 0,
                    "package_seconds": 600,
                },
            )
        if request.url.path == club_pc.SESSION:
            return httpx.Response(
                201,
                json={
                    "session": "s1",
                    "paid_until": "2026-01-01T13:00:00Z",
                    "lease": {"seq": 0},
                },
            )
        if request.url.path == club_pc.EVENTS:
            return httpx.Response(200, json={"accepted": 1, "duplicates": 0, "seq": 1})
        return httpx.Response(
            200,
            json={
                "id": "tp1",
                "login": "arman",
                "amount": "100.00",
                "currency": "KZT",
                "status": "credited",
                "qr": None,
            },
        )

    async def work(client: HubClient) -> list[Any]:
        event = PcEvent("e1", 1, EventKind.TICK, "2026-01-01T12:00:00Z", session="s1")
        return [
            await client.sign_in("arman", "pw"),
            await client.start("tk", None, 60),
            await client.events([event]),
            await client.topup("tp1"),
        ]

    signed, started, accepted, topup = call(hub, work)
    assert signed.ticket == "tk"
    assert signed.package_seconds == 600
    assert started.session == "s1"
    assert accepted.accepted == 1
    assert topup.status == "credited"
    assert seen[0] == ("POST", club_pc.SIGN_IN, {"login": "arman", "password": "pw"})
    assert seen[1] == ("POST", club_pc.SESSION, {"ticket": "tk", "minutes": 60})
    assert seen[2][2]["events"][0]["id"] == "e1"
    assert seen[3] == ("GET", "/club/pc/topups/tp1", None)


def test_an_error_body_is_an_agent_error_with_its_code() -> None:
    def hub(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            402, json={"error": {"code": "insufficient_funds", "message": "Top up first"}}
        )

    with pytest.raises(AgentError) as caught:
        call(hub, lambda client: client.start("tk", "Night", None))
    assert (caught.value.code, caught.value.message) == ("insufficient_funds", "Top up first")


def test_an_unreadable_answer_is_an_agent_error_too() -> None:
    with pytest.raises(AgentError) as caught:
        call(lambda _: httpx.Response(502, text="Bad gateway"), lambda c: c.screen())
    assert caught.value.code == "http_502"


def test_a_hub_that_cannot_be_reached_is_unreachable() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with pytest.raises(AgentError) as caught:
        call(down, lambda client: client.staff("1234"))
    assert caught.value.code == UNREACHABLE


def test_a_newer_hub_may_add_fields_but_not_leave_one_out() -> None:
    grant = {"seconds": 600, "operator": "added by a newer hub"}
    answered = call(lambda _: httpx.Response(200, json=grant), lambda c: c.staff("1234"))
    assert answered == club_pc.StaffGrant(seconds=600)

    screen = {"club": "arena", "pc": "PC-01", "packages": [{"name": "Hour"}]}
    with pytest.raises(AgentError) as caught:
        call(lambda _: httpx.Response(200, json=screen), lambda c: c.screen())
    assert caught.value.code == "bad_response"
    assert "Screen" in caught.value.message or "PackageOffer" in caught.value.message
