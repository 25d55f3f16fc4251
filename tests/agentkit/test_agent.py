"""The kit's `Agent` with a device of no particular kind: what every agent gets from the kit
(hello, ack, result, repeats answered from the journal, refusals, the drain), against the
fake hub of the kiosk agent's tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kassa.agentkit.agent import Agent
from kassa.agentkit.journal import Journal, Operation, State
from kassa.protocol import ResultCode, failed_result, ok_result
from tests.agent.helpers import FakeHub, make_token, until


@dataclass(frozen=True)
class Settings:
    hub_url: str
    token: str
    ping_interval: float = 0
    heartbeat: float = 30
    backoff_max: float = 1
    stable_after: float = 60
    grace: float = 5
    health_port: int = 0
    stats_interval: float = 0


class EchoAgent(Agent):
    """Runs `echo` operations by answering their body; refuses any other kind."""

    name = "echo-agent"
    device = "gadget"
    refused_hint = "issue a new gadget token"

    def __init__(self, settings: Settings, journal: Journal) -> None:
        super().__init__(settings, journal)
        self.calls: list[str] = []

    def refuse(self, operation: Operation) -> dict[str, Any] | None:
        if operation.kind == "echo":
            return None
        return failed_result(ResultCode.ROUTE_NOT_FOUND, "only echo", unknown=False)

    async def call(self, operation: Operation) -> dict[str, Any]:
        self.calls.append(operation.request_id)
        return ok_result(operation.body)


def test_an_agent_of_any_kind_runs_each_operation_once(tmp_path: Path) -> None:
    token = make_token()
    journal = Journal(tmp_path / "journal.db")

    async def scenario() -> None:
        async with FakeHub(token) as hub:
            agent = EchoAgent(Settings(f"{hub.url}/terminals/ws", token), journal)
            running = asyncio.create_task(agent.run())
            connection, hello = await hub.accept()
            assert (hello["agent"], hello["unacked"]) == ("echo-agent", [])
            assert set(hello["stats"]) >= {"requests", "uptime_seconds"}

            await connection.operation("r1", {"n": 1}, kind="echo")
            assert await connection.expect("ack") == {"request_id": "r1"}
            result = await connection.expect("result")
            assert result == {"request_id": "r1", "ok": True, "body": {"n": 1}}

            await connection.operation("r1", {"n": 1}, kind="echo")  # a repeat
            assert await connection.expect("ack") == {"request_id": "r1"}
            assert await connection.expect("result") == result

            await connection.operation("r2", {}, kind="print")
            assert await connection.expect("ack") == {"request_id": "r2"}
            refused = await connection.expect("result")
            assert refused["error"]["code"] == "route_not_found"

            await connection.send("ack", {"request_id": "r1"})
            await until(
                lambda: (entry := journal.get("r1")) is not None and entry.state is State.ACKED
            )
            agent.stop()
            assert await asyncio.wait_for(running, 10) == 0
            assert agent.calls == ["r1"]

    try:
        asyncio.run(scenario())
    finally:
        journal.close()
