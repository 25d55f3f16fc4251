"""The club's dashboard: the list of clubs, and a club's page with its live map of PCs by
zone (the page polls `/admin/clubs/{club}/map.json` every few seconds), the money taken today
and this shift by kind, and the PCs with a problem.

What a PC's tile says comes from the device core (presence: online, offline, or stale;
enabled or locked out by staff), with the sessions' state joined in through `join_sessions`
and what the PCs' heartbeats last reported. Everyone signed in sees these pages; a PC's own
page, with the session and remote-action controls, is `club_floor`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, time
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse

from kassa.domain import Conflict, NotFound
from kassa.domain.club_sessions import Liveness, SessionState
from kassa.protocol.club import PcState
from kassa.services.club import clubs, pcs, session_records, shifts
from kassa.services.club.clubs import Club
from kassa.services.club.pcs import Pc
from kassa.services.club.shifts import Report, Shift
from kassa.services.context import Context
from kassa.services.devices.presence import ONLINE_WITHIN
from kassa.services.shops import shops
from kassa.web.admin.auth import Signed, admin_router
from kassa.web.admin.render import NO_STORE, PageError, locale_of, render
from kassa.web.deps import ContextDep

router = admin_router()


class Presence(StrEnum):
    """What the device core knows of a PC's link."""

    ONLINE = "online"
    #: Connected, but not heard from within `ONLINE_WITHIN` (its hub process died, say).
    STALE = "stale"
    OFFLINE = "offline"


class TileState(StrEnum):
    """A PC's square on the map."""

    FREE = "free"
    #: A customer's session runs on it (set by `join_sessions`).
    IN_USE = "in_use"
    #: Disabled by staff: its agent is refused.
    LOCKED = "locked"
    OFFLINE = "offline"
    PROBLEM = "problem"


class Problem(StrEnum):
    """Why a PC is on the problems list."""

    #: Enabled, but its agent is not connected: nobody can play on it.
    OFFLINE = "offline"
    #: Its agent's connection went silent (no presence refresh within `ONLINE_WITHIN`).
    STALE = "stale"
    #: A session runs on it but its agent is silent (for `join_sessions`).
    SILENT_IN_USE = "silent_in_use"
    #: Its lease ran out, yet it still reports itself unlocked (for `join_sessions`).
    LEASE_EXPIRED_UNLOCKED = "lease_expired_unlocked"
    #: Its agent reports something wrong in its heartbeats (`Tile.alarms` says what).
    AGENT_ALARM = "agent_alarm"


@dataclass(frozen=True, slots=True)
class Tile:
    """One PC as the map and the problems list show it."""

    name: str
    alias: str
    zone: str
    presence: Presence
    enabled: bool
    last_seen_at: datetime | None
    state: TileState
    problem: Problem | None = None
    #: The login of the customer playing on it (sessions).
    customer: str | None = None
    #: When the customer's paid time ends, by the server's clock (sessions).
    ends_at: datetime | None = None
    #: What its agent last said was wrong with it (a heartbeat's `alarms`).
    alarms: tuple[str, ...] = ()


def presence_of(pc: Pc, now: datetime) -> Presence:
    if pc.online(now):
        return Presence.ONLINE
    return Presence.OFFLINE if pc.device.connected_at is None else Presence.STALE


def tile_of(pc: Pc, now: datetime) -> Tile:
    """A PC's tile from what the device core knows: no sessions yet."""
    presence = presence_of(pc, now)
    problem: Problem | None = None
    if not pc.device.enabled:
        state = TileState.LOCKED
    elif presence is Presence.ONLINE:
        state = TileState.FREE
    else:
        problem = Problem.OFFLINE if presence is Presence.OFFLINE else Problem.STALE
        state = TileState.OFFLINE if presence is Presence.OFFLINE else TileState.PROBLEM
    return Tile(
        name=pc.name,
        alias=pc.alias,
        zone=pc.zone,
        presence=presence,
        enabled=pc.device.enabled,
        last_seen_at=pc.device.last_seen_at,
        state=state,
        problem=problem,
    )


