"""The agent as a real process (`python -m kassa.agent`) between a fake hub speaking
docs/terminal-protocol.md and the fake gateway: the delivery rules end to end."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest

from kassa.agentkit.journal import Journal, Operation
from tests.agent.helpers import (
    AgentProcess,
    FakeHub,
    Gateway,
    HubConnection,
    agent_env,
    closed_url,
    deadline,
    free_port,
    make_token,
    until,
)

pytestmark = pytest.mark.slow

PAYMENT = {"kiosk_id": "KIOSK_001", "order_id": "pay_1", "sum": 15000}


def payment_route(gateway: Gateway, timeout: float = 5) -> dict[str, Any]:
    return {"url": gateway.payment_url, "timeout": timeout}


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


def test_payment_round_trip_and_repeats(tmp_path: Path, gateway: Gateway) -> None:
    async def scenario() -> None:
        async with FakeHub(make_token()) as hub:
            port = free_port()
            env = agent_env(
                tmp_path,
                hub,
                {"payment": payment_route(gateway)},
                KASSA_AGENT_HEALTH_PORT=str(port),
            )
            async with AgentProcess(tmp_path, env) as agent:
                hub_side, hello = await hub.accept()
                assert hello["agent"] == "kassa-agent"
                assert hello["version"]
                assert hello["unacked"] == []
                assert hello["routes"] == ["payment"]
                assert set(hello["stats"]) >= {"requests", "successes", "reconnects"}

                await hub_side.operation("req-1", PAYMENT)
                assert await hub_side.expect("ack") == {"request_id": "req-1"}
                result = await hub_side.expect("result")
                assert result["request_id"] == "req-1"
                assert result["ok"] is True
                assert result["body"]["status"] == "SUCCESS"
                assert result["body"]["amount"] == 15000
                await hub_side.send("ack", {"request_id": "req-1"})

                # The hub repeats the operation: answered from the journal.
                await hub_side.operation("req-1", PAYMENT)
                assert await hub_side.expect("ack") == {"request_id": "req-1"}
                assert (await hub_side.expect("result"))["body"] == result["body"]

                await hub_side.send("status_query", {"request_id": "req-1"})
                assert (await hub_side.expect("result"))["body"] == result["body"]
                await hub_side.send("status_query", {"request_id": "never-sent"})
                assert await hub_side.expect("status") == {
                    "request_id": "never-sent",
                    "state": "not_found",
                }

                await hub_side.ws.send("not json")  # ignored, the link stays up
                seen = len(hub_side.heartbeats)
                await until(lambda: len(hub_side.heartbeats) > seen)
                beat = hub_side.heartbeats[-1]
                assert beat["in_flight"] == 0
                assert beat["stats"]["requests"] == 1
                assert beat["health"]["payment"]["ok"] is True
                async with httpx.AsyncClient() as client:
                    health = (await client.get(f"http://127.0.0.1:{port}/health")).json()
                assert health["status"] == "healthy"
                assert health["ws_connected"] is True
                assert (health["in_flight"], health["unacked"], health["routes_configured"]) == (
                    0,
                    0,
                    1,
                )
                assert health["stats"]["successes"] == 1
                assert health["stats"]["errors"] == 1
                assert await agent.stop() == 0
                assert hub_side.ws.close_code == 1001

                # After a restart, the same operation still does not reach the gateway.
                await agent.restart()
                hub_side, hello = await hub.accept()
                assert hello["unacked"] == []
                await hub_side.operation("req-1", PAYMENT)
                assert await hub_side.expect("ack") == {"request_id": "req-1"}
                assert (await hub_side.expect("result"))["body"] == result["body"]
                assert await agent.stop() == 0
        assert gateway.charges() == {"pay_1": 1}
        logs = "".join(path.read_text() for path in (tmp_path / "logs").iterdir())
        assert "request_id=req-1 received kind=payment" in logs
        assert "request_id=req-1 done kind=payment ok=True" in logs
        assert make_token() not in logs + agent.text()

    run(scenario)


def test_unacked_result_survives_reconnects_and_restarts(tmp_path: Path, gateway: Gateway) -> None:
    async def scenario() -> None:
        async with FakeHub(make_token()) as hub:
            env = agent_env(tmp_path, hub, {"payment": payment_route(gateway)})
            async with AgentProcess(tmp_path, env) as agent:
                hub_side, _ = await hub.accept()
                await hub_side.operation("req-2", PAYMENT)
                await hub_side.expect("ack")
                first = await hub_side.expect("result")

                # Replaced by a newer connection: the agent comes back and re-sends it.
                await hub_side.ws.close(4409, "replaced")
                hub_side, hello = await hub.accept()
                assert hello["unacked"] == ["req-2"]
                assert await hub_side.expect("result") == first

                # A power cut (restart kills it first), then a restart: still there.
                await agent.restart()
                hub_side, hello = await hub.accept()
                assert hello["unacked"] == ["req-2"]
                assert await hub_side.expect("result") == first
                await hub_side.send("ack", {"request_id": "req-2"})
                await hub_side.nothing(0.3)
                assert await agent.stop() == 0
        journal = Journal(tmp_path / "journal.db")
        assert journal.unacked() == []  # the next start's hello lists nothing
        journal.close()
        assert gateway.charges() == {"pay_1": 1}

    run(scenario)


def test_start_up_runs_what_was_journaled_and_never_repeats_a_cut_call(
    tmp_path: Path, gateway: Gateway
) -> None:
    journal = Journal(tmp_path / "journal.db")
    for request_id in ("waiting", "cut"):
        body = {**PAYMENT, "order_id": request_id}
        journal.insert(Operation(request_id, "payment", body, deadline=deadline()))
    journal.insert(Operation("stale", "payment", PAYMENT, deadline=deadline(-1)))
    journal.start_call("cut")  # as if the agent died during this call
    journal.close()

    async def scenario() -> None:
        async with FakeHub(make_token()) as hub:
            env = agent_env(tmp_path, hub, {"payment": payment_route(gateway)})
            async with AgentProcess(tmp_path, env) as agent:
                hub_side, _ = await hub.accept()
                results: dict[str, dict[str, Any]] = {}
                while len(results) < 3:
                    result = await hub_side.expect("result")
                    results[result["request_id"]] = result
                assert results["waiting"]["ok"] is True
                assert results["cut"]["error"]["code"] == "outcome_unknown"
                assert results["stale"]["error"]["code"] == "expired"
                assert await agent.stop() == 0
        assert gateway.charges() == {"waiting": 1}
        assert "request_id=cut the agent stopped during its local call" in agent.text()

    run(scenario)


def test_failures_become_results(tmp_path: Path, gateway_factory: Callable[..., Gateway]) -> None:
    slow = gateway_factory("slow", 5)
    flaky = gateway_factory("flaky")
    routes = {
        "payment": payment_route(slow, timeout=0.5),
        "flaky": payment_route(flaky),
        "kds": {"url": closed_url("/api/v1/kds"), "timeout": 5},
    }

    async def scenario() -> None:
        async with (
            FakeHub(make_token()) as hub,
            AgentProcess(tmp_path, agent_env(tmp_path, hub, routes)) as agent,
        ):
            hub_side, hello = await hub.accept()
            assert hello["routes"] == ["flaky", "kds", "payment"]

            async def outcome(request_id: str, kind: str, **options: Any) -> dict[str, Any]:
                body = {**PAYMENT, "order_id": request_id}
                await hub_side.operation(request_id, body, kind=kind, **options)
                assert await hub_side.expect("ack") == {"request_id": request_id}
                result = await hub_side.expect("result")
                assert result["request_id"] == request_id
                assert result["ok"] is False
                error: dict[str, Any] = result["error"]
                return error

            late = await outcome("late", "payment", expires=deadline(-1))
            assert (late["code"], late["unknown"]) == ("expired", False)
            timeout = await outcome("slow", "payment")
            assert (timeout["code"], timeout["unknown"]) == ("timeout", True)
            dropped = await outcome("drop", "flaky")
            assert (dropped["code"], dropped["unknown"]) == ("outcome_unknown", True)
            unavailable = await outcome("busy", "flaky")
            assert (unavailable["code"], unavailable["status"]) == ("http_error", 503)
            assert unavailable["unknown"] is True
            garbage = await outcome("garbage", "flaky")
            assert (garbage["code"], garbage["unknown"]) == ("invalid_json", True)
            refused = await outcome("refused", "kds")
            assert (refused["code"], refused["unknown"]) == ("connection_refused", False)
            unrouted = await outcome("print", "print")
            assert (unrouted["code"], unrouted["unknown"]) == ("route_not_found", False)
            assert await agent.stop() == 0
        assert slow.charges() == {"slow": 1}
        assert flaky.charges() == {"drop": 1, "busy": 1, "garbage": 1}

    run(scenario)


async def sigterm_while_charging(
    agent: AgentProcess, hub: FakeHub, gateway: Gateway, request_id: str
) -> HubConnection:
    """Once the agent has connected, send it a payment, and SIGTERM it while the gateway is
    charging the card; the hub's side of the connection."""
    hub_side, _ = await hub.accept()
    await hub_side.operation(request_id, PAYMENT)
    await hub_side.expect("ack")
    await until(lambda: bool(gateway.calls()))
    agent.signal(signal.SIGTERM)
    await asyncio.sleep(0.3)
    return hub_side


