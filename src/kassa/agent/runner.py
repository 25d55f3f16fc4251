"""The agent itself: takes operations from the link, journals and runs them, delivers their
results; and its life cycle, from recovery at start-up to the graceful drain on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import logging
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from kassa.agent.backoff import Backoff
from kassa.agent.config import AgentConfig
from kassa.agent.health import HealthServer
from kassa.agent.journal import Journal, Operation, State, outcome_unknown
from kassa.agent.link import Link, TokenRefused
from kassa.agent.local import LocalServices, failure
from kassa.agent.logs import configure_logging
from kassa.agent.routing import Route, Routing, RoutingError, load_routing
from kassa.agent.stats import Stats

log = logging.getLogger(__name__)

#: How often local services are checked (more often if heartbeats are more frequent).
HEALTH_INTERVAL = 30.0
#: After the drain, how long the agent waits at most for the hub to acknowledge results.
ACK_WAIT = 5.0
#: Exit codes: a bad configuration, and a token the hub refuses for good.
EXIT_CONFIG = 1
EXIT_TOKEN_REFUSED = 2
EXIT_FORCED = 130


def agent_version() -> str:
    import kassa

    version = getattr(kassa, "__version__", None)
    if isinstance(version, str):
        return version
    try:
        return importlib.metadata.version("kassa")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class Agent:
    """Implements the link's `Session`: what to say on connecting, what to do with each
    message from the hub."""

    def __init__(
        self, config: AgentConfig, routing: Routing, journal: Journal, local: LocalServices
    ) -> None:
        self.config = config
        self.routing = routing
        self.journal = journal
        self.local = local
        self.version = agent_version()
        self.stats = Stats()
        backoff = Backoff(cap=config.backoff_max, stable_after=config.stable_after)
        self.link = Link(config, self, backoff, self.stats, self.version)
        self.in_flight: dict[str, asyncio.Task[None]] = {}
        self.route_health: dict[str, dict[str, Any]] = {}
        self.draining = False
        self._stop = asyncio.Event()
        self._acked = asyncio.Event()
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
            "operation": self._operation,
            "ack": self._ack,
            "status_query": self._status_query,
            "welcome": self._welcome,
            "error": self._error,
        }

    # -- the session -------------------------------------------------------------------------

    async def hello(self) -> dict[str, Any]:
        unacked = await asyncio.to_thread(self.journal.unacked)
        return {
            "agent": "kassa-agent",
            "version": self.version,
            "unacked": [entry.request_id for entry in unacked],
            "routes": self.routing.kinds(),
            "stats": self.stats.heartbeat(),
        }

    async def opened(self) -> None:
        # Read again rather than reuse hello's list: a result stored since then is sent too.
        for entry in await asyncio.to_thread(self.journal.unacked):
            assert entry.result is not None
            await self._send_result(entry.request_id, entry.result)

    def heartbeat(self) -> dict[str, Any]:
        return {
            "stats": self.stats.heartbeat(),
            "health": dict(self.route_health),
            "in_flight": len(self.in_flight),
        }

    async def received(self, message: dict[str, Any]) -> None:
        handler = self._handlers.get(message["type"])
        if handler is None:
            return
        try:
            await handler(message["data"])
        except Exception:
            # E.g. the journal cannot be written: nothing was acknowledged, so the hub sends
            # the operation again later; the link stays up.
            self.stats.errors += 1
            log.exception("could not handle a %s message", message["type"])

    # -- messages from the hub ---------------------------------------------------------------

    async def _operation(self, data: dict[str, Any]) -> None:
        operation = _parse_operation(data)
        if operation is None:
            self.stats.errors += 1
            log.warning("ignored an operation without a request_id: %.200s", data)
            return
        request_id = operation.request_id
        if self.draining:
            if await asyncio.to_thread(self.journal.get, request_id) is None:
                # Neither journaled nor acknowledged: the hub sends it again after a reconnect.
                log.info("request_id=%s not taken: the agent is shutting down", request_id)
                return
        elif await asyncio.to_thread(self.journal.insert, operation):
            log.info(
                "request_id=%s received kind=%s method=%s",
                request_id,
                operation.kind,
                operation.method,
            )
            await self.link.send("ack", {"request_id": request_id})
            self._start(request_id, self._execute(operation))
            return
        entry = await asyncio.to_thread(self.journal.get, request_id)
        log.info(
            "request_id=%s repeated by the hub; already %s, not run again",
            request_id,
            entry.state if entry else "gone",
        )
        await self.link.send("ack", {"request_id": request_id})
        if entry is not None and entry.result is not None:
            await self._send_result(request_id, entry.result)

    async def _ack(self, data: dict[str, Any]) -> None:
        request_id = data.get("request_id")
        if isinstance(request_id, str) and await asyncio.to_thread(
            self.journal.acknowledge, request_id
        ):
            log.info("request_id=%s result acknowledged by the hub", request_id)
            self._acked.set()

    async def _status_query(self, data: dict[str, Any]) -> None:
        request_id = data.get("request_id")
        if not isinstance(request_id, str):
            return
        entry = await asyncio.to_thread(self.journal.get, request_id)
        if entry is not None and entry.result is not None:
            await self._send_result(request_id, entry.result)
            return
        state = {None: "not_found", State.RECEIVED: "received", State.CALLING: "in_progress"}
        answer = state.get(entry.state if entry else None, "in_progress")
        log.info("request_id=%s status query: %s", request_id, answer)
        await self.link.send("status", {"request_id": request_id, "state": answer})

    async def _welcome(self, data: dict[str, Any]) -> None:
        log.info("the hub welcomes terminal %s", data.get("terminal"))

    async def _error(self, data: dict[str, Any]) -> None:
        log.warning(
            "the hub could not read a message: %s %s", data.get("code"), data.get("message")
        )

    # -- running operations ------------------------------------------------------------------

    def _start(self, request_id: str, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(self._guarded(request_id, work), name=f"request_id={request_id}")
        self.in_flight[request_id] = task
        task.add_done_callback(lambda _: self.in_flight.pop(request_id, None))

    async def _guarded(self, request_id: str, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception:
            # The journal failed: a row left CALLING is settled at the next start (never
            # called again), one left RECEIVED is run then; nothing is called twice.
            self.stats.errors += 1
            log.exception("request_id=%s could not be completed", request_id)

    async def _execute(self, operation: Operation) -> None:
        request_id = operation.request_id
        route = self.routing.resolve(operation.kind)
        if _expired(operation.deadline):
            result = failure(
                "expired",
                f"the operation arrived after its deadline {operation.deadline}; it was not run",
                unknown=False,
            )
        elif route is None:
            result = failure(
                "route_not_found",
                f"no route for kind {operation.kind!r} and no default route",
                unknown=False,
            )
        elif not await asyncio.to_thread(self.journal.start_call, request_id):
            return
        else:
            try:
                result = await self.local.call(route, operation.method, operation.body, request_id)
            except Exception as exc:
                # A bug, not an answer: the request may have left, so the outcome is unknown.
                log.exception("request_id=%s the local call failed unexpectedly", request_id)
                self.stats.errors += 1
                result = failure("outcome_unknown", f"agent error: {exc!r}", unknown=True)
            result = await self._settle(operation, route, result)
        await self._complete(operation, result)

    async def _settle(
        self, operation: Operation, route: Route, result: dict[str, Any]
    ) -> dict[str, Any]:
        """`result`, unless its outcome is unknown and the route has a status lookup: then
        what the lookup tells (the operation itself is never sent again)."""
        if route.status_url is None or not result.get("error", {}).get("unknown"):
            return result
        log.info(
            "request_id=%s outcome unknown (%s): asking %s",
            operation.request_id,
            result["error"]["code"],
            route.status_url,
        )
        return await self.local.look_up(route, operation.body, operation.request_id, result)

    async def _resume(self, operation: Operation, route: Route) -> None:
        """Settle a call that a stop cut short, through the route's status lookup."""
        await self._complete(operation, await self._settle(operation, route, outcome_unknown()))

    async def _complete(self, operation: Operation, result: dict[str, Any]) -> None:
        """Journal the result, count and log it, and send it to the hub."""
        request_id = operation.request_id
        await asyncio.to_thread(self.journal.finish, request_id, result)
        self.stats.counted(result)
        error = result.get("error", {})
        log.info(
            "request_id=%s done kind=%s ok=%s%s",
            request_id,
            operation.kind,
            result["ok"],
            f" error={error['code']} unknown={error['unknown']}" if error else "",
        )
        await self._send_result(request_id, result)

    async def _send_result(self, request_id: str, result: dict[str, Any]) -> None:
        if not await self.link.send("result", {"request_id": request_id, **result}):
            log.info("request_id=%s result kept until the hub is back", request_id)

    # -- life cycle --------------------------------------------------------------------------

    def stop(self) -> None:
        """The first SIGTERM/SIGINT: drain and exit. The second: exit at once."""
        if self._stop.is_set():
            log.warning("second signal: exiting now, in-flight operations are left unfinished")
            logging.shutdown()
            os._exit(EXIT_FORCED)
        log.info(
            "stopping: no new operations, waiting up to %g s for %d in flight",
            self.config.grace,
            len(self.in_flight),
        )
        self.draining = True
        self._stop.set()

    def health(self) -> dict[str, Any]:
        return {
            "status": "healthy" if self.link.connected else "disconnected",
            "version": self.version,
            "ws_connected": self.link.connected,
            "uptime_seconds": self.stats.uptime(),
            "stats": self.stats.counters(),
            "in_flight": len(self.in_flight),
            "unacked": self.journal.count(State.DONE),
            "routes_configured": len(self.routing.all()),
        }

    async def run(self) -> int:
        """Run until stopped; the process's exit code."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop)
        health = HealthServer(self.health, self.config.health_port)
        await self._start_health(health)
        await self._recover()
        background = [
            asyncio.create_task(self._check_routes()),
            asyncio.create_task(self._print_stats()),
        ]
        link = asyncio.create_task(self.link.run())
        stopped = asyncio.create_task(self._stop.wait())
        await asyncio.wait({link, stopped}, return_when=asyncio.FIRST_COMPLETED)
        code = self._link_outcome(link) if link.done() else 0
        self.draining = True
        await self._drain()
        await self.link.close()
        for task in (*background, link, stopped):
            task.cancel()
        await asyncio.gather(*background, link, stopped, return_exceptions=True)
        await health.close()
        log.info("stopped: %s", self.stats.line())
        return code

    async def _start_health(self, health: HealthServer) -> None:
        if not self.config.health_port:
            return
        try:
            await health.start()
        except OSError as exc:
            # Payments matter more than monitoring: run without the endpoint.
            log.error(
                "no health endpoint: cannot listen on 127.0.0.1:%d: %s",
                self.config.health_port,
                exc.strerror or exc,
            )

    def _link_outcome(self, link: asyncio.Task[None]) -> int:
        """The exit code when the link gave up by itself."""
        error = link.exception()
        if isinstance(error, TokenRefused):
            log.error("%s", error)
            return EXIT_TOKEN_REFUSED
        if error is not None:
            log.error("the link to the hub failed", exc_info=error)
            return EXIT_CONFIG
        return 0

    async def _recover(self) -> None:
        for entry in await asyncio.to_thread(self.journal.interrupted):
            route = self.routing.resolve(entry.operation.kind)
            if route is not None and route.status_url is not None:
                log.warning(
                    "request_id=%s the agent stopped during its local call: it is not called "
                    "again; asking the status lookup what became of it",
                    entry.request_id,
                )
                self._start(entry.request_id, self._resume(entry.operation, route))
                continue
            log.warning(
                "request_id=%s the agent stopped during its local call: outcome_unknown "
                "(it is not called again; check the service's own records)",
                entry.request_id,
            )
            await asyncio.to_thread(self.journal.finish, entry.request_id, outcome_unknown())
        pruned = await asyncio.to_thread(self.journal.prune)
        if pruned:
            log.info("forgot %d acknowledged operations older than 7 days", pruned)
        for entry in await asyncio.to_thread(self.journal.received):
            log.info("request_id=%s journaled before a stop, running it now", entry.request_id)
            self._start(entry.request_id, self._execute(entry.operation))

    async def _drain(self) -> None:
        """Wait up to the grace period for in-flight operations (each sends its result as it
        finishes), then briefly for the hub to acknowledge those results. Whatever is not
        acknowledged stays in the journal and is sent again after the next start."""
        deadline = time.monotonic() + self.config.grace
        drained = set(self.in_flight)
        if self.in_flight:
            _, pending = await asyncio.wait(set(self.in_flight.values()), timeout=self.config.grace)
            for task in pending:
                log.warning("%s still running after the grace period: cancelled", task.get_name())
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        ack_deadline = min(deadline, time.monotonic() + ACK_WAIT)
        while drained:
            self._acked.clear()
            drained = await asyncio.to_thread(self._unacked_among, drained)
            remaining = ack_deadline - time.monotonic()
            if not (self.link.connected and drained and remaining > 0):
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._acked.wait(), min(remaining, 0.5))

    def _unacked_among(self, request_ids: set[str]) -> set[str]:
        return {
            request_id
            for request_id in request_ids
            if (entry := self.journal.get(request_id)) is not None and entry.state is State.DONE
        }

    async def _check_routes(self) -> None:
        interval = min(HEALTH_INTERVAL, self.config.heartbeat)
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

    async def _print_stats(self) -> None:
        if not self.config.stats_interval:
            return
        while True:
            await asyncio.sleep(self.config.stats_interval)
            log.info("stats: %s", self.stats.line())


def run_agent(config: AgentConfig) -> int:
    """Set up logging, read the routes, open the journal and run the agent; the exit code."""
    try:
        configure_logging(config.log_dir, config.log_level)
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
        "kassa-agent %s: hub %s, routes %s, journal %s",
        agent_version(),
        config.hub_url,
        ", ".join(f"{kind}={route.url}" for kind, route in routing.all().items()),
        config.journal_path,
    )

    async def main() -> int:
        local = LocalServices()
        try:
            return await Agent(config, routing, journal, local).run()
        finally:
            await local.aclose()

    try:
        return asyncio.run(main())
    finally:
        journal.close()


def _parse_operation(data: dict[str, Any]) -> Operation | None:
    request_id = data.get("request_id")
    if not isinstance(request_id, str) or not request_id:
        return None
    kind, method, deadline = data.get("kind"), data.get("method"), data.get("deadline")
    return Operation(
        request_id=request_id,
        kind=kind if isinstance(kind, str) else "",
        body=data.get("body", {}),
        method=method.upper() if isinstance(method, str) and method else "POST",
        deadline=deadline if isinstance(deadline, str) else None,
    )


def _expired(deadline: str | None) -> bool:
    """Whether `deadline` (ISO-8601, UTC when it names no zone) has passed. A deadline that
    cannot be read counts as passed: running an operation of unknown validity could charge a
    card for a payment the hub already gave up on."""
    if deadline is None:
        return False
    try:
        when = datetime.fromisoformat(deadline)
    except ValueError:
        return True
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when <= datetime.now(UTC)
