"""An agent on a device: takes operations from the link, journals and runs them, delivers
their results; and its life cycle, from recovery at start-up to the graceful drain on SIGTERM.

What is the same for every kind of device is here; a kind's agent subclasses `Agent` and says
how an operation is run (`call`), which it refuses without running (`refuse`), how a call of
unknown outcome can be looked up (`can_look_up`, `look_up`), and what it adds to `hello`,
`heartbeat` and the health endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import logging
import os
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from kassa.agentkit.backoff import Backoff
from kassa.agentkit.health import HealthServer
from kassa.agentkit.journal import Journal, Operation, State, outcome_unknown
from kassa.agentkit.link import Link, LinkSettings, TokenRefused
from kassa.agentkit.stats import Stats
from kassa.protocol import Frame, MessageType, OperationStatus, ResultCode, failed_result

log = logging.getLogger(__name__)

#: After the drain, how long the agent waits at most for the hub to acknowledge results.
ACK_WAIT = 5.0
#: Exit codes: a bad configuration, a token the hub refuses for good, a second signal.
EXIT_CONFIG = 1
EXIT_TOKEN_REFUSED = 2
EXIT_FORCED = 130

Result = dict[str, Any]


class AgentSettings(LinkSettings, Protocol):
    """What the agent reads of its settings, besides the link's."""

    @property
    def backoff_max(self) -> float:
        """The longest wait between connection attempts, in seconds."""

    @property
    def stable_after(self) -> float:
        """How long a connection must stay up before the backoff starts over, in seconds."""

    @property
    def grace(self) -> float:
        """How long a stop waits for operations in flight, in seconds."""

    @property
    def health_port(self) -> int:
        """The loopback port of the health endpoint; 0: none."""

    @property
    def stats_interval(self) -> float:
        """Seconds between stats lines in the log; 0: none."""