@dataclass(frozen=True, slots=True)
class Playing:
    """What the sessions will say of a PC (the shape `join_sessions` expects)."""

    customer: str
    #: When the paid time ends (the map shows the time left until then).
    ends_at: datetime
    #: When the PC's lease (its permission to stay unlocked) runs out, by the server's clock.
    lease_expires_at: datetime
    #: Whether the PC's agent last reported its screen unlocked.
    unlocked: bool
    #: Whether its agent's heartbeats stopped (stale or offline by the server's clock),
    #: though its link may still look connected.
    silent: bool = False


def join_sessions(tiles: list[Tile], playing: Mapping[str, Playing], now: datetime) -> list[Tile]:
    """The map with the sessions' state joined in: THE place for the sessions (h19-clubsess).

    `playing` maps a PC's name to its running session (`Playing`: the customer's login, when
    the paid time ends, when the lease runs out by the server's clock, and whether the agent
    says the PC is unlocked); a PC not in it has no session. A PC with a session is `in_use`
    with its customer and end; it is a problem when its agent is silent (its link is not
    online, or its heartbeats stopped: `silent_in_use`), or
    when its lease has run out and the PC still reports itself unlocked
    (`lease_expired_unlocked`). `sessions_of` reads them.
    """
    joined = []
    for tile in tiles:
        session = playing.get(tile.name)
        if session is None:
            joined.append(tile)
            continue
        problem = None
        if tile.presence is not Presence.ONLINE or session.silent:
            problem = Problem.SILENT_IN_USE
        elif session.unlocked and session.lease_expires_at <= now:
            problem = Problem.LEASE_EXPIRED_UNLOCKED
        joined.append(
            replace(
                tile,
                state=TileState.PROBLEM if problem else TileState.IN_USE,
                problem=problem,
                customer=session.customer,
                ends_at=session.ends_at,
            )
        )
    return joined


def with_alarms(tiles: list[Tile], reports: Mapping[str, pcs.Report]) -> list[Tile]:
    """The tiles with what each PC's agent says is wrong with it: an alarm makes a PC with no
    other problem a problem PC (`agent_alarm`), and is shown beside any other problem."""
    marked = []
    for tile in tiles:
        alarms = reports[tile.name].alarms if tile.name in reports else ()
        if not alarms:
            marked.append(tile)
        elif tile.problem is None:
            marked.append(
                replace(tile, state=TileState.PROBLEM, problem=Problem.AGENT_ALARM, alarms=alarms)
            )
        else:
            marked.append(replace(tile, alarms=alarms))
    return marked


async def sessions_of(
    ctx: Context, club: Club, reports: Mapping[str, pcs.Report]
) -> dict[str, Playing]:
    """The club's running sessions by PC (a paused one leaves its PC locked: not in use),
    with what each PC's agent last reported in a heartbeat (`pcs.reports`): its screen, and
    whether its heartbeats stopped. A PC that never linked has no report: its link's presence
    alone says whether it is silent."""
    running = await session_records.list_sessions(ctx, club=club)
    none = pcs.Report(heartbeat_at=None, screen=None, liveness=Liveness.ONLINE)
    return {
        each.pc: Playing(
            customer=each.login,
            ends_at=each.paid_until,
            lease_expires_at=each.lease_expires_at,
            unlocked=reports.get(each.pc, none).screen == PcState.UNLOCKED,
            silent=reports.get(each.pc, none).silent,
        )
        for each in running
        if each.state == SessionState.ACTIVE
    }


async def tiles_of(ctx: Context, club: Club, found: list[Pc]) -> list[Tile]:
    """The tiles of the club's PCs `found`: what the device core knows of each, its session,
    and what its agent reports (its heartbeats' screen, silence and alarms)."""
    now = ctx.clock()
    reports = await pcs.reports(ctx, club=club)
    tiles = [tile_of(pc, now) for pc in found]
    return with_alarms(join_sessions(tiles, await sessions_of(ctx, club, reports), now), reports)


async def club_named(ctx: Context, name: str) -> Club:
    try:
        return await clubs.get(ctx, name=name)
    except NotFound:
        raise PageError(404, "club") from None


