"""Terminals end to end with real processes: a Kassa hub on loopback, `kassa agent` as a
process of its own, and the fake card gateway (`kassa dev fake-gateway`)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kassa.devtools.fake_gateway import FISCAL_PATH
from kassa.services.devices import terminals
from tests.agent.helpers import AgentProcess, Gateway, agent_env, until
from tests.live import LiveServer
from tests.terminals.kiosk import KioskShop, create_payment, get_payment, make_kiosk_shop

pytestmark = pytest.mark.slow

FISCAL_RECEIPT = {
    "order_id": 1001,
    "kiosk_id": "KIOSK_001",
    "items": [
        {
            "item_id": 1,
            "item_description": "Latte",
            "item_price_net": 15000,
            "item_price_gross": 18000,
            "item_vat_value": 3000,
            "quantity": 1,
        }
    ],
    "total_net": 15000,
    "total_vat": 3000,
    "total_gross": 18000,
    "payment_method": "card",
}


@dataclass(frozen=True)
class Hub:
    """The real hub as an agent's address."""

    url: str
    token: str


@pytest.fixture
def kiosk(server: LiveServer) -> KioskShop:
    return make_kiosk_shop(server)


@pytest.fixture
def gateway(request: pytest.FixtureRequest) -> Iterator[Gateway]:
    mode, delay = getattr(request, "param", ("approve", 0.0))
    running = Gateway(mode, delay).start()
    try:
        yield running
    finally:
        running.stop()


def start_agent(
    server: LiveServer, kiosk: KioskShop, gateway: Gateway, directory: Path, **routes: Any
) -> AgentProcess:
    payment = {"url": gateway.payment_url, "timeout": 5, **routes.pop("payment", {})}
    env = agent_env(
        directory,
        Hub(server.url, kiosk.token),
        {"payment": payment, "fiscal": {"url": gateway.url + FISCAL_PATH, "timeout": 5}},
    )
    return AgentProcess(directory, env)


async def connected(server: LiveServer, kiosk: KioskShop) -> None:
    links = server.app.state.terminals.links
    await until(lambda: (kiosk.shop.id, kiosk.terminal_id) in links, within=15)


async def settled(server: LiveServer, kiosk: KioskShop, payment_id: object) -> dict[str, Any]:
    """The payment once it is no longer pending (or as it is after 15 s)."""
    for _ in range(150):
        payment = await asyncio.to_thread(get_payment, server, kiosk, payment_id)
        if payment["status"] != "pending":
            return payment
        await asyncio.sleep(0.1)
    return payment


def test_a_payment_and_a_fiscal_receipt_go_through_a_real_agent(
    server: LiveServer, kiosk: KioskShop, gateway: Gateway, tmp_path: Path
) -> None:
    async def scenario() -> None:
        agent = await start_agent(server, kiosk, gateway, tmp_path).start()
        try:
            await connected(server, kiosk)
            payment = await asyncio.to_thread(create_payment, server, kiosk)
            done = await settled(server, kiosk, payment["id"])
            assert done["status"] == "succeeded", agent.text()
            with kiosk.api(server) as api:
                response = await asyncio.to_thread(
                    api.post,
                    f"/v1/terminals/{kiosk.terminal_id}/operations",
                    json={"kind": "fiscal", "body": FISCAL_RECEIPT},
                )
            assert response.status_code == 200, response.text
            assert response.json()["result"]["status"] == "OK"
            assert response.json()["result"]["fiscal_receipt"]["total_gross"] == 18000
            assert gateway.charges() == {payment["id"]: 1}
        finally:
            assert await agent.stop() == 0, agent.text()

    asyncio.run(scenario())


def test_a_terminal_that_connects_later_takes_the_payment_made_meanwhile(
    server: LiveServer, kiosk: KioskShop, gateway: Gateway, tmp_path: Path
) -> None:
    payment = create_payment(server, kiosk)

    async def scenario() -> None:
        agent = await start_agent(server, kiosk, gateway, tmp_path).start()
        try:
            done = await settled(server, kiosk, payment["id"])
            assert done["status"] == "succeeded", agent.text()
        finally:
            assert await agent.stop() == 0, agent.text()

    asyncio.run(scenario())


