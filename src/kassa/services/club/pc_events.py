"""The journal of a club PC's local events (`kassa.protocol.club_pc.EVENTS`): what its agent
recorded while it played (minutes ticked, apps launched, the screen locked and unlocked),
replayed after a reconnect, possibly more than once, possibly by two requests at once.

Each event is stored once: the insert ignores one whose (shop, PC, event id) is held already,
and a launch is written to the club's launch log in the same transaction as the event that
reports it, so however often it is replayed it is logged once.

Events are kept `KASSA_CLUB_PC_EVENT_RETENTION_DAYS` after the hub received them (`prune`, a
job of the background loop): by then the agent has long forgotten them too, so none is
replayed again, and the club's launch log keeps the launches.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import ParameterInvalid
from kassa.protocol.club_pc import MAX_EVENTS, EventKind, EventsAccepted, PcEvent
from kassa.services.club import apps
from kassa.services.club.pc_view import Seat
from kassa.services.context import Context
from kassa.store.tables import club_pc_events, club_sessions

MAX_ID = 64
#: Events deleted per transaction when they expire (small, so the SQLite writer, which runs on
#: the event loop, is never held long).
PRUNE_BATCH = 500


def _moment(text: str, index: int) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ParameterInvalid(
            "an event's `at` is an ISO 8601 time with its offset", param=f"events.{index}.at"
        )
    return moment


def _check(event: PcEvent, index: int) -> datetime:
    """The event's time, once its fields are what the journal stores."""
    where = f"events.{index}"
    if not 0 < len(event.id) <= MAX_ID:
        raise ParameterInvalid(f"an event's id is 1-{MAX_ID} characters", param=f"{where}.id")
    if event.kind not in set(EventKind):
        raise ParameterInvalid(
            "an event's kind is tick, launch, lock or unlock", param=f"{where}.kind"
        )
    if event.kind == EventKind.LAUNCH and not (event.app or "").strip():
        raise ParameterInvalid("a launch names its app", param=f"{where}.app")
    return _moment(event.at, index)


def _cut(text: str | None, length: int) -> str | None:
    """`text` as its column holds it (None for an empty one)."""
    return text[:length] if text else None


async def _customer_of(conn: AsyncConnection, seat: Seat, session: str | None) -> str | None:
    if session is None:
        return None
    found: str | None = (
        await conn.execute(
            select(club_sessions.c.customer_id).where(
                club_sessions.c.id == session, club_sessions.c.club_id == seat.club.id
            )
        )
    ).scalar()
    return found


async def accept(ctx: Context, seat: Seat, events: list[PcEvent]) -> EventsAccepted:
    """Store the events not held yet (launches logged with them); how many were new, how
    many held already, and the highest `seq` held of this PC's events."""
    if len(events) > MAX_EVENTS:
        raise ParameterInvalid(f"at most {MAX_EVENTS} events a request", param="events")
    moments = [_check(event, index) for index, event in enumerate(events)]
    shop_id, pc = seat.club.shop_id, seat.pc
    now = ctx.clock()
    accepted = 0
    add = ctx.db.insert_ignoring_conflict(
        club_pc_events, index_elements=["shop_id", "device_id", "event_id"]
    )
    async with ctx.db.write() as conn:
        for event, at in zip(events, moments, strict=True):
            stored = await conn.execute(
                add,
                {
                    "shop_id": shop_id,
                    "device_id": pc,
                    "club_id": seat.club.id,
                    "event_id": event.id,
                    "pc_seq": event.seq,
                    "kind": event.kind,
                    "at": at,
                    "session_id": _cut(event.session, 40),
                    "app": _cut(event.app, 128),
                    "reason": _cut(event.reason, 64),
                    "received_at": now,
                },
            )
            if stored.rowcount == 0:
                continue
            accepted += 1
            if event.kind == EventKind.LAUNCH:
                assert event.app is not None  # `_check` requires it
                await apps.record_launch(
                    conn,
                    club=seat.club,
                    pc=pc,
                    app=event.app[:128],
                    at=at,
                    customer_id=await _customer_of(conn, seat, event.session),
                )
        e = club_pc_events.c
        highest = await conn.scalar(
            select(func.max(e.pc_seq)).where(e.shop_id == shop_id, e.device_id == pc)
        )
    return EventsAccepted(accepted=accepted, duplicates=len(events) - accepted, seq=highest or 0)


async def prune(ctx: Context) -> int:
    """The background job: delete the events received more than
    `KASSA_CLUB_PC_EVENT_RETENTION_DAYS` ago, a batch per transaction; how many."""
    cutoff = ctx.clock() - timedelta(days=ctx.settings.club_pc_event_retention_days)
    return await ctx.db.delete_in_batches(
        club_pc_events, club_pc_events.c.received_at < cutoff, batch=PRUNE_BATCH
    )