def test_sigterm_drains_the_payment_in_flight(
    tmp_path: Path, gateway_factory: Callable[..., Gateway]
) -> None:
    gateway = gateway_factory("slow", 2)

    async def scenario() -> None:
        async with FakeHub(make_token()) as hub:
            env = agent_env(tmp_path, hub, {"payment": payment_route(gateway)})
            async with AgentProcess(tmp_path, env) as agent:
                hub_side = await sigterm_while_charging(agent, hub, gateway, "req-3")
                # Shutting down: a new operation is neither acknowledged nor run.
                await hub_side.operation("req-4", {**PAYMENT, "order_id": "pay_2"})
                result = await hub_side.expect("result", within=5)
                assert result["request_id"] == "req-3"
                assert result["ok"] is True
                await hub_side.send("ack", {"request_id": "req-3"})
                assert await agent.wait(within=5) == 0
                await asyncio.wait_for(hub_side.closed.wait(), 5)
                assert hub_side.ws.close_code == 1001
                assert hub_side.messages.empty()
        assert gateway.charges() == {"pay_1": 1}
        assert "not taken: the agent is shutting down" in agent.text()

    run(scenario)


def test_a_second_signal_exits_at_once_and_the_call_is_never_repeated(
    tmp_path: Path, gateway_factory: Callable[..., Gateway]
) -> None:
    gateway = gateway_factory("slow", 3)

    async def scenario() -> None:
        async with FakeHub(make_token()) as hub:
            env = agent_env(tmp_path, hub, {"payment": payment_route(gateway)})
            async with AgentProcess(tmp_path, env) as agent:
                hub_side = await sigterm_while_charging(agent, hub, gateway, "req-5")
                agent.signal(signal.SIGTERM)
                assert await agent.wait(within=3) == 130

                await agent.restart()
                hub_side, hello = await hub.accept()
                assert hello["unacked"] == ["req-5"]
                result = await hub_side.expect("result")
                assert result["error"]["code"] == "outcome_unknown"
                assert result["error"]["unknown"] is True
                await hub_side.operation("req-5", PAYMENT)  # repeated: still not run
                await hub_side.expect("ack")
                assert (await hub_side.expect("result"))["error"]["code"] == "outcome_unknown"
                assert await agent.stop() == 0
        assert gateway.charges() == {"pay_1": 1}

    run(scenario)


