"""The terminal hub of one Kassa process: the agents connected to it, what it sends them,
and who is waiting for their answers.

Each connected agent is a `Link`, whatever protocol it speaks (Kassa's own, or one of the
field's). The hub keeps one link per terminal (a newer connection replaces an older one),
and one pump task per link that sends the terminal's due operations whenever it is woken:
by a signal (an operation was queued here or, through PostgreSQL NOTIFY, on another
process), on connect, and by a sweep every few seconds in case a signal was missed.

A link is cut as soon as its terminal's right to connect is gone (revoked, disabled,
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

from fastapi import WebSocket, WebSocketDisconnect
from sqlalchemy import select

from kassa.domain import (
    AuthenticationFailed,
    KassaError,
    OperationTimedOut,
    ProviderError,
    TerminalUnavailable,
)
from kassa.domain.terminals import (
    FINAL_STATES,
    AgentKind,
    Operation,
    OperationError,
    OperationState,
    Terminal,
)
from kassa.protocol import CloseCode, ResultCode
from kassa.services.context import Context
from kassa.services.devices import operations as terminal_operations
from kassa.services.devices import rights as terminal_rights
from kassa.services.devices import terminals
from kassa.services.devices.signals import Signal, SignalKind, on_signals
from kassa.store.tables import terminal_operations as operations_table

log = logging.getLogger(__name__)

#: How often queued work is looked for without a signal, and status queries repeated.
SWEEP_INTERVAL = 5.0
#: How often the rights' change counter is read while agents are connected: a revoke or a
#: disable made by another process (the CLI) cuts its connections within this.
RIGHTS_POLL_INTERVAL = 0.25
QUERY_AFTER = timedelta(seconds=60)

Key = tuple[str, str]
#: What sending on a connection that is closing raises: Starlette's disconnect, its
#: "cannot send once a close message has been sent" (a RuntimeError), or the socket's error.
CONNECTION_ENDED = (WebSocketDisconnect, RuntimeError, ConnectionError)


class Link(ABC):
    """One connected agent, as the hub sees it."""

    #: The protocol the agent speaks.
    kind: AgentKind
    #: The operation kinds it can run; `None`: any its routing knows.
    kinds: frozenset[str] | None = None

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal
        self.key: Key = (terminal.shop_id, terminal.id)
        self.wakeup = asyncio.Event()
        #: Request ids sent on this connection and not answered yet.
        self.unanswered: set[str] = set()
        self.connected_at = terminal.connected_at
        #: The agent's latest heartbeat that says something new, until the hub stores it.
        self.heartbeat: terminals.Heartbeat | None = None
        #: What the terminal's row holds (as of the last heartbeat the hub stored).
        self.stored: tuple[Mapping[str, Any], Mapping[str, Any]] = (
            terminal.health,
            terminal.stats,
        )

    def report(self, *, health: Mapping[str, Any], stats: Mapping[str, Any]) -> None:
        """Keep the agent's heartbeat for the hub's next write (see `TerminalHub.flush`),
        unless it repeats what is stored: most heartbeats do, and the presence round marks
        the terminal seen without rewriting them."""
        if (health, stats) != self.stored:
            self.heartbeat = terminals.Heartbeat(
                self.terminal.shop_id, self.terminal.id, health=health, stats=stats
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


class TerminalHub:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.links: dict[Key, Link] = {}
        self._pumps: dict[Key, asyncio.Task[None]] = {}
        self._waiters: dict[str, set[asyncio.Event]] = {}
        #: Answers recorded here for callers of `relay` waiting here, by request id.
        self._answers: dict[str, Operation] = {}
        #: Terminals whose heartbeat was stored since the last presence round.
        self._reported: set[Key] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe = on_signals(ctx.db, self.heard)

    # Lifecycle

    def start(self) -> None:
        self._spawn(self._sweep(), name="terminal sweep")
        self._spawn(self._watch_rights(), name="terminal rights watch")

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
        """Make `link` the terminal's connection (replacing an older one) and start sending."""
        old = self.links.get(link.key)
        if old is not None:
            log.info("terminal %s reconnected; closing its older connection", link.terminal.id)
            await self.detach(old)
            with contextlib.suppress(Exception):
                await old.close(CloseCode.REPLACED, "Replaced by a newer connection")
        await terminals.mark_connected(self.ctx, link.terminal, kind=link.kind, version=version)
        link.connected_at = self.ctx.clock()
        await terminal_operations.settle_lost(
            self.ctx, link.terminal, via=link.kind, connected_at=link.connected_at
        )
        self.links[link.key] = link
        # A revoke or disable that committed after the token was checked, before the link
        # was watched, is caught here; one that commits later moves the counter.
        await self.revalidate([link])
        self._pumps[link.key] = asyncio.create_task(
            self._pump(link), name=f"terminal {link.terminal.id}"
        )
        link.wakeup.set()
        log.info("terminal %s connected (%s %s)", link.terminal.id, link.kind.value, version or "?")

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
            await terminal_operations.connection_lost(
                self.ctx, link.terminal, request_ids=sorted(link.unanswered)
            )
        assert link.connected_at is not None
        await terminals.mark_disconnected(self.ctx, link.terminal, since=link.connected_at)
        log.info("terminal %s disconnected", link.terminal.id)

    async def _pump(self, link: Link) -> None:
        assert link.connected_at is not None
        while True:
            await link.wakeup.wait()
            link.wakeup.clear()
            try:
                due = await terminal_operations.take_due(
                    self.ctx,
                    shop_id=link.terminal.shop_id,
                    terminal_id=link.terminal.id,
                    via=link.kind,
                    kinds=link.kinds,
                    connected_at=link.connected_at,
                    token_version=link.terminal.token_version,
                )
                for operation in due:
                    link.unanswered.add(operation.request_id)
                    log.info(
                        "request_id=%s sending %s to terminal %s",
                        operation.request_id,
                        operation.kind,
                        link.terminal.id,
                    )
                    await link.deliver(operation)
            except KassaError as refused:
                # Its right to connect is gone: nothing was claimed for it.
                await self._cut(link, refused)
                return
            except CONNECTION_ENDED:
                # The connection is closing; its handler ends it and the agent reconnects.
                log.info("terminal %s: connection ended while sending", link.terminal.id)
                return
            except Exception:
                log.exception("sending to terminal %s failed", link.terminal.id)
                return

    # Signals

    def heard(self, signal: Signal) -> None:
        """Act on a signal from this or another hub process."""
        key = (signal.shop_id, signal.terminal_id)
        if signal.kind is SignalKind.RESULT and signal.request_id is not None:
            for event in self._waiters.get(signal.request_id, ()):
                event.set()
            link = self.links.get(key)
            if link is not None:
                link.unanswered.discard(signal.request_id)
        elif signal.kind is SignalKind.WORK and key in self.links:
            self.links[key].wakeup.set()
        elif signal.kind is SignalKind.CHANGED and key in self.links:
            self._spawn(self.revalidate([self.links[key]]), name=f"terminal {key[1]} recheck")

    # Rights

    async def revalidate(self, links: list[Link]) -> None:
        """Cut those of `links` whose terminal's right to connect is gone."""
        if not links:
            return
        rights = await terminal_rights.current_rights(self.ctx, [link.key for link in links])
        for link in links:
            refused = terminal_rights.lost(
                link.terminal.id,
                rights.get(link.key),
                token_version=link.terminal.token_version,
            )
            if refused is not None and self.links.get(link.key) is link:
                await self._cut(link, refused)

    async def _cut(self, link: Link, refused: KassaError) -> None:
        """End a connection whose right is gone, with the close code that says why (its
        handler then detaches it)."""
        code = CloseCode.DISABLED if isinstance(refused, TerminalUnavailable) else CloseCode.REVOKED
        log.info("terminal %s: cutting its connection (%s)", link.terminal.id, refused.code)
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
                now = await terminal_rights.revision(self.ctx)
                if now != seen:
                    await self.revalidate(list(self.links.values()))
                    seen = now
            except Exception:
                log.exception("checking the terminals' rights failed; trying again")

    async def _sweep(self) -> None:
        """Every few seconds: wake links with queued work and store heartbeats; every
        `PRESENCE_INTERVAL`: keep connected terminals marked present and ask Kassa agents
        about operations they accepted long ago without answering."""
        elapsed = 0.0
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            elapsed += SWEEP_INTERVAL
            try:
                await self._wake_waiting()
                presence = elapsed >= terminals.PRESENCE_INTERVAL
                await self.flush(presence=presence)
                if presence:
                    elapsed = 0.0
                    await self.ask_unanswered(older_than=QUERY_AFTER)
            except Exception:
                log.exception("terminal sweep failed; trying again")

    async def _wake_waiting(self) -> None:
        query = (
            select(operations_table.c.shop_id, operations_table.c.terminal_id)
            .where(operations_table.c.state == OperationState.QUEUED)
            .distinct()
        )
        async with self.ctx.db.read() as conn:
            waiting = {(row[0], row[1]) for row in await conn.execute(query)}
        for key in waiting & self.links.keys():
            self.links[key].wakeup.set()

    async def flush(self, *, presence: bool = False) -> None:
        """Store the heartbeats with news received since the last flush (each marks its
        terminal seen) and, with `presence`, mark seen now the terminals connected here whose
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
        await terminals.keep_present(self.ctx, silent, heartbeats=beats.values())
        for link, beat in beats.items():
            link.stored = (beat.health, beat.stats)

    async def ask_unanswered(
        self, links: list[Link] | None = None, *, older_than: timedelta = timedelta(0)
    ) -> None:
        """Send status queries for what agents accepted and have not answered."""
        chosen = {link.key: link for link in (links or self.links.values()) if link.kind.journaled}
        waiting = await terminal_operations.awaiting_answer(
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
        `terminal_operations.record_result`), and hand it to a caller of `relay` waiting in
        this process, which then need not read it back."""
        recorded = await terminal_operations.record_result(
            self.ctx,
            shop_id=link.terminal.shop_id,
            terminal_id=link.terminal.id,
            request_id=request_id,
            ok=ok,
            body=body,
            error=error,
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
        terminal_id: str,
        kind: str,
        body: Mapping[str, Any],
        answer_within: float | None = None,
        method: str = "POST",
    ) -> Operation:
        """Queue an operation for a connected terminal and wait for its answer.

        Raises `NotFound` for a terminal the shop does not have, `TerminalUnavailable` if it
        is disabled or no agent is connected (to this or, by the database's account, another
        hub process), and `OperationTimedOut` if no answer comes in time (the operation stays
        recorded; a late answer is still kept). A terminal connected here is not read first:
        the operation's insert checks that it is still enabled and at the version of the
        connection's token (if not, the connection is cut and `TerminalUnavailable` raised).
        """
        wait = answer_within or self.ctx.settings.terminal_operation_timeout
        link = self.links.get((shop_id, terminal_id))
        if link is None:
            terminal = await terminals.get_terminal(
                self.ctx, shop_id=shop_id, terminal_id=terminal_id
            )
            if not terminal.enabled:
                raise TerminalUnavailable(
                    f"Terminal {terminal_id!r} is disabled", code="terminal_disabled"
                )
            if not terminal.online(self.ctx.clock(), within=terminals.ONLINE_WITHIN):
                raise TerminalUnavailable(f"Terminal {terminal_id!r} is not connected")
        elif link.kinds is not None and kind not in link.kinds:
            raise ProviderError(
                f"Terminal {terminal_id!r} runs an agent that takes only "
                f"{', '.join(sorted(link.kinds))} operations",
                code=ResultCode.ROUTE_NOT_FOUND,
            )
        request_id = str(uuid.uuid4())
        answered = asyncio.Event()
        self._waiters.setdefault(request_id, set()).add(answered)
        try:
            # Connected here: stored as sent and sent at once, without waking the pump.
            try:
                operation = await terminal_operations.queue_operation(
                    self.ctx,
                    shop_id=shop_id,
                    terminal_id=terminal_id,
                    kind=kind,
                    body=body,
                    answer_within=wait,
                    method=method,
                    request_id=request_id,
                    sent_via=link.kind if link is not None else None,
                    token_version=link.terminal.token_version if link is not None else None,
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
                f"Terminal {terminal_id!r} did not answer operation {request_id} "
                f"within {wait:g} s; a late answer is still recorded",
                request_id=request_id,
            )
        return final

    async def _send_now(self, link: Link, operation: Operation) -> None:
        link.unanswered.add(operation.request_id)
        try:
            await link.deliver(operation)
        except CONNECTION_ENDED:
            # The connection is closing; its handler ends it, and the operation is settled
            # like anything else sent on it (sent again, or unknown, on the next one).
            log.warning(
                "request_id=%s could not be sent to terminal %s",
                operation.request_id,
                link.terminal.id,
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
                current = await terminal_operations.get_operation(
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


def token_of(websocket: WebSocket) -> str | None:
    """The token a connecting agent presents: `Authorization: Bearer …`, else `?token=`."""
    header = websocket.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return websocket.query_params.get("token")


async def authenticate(ctx: Context, token: str | None) -> Terminal:
    """The terminal behind a connection's token, or the `KassaError` that refuses it."""
    if not token:
        raise AuthenticationFailed(
            "Send the terminal token as 'Authorization: Bearer …' or ?token=…",
            code="token_missing",
        )
    return await terminals.authenticate(ctx, token)


def refusal(error: KassaError) -> tuple[int, str]:
    """The HTTP status refusing a handshake for `error`: 403 for a disabled terminal (it may
    come back), 401 for a token that will never work."""
    return (403 if isinstance(error, TerminalUnavailable) else 401), error.code
