"""The club floor of one hub process: the PCs whose link is here, their heartbeats and leases,
and the rounds that keep sessions and PCs' states true for every process.

A PC's agent heartbeats every `HEARTBEAT_INTERVAL` seconds over its device link (the device
core's `DeviceHub` of kind `club_pc` holds the link, its operations and acks). Each heartbeat
with a `seq` above the last one accepted renews the PC's lease at once, in memory
(`min(paid_until, now + lease_max)`, a higher lease `seq`), and is answered with it; a repeated
or older `seq` is answered with the current lease and renews nothing. The leases and what the
PCs reported are written in one transaction a `ROUND` (a second), so that a thousand PCs cost
a write a second rather than two hundred; a lease the database has not seen yet is at most a
round old, and `LEASE_GRACE` covers it.

In every hub process (what they change is conditional, so two processes doing it have one
effect):

- every round, an open-ended session of a PC linked here is charged its next block when it
  is due, while its customer can pay;
- a session changed by any process (started, extended, paused, moved, ended) is read again at
  once: every such change queues an operation for its PC, whose signal the floor hears
  (`heard`); every `REFRESH_EVERY` rounds all the linked PCs' sessions are read again, in case
  a signal was missed;
- every `WATCH_EVERY` rounds, a session whose paid time has run out ends (`time_up`); with
  the club's offline policy `lock`, one whose lease ran out (its PC lost the link and locked)
  ends at the lease's end (`lease_expired`), giving back the rest; PCs not heard from for
  `STALE_AFTER` are marked stale, for `OFFLINE_AFTER` offline. What ends is recorded at the
  moment it ran out, however late it is found.

For `RECONNECT_WINDOW` after the process starts it marks no PC and ends no session for a lost
lease: the active sessions are in the database, and their PCs get that long to come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain.club_sessions import (
    LEASE_GRACE,
    OFFLINE_AFTER,
    RECONNECT_WINDOW,
    STALE_AFTER,
    Liveness,
    SessionState,
    lease_end,
)
from kassa.protocol.club import HEARTBEAT_INTERVAL, MAX_ALARM_CHARS, MAX_ALARMS, Lease
from kassa.services.club import session_ends, session_records, sessions
from kassa.services.club.clubs import Club
from kassa.services.club.session_records import Session
from kassa.services.context import Context
from kassa.services.devices.hub import DeviceHub
from kassa.services.devices.signals import Signal, SignalKind, on_signals
from kassa.store.tables import club_pc_states, club_pcs, club_sessions, clubs

log = logging.getLogger(__name__)

#: Seconds between the floor's rounds …
ROUND = 1.0
#: … of which every this many also ends what has run out and marks silent PCs …
WATCH_EVERY = 5
#: … and every this many also reads the linked PCs' sessions again, in case a signal of a
#: change was missed.
REFRESH_EVERY = 30
#: Rows a round writes per statement.
ROWS_PER_STATEMENT = 100
#: Open-ended sessions a round charges at most, the soonest to run out first: a burst (after
#: a restart, or sessions all started at once) is spread over rounds, well inside the half
#: block of paid time a session still has when its next one is due.
EXTENDS_PER_ROUND = 20
Key = tuple[str, str]
#: How a lease is sent to a PC linked here, unasked.
Push = Callable[[Key, Lease], Awaitable[None]]


@dataclass(slots=True)
class LinkedPc:
    """What the floor keeps of a PC whose link is in this process."""

    club: Club
    #: The link it came on (a newer link of the PC replaces it).
    link: object = None
    heartbeat_seq: int = 0
    heartbeat_at: datetime | None = None
    reported: Mapping[str, Any] = field(default_factory=dict)
    session: Session | None = None
    #: Heard from since the last round's write.
    heard: bool = False
    #: Its session's lease renewed since the last round's write.
    renewed: bool = False
    #: The last session it reported that the floor read the database for.
    checked: str | None = None

    def lease(self) -> Lease:
        if self.session is None:
            return Lease(None, None, None, 0)
        return self.session.lease()


class Floor:
    """The club PCs linked to this process (through `hub`) and the floor's rounds."""

    def __init__(self, ctx: Context, hub: DeviceHub, push: Push | None = None) -> None:
        self.ctx = ctx
        self.hub = hub
        self.push = push
        self.pcs: dict[Key, LinkedPc] = {}
        self.started_at = ctx.clock()
        #: PCs whose link ended with a heartbeat not written yet.
        self._unwritten: list[tuple[Key, LinkedPc]] = []
        self._task: asyncio.Task[None] | None = None
        self._refreshing: set[asyncio.Task[None]] = set()
        self._unsubscribe = on_signals(ctx.db, self.heard)

    # Lifecycle

    def start(self) -> None:
        self._task = asyncio.create_task(self._rounds(), name="club floor")

    def heard(self, signal: Signal) -> None:
        """Work queued for a PC linked here is a session changed (every change of a session
        tells its PC): read it again now rather than at the next round."""
        key = (signal.shop_id, signal.device_id)
        if signal.kind is SignalKind.WORK and key in self.pcs:
            task = asyncio.create_task(self.refresh([key]), name=f"club PC {key[1]} refresh")
            self._refreshing.add(task)
            task.add_done_callback(self._refreshing.discard)

    async def stop(self) -> None:
        self._unsubscribe()
        for task in list(self._refreshing):
            task.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _rounds(self) -> None:
        count = 0
        while True:
            await asyncio.sleep(ROUND)
            count += 1
            try:
                await self.round(refresh=count % REFRESH_EVERY == 0, watch=count % WATCH_EVERY == 0)
            except Exception:
                log.exception("the club floor's round failed; trying again")

    # Links

    async def attach(self, shop_id: str, device_id: str, link: object) -> dict[str, Any]:
        """A PC's `link` is here: what its `welcome` says (its club's rules, the heartbeat
        interval, its lease)."""
        key = (shop_id, device_id)
        now = self.ctx.clock()
        async with self.ctx.db.write() as conn:
            club = await _club_of(conn, shop_id, device_id)
            await conn.execute(
                self.ctx.db.insert_ignoring_conflict(
                    club_pc_states, index_elements=["shop_id", "device_id"]
                ),
                {
                    "shop_id": shop_id,
                    "device_id": device_id,
                    "club_id": club.id,
                    "heartbeat_at": now,
                    "heartbeat_seq": 0,
                    "reported": {},
                    "liveness": Liveness.ONLINE,
                    "changed_at": now,
                },
            )
        found = await session_records.live_on(self.ctx, [key])
        # The hello counts as a heartbeat: the PC is heard from now.
        linked = LinkedPc(
            club,
            link=link,
            heartbeat_at=now,
            heard=True,
            session=found[key][0] if key in found else None,
        )
        self.pcs[key] = linked
        return {
            "pc": device_id,
            "club": club.name,
            "heartbeat_interval": HEARTBEAT_INTERVAL,
            "lease_max": club.lease_max,
            "offline_policy": club.offline_policy,
            "lease": linked.lease().to_data(),
        }

    def detach(self, shop_id: str, device_id: str, link: object) -> None:
        """Its `link` ended (unless a newer one has taken over); what it last reported is
        written by the next round."""
        key = (shop_id, device_id)
        linked = self.pcs.get(key)
        if linked is None or linked.link is not link:
            return
        del self.pcs[key]
        if linked.heard:
            self._unwritten.append((key, linked))

    async def heartbeat(self, shop_id: str, device_id: str, data: Mapping[str, Any]) -> Lease:
        """Accept a PC's heartbeat (once per `seq`) and answer with its lease, renewed if its
        session is active and its lease has not run out."""
        key = (shop_id, device_id)
        linked = self.pcs.get(key)
        if linked is None:  # its link is being replaced
            return Lease(None, None, None, 0)
        seq = data.get("seq")
        fresh = isinstance(seq, int) and not isinstance(seq, bool) and seq > linked.heartbeat_seq
        if not fresh and isinstance(seq, int):
            return linked.lease()  # a repeat: one effect
        now = self.ctx.clock()
        if isinstance(seq, int):
            linked.heartbeat_seq = seq
        linked.heartbeat_at = now
        linked.reported = {
            name: data.get(name) for name in ("state", "session", "app", "lease_left")
        } | {"alarms": alarms_of(data.get("alarms"))}
        linked.heard = True
        ended = data.get("ended")
        if isinstance(ended, dict):
            await self.reconcile(key, ended)
        playing = data.get("session")
        known = linked.session.id if linked.session is not None else None
        if isinstance(playing, str) and playing not in (known, linked.checked):
            # Told of a session (by an operation) before this process's round read it.
            linked.checked = playing
            await self.refresh([key])
        session = linked.session
        if (
            session is not None
            and session.state == SessionState.ACTIVE
            and session.lease_expires_at + LEASE_GRACE >= now
            and session.paid_until > now
        ):
            linked.session = replace(
                session,
                lease_expires_at=lease_end(session.paid_until, now, linked.club.lease_max),
                lease_seq=session.lease_seq + 1,
            )
            linked.renewed = True
        return linked.lease()

    async def reconcile(self, key: Key, report: Mapping[str, Any]) -> None:
        """The PC's agent says it locked session `report.session` at `report.at` (server
        time, from its lease and its monotonic clock): recorded, and where that is earlier
        than the end the server recorded, the difference is given back (a correction entry,
        once); a session the server still thinks running ends there."""
        session_id, at = report.get("session"), report.get("at")
        if not isinstance(session_id, str) or not isinstance(at, str):
            return
        try:
            moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            return
        await session_ends.reconcile(
            self.ctx, shop_id=key[0], pc=key[1], session_id=session_id, locked_at=moment
        )

    # Rounds

    async def round(self, *, refresh: bool = True, watch: bool = True) -> None:
        """One round: extend the open-ended sessions due, write heartbeats and leases; with
        `refresh`, first read the linked PCs' sessions again (a change made by any process
        also signals it at once: `heard`); with `watch`, then end what has run out and mark
        silent PCs (what it ends is recorded at the moment it ran out, whenever it is
        found)."""
        if refresh:
            await self.refresh()
        await self.extend_due()
        await self.write()
        if watch:
            await self.watch()

    async def refresh(self, keys: list[Key] | None = None) -> None:
        """Read the sessions of the PCs linked here (or of `keys`) again; push a PC its new
        lease where its session changed."""
        wanted = list(self.pcs) if keys is None else [key for key in keys if key in self.pcs]
        found = await session_records.live_on(self.ctx, wanted)
        for key in wanted:
            linked = self.pcs.get(key)
            if linked is None:
                continue
            current = found.get(key)
            stored = current[0] if current else None
            cached = linked.session
            if stored is None:
                if cached is not None:
                    linked.session = None
                    await self._push(key, Lease(None, None, None, cached.lease_seq + 1))
                continue
            if cached is not None and (
                cached.id,
                cached.state,
                cached.paid_until,
            ) == (stored.id, stored.state, stored.paid_until):
                continue
            seq = max(stored.lease_seq, cached.lease_seq if cached else 0) + 1
            # Only heartbeats renew a lease: a session charged more keeps the lease its PC has.
            lease_at = stored.lease_expires_at
            if cached is not None and cached.id == stored.id:
                lease_at = max(lease_at, cached.lease_expires_at)
            linked.session = replace(stored, lease_seq=seq, lease_expires_at=lease_at)
            await self._push(key, linked.session.lease())

    async def extend_due(self) -> None:
        """Charge the open-ended sessions of the PCs linked here their next block where it is
        due (`sessions.auto_extend`), from what the floor holds of them."""
        now = self.ctx.clock()
        due = sorted(
            (
                (linked.session.paid_until, key)
                for key, linked in self.pcs.items()
                if linked.session is not None
                and linked.session.open_ended
                and linked.session.state == SessionState.ACTIVE
                and linked.session.paid_until - now < sessions.extend_within(linked.club)
            ),
        )[:EXTENDS_PER_ROUND]
        for _, key in due:
            linked = self.pcs.get(key)
            cached = linked.session if linked is not None else None
            if linked is None or cached is None:
                continue
            extended = await sessions.auto_extend(self.ctx, club=linked.club, session=cached)
            if extended is not None and linked.session is cached:
                linked.session = replace(
                    extended,
                    lease_expires_at=cached.lease_expires_at,
                    lease_seq=max(extended.lease_seq, cached.lease_seq) + 1,
                )
                await self._push(key, linked.session.lease())

    async def _push(self, key: Key, lease: Lease) -> None:
        if self.push is not None and key in self.pcs:
            try:
                await self.push(key, lease)
            except Exception:  # the link is closing; the PC gets its lease on reconnecting
                log.info("could not send PC %s its lease", key[1])

    async def write(self) -> None:
        """Write what the PCs reported and their renewed leases since the last round, in one
        transaction."""
        heard = [(key, linked) for key, linked in self.pcs.items() if linked.heard]
        heard += self._drain_unwritten()
        renewed = [
            linked.session
            for linked in self.pcs.values()
            if linked.renewed and linked.session is not None
        ]
        if not heard and not renewed:
            return
        for _, linked in heard:
            linked.heard = False
        for linked in self.pcs.values():
            linked.renewed = False
        states = [
            {
                "key_shop": key[0],
                "key_device": key[1],
                "at": linked.heartbeat_at,
                "seq": linked.heartbeat_seq,
                "reported": dict(linked.reported),
            }
            for key, linked in heard
        ]
        leases = [
            {"key_id": each.id, "until": each.lease_expires_at, "seq": each.lease_seq}
            for each in renewed
        ]
        async with self.ctx.db.write() as conn:
            # In slices: between two, the event loop answers the heartbeats that arrived
            # meanwhile, rather than after the whole batch's parameters are processed.
            for start in range(0, len(states), ROWS_PER_STATEMENT):
                await conn.execute(_store_state, states[start : start + ROWS_PER_STATEMENT])
            for start in range(0, len(leases), ROWS_PER_STATEMENT):
                await conn.execute(_store_lease, leases[start : start + ROWS_PER_STATEMENT])

    def _drain_unwritten(self) -> list[tuple[Key, LinkedPc]]:
        gone, self._unwritten = self._unwritten, []
        return gone

    async def watch(self) -> None:
        """End the sessions that have run out; mark silent PCs (not in the reconnect window
        after this process started)."""
        now = self.ctx.clock()
        settled = now - self.started_at >= RECONNECT_WINDOW
        ended = [
            session
            for session, club in await session_ends.run_out(self.ctx, now=now, lost=settled)
            if await session_ends.expire(self.ctx, club=club, session=session) is not None
        ]
        if ended:
            await self.refresh([(each.shop_id, each.pc) for each in ended])
        if settled:
            await _mark_silent(self.ctx, now)


