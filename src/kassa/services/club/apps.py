"""The Games and Apps catalogue of a club (what its PCs' launchers offer, per zone) and the
launch logs (which PC started what, for whom, when)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import Conflict, ParameterInvalid, new_id
from kassa.domain.club import AppKind, check_name
from kassa.services.callers import Caller
from kassa.services.club import access
from kassa.services.club.access import Right
from kassa.services.club.clubs import Club, find_zone
from kassa.services.context import Context
from kassa.store.tables import club_apps, club_customers, club_launches, club_zones

MAX_PATH = 1024


@dataclass(frozen=True, slots=True)
class App:
    id: str
    name: str
    path: str
    kind: str
    icon: str | None
    #: The zones it is offered in, by name; empty: every zone.
    zones: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Launch:
    pc: str
    customer: str | None
    app: str
    at: datetime


async def add(
    ctx: Context,
    *,
    club: Club,
    name: str,
    path: str,
    kind: str,
    icon: str | None = None,
    zones: tuple[str, ...] = (),
    caller: Caller | None = None,
) -> App:
    """A new app of the catalogue: `path` is the executable on the PCs."""
    access.require(caller, Right.SETUP)
    check_name(name, what="An app")
    if kind not in AppKind.ALL:
        raise ParameterInvalid("an app's kind is game or app", param="kind")
    if not path.strip() or len(path) > MAX_PATH:
        raise ParameterInvalid(f"a path is 1-{MAX_PATH} characters", param="path")
    app = App(new_id("app"), name, path, kind, icon, tuple(zones))
    try:
        async with ctx.db.write() as conn:
            zone_ids = [(await find_zone(conn, club=club, name=zone)).id for zone in zones]
            await conn.execute(
                club_apps.insert().values(
                    id=app.id,
                    club_id=club.id,
                    name=name,
                    path=path,
                    kind=kind,
                    icon=icon,
                    zones=zone_ids,
                    created_at=ctx.clock(),
                )
            )
    except IntegrityError:
        raise Conflict(f"Club {club.name} has an app {name!r} already", param="name") from None
    return app


async def list_apps(ctx: Context, *, club: Club, zone: str | None = None) -> list[App]:
    """The club's apps (those offered in `zone`, if given), games first, by name."""
    async with ctx.db.read() as conn:
        names = {
            row.id: row.name
            for row in await conn.execute(
                select(club_zones.c.id, club_zones.c.name).where(club_zones.c.club_id == club.id)
            )
        }
        zone_id = None if zone is None else (await find_zone(conn, club=club, name=zone)).id
        rows = await conn.execute(
            select(club_apps)
            .where(club_apps.c.club_id == club.id)
            .order_by(club_apps.c.kind.desc(), club_apps.c.name)
        )
        found = [
            App(
                row.id,
                row.name,
                row.path,
                row.kind,
                row.icon,
                tuple(sorted(names[each] for each in row.zones)),
            )
            for row in rows
            if zone_id is None or not row.zones or zone_id in row.zones
        ]
    return found


async def log_launch(
    ctx: Context, *, club: Club, pc: str, app: str, customer: str | None = None
) -> Launch:
    """Record that `pc` started `app` (by name, in the catalogue or not) for `customer`."""
    now = ctx.clock()
    async with ctx.db.write() as conn:
        return await record_launch(conn, club=club, pc=pc, app=app, customer=customer, at=now)


async def record_launch(
    conn: AsyncConnection,
    *,
    club: Club,
    pc: str,
    app: str,
    at: datetime,
    customer: str | None = None,
    customer_id: str | None = None,
) -> Launch:
    """`log_launch` in the caller's transaction, at `at`; the customer by login or by id."""
    if not app.strip() or len(app) > 128:
        raise ParameterInvalid("an app's name is 1-128 characters", param="app")
    app_id = (
        await conn.execute(
            select(club_apps.c.id).where(club_apps.c.club_id == club.id, club_apps.c.name == app)
        )
    ).scalar()
    c = club_customers.c
    if customer is not None or customer_id is not None:
        found = (
            await conn.execute(
                select(c.id, c.login).where(
                    c.club_id == club.id,
                    c.login == customer if customer_id is None else c.id == customer_id,
                )
            )
        ).first()
        customer_id, customer = (None, None) if found is None else (found.id, found.login)
    await conn.execute(
        club_launches.insert().values(
            club_id=club.id,
            device_id=pc[:64],
            customer_id=customer_id,
            app_id=app_id,
            app_name=app,
            at=at,
        )
    )
    return Launch(pc, customer, app, at)


async def launches(ctx: Context, *, club: Club, limit: int = 100) -> list[Launch]:
    """The club's latest launches, newest first."""
    query = (
        select(
            club_launches.c.device_id,
            club_customers.c.login,
            club_launches.c.app_name,
            club_launches.c.at,
        )
        .outerjoin(club_customers, club_customers.c.id == club_launches.c.customer_id)
        .where(club_launches.c.club_id == club.id)
        .order_by(club_launches.c.seq.desc())
        .limit(limit)
    )
    async with ctx.db.read() as conn:
        return [Launch(*row) for row in await conn.execute(query)]
