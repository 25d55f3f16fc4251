"""`kassa club` on the floor: PCs (their token printed once, as `kassa terminals add` does)
and remote actions on them, top-ups at the desk and online, and the desk's shifts with their
X and Z reports (sessions: `club_sessions`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape

from kassa.cli.club_common import ACTOR, ClubArg, app, duration, in_club, main_unit, posted
from kassa.cli.output import (
    JsonOption,
    confirmation_rows,
    console,
    errors,
    fail,
    id_column,
    money,
    print_json,
    show,
    table,
)
from kassa.domain.devices import Operation
from kassa.services.admin import audit
from kassa.services.callers import Caller
from kassa.services.club import actions as club_actions
from kassa.services.club import (
    ledger,
    pcs,
    shifts,
    topups,
)
from kassa.services.club.clubs import Club
from kassa.services.context import Context
from kassa.services.shops import shops
from kassa.web.club_objects import (
    action_object,
    pc_object,
    shift_object,
    topup_object,
)

pcs_app = typer.Typer(help="A club's PCs and their tokens.", no_args_is_help=True)
shift_app = typer.Typer(help="Shifts at the desk: X and Z reports.", no_args_is_help=True)


@pcs_app.command("add")
def add_pc(
    club: ClubArg,
    name: Annotated[str, typer.Argument(help="The PC's name (its hostname), e.g. PC-01.")],
    zone: Annotated[str, typer.Option(help="The zone it stands in.")],
    alias: Annotated[str | None, typer.Option(help="What staff see; default the name.")] = None,
) -> None:
    """Add a PC to CLUB and print its token, once."""

    async def work(ctx: Context, each: Club) -> tuple[pcs.Pc, str]:
        return await pcs.add(ctx, club=each, name=name, zone=zone, alias=alias, actor=audit.CLI)

    (pc, token), _ = in_club(club, work)
    _print_token(token, f"Added PC {escape(pc.name)} to zone {escape(pc.zone)}.")


def _print_token(token: str, what: str) -> None:
    """The token alone on stdout (`$(kassa club pcs add …)` captures it), the rest on
    stderr."""
    console.print(token, soft_wrap=True)
    errors.print(
        f"[dim]{what} Shown once: Kassa keeps no copy. It is the PC's token for the club's "
        "PC agent.[/]",
        soft_wrap=True,
    )


@pcs_app.command("list")
def list_pcs(club: ClubArg, as_json: JsonOption = False) -> None:
    """CLUB's PCs, with who is online."""

    async def work(ctx: Context, each: Club) -> tuple[list[pcs.Pc], datetime]:
        return await pcs.list_pcs(ctx, club=each), ctx.clock()

    (found, now), _ = in_club(club, work)
    if as_json:
        print_json([pc_object(pc, now) for pc in found])
        return
    listed = table(id_column("name"), "alias", "zone", "state", "enabled")
    for pc in found:
        listed.add_row(
            pc.name,
            escape(pc.alias),
            escape(pc.zone),
            "[green]online[/]" if pc.online(now) else "offline",
            "yes" if pc.device.enabled else "[red]no[/]",
        )
    show(listed)


@pcs_app.command("revoke")
def revoke_pc(club: ClubArg, name: str) -> None:
    """Make every token of the PC useless (its agent is cut off) and print a new one, once."""

    async def work(ctx: Context, each: Club) -> str:
        return (await pcs.revoke(ctx, club=each, name=name, actor=audit.CLI)).token

    token, _ = in_club(club, work)
    _print_token(token, f"Revoked every earlier token of {escape(name)}.")


@shift_app.command("open")
def open_shift(
    club: ClubArg,
    cash: Annotated[str, typer.Option(help="The cash in the drawer, in the main unit.")],
) -> None:
    """Open the club's shift with the cash in the drawer (one shift is open at a time)."""

    async def work(ctx: Context, each: Club) -> shifts.Shift:
        return await shifts.open_shift(
            ctx, club=each, cash=main_unit(cash, each, "cash"), actor=ACTOR
        )

    shift, each = in_club(club, work)
    console.print(f"Shift {shift.id} open with {money(shift.opening_cash, each.currency)}")