def start_of_day(now: datetime, timezone: str) -> datetime:
    """Midnight of `now`'s day in the club's time zone."""
    local = now.astimezone(ZoneInfo(timezone))
    return datetime.combine(local.date(), time(), tzinfo=local.tzinfo)


async def _map(ctx: Context, club: Club) -> dict[str, Any]:
    now = ctx.clock()
    tiles = await tiles_of(ctx, club, await pcs.list_pcs(ctx, club=club))
    zones: dict[str, list[Tile]] = {}
    for tile in tiles:
        zones.setdefault(tile.zone, []).append(tile)
    counts = {state.value: sum(t.state is state for t in tiles) for state in TileState}
    return {
        "club": club,
        "now": now,
        "zones": zones,
        "tiles": tiles,
        "problems": [t for t in tiles if t.problem],
        "counts": counts,
    }


async def _takings(ctx: Context, club: Club) -> tuple[Report, Shift | None, Report | None]:
    """Today's takings by kind, and the open shift's (None when no shift is open). Read for
    everyone signed in (a viewer sees the numbers too), so asked as Kassa, not as the
    visitor: taking an X report at the desk is the `club_operator`'s."""
    today = await shifts.takings(ctx, club=club, since=start_of_day(ctx.clock(), club.timezone))
    try:
        shift, report = await shifts.x_report(ctx, club=club)
    except Conflict:
        return today, None, None
    return today, shift, report


@router.get("/clubs")
async def clubs_page(request: Request, ctx: ContextDep, session: Signed) -> HTMLResponse:
    """Every club, with its shop and its PCs' counts by state."""
    found = await clubs.list_clubs(ctx)
    names = {s.id: s.name for s in await shops.list_shops(ctx)}
    summaries = [(club, (await _map(ctx, club))["counts"]) for club in found]
    return render(
        request, "admin/clubs.html", session=session, summaries=summaries, shop_names=names
    )


@router.get("/clubs/{club}")
async def club_page(
    request: Request, ctx: ContextDep, *, session: Signed, club: str
) -> HTMLResponse:
    """A club's dashboard: the map (it refreshes itself), the takings, the problems."""
    found = await club_named(ctx, club)
    today, shift, report = await _takings(ctx, found)
    return render(
        request,
        "admin/club.html",
        session=session,
        today=today,
        shift=shift,
        report=report,
        online_within=ONLINE_WITHIN,
        **await _map(ctx, found),
    )


def tile_document(tile: Tile) -> dict[str, Any]:
    return {
        "name": tile.name,
        "alias": tile.alias,
        "zone": tile.zone,
        "state": tile.state.value,
        "presence": tile.presence.value,
        "enabled": tile.enabled,
        "problem": tile.problem.value if tile.problem else None,
        "customer": tile.customer,
        "ends_at": tile.ends_at.isoformat() if tile.ends_at else None,
        "last_seen_at": tile.last_seen_at.isoformat() if tile.last_seen_at else None,
    }


@router.get("/clubs/{club}/map.json")
async def map_json(
    request: Request, ctx: ContextDep, *, session: Signed, club: str
) -> JSONResponse:
    """The map for the club page's script: `pcs` (each tile's facts) and `html`, the map
    and the problems list rendered by the templates the page itself uses, in the visitor's
    language, so the script only swaps them in."""
    found = await club_named(ctx, club)
    shown = await _map(ctx, found)
    parts = {"html": "admin/_club_map.html", "problems": "admin/_club_problems.html"}
    return JSONResponse(
        {"pcs": [tile_document(t) for t in shown["tiles"]], **live_parts(request, parts, shown)},
        headers=NO_STORE,
    )


def live_parts(
    request: Request, templates: Mapping[str, str], values: Mapping[str, Any]
) -> dict[str, str]:
    """Each of `templates` (a part's name: its template) rendered alone with `values`, in the
    visitor's language: the parts of a club's page that its script (`static/club.js`) swaps
    in, each element marked `data-part` with its name."""
    locale = locale_of(request)
    pages = request.app.state.pages
    return {
        name: bytes(pages.render(template, locale=locale, **values).body).decode()
        for name, template in templates.items()
    }
