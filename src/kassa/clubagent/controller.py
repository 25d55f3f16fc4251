"""`model.Controller` for the Qt windows: the core and its link on an asyncio loop in a thread
of the UI's process (`CoreThread`). Each request of the UI is a coroutine run on that loop,
handed back as a `concurrent.futures.Future`; what only changes the screen is scheduled on
the loop and returns at once."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

from kassa.agentkit.agent import agent_version
from kassa.agentkit.journal import Journal
from kassa.clubagent import events, lease_store, os_adapter
from kassa.clubagent.config import NAME, ClubAgentConfig
from kassa.clubagent.core import Core, Hub
from kassa.clubagent.hub_client import HubClient
from kassa.clubagent.lease import Monotonic
from kassa.clubagent.link_agent import ClubAgent
from kassa.clubagent.model import AgentError, Listener, Mode, Notice, View
from kassa.protocol.club_pc import (
    AppEntry,
    EventKind,
    Preview,
    SignedIn,
    StaffGrant,
    Started,
    Topup,
)

log = logging.getLogger(__name__)

JOURNAL_FILE = "operations.db"

T = TypeVar("T")


class PcApi(Hub, Protocol):
    """The hub's PC API as the UI's requests use it (`hub_client.HubClient`)."""

    async def sign_in(self, login: str, password: str) -> SignedIn: ...
    async def preview(self, ticket: str, package: str | None, minutes: int | None) -> Preview: ...
    async def start(self, ticket: str, package: str | None, minutes: int | None) -> Started: ...
    async def end_session(self) -> str | None: ...
    async def top_up(self, login: str, amount: str) -> Topup: ...
    async def staff(self, pin: str) -> StaffGrant: ...
    async def aclose(self) -> None: ...


class CoreThread:
    """The club agent's core, running in its own thread from `open` to `close`."""

    def __init__(
        self,
        config: ClubAgentConfig,
        *,
        hub: PcApi | None = None,
        clock: Monotonic = time.monotonic,
        boot: str | None = None,
    ) -> None:
        data_dir = config.data_dir
        self.hub: PcApi = hub or HubClient(
            config.api_url, config.token, user_agent=f"{NAME}/{agent_version()}"
        )
        self.events = events.EventJournal(data_dir / events.FILE)
        self.journal = Journal(data_dir / JOURNAL_FILE)
        store = lease_store.LeaseStore(
            data_dir / lease_store.FILE, config.token, clock, boot or lease_store.boot_id()
        )
        self.core = Core(
            hub=self.hub, data_dir=data_dir, store=store, events=self.events, clock=clock
        )
        self.agent = ClubAgent(config, self.journal, self.core)
        self.loop = asyncio.new_event_loop()
        self.exit_code: int | None = None
        self._thread = threading.Thread(target=self._run, name="kassa-club-core", daemon=True)

    def open(self) -> None:
        """Restore what the disk remembers and start the core's thread."""
        self.core.restore()
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the link (operations in flight are given the kit's grace) and the thread."""
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.agent.stop)
            self._thread.join(timeout)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.exit_code = self.loop.run_until_complete(self.agent.run())
        finally:
            self.loop.run_until_complete(self.hub.aclose())
            self.loop.close()
            self.journal.close()
            self.events.close()

    # -- model.Controller -------------------------------------------------------------------

    @property
    def view(self) -> View:
        return self.core.view

    def subscribe(self, listener: Listener) -> None:
        self._soon(self.core.subscribe, listener)

    def sign_in(self, login: str, password: str) -> Future[SignedIn]:
        return self._submit(self._sign_in(login, password))

    def sign_out(self) -> None:
        self._soon(self.core.signed_in, None)

    def preview(self, *, package: str | None, minutes: int | None) -> Future[Preview]:
        return self._submit(self._preview(package, minutes))

    def start(self, *, package: str | None, minutes: int | None) -> Future[Started]:
        return self._submit(self._start(package, minutes))

    def end_session(self) -> Future[None]:
        return self._submit(self._end_session())

    def top_up(self, login: str, amount: str) -> Future[Topup]:
        return self._submit(self._top_up(login, amount))

    def close_topup(self) -> None:
        self._soon(self.core.close_topup)

    def launch(self, app: AppEntry) -> Future[None]:
        return self._submit(self._launch(app))

    def staff_unlock(self, pin: str) -> Future[StaffGrant]:
        return self._submit(self._staff_unlock(pin))

    def staff_lock(self) -> None:
        self._soon(self.core.staff_lock)

    def dismiss_message(self) -> None:
        self._soon(lambda: self.core.render(message=None))

    # -- on the core's loop -----------------------------------------------------------------

    async def _sign_in(self, login: str, password: str) -> SignedIn:
        customer = await self.hub.sign_in(login, password)
        self.core.signed_in(customer)
        return customer

    def _ticket(self) -> str:
        customer = self.core.view.customer
        if customer is None:
            raise AgentError("not_signed_in", "sign in first")
        return customer.ticket

    async def _preview(self, package: str | None, minutes: int | None) -> Preview:
        return await self.hub.preview(self._ticket(), package, minutes)

    async def _start(self, package: str | None, minutes: int | None) -> Started:
        started = await self.hub.start(self._ticket(), package, minutes)
        self.core.leased(started.lease)
        return started

    async def _end_session(self) -> None:
        await self.hub.end_session()
        self.core.session_over(None, Notice.SESSION_ENDED, "customer")

    async def _top_up(self, login: str, amount: str) -> Topup:
        topup = await self.hub.top_up(login, amount)
        self.core.show_topup(topup)
        return topup

    async def _launch(self, app: AppEntry) -> None:
        if self.core.view.mode not in (Mode.PLAYING, Mode.STAFF):
            raise AgentError("locked", "the PC is locked")
        try:
            await asyncio.to_thread(os_adapter.launch, app.path)
        except OSError as exc:
            raise AgentError("launch_failed", f"{app.name}: {exc.strerror or exc}") from exc
        self.core.app = app.name
        self.core.journal(EventKind.LAUNCH, session=self.core.view.session, app=app.name)

    async def _staff_unlock(self, pin: str) -> StaffGrant:
        grant = await self.hub.staff(pin)
        self.core.staff_unlock(grant.seconds)
        return grant

    # -- plumbing ---------------------------------------------------------------------------

    def _submit(self, work: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(work, self.loop)

    def _soon(self, call: Callable[..., object], *args: object) -> None:
        self.loop.call_soon_threadsafe(call, *args)
