"""The kiosk agent: the agent kit's `Agent`, running each operation against the kiosk's local
service for its kind (`routing`, `local`), and watching those services' health."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
from collections.abc import Coroutine
from typing import Any

from kassa.agent.config import AgentConfig
from kassa.agent.local import LocalServices
from kassa.agent.routing import Routing, RoutingError, load_routing
from kassa.agentkit.agent import EXIT_CONFIG, Agent, Result, agent_version
from kassa.agentkit.journal import Journal, Operation
from kassa.agentkit.logs import configure_logging
from kassa.protocol import ResultCode, failed_result

log = logging.getLogger(__name__)

#: How often local services are checked (more often if heartbeats are more frequent).
HEALTH_INTERVAL = 30.0
#: The agent's name, in `hello`, its User-Agent and its daily log files.
NAME = "kassa-agent"


class KioskAgent(Agent):
    name = NAME
    device = "terminal"
    refused_hint = (
        "issue a new one on the hub (`kassa terminals token KIOSK_ID`, or `kassa terminals add "
        "SHOP KIOSK_ID` for a new terminal), set it as KASSA_TERMINAL_TOKEN and restart the agent"
    )

    def __init__(
        self, config: AgentConfig, routing: Routing, journal: Journal, local: LocalServices
    ) -> None:
        super().__init__(config, journal)
        self.routing = routing
        self.local = local
        self.route_health: dict[str, dict[str, Any]] = {}

    def refuse(self, operation: Operation) -> Result | None:
        if self.routing.resolve(operation.kind) is not None:
            return None
        return failed_result(
            ResultCode.ROUTE_NOT_FOUND,
            f"no route for kind {operation.kind!r} and no default route",
            unknown=False,
        )

    async def call(self, operation: Operation) -> Result:
        route = self.routing.resolve(operation.kind)
        assert route is not None  # `refuse` turned the operation down otherwise
        return await self.local.call(route, operation.method, operation.body, operation.request_id)

    def can_look_up(self, operation: Operation) -> bool:
        route = self.routing.resolve(operation.kind)
        return route is not None and route.status_url is not None

    async def look_up(self, operation: Operation, unknown: Result) -> Result:
        """Ask the route's status lookup (`can_look_up` said it has one)."""
        route = self.routing.resolve(operation.kind)
        assert route is not None
        log.info(
            "request_id=%s outcome unknown (%s): asking %s",
            operation.request_id,
            unknown["error"]["code"],
            route.status_url,
        )
        return await self.local.look_up(route, operation.body, operation.request_id, unknown)

    def hello_fields(self) -> dict[str, Any]:
        return {"routes": self.routing.kinds()}

    def heartbeat_fields(self) -> dict[str, Any]:
        return {"health": dict(self.route_health)}

    def health_fields(self) -> dict[str, Any]:
        return {"routes_configured": len(self.routing.all())}

    def background(self) -> list[Coroutine[Any, Any, None]]:
        return [self._check_routes()]

    async def welcomed(self, data: dict[str, Any]) -> None:
        log.info("the hub welcomes terminal %s", data.get("terminal"))

    async def _check_routes(self) -> None:
        interval = min(HEALTH_INTERVAL, self.settings.heartbeat)
        while True:
            routes = self.routing.all()
            results = await asyncio.gather(*(self.local.check(r) for r in routes.values()))
            for kind, result in zip(routes, results, strict=True):
                if result["ok"] != self.route_health.get(kind, {}).get("ok"):
                    log.log(
                        logging.INFO if result["ok"] else logging.WARNING,
                        "route %s (%s) %s",
                        kind,
                        routes[kind].url,
                        "reachable" if result["ok"] else f"unreachable: {result['error']}",
                    )
                self.route_health[kind] = result
            await asyncio.sleep(interval)


def run_agent(config: AgentConfig) -> int:
    """Set up logging, read the routes, open the journal and run the agent; the exit code."""
    try:
        configure_logging(config.log_dir, config.log_level, prefix=NAME)
    except OSError as exc:
        sys.stderr.write(f"error: cannot write logs in {config.log_dir}: {exc}\n")
        return EXIT_CONFIG
    try:
        routing = load_routing(config.routing_path, config.gateway_url, config.gateway_status_url)
    except RoutingError as exc:
        log.error("%s", exc)
        return EXIT_CONFIG
    try:
        journal = Journal(config.journal_path)
    except (OSError, sqlite3.Error) as exc:
        log.error("cannot open the journal %s: %s", config.journal_path, exc)
        return EXIT_CONFIG
    log.info(
        "%s %s: hub %s, routes %s, journal %s",
        NAME,
        agent_version(),
        config.hub_url,
        ", ".join(f"{kind}={route.url}" for kind, route in routing.all().items()),
        config.journal_path,
    )

    async def main() -> int:
        local = LocalServices()
        try:
            return await KioskAgent(config, routing, journal, local).run()
        finally:
            await local.aclose()

    try:
        return asyncio.run(main())
    finally:
        journal.close()