@pytest.mark.parametrize("gateway", [("decline", 0.0)], indirect=True)
def test_a_declined_card_fails_the_payment(
    server: LiveServer, kiosk: KioskShop, gateway: Gateway, tmp_path: Path
) -> None:
    async def scenario() -> None:
        agent = await start_agent(server, kiosk, gateway, tmp_path).start()
        try:
            await connected(server, kiosk)
            payment = await asyncio.to_thread(create_payment, server, kiosk)
            done = await settled(server, kiosk, payment["id"])
            assert done["status"] == "failed", agent.text()
            assert done["confirmation"]["result"]["status"] == "DECLINED"
        finally:
            await agent.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize("gateway", [("slow", 3.0)], indirect=True)
def test_a_gateway_that_does_not_answer_in_time_leaves_the_outcome_unknown(
    server: LiveServer, kiosk: KioskShop, gateway: Gateway, tmp_path: Path
) -> None:
    async def scenario() -> None:
        agent = await start_agent(server, kiosk, gateway, tmp_path, payment={"timeout": 1}).start()
        try:
            await connected(server, kiosk)
            payment = await asyncio.to_thread(create_payment, server, kiosk)
            await until(lambda: operation_state(server, kiosk, payment["id"]) == "unknown")
            done = await asyncio.to_thread(get_payment, server, kiosk, payment["id"])
            # The card may have been charged: the payment is neither paid nor failed, and
            # the reason is kept with it; it is never sent to the gateway again.
            assert done["status"] == "pending"
            assert done["confirmation"]["error"]["code"] == "timeout"
            assert done["confirmation"]["error"]["unknown"] is True
            assert gateway.charges() == {payment["id"]: 1}
        finally:
            await agent.stop()

    asyncio.run(scenario())


def test_a_revoked_token_stops_the_agent(
    server: LiveServer, kiosk: KioskShop, gateway: Gateway, tmp_path: Path
) -> None:
    async def revoke() -> None:
        terminal = await terminals.get_terminal(
            server.ctx, shop_id=kiosk.shop.id, terminal_id=kiosk.terminal_id
        )
        await terminals.revoke(server.ctx, terminal=terminal)

    async def scenario() -> None:
        agent = await start_agent(server, kiosk, gateway, tmp_path).start()
        await connected(server, kiosk)
        await asyncio.to_thread(server.call, revoke())
        assert await agent.wait(within=10) == 2, agent.text()
        assert "token" in agent.text().lower()

    asyncio.run(scenario())


def operation_state(server: LiveServer, kiosk: KioskShop, payment_id: object) -> str | None:
    with kiosk.api(server) as api:
        operations = api.get(f"/v1/terminals/{kiosk.terminal_id}/operations").json()["data"]
    states = [op["state"] for op in operations if op["payment"] == payment_id]
    return states[0] if states else None


@pytest.mark.parametrize("gateway", [("slow", 2.0)], indirect=True)
def test_sigterm_lets_a_payment_in_flight_finish_and_report(
    server: LiveServer, kiosk: KioskShop, gateway: Gateway, tmp_path: Path
) -> None:
    async def scenario() -> None:
        agent = await start_agent(server, kiosk, gateway, tmp_path).start()
        await connected(server, kiosk)
        payment = await asyncio.to_thread(create_payment, server, kiosk)
        await until(lambda: bool(gateway.calls()))  # the card is being charged
        agent.signal(signal.SIGTERM)
        assert await agent.wait(within=15) == 0, agent.text()
        done = await asyncio.to_thread(get_payment, server, kiosk, payment["id"])
        assert done["status"] == "succeeded", agent.text()
        assert gateway.charges() == {payment["id"]: 1}

    asyncio.run(scenario())
