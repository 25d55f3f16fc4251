"""The club PC's core: what the screen shows and why, kept on the core's asyncio loop.

It holds the lease's countdown (`lease`), locks the PC when the lease or the paid time runs
out (whether or not the link is up) and remembers that lock until the hub has heard of it
(`ended`), journals what happens (`events`) and sends it to the hub, and turns every change
into a new `model.View` for the UI. The link (`link_agent`) feeds it the hub's leases and
actions; the UI's requests (`controller`) reach it through its loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from kassa.clubagent import alarms
from kassa.clubagent.events import EventJournal
from kassa.clubagent.files import atomic_write
from kassa.clubagent.lease import LOCK, Countdown, Monotonic, Reference, ServerClock, whole
from kassa.clubagent.lease_store import Ended, LeaseStore, Saved
from kassa.clubagent.model import UNREACHABLE, AgentError, Listener, Mode, Notice, View
from kassa.protocol.club import Lease, PcState
from kassa.protocol.club_pc import (
    AppEntry,
    EventKind,
    EventsAccepted,
    PcEvent,
    Screen,
    SignedIn,
    Topup,
)

log = logging.getLogger(__name__)

SCREEN_FILE = "screen.json"
#: Seconds between two polls of a top-up shown as a QR.
TOPUP_POLL = 3.0
#: Seconds a settled top-up (credited, failed) stays on the screen.
TOPUP_SHOWN = 15.0
#: Seconds of play per journalled tick.
TICK = 60.0
#: Seconds a warning stays on the screen.
WARNING_SHOWN = 15.0
#: Seconds before a failed replay of the events is tried again.
RETRY = 5.0


class Hub(Protocol):
    """What the core asks of the hub's PC API (`hub_client.HubClient`)."""

    async def screen(self) -> Screen: ...
    async def apps(self) -> list[AppEntry]: ...
    async def topup(self, topup_id: str) -> Topup: ...
    async def events(self, events: list[PcEvent]) -> EventsAccepted: ...


