"""The hub's side of Kassa's terminal protocol, driven by a scripted agent."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from websockets.exceptions import ConnectionClosed, InvalidStatus

from kassa.domain.terminals import AgentKind
from kassa.services.context import utcnow
from kassa.services.devices import operations as terminal_operations
from kassa.services.devices import terminals
from kassa.services.devices import tokens as terminal_tokens
from kassa.store.tables import terminals as terminals_table
from tests.helpers import later
from tests.live import LiveServer
from tests.terminals.kiosk import (
    KioskShop,
    ScriptedAgent,
    create_payment,
    get_payment,
    make_kiosk_shop,
    ws_url,
)

APPROVED = {
    "payment_id": "gw-1",
    "order_id": "x",
    "session_id": "x-20261130T101010Z",
    "status": "SUCCESS",
    "auth_code": "123456",
    "rrn": "433012345678",
    "response_code": "00",
    "response_message": "Approved",
    "amount": 15000,
    "currency_code": "643",
}


@pytest.fixture
def kiosk(server: LiveServer) -> KioskShop:
    return make_kiosk_shop(server)


def test_a_payment_goes_to_the_terminal_and_its_answer_settles_it(
    server: LiveServer, kiosk: KioskShop
) -> None:
    async def scenario() -> None:
        agent = await ScriptedAgent.connect(server, kiosk.token)
        payment = await asyncio.to_thread(create_payment, server, kiosk)
        assert payment["status"] == "pending"
        assert payment["confirmation"]["type"] == "terminal"
        assert payment["confirmation"]["terminal"] == "KIOSK_001"
        operation = await agent.receive("operation")
        assert operation["kind"] == "payment"
        assert operation["body"] == {
            "kiosk_id": "KIOSK_001",
            "order_id": payment["id"],
            "sum": 15000,
        }
        await agent.send("ack", {"request_id": operation["request_id"]})
        await agent.send(
            "result", {"request_id": operation["request_id"], "ok": True, "body": APPROVED}
        )
        assert (await agent.receive("ack"))["request_id"] == operation["request_id"]
        # The same result again (after a reconnect, say) is acknowledged and changes nothing.
        await agent.send(
            "result", {"request_id": operation["request_id"], "ok": True, "body": APPROVED}
        )
        assert (await agent.receive("ack"))["request_id"] == operation["request_id"]
        await agent.close()
        settled = await asyncio.to_thread(get_payment, server, kiosk, payment["id"])
        assert settled["status"] == "succeeded"
        assert settled["provider_payment_id"] == "gw-1"
        confirmation = settled["confirmation"]
        assert isinstance(confirmation, dict)
        assert confirmation["result"]["rrn"] == "433012345678"

    asyncio.run(scenario())


def test_a_declined_payment_fails_with_the_gateways_code(
    server: LiveServer, kiosk: KioskShop
) -> None:
    async def scenario() -> None:
        agent = await ScriptedAgent.connect(server, kiosk.token)
        payment = await asyncio.to_thread(create_payment, server, kiosk)
        operation = await agent.receive("operation")
        declined = {**APPROVED, "status": "DECLINED", "response_code": "05"}
        await agent.send(
            "result", {"request_id": operation["request_id"], "ok": True, "body": declined}
        )
        await agent.receive("ack")
        await agent.close()
        settled = await asyncio.to_thread(get_payment, server, kiosk, payment["id"])
        assert settled["status"] == "failed"
        assert settled["failure"] == {"code": "05", "message": "Approved"}

    asyncio.run(scenario())


def test_an_offline_terminal_gets_the_payment_when_it_connects(
    server: LiveServer, kiosk: KioskShop
) -> None:
    payment = create_payment(server, kiosk)

    async def scenario() -> None:
        agent = await ScriptedAgent.connect(server, kiosk.token)
        operation = await agent.receive("operation")
        assert operation["body"]["order_id"] == payment["id"]
        await agent.close()

    asyncio.run(scenario())


def test_an_unacknowledged_operation_is_sent_again_on_reconnect(
    server: LiveServer, kiosk: KioskShop
) -> None:
    async def scenario() -> None:
        agent = await ScriptedAgent.connect(server, kiosk.token)
        await asyncio.to_thread(create_payment, server, kiosk)
        first = await agent.receive("operation")
        await agent.close()
        agent = await ScriptedAgent.connect(server, kiosk.token)
        again = await agent.receive("operation")
        assert again["request_id"] == first["request_id"]
        await agent.send("ack", {"request_id": again["request_id"]})
        await agent.close()
        # Acknowledged but unanswered: not sent again, asked about instead.
        agent = await ScriptedAgent.connect(server, kiosk.token)
        query = await agent.receive()
        assert query == {"request_id": first["request_id"]}
        await agent.close()

    asyncio.run(scenario())


def test_unknown_outcome_keeps_the_payment_pending(server: LiveServer, kiosk: KioskShop) -> None:
    async def scenario() -> None:
        agent = await ScriptedAgent.connect(server, kiosk.token)
        payment = await asyncio.to_thread(create_payment, server, kiosk)
        operation = await agent.receive("operation")
        error = {"code": "timeout", "message": "no answer in 35 s", "unknown": True}
        await agent.send(
            "result", {"request_id": operation["request_id"], "ok": False, "error": error}
        )
        await agent.receive("ack")
        await agent.close()
        # Never sent again: a reconnecting agent gets nothing.
        agent = await ScriptedAgent.connect(server, kiosk.token)
        with pytest.raises(TimeoutError):
            await agent.receive("operation", timeout=1)
        await agent.close()
        settled = await asyncio.to_thread(get_payment, server, kiosk, payment["id"])
        assert settled["status"] == "pending"
        confirmation = settled["confirmation"]
        assert isinstance(confirmation, dict)
        assert confirmation["error"]["code"] == "timeout"

    asyncio.run(scenario())


def test_a_revoked_token_is_refused_at_the_handshake(server: LiveServer, kiosk: KioskShop) -> None:
    async def revoke() -> None:
        terminal = await terminals.get_terminal(
            server.ctx, shop_id=kiosk.shop.id, terminal_id=kiosk.terminal_id
        )
        await terminals.revoke(server.ctx, terminal=terminal)

    async def scenario() -> None:
        agent = await ScriptedAgent.connect(server, kiosk.token)
        await asyncio.to_thread(server.call, revoke())
        with pytest.raises(ConnectionClosed) as closed:
            await agent.receive(timeout=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401
        with pytest.raises(InvalidStatus) as refused:
            await ScriptedAgent.connect(server, kiosk.token)
        assert refused.value.response.status_code == 401
        assert b"token_revoked" in refused.value.response.body

    asyncio.run(scenario())


def test_a_bad_token_is_refused_with_a_reason(server: LiveServer) -> None:
    async def scenario() -> None:
        from websockets.asyncio.client import connect

        with pytest.raises(InvalidStatus) as refused:
            await connect(ws_url(server) + "?token=not-a-jwt")
        assert refused.value.response.status_code == 401
        assert b"token_invalid" in refused.value.response.body
        with pytest.raises(InvalidStatus) as missing:
            await connect(ws_url(server))
        assert b"token_missing" in missing.value.response.body

    asyncio.run(scenario())


def test_an_expired_token_is_refused_as_expired(server: LiveServer, kiosk: KioskShop) -> None:
    async def old_token() -> str:
        terminal = await terminals.get_terminal(
            server.ctx, shop_id=kiosk.shop.id, terminal_id=kiosk.terminal_id
        )
        long_ago = replace(server.ctx, clock=lambda: utcnow() - timedelta(days=400))
        return await terminal_tokens.issue(long_ago, terminal)

    token = server.call(old_token())

    async def scenario() -> None:
        with pytest.raises(InvalidStatus) as refused:
            await ScriptedAgent.connect(server, token)
        assert refused.value.response.status_code == 401
        assert b"token_expired" in refused.value.response.body

    asyncio.run(scenario())


def test_a_disabled_terminal_is_refused_with_403_and_cut_off(
    server: LiveServer, kiosk: KioskShop
) -> None:
    async def set_enabled(enabled: bool) -> None:
        terminal = await terminals.get_terminal(
            server.ctx, shop_id=kiosk.shop.id, terminal_id=kiosk.terminal_id
        )
        await terminals.set_enabled(server.ctx, terminal=terminal, enabled=enabled)

    async def scenario() -> None:
        agent = await ScriptedAgent.connect(server, kiosk.token)
        await asyncio.to_thread(server.call, set_enabled(False))
        with pytest.raises(ConnectionClosed) as closed:
            await agent.receive(timeout=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403
        with pytest.raises(InvalidStatus) as refused:
            await ScriptedAgent.connect(server, kiosk.token)
        assert refused.value.response.status_code == 403
        assert b"terminal_disabled" in refused.value.response.body
        await asyncio.to_thread(server.call, set_enabled(True))
        agent = await ScriptedAgent.connect(server, kiosk.token)
        await agent.close()

    asyncio.run(scenario())


def test_a_newer_connection_replaces_the_older_one(server: LiveServer, kiosk: KioskShop) -> None:
    async def scenario() -> None:
        older = await ScriptedAgent.connect(server, kiosk.token)
        newer = await ScriptedAgent.connect(server, kiosk.token)
        with pytest.raises(ConnectionClosed) as closed:
            await older.receive(timeout=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4409
        payment = await asyncio.to_thread(create_payment, server, kiosk)
        assert (await newer.receive("operation"))["body"]["order_id"] == payment["id"]
        await newer.close()

    asyncio.run(scenario())


def test_heartbeats_show_the_agents_health_and_counters(
    server: LiveServer, kiosk: KioskShop
) -> None:
    async def scenario() -> None:
        agent = await ScriptedAgent.connect(server, kiosk.token, version="9.9")
        health = {"payment": {"ok": False, "error": "connection refused"}}
        await agent.send("heartbeat", {"stats": {"requests": 3}, "health": health})
        # Messages are handled in order: once a malformed one is answered, the heartbeat
        # has been taken.
        await agent.ws.send("not json")
        assert (await agent.receive("error"))["code"] == "malformed"
        await asyncio.to_thread(server.call, server.app.state.terminals.flush())
        terminal = await asyncio.to_thread(
            server.call,
            terminals.get_terminal(
                server.ctx, shop_id=kiosk.shop.id, terminal_id=kiosk.terminal_id
            ),
        )
        assert terminal.health == health
        assert terminal.stats == {"requests": 3}
        assert terminal.agent_version == "9.9"
        assert terminal.online(utcnow(), within=terminals.ONLINE_WITHIN)
        await agent.close()

    asyncio.run(scenario())


def test_a_heartbeat_that_repeats_the_stored_one_is_not_written_again_but_keeps_the_terminal_seen(
    server: LiveServer, kiosk: KioskShop
) -> None:
    hub = server.app.state.terminals
    health = {"payment": {"ok": True, "latency_ms": 3}}

    def stored() -> Any:
        return server.call(
            terminals.get_terminal(server.ctx, shop_id=kiosk.shop.id, terminal_id=kiosk.terminal_id)
        )

    def tamper() -> None:
        """Change the stored stats behind the hub's back, to see whether it writes again."""

        async def write() -> None:
            async with server.ctx.db.write() as conn:
                await conn.execute(
                    update(terminals_table)
                    .where(terminals_table.c.id == kiosk.terminal_id)
                    .values(stats={"requests": -1})
                )

        server.call(write())

    async def beat(agent: ScriptedAgent, requests: int) -> None:
        await agent.send("heartbeat", {"stats": {"requests": requests}, "health": health})
        await agent.ws.send("not json")  # answered once the heartbeat before it was taken
        assert (await agent.receive("error"))["code"] == "malformed"
        await asyncio.to_thread(server.call, hub.flush())

    async def scenario() -> None:
        agent = await ScriptedAgent.connect(server, kiosk.token)
        await beat(agent, 3)
        first = await asyncio.to_thread(stored)
        assert first.stats == {"requests": 3}
        await asyncio.to_thread(tamper)
        await beat(agent, 3)
        assert (await asyncio.to_thread(stored)).stats == {"requests": -1}, "written again"
        # The presence rounds mark it seen: the first skips what the last flush wrote.
        await asyncio.to_thread(server.call, hub.flush(presence=True))
        await asyncio.to_thread(server.call, hub.flush(presence=True))
        seen = await asyncio.to_thread(stored)
        assert seen.last_seen_at is not None
        assert first.last_seen_at is not None
        assert seen.last_seen_at > first.last_seen_at
        await beat(agent, 4)
        assert (await asyncio.to_thread(stored)).stats == {"requests": 4}
        await agent.close()

    asyncio.run(scenario())


