"""The club PC's link to the hub (`/club/ws`): the agent kit's `Agent` with the club's parts
(`kassa.protocol.club`): heartbeats at the interval the hub's `welcome` dictates, carrying
what the core reports; leases handed to the core; and the staff's remote actions run as
operations (journalled, acknowledged and answered by the kit, each run once)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from kassa.agentkit.agent import Agent, Result
from kassa.agentkit.journal import Journal, Operation
from kassa.clubagent import os_adapter
from kassa.clubagent.config import NAME, ClubAgentConfig
from kassa.clubagent.core import Core
from kassa.clubagent.model import Notice
from kassa.protocol import Frame, ResultCode, failed_result, ok_result
from kassa.protocol.club import LEASE, Action

log = logging.getLogger(__name__)

#: Seconds between answering a restart or shutdown and doing it (for the answer to leave).
POWER_DELAY = 2.0


class ClubAgent(Agent):
    name = NAME
    device = "club PC"
    refused_hint = (
        "issue a new one on the hub (`kassa club pcs revoke CLUB PC` prints it), set it as "
        "KASSA_PC_TOKEN and restart the agent"
    )

    def __init__(self, config: ClubAgentConfig, journal: Journal, core: Core) -> None:
        super().__init__(config, journal)
        self.config = config
        self.core = core
        core.link_up = lambda: self.link.connected
        self._fetch: asyncio.Task[None] | None = None

    def refuse(self, operation: Operation) -> Result | None:
        if operation.kind in set(Action):
            return None
        return failed_result(
            ResultCode.ROUTE_NOT_FOUND,
            f"a club PC does not know the action {operation.kind!r}",
            unknown=False,
        )

    async def call(self, operation: Operation) -> Result:
        action = Action(operation.kind)
        body = operation.body if isinstance(operation.body, dict) else {}
        session = body.get("session") if isinstance(body.get("session"), str) else None
        core = self.core
        if action is Action.LOCK:
            core.lock_by_staff()
        elif action is Action.UNLOCK:
            core.unlock_by_staff(session)
        elif action is Action.MESSAGE:
            core.render(message=str(body.get("text", "")))
        elif action is Action.END_SESSION:
            core.session_over(session, Notice.ENDED_BY_STAFF, "staff")
        else:
            power = os_adapter.restart if action is Action.RESTART else os_adapter.shutdown
            asyncio.get_running_loop().call_later(POWER_DELAY, power)
        return ok_result({"mode": core.view.mode})

    def heartbeat_fields(self) -> dict[str, Any]:
        return self.core.heartbeat()

    def health_fields(self) -> dict[str, Any]:
        return {"mode": self.core.view.mode, "session": self.core.view.session}

    async def welcomed(self, data: dict[str, Any]) -> None:
        interval = data.get("heartbeat_interval")
        if isinstance(interval, int | float) and not isinstance(interval, bool) and interval > 0:
            self.config.heartbeat = float(interval)
            self.link.retime()
        log.info("the hub welcomes PC %s of club %s", data.get("pc"), data.get("club"))
        self.core.welcomed(data)
        self.core.connected()
        self._fetch = asyncio.create_task(self.core.fetch_screen())

    def background(self) -> list[Coroutine[Any, Any, None]]:
        return [self.core.run(), self.core.send_events()]

    async def received(self, frame: Frame) -> None:
        if frame.type == LEASE:
            self.core.leased(frame.data)
        else:
            await super().received(frame)
