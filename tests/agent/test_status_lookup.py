"""Unknown outcomes settled through a route's optional `status_url` (docs/agent.md, "Status
lookups"): the answer the service kept, `not_processed` when it never got the call, and
`unknown` as before when the lookup cannot tell or there is none. The operation itself is
never sent twice."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from kassa.agent.local import STATUS_TRIES, LocalServices
from kassa.agent.routing import Route
from kassa.agentkit.journal import Journal, Operation, outcome_unknown
from tests.agent.helpers import (
    AgentProcess,
    FakeHub,
    Gateway,
    HubConnection,
    agent_env,
    closed_url,
    deadline,
    make_token,
    until,
)

PAYMENT = {"kiosk_id": "KIOSK_001", "order_id": "pay_1", "sum": 15000}


def looked_up_route(gateway: Gateway, timeout: float = 5) -> dict[str, Any]:
    return {"url": gateway.payment_url, "timeout": timeout, "status_url": gateway.status_url}


async def pay(hub_side: HubConnection, order_id: str, kind: str = "payment") -> dict[str, Any]:
    """Send a payment for `order_id` (also its request_id) and return its result."""
    await hub_side.operation(order_id, {**PAYMENT, "order_id": order_id}, kind=kind)
    assert await hub_side.expect("ack") == {"request_id": order_id}
    result = await hub_side.expect("result")
    assert result["request_id"] == order_id
    return result


@pytest.mark.slow
def test_a_call_cut_by_a_crash_is_settled_by_the_lookup(
    tmp_path: Path, gateway_factory: Callable[..., Gateway]
) -> None:
    gateway = gateway_factory("slow", 1.5)

    async def scenario() -> None:
        async with FakeHub(make_token()) as hub:
            env = agent_env(tmp_path, hub, {"payment": looked_up_route(gateway)})
            async with AgentProcess(tmp_path, env) as agent:
                hub_side, _ = await hub.accept()
                await hub_side.operation("req-1", PAYMENT)
                await hub_side.expect("ack")
                await until(lambda: bool(gateway.calls()))
                await agent.kill()  # during the call: the journal row stays CALLING

                await agent.restart()
                hub_side, hello = await hub.accept()
                assert hello["unacked"] == []  # not settled yet: no result to re-send
                result = await hub_side.expect("result", within=10)
                assert result["request_id"] == "req-1"
                assert result["ok"] is True
                assert result["body"] == gateway.app.state.record.answers["pay_1"]
                await hub_side.send("ack", {"request_id": "req-1"})
                assert await agent.stop() == 0
        assert gateway.charges() == {"pay_1": 1}
        assert "asking the status lookup what became of it" in agent.text()

    asyncio.run(scenario())


@pytest.mark.slow
def test_a_timeout_is_settled_by_the_lookup(
    tmp_path: Path, gateway_factory: Callable[..., Gateway]
) -> None:
    gateway = gateway_factory("slow", 1.3)  # past the 1 s timeout; the first lookup waits

    async def scenario() -> None:
        async with FakeHub(make_token()) as hub:
            routes = {"payment": looked_up_route(gateway, timeout=1)}
            async with AgentProcess(tmp_path, agent_env(tmp_path, hub, routes)) as agent:
                hub_side, _ = await hub.accept()
                result = await pay(hub_side, "pay_1")
                assert result["ok"] is True
                assert result["body"]["status"] == "SUCCESS"
                assert await agent.stop() == 0
        assert gateway.charges() == {"pay_1": 1}
        journal = Journal(tmp_path / "journal.db")
        entry = journal.get("pay_1")
        journal.close()
        assert entry is not None
        assert entry.result == {key: result[key] for key in ("ok", "body")}

    asyncio.run(scenario())


@pytest.mark.slow
def test_a_call_that_never_arrived_is_not_processed(tmp_path: Path, gateway: Gateway) -> None:
    journal = Journal(tmp_path / "journal.db")
    journal.insert(Operation("cut", "payment", {**PAYMENT, "order_id": "cut"}, deadline=deadline()))
    journal.start_call("cut")  # as if the agent died before the request left
    journal.close()

    async def scenario() -> None:
        async with FakeHub(make_token()) as hub:
            env = agent_env(tmp_path, hub, {"payment": looked_up_route(gateway)})
            async with AgentProcess(tmp_path, env) as agent:
                hub_side, _ = await hub.accept()
                result = await hub_side.expect("result")
                assert result["request_id"] == "cut"
                error = result["error"]
                assert (error["code"], error["unknown"], error["status"]) == (
                    "not_processed",
                    False,
                    404,
                )
                assert await agent.stop() == 0
        assert gateway.charges() == {}  # looked up, never sent again

    asyncio.run(scenario())


@pytest.mark.slow
def test_lost_answers_are_recovered_only_where_a_status_url_is_set(
    tmp_path: Path, gateway_factory: Callable[..., Gateway]
) -> None:
    flaky = gateway_factory("flaky")  # drop, 503, garbage, approve; each one charges
    routes = {
        "payment": looked_up_route(flaky),
        "plain": {"url": flaky.payment_url, "timeout": 5},
    }

    async def scenario() -> None:
        async with (
            FakeHub(make_token()) as hub,
            AgentProcess(tmp_path, agent_env(tmp_path, hub, routes)) as agent,
        ):
            hub_side, _ = await hub.accept()
            for order_id in ("drop", "busy", "garbage"):
                result = await pay(hub_side, order_id)
                assert result["ok"] is True, result
                assert result["body"]["order_id"] == order_id
            await pay(hub_side, "fine")  # the cycle's approval
            for order_id, code in (
                ("plain-drop", "outcome_unknown"),
                ("plain-busy", "http_error"),
                ("plain-garbage", "invalid_json"),
            ):
                error = (await pay(hub_side, order_id, kind="plain"))["error"]
                assert (error["code"], error["unknown"]) == (code, True)
                assert "status lookup" not in error["message"]
            assert await agent.stop() == 0
        charges = flaky.charges()
        assert set(charges.values()) == {1}
        assert len(charges) == 7

    asyncio.run(scenario())


def look_up(handler: Callable[[httpx.Request], httpx.Response], route: Route) -> dict[str, Any]:
    """`LocalServices.look_up` of PAYMENT against `handler`, from a timeout."""
    unknown = {"ok": False, "error": {"code": "timeout", "message": "slow", "unknown": True}}

    async def go() -> dict[str, Any]:
        local = LocalServices(httpx.AsyncClient(transport=httpx.MockTransport(handler)))
        try:
            return await local.look_up(route, PAYMENT, "req-test", unknown)
        finally:
            await local.aclose()

    return asyncio.run(go())


def test_a_lookup_that_cannot_tell_is_tried_a_few_times_then_unknown() -> None:
    seen: list[httpx.Request] = []

    def busy(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503, text="busy")

    route = Route("http://gw/pay", 0.2, status_url="http://gw/pay/{order_id}?kiosk={kiosk_id}")
    error = look_up(busy, route)["error"]
    assert (error["code"], error["unknown"]) == ("timeout", True)
    assert error["message"].startswith("slow; status lookup: ")
    assert "HTTP 503 'busy'" in error["message"]
    assert len(seen) == STATUS_TRIES
    assert {(r.method, str(r.url)) for r in seen} == {
        ("GET", "http://gw/pay/pay_1?kiosk=KIOSK_001")
    }


def test_a_lookup_answer_that_is_not_json_does_not_settle() -> None:
    route = Route("http://gw/pay", 0.1, status_url="http://gw/pay/{order_id}")
    error = look_up(lambda _: httpx.Response(200, text="<html>"), route)["error"]
    assert error["unknown"] is True
    assert "HTTP 200 but not JSON" in error["message"]


def test_a_body_without_the_placeholder_field_is_not_looked_up() -> None:
    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"looked up {request.url}")

    route = Route("http://gw/pay", 5, status_url="http://gw/pay/{session}")
    error = look_up(never, route)["error"]
    assert error["unknown"] is True
    assert "the body has no field 'session'" in error["message"]


def test_an_unreachable_lookup_leaves_the_outcome_unknown() -> None:
    unknown = outcome_unknown()

    async def go() -> dict[str, Any]:
        local = LocalServices()
        try:
            route = Route(closed_url("/pay"), 0.2, status_url=closed_url("/pay/{order_id}"))
            return await local.look_up(route, PAYMENT, "req-test", unknown)
        finally:
            await local.aclose()

    error = asyncio.run(go())["error"]
    assert (error["code"], error["unknown"]) == ("outcome_unknown", True)
    assert "status lookup: http://127.0.0.1:" in error["message"]