def test_a_refused_token_stops_the_agent(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with FakeHub(make_token(), refuse=(401, "token_revoked")) as hub:
            async with AgentProcess(tmp_path, agent_env(tmp_path, hub, {})) as agent:
                assert await agent.wait() == 2
            assert hub.handshakes == 1
        assert "the hub refused the terminal token: token_revoked" in agent.text()
        assert "kassa terminals add" in agent.text()

    run(scenario)


def test_close_4401_stops_the_agent(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with FakeHub(make_token()) as hub:
            async with AgentProcess(tmp_path, agent_env(tmp_path, hub, {})) as agent:
                hub_side, _ = await hub.accept()
                await hub_side.ws.close(4401, "token revoked")
                assert await agent.wait() == 2
            assert hub.handshakes == 1
        assert "the hub refused the terminal token: 4401 token revoked" in agent.text()

    run(scenario)


def test_a_disabled_terminal_retries_slowly(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with FakeHub(make_token(), refuse=(403, "terminal_disabled")) as hub:
            env = agent_env(tmp_path, hub, {}, KASSA_AGENT_BACKOFF_MAX="0.4")
            async with AgentProcess(tmp_path, env) as agent:
                await until(lambda: hub.handshakes >= 3, within=5)
                assert await agent.stop() == 0
        assert "terminal_disabled" in agent.text()

    run(scenario)


def test_check_report(tmp_path: Path, gateway: Gateway) -> None:
    async def scenario() -> None:
        async with FakeHub(make_token()) as hub:
            env = agent_env(
                tmp_path, hub, {"payment": payment_route(gateway)}, KIOSK_ID="KIOSK_001"
            )
            env["COLUMNS"] = "250"
            good = await AgentProcess(tmp_path, env, "--check").start()
            assert await good.wait() == 0, good.text()
            assert "All checks passed" in good.text()
            assert "accepted the token" in good.text()

            bad_env = {
                **env,
                "KIOSK_ID": "KIOSK_002",
                "KASSA_GATEWAY_URL": closed_url("/payment"),
                "KASSA_TERMINAL_TOKEN": make_token(shop="other"),
            }
            (tmp_path / "routing_config.yaml").write_text("routes: {}\n")
            bad = await AgentProcess(tmp_path, bad_env, "--check").start()
            assert await bad.wait() == 1
        text = bad.text()
        assert "but the token is for KIOSK_001" in text
        assert "unreachable" in text
        assert "token_invalid" in text

    run(scenario)