class Core:
    def __init__(
        self,
        *,
        hub: Hub,
        data_dir: Path,
        store: LeaseStore,
        events: EventJournal,
        clock: Monotonic = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.hub = hub
        self.data_dir = data_dir
        self.store = store
        self.events = events
        self.clock = clock
        self.wall = wall
        self.server = ServerClock(clock)
        self.countdown = Countdown(clock)
        self.view = View()
        self.listeners: list[Listener] = []
        #: Locks at a lease's end the hub has not acknowledged yet, oldest first.
        self.unreported: list[Ended] = []
        #: The heartbeat that carried `unreported[0]`, and the session it named.
        self._reported_in: tuple[int, str] | None = None
        self.heartbeat_seq = 0
        #: The staff panel is open until this monotonic moment (inf: until staff lock).
        self.staff_until: float | None = None
        self.app: str | None = None
        self._warning_until = 0.0
        self._played = 0.0
        self._last_tick: float | None = None
        self._outbox = asyncio.Event()
        self._topup_task: asyncio.Task[None] | None = None
        #: Whether the link is up (the link's agent sets it).
        self.link_up: Callable[[], bool] = lambda: False

    # -- start ------------------------------------------------------------------------------

    def restore(self) -> None:
        """What the disk remembers: the cached screen, the lease, the unreported locks."""
        saved = self.store.load()
        self.unreported = list(saved.ended)
        self.countdown.ended.update(each.session for each in saved.ended)
        screen = self._cached_screen()
        self.countdown.policy = screen.offline_policy if screen is not None else saved.policy
        if saved.held is not None:
            self.countdown.offer(saved.held.lease, saved.held.reference)
            self.countdown.suspended = saved.suspended
            self.server.reference = saved.held.reference
            log.info("resumed session %s from the saved lease", saved.held.lease.session)
        self.render(screen=screen, language=screen.language if screen else self.view.language)

    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)
        listener(self.view)

    # -- the hub's link ---------------------------------------------------------------------

    def welcomed(self, data: dict[str, Any]) -> None:
        policy = data.get("offline_policy")
        if isinstance(policy, str):
            self._policy(policy)
        server_time = _time(data.get("server_time"))
        if server_time is not None:
            self.server.heard(server_time)
        lease = data.get("lease")
        if isinstance(lease, dict):
            self.leased(lease)
        self.render(online=True)

    def leased(self, data: dict[str, Any]) -> None:
        """A lease from the hub (an answer to heartbeat `data.heartbeat`, or unasked)."""
        try:
            lease = Lease.from_data(data)
        except ValueError as exc:
            log.warning("ignored a lease that is not one: %s", exc)
            return
        server_time = _time(data.get("server_time"))
        reference = self.server.heard(server_time) if server_time else self._reference()
        if reference is None:
            log.warning("ignored lease %d: the hub's time is not known yet", lease.seq)
            return
        answered = data.get("heartbeat")
        if self._reported_in is not None and answered == self._reported_in[0]:
            if lease.session != self._reported_in[1]:
                self.unreported = [e for e in self.unreported if e.session != self._reported_in[1]]
                self._save()
            self._reported_in = None
        before = self.countdown.session if self.countdown.playing() else None
        if not self.countdown.offer(lease, reference):
            return
        log.info("lease %d: session %s until %s", lease.seq, lease.session, lease.lease_expires_at)
        self._save()
        if lease.session is None and before is not None:
            self._lock(before, reason="session_ended", notice=Notice.SESSION_ENDED)
            return
        if lease.session is not None and lease.session != before and self.countdown.playing():
            self.journal(EventKind.UNLOCK, session=lease.session)
            self._played, self._last_tick = 0.0, self.clock()
            self.render(customer=None, notice=None)
        self.render()

    def heartbeat(self) -> dict[str, Any]:
        """The club's part of the next heartbeat."""
        self.heartbeat_seq += 1
        playing = self.countdown.session if self.countdown.playing() else None
        unlocked = playing is not None or self.staff_open()
        data: dict[str, Any] = {
            "seq": self.heartbeat_seq,
            "session": playing,
            "state": PcState.UNLOCKED if unlocked else PcState.LOCKED,
        }
        if self.app and unlocked:
            data["app"] = self.app
        if self.unreported:
            first = self.unreported[0]
            data["ended"] = first.to_data()
            self._reported_in = (self.heartbeat_seq, first.session)
        if found := self.alarms():
            data["alarms"] = found
        return data

    def alarms(self) -> list[str]:
        return alarms.read(self.data_dir / alarms.FILE, self.wall)

    # -- time -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Every second: lock what ran out, count the minutes played, refresh the view."""
        while True:
            self.tick()
            await asyncio.sleep(1.0)

    def tick(self) -> None:
        if self.view.online and not self.link_up():
            self.render(online=False)
        if self.staff_until is not None and self.clock() >= self.staff_until:
            self.staff_lock()
        session = self.countdown.session
        if session is not None and self.countdown.expired():
            left = self.countdown.seconds_left()
            up = left == 0
            ended = self.countdown.end()
            assert ended is not None
            self.unreported.append(Ended(*ended))
            self._save()
            self._lock(
                session,
                reason="time_up" if up else "lease_expired",
                notice=Notice.TIME_UP if up else Notice.LEASE_EXPIRED,
            )
            return
        if self.countdown.playing():
            now = self.clock()
            self._played += now - (self._last_tick or now)
            self._last_tick = now
            if self._played >= TICK:
                self._played -= TICK
                self.journal(EventKind.TICK, session=session)
            warning = self.countdown.warning()
            if warning is not None:
                self._warning_until = now + WARNING_SHOWN
            elif now >= self._warning_until:
                warning = None
            else:
                warning = self.view.warning
            self.render(warning=warning)
        elif self.view.alarms != tuple(self.alarms()):
            self.render()

    def _lock(self, session: str | None, *, reason: str, notice: Notice) -> None:
        log.info("locked (%s), session %s", reason, session)
        self.app = None
        self._last_tick = None
        self.journal(EventKind.LOCK, session=session, reason=reason)
        self.render(notice=notice, warning=None, customer=None)

    def staff_open(self) -> bool:
        return self.staff_until is not None and self.clock() < self.staff_until

    def _staff_left(self) -> int | None:
        until = self.staff_until
        return None if until is None or until == float("inf") else whole(until - self.clock())

    def staff_unlock(self, seconds: float) -> None:
        """Staff's PIN was right (or staff unlocked the PC from the desk): the staff panel."""
        self.staff_until = self.clock() + seconds
        alarms.clear(self.data_dir / alarms.FILE)
        self.journal(EventKind.UNLOCK, reason="staff")
        self.render(notice=None)

    def staff_lock(self) -> None:
        if self.staff_until is None:
            return
        self.staff_until = None
        self._lock(None, reason="staff", notice=Notice.LOCKED_BY_STAFF)

    def lock_by_staff(self) -> None:
        """Staff's `lock` action: the session's lease is set aside until a newer one."""
        session = self.countdown.session if self.countdown.playing() else None
        self.staff_until = None
        self.countdown.suspend()
        self._save()
        self._lock(session, reason="staff", notice=Notice.LOCKED_BY_STAFF)

    def unlock_by_staff(self, session: str | None) -> None:
        """Staff's `unlock` action: the session locked by staff plays on; without one to go
        on with, the staff panel opens (until staff lock it). A session's own unlock is its
        lease, which comes over the link as well."""
        if self.countdown.suspended:
            self.countdown.resume()
            self._save()
            self.journal(EventKind.UNLOCK, session=self.countdown.session, reason="staff")
            self.render(notice=None)
        elif session is None:
            self.staff_unlock(float("inf"))

    def session_over(self, session: str | None, notice: Notice, reason: str) -> None:
        """The hub ended the session (staff) or the customer did: lock, and let no lease of
        it unlock the PC again."""
        current = self.countdown.session
        if session is None or session == current:
            if current is not None:
                self.countdown.ended.add(current)
            self.countdown.clear()
            self._save()
            self._lock(current, reason=reason, notice=notice)

    # -- the view ---------------------------------------------------------------------------

    def render(self, **changes: Any) -> None:
        """Publish the view with `changes` and what the state says now, if anything changed."""
        view = replace(self.view, **changes)
        playing = self.countdown.playing()
        if self.staff_open():
            mode = Mode.STAFF
        elif playing:
            mode = Mode.PLAYING
        elif view.customer is not None:
            mode = Mode.SIGNED_IN
        else:
            mode = Mode.LOCKED
        view = replace(
            view,
            mode=mode,
            session=self.countdown.session if playing else None,
            seconds_left=self.countdown.seconds_left() if playing else None,
            warning=view.warning if playing else None,
            staff_seconds_left=self._staff_left() if mode is Mode.STAFF else None,
            alarms=tuple(self.alarms()),
        )
        if view == self.view:
            return
        self.view = view
        for listener in list(self.listeners):
            try:
                listener(view)
            except Exception:
                log.exception("a view listener failed")

    # -- the journal of events --------------------------------------------------------------

    def journal(self, kind: EventKind, **fields: str | None) -> None:
        at = self.server.now() or datetime.fromtimestamp(self.wall(), UTC)
        self.events.add(kind, at.isoformat().replace("+00:00", "Z"), **fields)
        self._outbox.set()

    async def send_events(self) -> None:
        """Replay the journal whenever the link is up and something is waiting."""
        while True:
            await self._outbox.wait()
            self._outbox.clear()
            if not self.view.online:
                continue
            try:
                sent = await self.events.replay(self.hub.events)
            except AgentError as exc:
                log.info("events not sent (%s): trying again in %g s", exc.code, RETRY)
                await asyncio.sleep(RETRY)
                self._outbox.set()
                continue
            if sent:
                log.info("sent %d events to the hub", sent)
            await asyncio.to_thread(self.events.prune)

    def connected(self) -> None:
        """The link is up again: send what waits, read the screen and the catalogue."""
        self._outbox.set()

    async def fetch_screen(self) -> None:
        try:
            screen = await self.hub.screen()
            apps = await self.hub.apps()
        except AgentError as exc:
            log.warning("could not read the screen from the hub: %s", exc)
            return
        self._policy(screen.offline_policy or LOCK)
        with contextlib.suppress(OSError):
            atomic_write(self.data_dir / SCREEN_FILE, json.dumps(asdict(screen)).encode())
        self.render(screen=screen, apps=tuple(apps), language=screen.language)

    def _cached_screen(self) -> Screen | None:
        try:
            return Screen.from_data(json.loads((self.data_dir / SCREEN_FILE).read_bytes()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("ignored the unreadable cached screen: %s", exc)
            return None

    # -- top-ups ----------------------------------------------------------------------------

    def show_topup(self, topup: Topup) -> None:
        """Show `topup`'s QR and follow it (instead of any top-up followed before)."""
        self.close_topup()
        self.render(topup=topup)
        self._topup_task = asyncio.create_task(self._follow_topup(topup))

    def close_topup(self) -> None:
        if self._topup_task is not None:
            self._topup_task.cancel()
            self._topup_task = None
        self.render(topup=None)

    async def _follow_topup(self, topup: Topup) -> None:
        """Poll the top-up until it is settled, show how (credited, failed) for
        `TOPUP_SHOWN` seconds, then clear it."""
        while topup.status == "pending":
            await asyncio.sleep(TOPUP_POLL)
            try:
                topup = await self.hub.topup(topup.id)
            except AgentError as exc:
                if exc.code != UNREACHABLE:
                    log.warning("top-up %s: %s", topup.id, exc)
                continue
            self.render(topup=topup)
        await asyncio.sleep(TOPUP_SHOWN)
        self.render(topup=None)

    # -- helpers ----------------------------------------------------------------------------

    def _reference(self) -> Reference | None:
        now = self.server.now()
        return None if now is None else Reference(now, self.clock())

    def _policy(self, policy: str) -> None:
        """The club's offline policy, kept with the lease (the watchdog reads it there)."""
        if policy != self.countdown.policy:
            self.countdown.policy = policy
            self._save()

    def _save(self) -> None:
        countdown = self.countdown
        saved = Saved(countdown.held, tuple(self.unreported), countdown.policy, countdown.suspended)
        try:
            self.store.save(saved)
        except OSError as exc:
            log.error("cannot save the lease in %s: %s", self.store.path, exc)

    def signed_in(self, customer: SignedIn | None) -> None:
        self.render(customer=customer)


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
