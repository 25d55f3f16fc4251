"""`kassa club sessions`: the club's sessions from the desk, as the API has them (start,
extend, pause, resume, move, end, list). A session is addressed by its PC; each change prints
the session as it stands, or with `--json` the API's `club_session` object."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape

from kassa.cli.club_common import ACTOR, ClubArg, duration, in_club
from kassa.cli.output import JsonOption, console, fail, id_column, print_json, show, table
from kassa.services.club import session_records, sessions
from kassa.services.club.clubs import Club
from kassa.services.club.session_records import Session
from kassa.services.context import Context
from kassa.web.club_objects import session_object

sessions_app = typer.Typer(
    help="Sessions on the server's ledger: start, extend, pause, resume, move, end, list.",
    no_args_is_help=True,
)

PcArg = Annotated[str, typer.Argument(metavar="PC", help="The PC's name.")]
#: A change of one of the club's sessions, run in its club.
Change = Callable[[Context, Club], Awaitable[Session]]


def _changed(club: str, what: str, change: Change, as_json: bool) -> None:
    """Run `change` in `club` and print the session as it stands at the moment it was asked
    for (so a 30-minute start reads `0:30:00 left`): a line saying `what` was done, or with
    `as_json` the API's object."""

    async def work(ctx: Context, each: Club) -> tuple[Session, datetime]:
        asked = ctx.clock()
        return await change(ctx, each), asked

    (session, asked), _ = in_club(club, work)
    if as_json:
        print_json(session_object(session, asked))
        return
    console.print(
        f"Session {session.id} {what} {escape(session.pc)} for {escape(session.login)}: "
        f"{session.state}, {duration(session.left(asked))} left"
    )


@sessions_app.command("start")
def start_session(
    club: ClubArg,
    pc: PcArg,
    login: Annotated[str, typer.Argument(help="The customer's login.")],
    *,
    minutes: Annotated[
        int | None, typer.Option(min=1, help="How long; default: as long as they can pay.")
    ] = None,
    package: Annotated[str | None, typer.Option(help="Buy this package and play it.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Start LOGIN's session on PC, charged ahead in the fixed order."""

    async def change(ctx: Context, each: Club) -> Session:
        return await sessions.start(
            ctx, club=each, pc=pc, login=login, minutes=minutes, package=package, actor=ACTOR
        )

    _changed(club, "started on", change, as_json)


@sessions_app.command("extend")
def extend_session(
    club: ClubArg,
    pc: PcArg,
    minutes: Annotated[int | None, typer.Option(min=1, help="This many minutes more.")] = None,
    package: Annotated[str | None, typer.Option(help="Buy this package and add its time.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Charge more time to the session on PC, in the fixed order: --minutes or a --package.

    A paused session's extra time waits with it."""
    if (minutes is None) == (package is None):
        raise fail("say how long: --minutes or --package", code=2)

    async def change(ctx: Context, each: Club) -> Session:
        return await sessions.extend(
            ctx, club=each, pc=pc, minutes=minutes, package=package, actor=ACTOR
        )

    _changed(club, "extended on", change, as_json)


@sessions_app.command("pause")
def pause_session(club: ClubArg, pc: PcArg, as_json: JsonOption = False) -> None:
    """Hold the session on PC: its paid time left waits, the PC locks."""
    _changed(
        club,
        "paused on",
        lambda ctx, each: sessions.pause(ctx, club=each, pc=pc, actor=ACTOR),
        as_json,
    )


@sessions_app.command("resume")
def resume_session(club: ClubArg, pc: PcArg, as_json: JsonOption = False) -> None:
    """Go on with the paused session on PC, with the paid time it had left."""
    _changed(
        club,
        "resumed on",
        lambda ctx, each: sessions.resume(ctx, club=each, pc=pc, actor=ACTOR),
        as_json,
    )


@sessions_app.command("move")
def move_session(
    club: ClubArg,
    pc: PcArg,
    to: Annotated[str, typer.Option("--to", help="The free PC the customer moves to.")],
    as_json: JsonOption = False,
) -> None:
    """Move the session on PC to a free PC, with the paid time it has.

    What is charged afterwards is at the new PC's zone's rates."""
    _changed(
        club,
        "moved to",
        lambda ctx, each: sessions.move(ctx, club=each, pc=pc, to=to, actor=ACTOR),
        as_json,
    )


@sessions_app.command("end")
def end_session(club: ClubArg, pc: PcArg, as_json: JsonOption = False) -> None:
    """End the session on PC now; the unplayed paid time is given back."""
    _changed(
        club,
        "ended on",
        lambda ctx, each: sessions.end(ctx, club=each, pc=pc, actor=ACTOR),
        as_json,
    )


@sessions_app.command("list")
def list_sessions(
    club: ClubArg,
    ended: Annotated[bool, typer.Option("--ended", help="The latest ended ones too.")] = False,
    as_json: JsonOption = False,
) -> None:
    """CLUB's sessions that are not over, newest first."""

    async def work(ctx: Context, each: Club) -> tuple[list[Session], datetime]:
        return await session_records.list_sessions(ctx, club=each, include_ended=ended), ctx.clock()

    (found, now), _ = in_club(club, work)
    if as_json:
        print_json([session_object(each, now) for each in found])
        return
    listed = table(id_column("id"), "pc", "customer", "state", "left", "lease until")
    for each in found:
        lease = each.lease().lease_expires_at
        listed.add_row(
            each.id,
            escape(each.pc),
            escape(each.login),
            each.state if each.end_reason is None else f"{each.state} ({each.end_reason})",
            duration(each.left(now)),
            "" if lease is None else f"{lease:%H:%M:%S}",
        )
    show(listed)