def agent_version() -> str:
    import kassa

    version = getattr(kassa, "__version__", None)
    if isinstance(version, str):
        return version
    try:
        return importlib.metadata.version("kassa")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class Agent(ABC):
    """Implements the link's `Session`: what to say on connecting, what to do with each
    message from the hub."""

    #: The agent's name, in `hello` and its User-Agent ("kassa-agent").
    name: ClassVar[str]
    #: The kind of device, as log lines name it ("terminal").
    device: ClassVar[str]
    #: What an operator does about a token the hub refuses for good.
    refused_hint: ClassVar[str]

    def __init__(self, settings: AgentSettings, journal: Journal) -> None:
        self.settings = settings
        self.journal = journal
        self.version = agent_version()
        self.stats = Stats()
        self.link = Link(
            settings,
            self,
            backoff=Backoff(cap=settings.backoff_max, stable_after=settings.stable_after),
            stats=self.stats,
            user_agent=f"{self.name}/{self.version}",
            device=self.device,
        )
        self.in_flight: dict[str, asyncio.Task[None]] = {}
        self.draining = False
        self._stop = asyncio.Event()
        self._acked = asyncio.Event()
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
            MessageType.OPERATION: self._operation,
            MessageType.ACK: self._ack,
            MessageType.STATUS_QUERY: self._status_query,
            MessageType.WELCOME: self.welcomed,
            MessageType.ERROR: self._error,
        }

    # -- what a kind of device says and does -------------------------------------------------

    @abstractmethod
    def refuse(self, operation: Operation) -> Result | None:
        """The result of an operation this agent cannot run (nothing is called), or None."""

    @abstractmethod
    async def call(self, operation: Operation) -> Result:
        """Run the operation; every outcome a result, never an exception (an exception is
        taken as a bug during the call: `outcome_unknown`)."""

    def can_look_up(self, operation: Operation) -> bool:
        """Whether `look_up` can tell what became of a call of unknown outcome."""
        return False

    async def look_up(self, operation: Operation, unknown: Result) -> Result:
        """What became of the call whose result was `unknown` (never by calling it again)."""
        return unknown

    def hello_fields(self) -> dict[str, Any]:
        """What this kind of agent adds to `hello`."""
        return {}

    def heartbeat_fields(self) -> dict[str, Any]:
        """What this kind of agent adds to `heartbeat`."""
        return {}

    def health_fields(self) -> dict[str, Any]:
        """What this kind of agent adds to the health endpoint's answer."""
        return {}

    def background(self) -> list[Coroutine[Any, Any, None]]:
        """Work that runs for as long as the agent does (health checks of what it serves)."""
        return []

    async def welcomed(self, data: dict[str, Any]) -> None:
        """The hub's `welcome`."""
        log.info("the hub welcomes this %s", self.device)

    # -- the session -------------------------------------------------------------------------

    async def hello(self) -> dict[str, Any]:
        unacked = await asyncio.to_thread(self.journal.unacked)
        return {
            "agent": self.name,
            "version": self.version,
            "unacked": [entry.request_id for entry in unacked],
            **self.hello_fields(),
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
            **self.heartbeat_fields(),
            "in_flight": len(self.in_flight),
        }

    async def received(self, frame: Frame) -> None:
        handler = self._handlers.get(frame.type)
        if handler is None:
            return
        try:
            await handler(frame.data)
        except Exception:
            # E.g. the journal cannot be written: nothing was acknowledged, so the hub sends
            # the operation again later; the link stays up.
            self.stats.errors += 1
            log.exception("could not handle a %s message", frame.type)

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
            await self.link.send(MessageType.ACK, {"request_id": request_id})
            self._start(request_id, self._execute(operation))
            return
        entry = await asyncio.to_thread(self.journal.get, request_id)
        log.info(
            "request_id=%s repeated by the hub; already %s, not run again",
            request_id,
            entry.state if entry else "gone",
        )
        await self.link.send(MessageType.ACK, {"request_id": request_id})
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
        state = {
            None: OperationStatus.NOT_FOUND,
            State.RECEIVED: OperationStatus.RECEIVED,
            State.CALLING: OperationStatus.IN_PROGRESS,
        }
        answer = state.get(entry.state if entry else None, OperationStatus.IN_PROGRESS)
        log.info("request_id=%s status query: %s", request_id, answer)
        await self.link.send(MessageType.STATUS, {"request_id": request_id, "state": answer})

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
        if _expired(operation.deadline):
            result = failed_result(
                ResultCode.EXPIRED,
                f"the operation arrived after its deadline {operation.deadline}; it was not run",
                unknown=False,
            )
        elif (refused := self.refuse(operation)) is not None:
            result = refused
        elif not await asyncio.to_thread(self.journal.start_call, request_id):
            return
        else:
            try:
                result = await self.call(operation)
            except Exception as exc:
                # A bug, not an answer: the request may have left, so the outcome is unknown.
                log.exception("request_id=%s the local call failed unexpectedly", request_id)
                self.stats.errors += 1
                result = failed_result(
                    ResultCode.OUTCOME_UNKNOWN, f"agent error: {exc!r}", unknown=True
                )
            result = await self._settle(operation, result)
        await self._complete(operation, result)

    async def _settle(self, operation: Operation, result: Result) -> Result:
        """`result`, unless its outcome is unknown and it can be looked up: then what the
        lookup tells (the operation itself is never run again)."""
        if not result.get("error", {}).get("unknown") or not self.can_look_up(operation):
            return result
        return await self.look_up(operation, result)

    async def _resume(self, operation: Operation) -> None:
        """Settle a call that a stop cut short, through its lookup."""
        await self._complete(operation, await self._settle(operation, outcome_unknown()))

    async def _complete(self, operation: Operation, result: Result) -> None:
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

    async def _send_result(self, request_id: str, result: Result) -> None:
        if not await self.link.send(MessageType.RESULT, {"request_id": request_id, **result}):
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
            self.settings.grace,
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
            **self.health_fields(),
        }

    async def run(self) -> int:
        """Run until stopped; the process's exit code. SIGTERM and SIGINT stop it when it runs
        on the main thread (an agent in a thread of a UI's process is stopped by `stop`)."""
        loop = asyncio.get_running_loop()
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self.stop)
        health = HealthServer(self.health, self.settings.health_port)
        await self._start_health(health)
        await self._recover()
        background = [
            asyncio.create_task(work) for work in (*self.background(), self._print_stats())
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
        if not self.settings.health_port:
            return
        try:
            await health.start()
        except OSError as exc:
            # The device's work matters more than monitoring: run without the endpoint.
            log.error(
                "no health endpoint: cannot listen on 127.0.0.1:%d: %s",
                self.settings.health_port,
                exc.strerror or exc,
            )

    def _link_outcome(self, link: asyncio.Task[None]) -> int:
        """The exit code when the link gave up by itself."""
        error = link.exception()
        if isinstance(error, TokenRefused):
            log.error("%s; %s", error, self.refused_hint)
            return EXIT_TOKEN_REFUSED
        if error is not None:
            log.error("the link to the hub failed", exc_info=error)
            return EXIT_CONFIG
        return 0

    async def _recover(self) -> None:
        for entry in await asyncio.to_thread(self.journal.interrupted):
            if self.can_look_up(entry.operation):
                log.warning(
                    "request_id=%s the agent stopped during its local call: it is not called "
                    "again; asking the status lookup what became of it",
                    entry.request_id,
                )
                self._start(entry.request_id, self._resume(entry.operation))
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
        deadline = time.monotonic() + self.settings.grace
        drained = set(self.in_flight)
        if self.in_flight:
            _, pending = await asyncio.wait(
                set(self.in_flight.values()), timeout=self.settings.grace
            )
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

    async def _print_stats(self) -> None:
        if not self.settings.stats_interval:
            return
        while True:
            await asyncio.sleep(self.settings.stats_interval)
            log.info("stats: %s", self.stats.line())


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