def test_a_payment_that_expires_before_its_terminal_connects_is_never_sent(
    server: LiveServer, kiosk: KioskShop
) -> None:
    payment = create_payment(server, kiosk, expires_in=120)

    async def sweep_later() -> list[Any]:
        # What the hub would do for a connection made three minutes later.
        future = later(server, timedelta(minutes=3))
        return await terminal_operations.take_due(
            future,
            shop_id=kiosk.shop.id,
            terminal_id=kiosk.terminal_id,
            via=AgentKind.KASSA,
            kinds=None,
            connected_at=future.clock(),
            token_version=1,
        )

    assert server.call(sweep_later()) == []

    async def scenario() -> None:
        agent = await ScriptedAgent.connect(server, kiosk.token)
        with pytest.raises(TimeoutError):
            await agent.receive("operation", timeout=1)
        await agent.close()

    asyncio.run(scenario())
    with kiosk.api(server) as api:
        operations = api.get(f"/v1/terminals/{kiosk.terminal_id}/operations").json()["data"]
    assert [(op["payment"], op["state"]) for op in operations] == [(payment["id"], "expired")]


NOT_PROCESSED = {"code": "not_processed", "message": "lookup: 404", "unknown": False}


def test_a_payment_the_gateway_never_received_is_sent_again(
    server: LiveServer, kiosk: KioskShop
) -> None:
    async def scenario() -> None:
        agent = await ScriptedAgent.connect(server, kiosk.token)
        payment = await asyncio.to_thread(create_payment, server, kiosk)
        first = await agent.receive("operation")
        await agent.send(
            "result", {"request_id": first["request_id"], "ok": False, "error": NOT_PROCESSED}
        )
        again = await agent.receive("operation")
        assert again["request_id"] != first["request_id"]
        assert again["body"] == first["body"]
        await agent.send(
            "result", {"request_id": again["request_id"], "ok": True, "body": APPROVED}
        )
        await agent.receive("ack")
        await agent.close()
        settled = await asyncio.to_thread(get_payment, server, kiosk, payment["id"])
        assert settled["status"] == "succeeded"

    asyncio.run(scenario())


