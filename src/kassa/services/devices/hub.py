"""The device hub of one Kassa process, for one kind of device: the agents connected to
it, what it sends them, and who is waiting for their answers.

Each connected agent is a `Link`, whatever protocol it speaks (Kassa's own, or one of the
field's) and however it is carried (the web adapter's WebSockets, `kassa.web.terminals`).
The hub keeps one link per device (a newer connection replaces an older one), and one pump
task per link that sends the device's due operations whenever it is woken: by a signal (an
operation was queued here or, through PostgreSQL NOTIFY, on another process), on connect,
and by a sweep every few seconds in case a signal was missed.

A link is cut as soon as its device's right to connect is gone (revoked, disabled,
removed), by whichever process: on the change's signal, and by a watch that polls the
rights' change counter a few times a second (`kassa.services.devices.rights`). Work is
handed to a link only while the database says its right holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from abc import ABC, abstractmethod
from collections.abc import Coroutine, Mapping
from datetime import timedelta
from typing import Any

from kassa.domain import KassaError, OperationTimedOut, ProviderError, TerminalUnavailable
from kassa.domain.devices import (
    FINAL_STATES,
    AgentKind,
    Device,
    Operation,
    OperationError,
)
from kassa.protocol import CloseCode, ResultCode
from kassa.services.context import Context
from kassa.services.devices import operations as device_operations
from kassa.services.devices import registry
from kassa.services.devices import rights as device_rights
from kassa.services.devices.kinds import DeviceRules
from kassa.services.devices.presence import (
    ONLINE_WITHIN,
    PRESENCE_INTERVAL,
    Heartbeat,
    keep_present,
    mark_connected,
    mark_disconnected,
)
from kassa.services.devices.signals import Signal, SignalKind, on_signals

log = logging.getLogger(__name__)

#: How often queued work is looked for without a signal, and status queries repeated.
SWEEP_INTERVAL = 5.0
#: How often the rights' change counter is read while agents are connected: a revoke or a
#: disable made by another process (the CLI) cuts its connections within this.
RIGHTS_POLL_INTERVAL = 0.25
QUERY_AFTER = timedelta(seconds=60)

Key = tuple[str, str]


class Link(ABC):
    """One connected agent, as the hub sees it."""

    #: The protocol the agent speaks.
    kind: AgentKind
    #: The operation kinds it can run; `None`: any its routing knows.
    kinds: frozenset[str] | None = None
    #: What sending on this link raises once its connection is closing (the adapter's
    #: disconnect errors): the hub then leaves the link to its handler.
    ended: tuple[type[BaseException], ...] = (ConnectionError,)

    def __init__(self, device: Device) -> None:
        self.device = device
        self.key: Key = (device.shop_id, device.id)
        self.wakeup = asyncio.Event()
        #: Request ids sent on this connection and not answered yet.
        self.unanswered: set[str] = set()
        self.connected_at = device.connected_at
        #: The agent's latest heartbeat that says something new, until the hub stores it.
        self.heartbeat: Heartbeat | None = None
        #: What the device's row holds (as of the last heartbeat the hub stored).
        self.stored: tuple[Mapping[str, Any], Mapping[str, Any]] = (device.health, device.stats)

    def report(self, *, health: Mapping[str, Any], stats: Mapping[str, Any]) -> None:
        """Keep the agent's heartbeat for the hub's next write (see `DeviceHub.flush`),
        unless it repeats what is stored: most heartbeats do, and the presence round marks
        the device seen without rewriting them."""
        if (health, stats) != self.stored:
            self.heartbeat = Heartbeat(
                self.device.shop_id, self.device.id, health=health, stats=stats
            )

    @abstractmethod
    async def deliver(self, operation: Operation) -> None:
        """Send an operation to the agent."""

    @abstractmethod
    async def query(self, request_id: str) -> None:
        """Ask the agent what became of an operation (field agents cannot be asked)."""

    @abstractmethod
    async def close(self, code: int, reason: str) -> None:
        """End the connection."""


class DeviceHub:
    """The links of one kind of device (`rules`) connected to this process."""

    def __init__(self, ctx: Context, rules: DeviceRules) -> None:
        self.ctx = ctx
        self.rules = rules
        #: The kind, as logs and error messages name it ("terminal").
        self.noun = rules.kind.value.replace("_", " ")
        self.links: dict[Key, Link] = {}
        self._pumps: dict[Key, asyncio.Task[None]] = {}
        self._waiters: dict[str, set[asyncio.Event]] = {}
        #: Answers recorded here for callers of `relay` waiting here, by request id.
        self._answers: dict[str, Operation] = {}
        #: Devices whose heartbeat was stored since the last presence round.
        self._reported: set[Key] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe = on_signals(ctx.db, self.heard)

    # Lifecycle

    def start(self) -> None:
        self._spawn(self._sweep(), name=f"{self.noun} sweep")
        self._spawn(self._watch_rights(), name=f"{self.noun} rights watch")

    def _spawn(self, work: Coroutine[Any, Any, None], *, name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        self._unsubscribe()
        for task in self._tasks:
            task.cancel()
        for link in list(self.links.values()):
            with contextlib.suppress(Exception):
                await link.close(CloseCode.GOING_AWAY, "Kassa is restarting")
        for task in [*self._tasks, *self._pumps.values()]:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # Connections

    async def attach(self, link: Link, *, version: str | None) -> None:
        """Make `link` the device's connection (replacing an older one) and start sending."""
        old = self.links.get(link.key)
        if old is not None:
            log.info("%s %s reconnected; closing its older connection", self.noun, link.device.id)
            await self.detach(old)
            with contextlib.suppress(Exception):
                await old.close(CloseCode.REPLACED, "Replaced by a newer connection")
        await mark_connected(self.ctx, link.device, kind=link.kind, version=version)
        link.connected_at = self.ctx.clock()
        await device_operations.settle_lost(
            self.ctx,
            link.device,
            via=link.kind,
            connected_at=link.connected_at,
            settle=self.rules.settle,
        )
        self.links[link.key] = link
        # A revoke or disable that committed after the token was checked, before the link
        # was watched, is caught here; one that commits later moves the counter.
        await self.revalidate([link])
        self._pumps[link.key] = asyncio.create_task(
            self._pump(link), name=f"{self.noun} {link.device.id}"
        )
        link.wakeup.set()
        log.info(
            "%s %s connected (%s %s)", self.noun, link.device.id, link.kind.value, version or "?"
        )

    async def detach(self, link: Link) -> None:
        """The connection ended: stop sending; settle what a journal-less agent left open."""
        if self.links.get(link.key) is not link:
            return
        del self.links[link.key]
        pump = self._pumps.pop(link.key, None)
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        if not link.kind.journaled:
            await device_operations.connection_lost(
                self.ctx, link.device, request_ids=sorted(link.unanswered), settle=self.rules.settle
            )
        assert link.connected_at is not None
        await mark_disconnected(self.ctx, link.device, since=link.connected_at)
        log.info("%s %s disconnected", self.noun, link.device.id)

    async def _pump(self, link: Link) -> None:
        assert link.connected_at is not None
        while True:
            await link.wakeup.wait()
            link.wakeup.clear()
            try:
                due = await device_operations.take_due(
                    self.ctx,
                    shop_id=link.device.shop_id,
                    device_id=link.device.id,
                    via=link.kind,
                    kinds=link.kinds,
                    connected_at=link.connected_at,
                    token_version=link.device.token_version,
                )
                for operation in due:
                    link.unanswered.add(operation.request_id)
                    log.info(
                        "request_id=%s sending %s to %s %s",
                        operation.request_id,
                        operation.kind,
                        self.noun,
                        link.device.id,
                    )
                    await link.deliver(operation)
            except KassaError as refused:
                # Its right to connect is gone: nothing was claimed for it.
                await self._cut(link, refused)
                return
            except link.ended:
                # The connection is closing; its handler ends it and the agent reconnects.
                log.info("%s %s: connection ended while sending", self.noun, link.device.id)
                return
            except Exception:
                log.exception("sending to %s %s failed", self.noun, link.device.id)
                return

    # Signals

    def heard(self, signal: Signal) -> None:
        """Act on a signal from this or another hub process."""
        key = (signal.shop_id, signal.device_id)
        if signal.kind is SignalKind.RESULT and signal.request_id is not None:
            for event in self._waiters.get(signal.request_id, ()):
                event.set()
            link = self.links.get(key)
            if link is not None:
                link.unanswered.discard(signal.request_id)
        elif signal.kind is SignalKind.WORK and key in self.links:
            self.links[key].wakeup.set()
        elif signal.kind is SignalKind.CHANGED and key in self.links:
            self._spawn(self.revalidate([self.links[key]]), name=f"{self.noun} {key[1]} recheck")

    # Rights

    async def revalidate(self, links: list[Link]) -> None:
        """Cut those of `links` whose device's right to connect is gone."""
        if not links:
            return
        rights = await device_rights.current_rights(self.ctx, [link.key for link in links])
        for link in links:
            refused = device_rights.lost(
                link.device.id,
                rights.get(link.key),
                token_version=link.device.token_version,
            )
            if refused is not None and self.links.get(link.key) is link:
                await self._cut(link, refused)

    async def _cut(self, link: Link, refused: KassaError) -> None:
        """End a connection whose right is gone, with the close code that says why (its
        handler then detaches it)."""
        code = CloseCode.DISABLED if isinstance(refused, TerminalUnavailable) else CloseCode.REVOKED
        log.info("%s %s: cutting its connection (%s)", self.noun, link.device.id, refused.code)
        with contextlib.suppress(Exception):
            await link.close(code, refused.code)

    async def _watch_rights(self) -> None:
        """While agents are connected here, read the rights' change counter every
        `RIGHTS_POLL_INTERVAL` and, when it moved, re-check every link: how a revoke or a
        disable made by another process reaches this one without LISTEN/NOTIFY (SQLite), or
        with a NOTIFY missed (PostgreSQL)."""
        seen: int | None = None
        while True:
            await asyncio.sleep(RIGHTS_POLL_INTERVAL)
            if not self.links:
                continue  # every new link is checked as it attaches
            try:
                now = await device_rights.revision(self.ctx)
                if now != seen:
                    await self.revalidate(list(self.links.values()))
                    seen = now
            except Exception:
                log.exception("checking the %ss' rights failed; trying again", self.noun)

    async def _sweep(self) -> None:
        """Every few seconds: wake links with queued work and store heartbeats; every
        `PRESENCE_INTERVAL`: keep connected devices marked present and ask journaling agents
        about operations they accepted long ago without answering."""
        elapsed = 0.0
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            elapsed += SWEEP_INTERVAL
            try:
                await self._wake_waiting()
                due = elapsed >= PRESENCE_INTERVAL
                await self.flush(presence=due)
                if due:
                    elapsed = 0.0
                    await self.ask_unanswered(older_than=QUERY_AFTER)
            except Exception:
                log.exception("%s sweep failed; trying again", self.noun)

    async def _wake_waiting(self) -> None:
        for key in await device_operations.waiting(self.ctx) & self.links.keys():
            self.links[key].wakeup.set()

    async def flush(self, *, presence: bool = False) -> None:
        """Store the heartbeats with news received since the last flush (each marks its
        device seen) and, with `presence`, mark seen now the devices connected here whose
        row was not written since the last time (field agents send no heartbeats, and most
        heartbeats repeat the last one)."""
        beats = {}
        for link in self.links.values():
            if link.heartbeat is not None:
                beats[link], link.heartbeat = link.heartbeat, None
                self._reported.add(link.key)
        silent: list[Key] = []
        if presence:
            silent = [key for key in self.links if key not in self._reported]
            self._reported.clear()
        await keep_present(self.ctx, silent, heartbeats=beats.values())
        for link, beat in beats.items():
            link.stored = (beat.health, beat.stats)

    async def ask_unanswered(
        self, links: list[Link] | None = None, *, older_than: timedelta = timedelta(0)
    ) -> None:
        """Send status queries for what agents accepted and have not answered."""
        chosen = {link.key: link for link in (links or self.links.values()) if link.kind.journaled}
        waiting = await device_operations.awaiting_answer(
            self.ctx, chosen.keys(), older_than=older_than
        )
        for key, request_ids in waiting.items():
            for request_id in request_ids:
                await chosen[key].query(request_id)

    # Answers

    async def record_result(
        self,
        link: Link,
        request_id: str,
        *,
        ok: bool,
        body: Mapping[str, Any] | None,
        error: OperationError | None,
    ) -> Operation | None:
        """Store the answer the agent on `link` gave (see
        `device_operations.record_result`), and hand it to a caller of `relay` waiting in
        this process, which then need not read it back."""
        recorded = await device_operations.record_result(
            self.ctx,
            shop_id=link.device.shop_id,
            device_id=link.device.id,
            request_id=request_id,
            ok=ok,
            body=body,
            error=error,
            settle=self.rules.settle,
        )
        link.unanswered.discard(request_id)
        if recorded is not None and request_id in self._waiters:
            self._answers[request_id] = recorded
            for event in self._waiters[request_id]:
                event.set()
        return recorded

    # Relaying operations for callers that wait for the answer

    async def relay(
        self,
        *,
        shop_id: str,
        device_id: str,
        kind: str,
        body: Mapping[str, Any],
        answer_within: float | None = None,
        method: str = "POST",
    ) -> Operation:
        """Queue an operation for a connected device and wait for its answer.

        Raises `NotFound` for a device the shop does not have, `TerminalUnavailable` if it
        is disabled or no agent is connected (to this or, by the database's account, another
        hub process), and `OperationTimedOut` if no answer comes in time (the operation stays
        recorded; a late answer is still kept). A device connected here is not read first:
        the operation's insert checks that it is still enabled and at the version of the
        connection's token (if not, the connection is cut and `TerminalUnavailable` raised).
        """
        wait = answer_within or self.ctx.settings.terminal_operation_timeout
        link = self.links.get((shop_id, device_id))
        title = self.noun.capitalize()
        if link is None:
            device = await registry.get_device(
                self.ctx, kind=self.rules.kind, shop_id=shop_id, device_id=device_id
            )
            if not device.enabled:
                raise TerminalUnavailable(
                    f"{title} {device_id!r} is disabled", code="terminal_disabled"
                )
            if not device.online(self.ctx.clock(), within=ONLINE_WITHIN):
                raise TerminalUnavailable(f"{title} {device_id!r} is not connected")
        elif link.kinds is not None and kind not in link.kinds:
            raise ProviderError(
                f"{title} {device_id!r} runs an agent that takes only "
                f"{', '.join(sorted(link.kinds))} operations",
                code=ResultCode.ROUTE_NOT_FOUND,
            )
        request_id = str(uuid.uuid4())
        answered = asyncio.Event()
        self._waiters.setdefault(request_id, set()).add(answered)
        try:
            # Connected here: stored as sent and sent at once, without waking the pump.
            try:
                operation = await device_operations.queue_operation(
                    self.ctx,
                    shop_id=shop_id,
                    device_id=device_id,
                    device_kind=self.rules.kind,
                    kind=kind,
                    body=body,
                    answer_within=wait,
                    method=method,
                    request_id=request_id,
                    sent_via=link.kind if link is not None else None,
                    token_version=link.device.token_version if link is not None else None,
                )
            except TerminalUnavailable:
                if link is not None:
                    await self.revalidate([link])  # its right is gone: cut it now
                raise
            if link is not None:
                await self._send_now(link, operation)
            final = await self._final(operation, answered, within=wait)
        finally:
            self._forget(request_id, answered)
        if final.state not in FINAL_STATES:
            raise OperationTimedOut(
                f"{title} {device_id!r} did not answer operation {request_id} "
                f"within {wait:g} s; a late answer is still recorded",
                request_id=request_id,
            )
        return final

    async def _send_now(self, link: Link, operation: Operation) -> None:
        link.unanswered.add(operation.request_id)
        try:
            await link.deliver(operation)
        except link.ended:
            # The connection is closing; its handler ends it, and the operation is settled
            # like anything else sent on it (sent again, or unknown, on the next one).
            log.warning(
                "request_id=%s could not be sent to %s %s",
                operation.request_id,
                self.noun,
                link.device.id,
            )

    async def _final(
        self, operation: Operation, answered: asyncio.Event, *, within: float
    ) -> Operation:
        """The operation once it is final, or as it stands after `within` seconds. Woken by
        an answer recorded here, or by a result signal from another process; the database is
        also read every second in case a signal is missed."""
        loop = asyncio.get_running_loop()
        ends = loop.time() + within
        while True:
            left = ends - loop.time()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(answered.wait(), timeout=max(0.0, min(1.0, left)))
            answered.clear()
            current = self._answers.get(operation.request_id)
            if current is None:
                current = await device_operations.get_operation(
                    self.ctx, shop_id=operation.shop_id, request_id=operation.request_id
                )
            if current.state in FINAL_STATES or ends <= loop.time():
                return current

    def _forget(self, request_id: str, event: asyncio.Event) -> None:
        waiters = self._waiters[request_id]
        waiters.discard(event)
        if not waiters:
            del self._waiters[request_id]
            self._answers.pop(request_id, None)
