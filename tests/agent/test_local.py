"""Local calls: every outcome becomes a result, with `unknown` telling whether a card may
have been charged. Against the fake gateway on a real loopback port."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from kassa.agent.local import LocalServices
from kassa.agent.routing import Route
from tests.agent.helpers import Gateway, closed_url

PAYMENT = {"kiosk_id": "KIOSK_001", "order_id": 7, "sum": 15000}


def call(route: Route, body: Any = PAYMENT, method: str = "POST") -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        local = LocalServices()
        try:
            return await local.call(route, method, body, "req-test")
        finally:
            await local.aclose()

    return asyncio.run(go())


def check(route: Route) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        local = LocalServices()
        try:
            return await local.check(route)
        finally:
            await local.aclose()

    return asyncio.run(go())


def test_success_passes_the_answer_through(gateway: Gateway) -> None:
    result = call(Route(gateway.payment_url, 5))
    assert result["ok"] is True
    assert result["body"]["status"] == "SUCCESS"
    assert result["body"]["amount"] == 15000


def test_client_error_is_known(gateway: Gateway) -> None:
    result = call(Route(gateway.payment_url, 5), {**PAYMENT, "kiosk_id": "bad id"})
    assert result == {
        "ok": False,
        "error": {
            "code": "http_error",
            "message": result["error"]["message"],
            "unknown": False,
            "status": 422,
        },
    }
    assert result["error"]["message"].startswith("HTTP 422:")


def test_server_error_is_unknown(gateway: Gateway) -> None:
    call(Route(gateway.payment_url, 5))
    error = call(Route(gateway.payment_url, 5))["error"]
    assert (error["code"], error["status"], error["unknown"]) == ("http_error", 500, True)
    assert "Payment already exists" in error["message"]


def test_timeout_is_unknown(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory("slow", 5)
    error = call(Route(gateway.payment_url, 0.3))["error"]
    assert (error["code"], error["unknown"]) == ("timeout", True)
    assert gateway.charges() == {"7": 1}


def test_flaky_answers(gateway_factory: Callable[..., Gateway]) -> None:
    route = Route(gateway_factory("flaky").payment_url, 5)
    dropped = call(route, {**PAYMENT, "order_id": 1})["error"]
    assert (dropped["code"], dropped["unknown"]) == ("outcome_unknown", True)
    unavailable = call(route, {**PAYMENT, "order_id": 2})["error"]
    assert (unavailable["code"], unavailable["status"], unavailable["unknown"]) == (
        "http_error",
        503,
        True,
    )
    garbage = call(route, {**PAYMENT, "order_id": 3})["error"]
    assert (garbage["code"], garbage["unknown"]) == ("invalid_json", True)


def test_connection_refused_is_known() -> None:
    error = call(Route(closed_url("/payment"), 5))["error"]
    assert (error["code"], error["unknown"]) == ("connection_refused", False)


def test_get_sends_the_body_as_query(gateway: Gateway) -> None:
    result = call(Route(gateway.url + "/calls", 5), {"a": "b", "n": 3}, method="get")
    assert result == {"ok": True, "body": []}


def test_health_check(gateway: Gateway) -> None:
    healthy = check(Route(gateway.payment_url, 5))
    assert healthy["ok"] is True
    assert healthy["latency_ms"] >= 0
    down = check(Route(closed_url(), 5))
    assert down["ok"] is False
    assert down["error"]
    assert gateway.calls() == []  # health checks are not calls
