"""What every `kassa club` command shares: the `kassa club` app its modules add commands to,
the club argument, the actor the ledger names, running work in a named club, amounts and
durations as the commands take and print them, and a ledger entry's outcome."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from kassa.cli.output import console, money, run
from kassa.domain.money import from_decimal
from kassa.services.admin import audit
from kassa.services.club import clubs, customers, ledger
from kassa.services.club.clubs import Club
from kassa.services.context import Context

T = TypeVar("T")
#: Who the ledger says did what the CLI does.
ACTOR = audit.CLI.name

app = typer.Typer(
    help="A computer club: zones, PCs, customers, their balances and time, tariffs, "
    "packages, apps.",
    no_args_is_help=True,
)

ClubArg = Annotated[str, typer.Argument(metavar="CLUB", help="The club's name.")]


def in_club(club: str, work: Callable[[Context, Club], Awaitable[T]]) -> tuple[T, Club]:
    """Run `work` on the club named `club`."""

    async def found(ctx: Context) -> tuple[T, Club]:
        each = await clubs.get(ctx, name=club)
        return await work(ctx, each), each

    return run(found)


def main_unit(value: str, club: Club, param: str = "amount") -> int:
    return from_decimal(value, club.currency, param=param)


def duration(seconds: int) -> str:
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"


def posted(club: str, post: Callable[[Context, Club], Awaitable[ledger.Entry]]) -> None:
    """Run `post` on the club and say where the customer's balance and time bank stand."""

    async def work(ctx: Context, each: Club) -> tuple[ledger.Entry, customers.Customer]:
        entry = await post(ctx, each)
        async with ctx.db.read() as conn:
            return entry, await customers.find_by_id(conn, customer_id=entry.customer_id)

    (entry, customer), each = in_club(club, work)
    console.print(
        f"{entry.kind}: balance {money(customer.balance, each.currency)}, "
        f"time bank {duration(customer.time_bank)}"
    )
