"""`kassa club set` and `kassa club staff-pin`: a club's settings for its PCs (their screens'
language, the mode of their online top-ups, the lease, the offline policy) and the staff PIN
that opens a PC's staff panel (kept only as its argon2 hash)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from kassa.cli.club_common import ClubArg, app, in_club
from kassa.cli.output import JsonOption, console, fail, print_json
from kassa.services.club import clubs, staff_pin
from kassa.services.club.clubs import Club
from kassa.services.context import Context
from kassa.web.club_objects import club_object

#: `--test/--live`: the mode the club's PCs' online top-ups are made in.
TestOption = Annotated[
    bool | None,
    typer.Option(
        "--test/--live",
        help="PCs' online top-ups in test mode (the sandbox) or live (the shop's live accounts).",
    ),
]
LanguageOption = Annotated[
    str | None, typer.Option(help="The language of the PCs' screens: ru or en.")
]


def describe(club: Club) -> str:
    mode = "test" if club.test else "live"
    return (
        f"Club [bold]{escape(club.name)}[/]: language {club.language}, top-ups {mode}, "
        f"lease {club.lease_max} s, offline {club.offline_policy}"
    )


@app.command("set")
def set_club(
    club: ClubArg,
    *,
    language: LanguageOption = None,
    test: TestOption = None,
    lease_max: Annotated[
        int | None, typer.Option(help="Seconds a PC plays past its last heartbeat at most.")
    ] = None,
    offline_policy: Annotated[
        str | None, typer.Option(help="lock (at lease end) or continue (to the paid time).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a club's settings (those given; the others are kept)."""

    async def work(ctx: Context, each: Club) -> Club:
        return await clubs.configure(
            ctx,
            club=each,
            language=language,
            test=test,
            lease_max=lease_max,
            offline_policy=offline_policy,
        )

    changed, _ = in_club(club, work)
    if as_json:
        print_json(club_object(changed))
        return
    console.print(describe(changed))


def _typed_pin(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().strip()
    typed: str = typer.prompt("Staff PIN", hide_input=True, confirmation_prompt=True)
    return typed.strip()


@app.command("staff-pin")
def set_staff_pin(
    club: ClubArg,
    *,
    pin_stdin: Annotated[
        bool, typer.Option("--pin-stdin", help="Read the PIN from the first line of stdin.")
    ] = False,
) -> None:
    """Set the staff PIN (4-12 digits) that opens the staff panel on the club's PCs; typed
    twice, unseen (or read from stdin). Kassa keeps only its hash."""
    pin = _typed_pin(pin_stdin)
    if not staff_pin.PIN_PATTERN.fullmatch(pin):
        raise fail("a staff PIN is 4 to 12 digits")

    async def work(ctx: Context, each: Club) -> None:
        await staff_pin.set_pin(ctx, club=each, pin=pin)

    _, found = in_club(club, work)
    console.print(f"Staff PIN of club [bold]{escape(found.name)}[/] set.")