def _print_report(shift: shifts.Shift, report: shifts.Report, each: Club) -> None:
    def cash(amount: int) -> str:
        return money(amount, each.currency)

    rows = table("field", "value", show_header=False, box=None)
    rows.add_row("shift", shift.id)
    rows.add_row("opened", f"{shift.opened_at:%Y-%m-%d %H:%M:%S} by {escape(shift.opened_by)}")
    rows.add_row("until", f"{report.until:%Y-%m-%d %H:%M:%S}")
    rows.add_row("opening cash", cash(report.opening_cash))
    rows.add_row("cash", cash(report.cash))
    rows.add_row("card", cash(report.card))
    rows.add_row("online top-ups", cash(report.online))
    rows.add_row("sessions", f"{cash(report.sessions)} ({report.session_charges} charges)")
    rows.add_row("packages", f"{cash(report.packages)} ({report.packages_sold} sold)")
    rows.add_row(
        "corrections",
        f"{cash(report.corrections)}, {duration(report.correction_seconds)} "
        f"({report.corrections_made})",
    )
    rows.add_row("expected cash", cash(report.expected_cash))
    if shift.counted_cash is not None and shift.difference is not None:
        rows.add_row("counted cash", cash(shift.counted_cash))
        rows.add_row("difference", cash(shift.difference))
    show(rows)


@shift_app.command("x")
def x_report(club: ClubArg, as_json: JsonOption = False) -> None:
    """The open shift's X report: what it has taken so far. Changes nothing."""
    (shift, report), each = in_club(club, lambda ctx, each: shifts.x_report(ctx, club=each))
    if as_json:
        print_json(shift_object(shift, each, report))
        return
    _print_report(shift, report, each)


@shift_app.command("close")
def close_shift(
    club: ClubArg,
    counted: Annotated[str, typer.Option(help="The cash counted in the drawer.")],
    as_json: JsonOption = False,
) -> None:
    """Close the open shift with the cash counted: its Z report.

    The report, the expected cash and the difference (counted less expected) are recorded."""

    async def work(ctx: Context, each: Club) -> tuple[shifts.Shift, shifts.Report]:
        return await shifts.close_shift(
            ctx, club=each, counted=main_unit(counted, each, "counted"), actor=ACTOR
        )

    (shift, report), each = in_club(club, work)
    if as_json:
        print_json(shift_object(shift, each, report))
        return
    _print_report(shift, report, each)


@shift_app.command("list")
def list_shifts(club: ClubArg, as_json: JsonOption = False) -> None:
    """The club's latest shifts, newest first."""
    found, each = in_club(club, lambda ctx, each: shifts.list_shifts(ctx, club=each))
    if as_json:
        print_json([shift_object(shift, each) for shift in found])
        return
    listed = table(id_column("shift"), "opened", "closed", "expected", "counted", "difference")
    for shift in found:

        def cash(amount: int | None) -> str:
            return "" if amount is None else money(amount, each.currency)

        listed.add_row(
            shift.id,
            f"{shift.opened_at:%Y-%m-%d %H:%M}",
            "open" if shift.closed_at is None else f"{shift.closed_at:%Y-%m-%d %H:%M}",
            cash(shift.expected_cash),
            cash(shift.counted_cash),
            cash(shift.difference),
        )
    show(listed)


@pcs_app.command("action")
def pc_action(
    club: ClubArg,
    pc: Annotated[str, typer.Argument(help="The PC's name.")],
    action: Annotated[
        str, typer.Argument(help="lock, unlock, restart, shutdown, message or end_session.")
    ],
    text: Annotated[str | None, typer.Option(help="For message: what to show.")] = None,
) -> None:
    """Send PC a remote action; `kassa club pcs actions` shows whether it did it."""

    async def work(ctx: Context, each: Club) -> Operation:
        return await club_actions.send(ctx, club=each, pc=pc, action=action, text=text, actor=ACTOR)

    operation, _ = in_club(club, work)
    console.print(
        f"{operation.kind} for {escape(pc)}: {operation.state.value} ({operation.request_id})"
    )