_store_state = (
    update(club_pc_states)
    .where(
        club_pc_states.c.shop_id == bindparam("key_shop"),
        club_pc_states.c.device_id == bindparam("key_device"),
    )
    .values(
        heartbeat_at=bindparam("at"),
        heartbeat_seq=bindparam("seq"),
        reported=bindparam("reported"),
        liveness=Liveness.ONLINE,
        changed_at=bindparam("at"),
    )
)
_store_lease = (
    update(club_sessions)
    .where(
        club_sessions.c.id == bindparam("key_id"),
        club_sessions.c.state == SessionState.ACTIVE,
        club_sessions.c.lease_seq <= bindparam("seq"),
    )
    .values(lease_expires_at=bindparam("until"), lease_seq=bindparam("seq"))
)


async def _club_of(conn: AsyncConnection, shop_id: str, device_id: str) -> Club:
    row = (
        await conn.execute(
            select(clubs)
            .join(club_pcs, club_pcs.c.club_id == clubs.c.id)
            .where(club_pcs.c.shop_id == shop_id, club_pcs.c.device_id == device_id)
        )
    ).first()
    assert row is not None, "a club_pc device is placed in a club when it is added"
    return Club(**{name: getattr(row, name) for name in Club.__dataclass_fields__})


async def _mark_silent(ctx: Context, now: datetime) -> None:
    s = club_pc_states.c
    async with ctx.db.write() as conn:
        await conn.execute(
            update(club_pc_states)
            .where(s.liveness != Liveness.OFFLINE, s.heartbeat_at < now - OFFLINE_AFTER)
            .values(liveness=Liveness.OFFLINE, changed_at=now)
        )
        await conn.execute(
            update(club_pc_states)
            .where(s.liveness == Liveness.ONLINE, s.heartbeat_at < now - STALE_AFTER)
            .values(liveness=Liveness.STALE, changed_at=now)
        )


def alarms_of(value: object) -> list[str]:
    """A heartbeat's `alarms` as kept: texts only, at most `MAX_ALARMS`, each cut to
    `MAX_ALARM_CHARS` (anything else an agent sends there is no alarm)."""
    if not isinstance(value, list):
        return []
    texts = [each.strip()[:MAX_ALARM_CHARS] for each in value if isinstance(each, str)]
    return [each for each in texts if each][:MAX_ALARMS]