def test_a_payment_is_sent_three_times_at_most(server: LiveServer, kiosk: KioskShop) -> None:
    async def scenario() -> None:
        agent = await ScriptedAgent.connect(server, kiosk.token)
        payment = await asyncio.to_thread(create_payment, server, kiosk)
        for _ in range(3):
            operation = await agent.receive("operation")
            await agent.send(
                "result",
                {"request_id": operation["request_id"], "ok": False, "error": NOT_PROCESSED},
            )
        with pytest.raises(TimeoutError):
            await agent.receive("operation", timeout=1)
        await agent.close()
        settled = await asyncio.to_thread(get_payment, server, kiosk, payment["id"])
        assert settled["status"] == "failed"
        assert settled["failure"]["code"] == "not_processed"

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("extra", "status", "code"),
    [
        ({}, 422, "parameter_invalid"),  # no terminal named
        ({"terminal": "NO_SUCH_KIOSK"}, 404, "resource_missing"),
        ({"terminal": "kiosk 1"}, 422, "parameter_invalid"),
        ({"terminal": "KIOSK_001", "currency": "USD"}, 422, "currency_unsupported"),
    ],
)
def test_a_terminal_payment_with_bad_input_is_refused_and_nothing_is_queued(
    server: LiveServer, kiosk: KioskShop, extra: dict[str, str], status: int, code: str
) -> None:
    body = {"amount": 15000, "currency": "RUB", "provider": "terminal", **extra}
    with kiosk.api(server) as api:
        response = api.post("/v1/payments", json=body)
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
        assert api.get("/v1/payments").json()["data"] == []
        operations = api.get(f"/v1/terminals/{kiosk.terminal_id}/operations").json()["data"]
    assert operations == []
