"""Several hub processes on one PostgreSQL database: work queued on one reaches an agent
connected to another, and answers come back, through LISTEN/NOTIFY alone (the periodic sweep
that would also find the work is switched off here)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import make_url

from kassa.services.devices import hub
from tests.live import LiveServer
from tests.terminals.kiosk import ScriptedAgent, create_payment, get_payment, make_kiosk_shop


@pytest.fixture
def two_servers(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[LiveServer, LiveServer]]:
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("several hub processes share a PostgreSQL database")
    monkeypatch.setattr(hub, "SWEEP_INTERVAL", 3600.0)
    first, second = LiveServer(database_url).start(), LiveServer(database_url).start()
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()


def test_a_payment_made_on_one_process_reaches_an_agent_on_another(
    two_servers: tuple[LiveServer, LiveServer],
) -> None:
    connected_to, paid_on = two_servers
    kiosk = make_kiosk_shop(connected_to)

    async def scenario() -> None:
        agent = await ScriptedAgent.connect(connected_to, kiosk.token)
        payment = await asyncio.to_thread(create_payment, paid_on, kiosk)
        operation = await agent.receive("operation", timeout=5)
        assert operation["body"]["order_id"] == payment["id"]
        await agent.send(
            "result",
            {"request_id": operation["request_id"], "ok": True, "body": {"status": "SUCCESS"}},
        )
        await agent.receive("ack")
        await agent.close()
        settled = await asyncio.to_thread(get_payment, paid_on, kiosk, payment["id"])
        assert settled["status"] == "succeeded"

    asyncio.run(scenario())


def test_an_operation_relayed_by_one_process_is_answered_through_another(
    two_servers: tuple[LiveServer, LiveServer],
) -> None:
    connected_to, relaying = two_servers
    kiosk = make_kiosk_shop(connected_to)

    async def relay() -> dict[str, object]:
        operation = await relaying.app.state.terminals.relay(
            shop_id=kiosk.shop.id,
            device_id=kiosk.terminal_id,
            kind="fiscal",
            body={"order_id": 7},
            answer_within=10,
        )
        return dict(operation.result or {})

    async def scenario() -> None:
        agent = await ScriptedAgent.connect(connected_to, kiosk.token)
        answer = asyncio.wrap_future(asyncio.run_coroutine_threadsafe(relay(), relaying.loop))  # type: ignore[arg-type]
        operation = await agent.receive("operation", timeout=5)
        assert operation["kind"] == "fiscal"
        await agent.send(
            "result",
            {"request_id": operation["request_id"], "ok": True, "body": {"status": "OK"}},
        )
        assert await asyncio.wait_for(answer, 10) == {"status": "OK"}
        await agent.close()

    asyncio.run(scenario())