@pcs_app.command("actions")
def pc_actions(
    club: ClubArg,
    pc: Annotated[str, typer.Argument(help="The PC's name.")],
    as_json: JsonOption = False,
) -> None:
    """PC's latest remote actions and whether it did them."""
    found, _ = in_club(club, lambda ctx, each: club_actions.recent(ctx, club=each, pc=pc))
    if as_json:
        print_json([action_object(each) for each in found])
        return
    listed = table("when", "action", "state", id_column("id"))
    for each in found:
        listed.add_row(
            f"{each.created_at:%Y-%m-%d %H:%M:%S}", each.kind, each.state.value, each.request_id
        )
    show(listed)


@app.command("topup")
def topup(
    club: ClubArg,
    login: str,
    amount: Annotated[str, typer.Argument(help="In the main unit, e.g. 1500.")],
    *,
    cash: Annotated[bool, typer.Option("--cash", help="Paid in cash at the desk.")] = False,
    card: Annotated[
        bool, typer.Option("--card", help="Paid by card at the club's own reader.")
    ] = False,
    online: Annotated[
        bool,
        typer.Option("--online", help="A payment the customer makes (a link or a QR to scan)."),
    ] = False,
    provider: Annotated[
        str | None,
        typer.Option(help="Online: the provider (default: Kaspi; the sandbox with --test)."),
    ] = None,
    test: Annotated[bool, typer.Option("--test", help="Online: a test payment.")] = False,
) -> None:
    """Top up a customer's balance, at the desk or --online.

    Paid at the desk (--cash, --card), it is credited now; --online makes a payment whose
    link or QR data is printed, credited once it succeeds."""
    if cash + card + online != 1:
        raise fail("say how it is paid: --cash, --card or --online", code=2)
    if not online and (provider is not None or test):
        raise fail("--provider and --test are for --online top-ups", code=2)
    if online:
        _online_topup(club, login, amount, provider=provider, test=test)
        return

    async def work(ctx: Context, each: Club) -> ledger.Entry:
        return await ledger.topup(
            ctx,
            club=each,
            login=login,
            amount=main_unit(amount, each),
            method="cash" if cash else "card",
            actor=ACTOR,
        )

    posted(club, work)


def _online_topup(club: str, login: str, amount: str, *, provider: str | None, test: bool) -> None:
    async def work(ctx: Context, each: Club) -> topups.Started:
        shop = await shops.get_shop(ctx, shop_id=each.shop_id)
        return await topups.start(
            ctx,
            caller=Caller.system(shop=shop, test=test),
            club=each,
            login=login,
            amount=main_unit(amount, each),
            actor=ACTOR,
            provider=provider,
        )

    started, each = in_club(club, work)
    payment = started.payment
    details = table("field", "value", show_header=False, box=None)
    details.add_row("top-up", started.topup.id)
    details.add_row("payment", payment.id)
    details.add_row("amount", money(payment.amount, payment.currency))
    details.add_row("provider", payment.provider)
    details.add_row("status", payment.status.value)
    for name, value in confirmation_rows(payment.confirmation or {}):
        details.add_row(name, escape(value))
    show(details)
    errors.print(
        f"The balance of {escape(login)} is credited once the payment succeeds "
        f"(`kassa club topups {escape(each.name)}`)."
    )


@app.command("topups")
def list_topups(club: ClubArg, as_json: JsonOption = False) -> None:
    """The club's latest online top-ups, newest first."""
    found, each = in_club(club, lambda ctx, each: topups.list_topups(ctx, club=each))
    if as_json:
        print_json(
            [
                topup_object(
                    listed.topup, each, login=listed.login, payment_status=listed.payment_status
                )
                for listed in found
            ]
        )
        return
    rows = table(
        id_column("payment"), "customer", "amount", "provider", "top-up", "payment status", "when"
    )
    for listed in found:
        topup = listed.topup
        rows.add_row(
            topup.payment_id,
            escape(listed.login),
            money(topup.amount, each.currency),
            topup.provider or "",
            topup.status,
            listed.payment_status or "",
            f"{topup.created_at:%Y-%m-%d %H:%M:%S}",
        )
    show(rows)
