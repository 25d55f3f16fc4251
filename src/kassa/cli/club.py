"""`kassa club`: a computer club's world from the command line: clubs, zones, PCs (their token
printed once, as `kassa terminals add` does), customers, money and time on their ledger,
tariffs, packages, apps, online top-ups and shifts. Amounts are in the club currency's main
unit (tenge: `1500` or `1500.50`); a negative one follows `--` (`kassa club correct CLUB LOGIN
--reason R -- -500`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape

from kassa.cli.output import (
    JsonOption,
    confirmation_rows,
    console,
    errors,
    fail,
    id_column,
    money,
    print_json,
    run,
    show,
    table,
)
from kassa.domain.club import OfflinePolicy
from kassa.domain.devices import Operation
from kassa.domain.money import from_decimal
from kassa.services.admin import audit
from kassa.services.callers import Caller
from kassa.services.club import actions as club_actions
from kassa.services.club import (
    apps,
    clubs,
    customers,
    ledger,
    packages,
    pcs,
    pricing,
    sessions,
    shifts,
    topups,
)
from kassa.services.club.clubs import Club
from kassa.services.context import Context
from kassa.services.shops import shops
from kassa.web.club_objects import (
    action_object,
    app_object,
    club_object,
    customer_object,
    entry_object,
    launch_object,
    package_object,
    pc_object,
    play_preview_object,
    purchase_preview_object,
    session_object,
    shift_object,
    tariff_object,
    topup_object,
)

T = TypeVar("T")
#: Who the ledger says did what the CLI does.
ACTOR = audit.CLI.name

app = typer.Typer(
    help="A computer club: zones, PCs, customers, their balances and time, tariffs, "
    "packages, apps.",
    no_args_is_help=True,
)
zones_app = typer.Typer(help="A club's zones (Standard, VIP…).", no_args_is_help=True)
groups_app = typer.Typer(help="Member groups and their discounts.", no_args_is_help=True)
pcs_app = typer.Typer(help="A club's PCs and their tokens.", no_args_is_help=True)
customers_app = typer.Typer(help="A club's customers.", no_args_is_help=True)
packages_app = typer.Typer(help="Packages of time for a price.", no_args_is_help=True)
tariffs_app = typer.Typer(help="Per-minute rates per zone.", no_args_is_help=True)
apps_app = typer.Typer(help="The Games and Apps catalogue.", no_args_is_help=True)
shift_app = typer.Typer(help="Shifts at the desk: X and Z reports.", no_args_is_help=True)
for sub, name in (
    (zones_app, "zones"),
    (groups_app, "groups"),
    (pcs_app, "pcs"),
    (customers_app, "customers"),
    (packages_app, "packages"),
    (tariffs_app, "tariffs"),
    (apps_app, "apps"),
    (shift_app, "shift"),
):
    app.add_typer(sub, name=name)

ClubArg = Annotated[str, typer.Argument(metavar="CLUB", help="The club's name.")]


def _in_club(club: str, work: Callable[[Context, Club], Awaitable[T]]) -> tuple[T, Club]:
    """Run `work` on the club named `club`."""

    async def found(ctx: Context) -> tuple[T, Club]:
        each = await clubs.get(ctx, name=club)
        return await work(ctx, each), each

    return run(found)


def _amount(value: str, club: Club, param: str = "amount") -> int:
    return from_decimal(value, club.currency, param=param)


def _duration(seconds: int) -> str:
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"


@app.command("create")
def create(
    shop: str,
    name: str,
    *,
    currency: Annotated[str, typer.Option(help="KZT, RUB…")] = "KZT",
    timezone: Annotated[str, typer.Option(help="An IANA zone, e.g. Asia/Almaty.")] = "Asia/Almaty",
    lease_max: Annotated[
        int, typer.Option(help="Seconds a PC plays past its last heartbeat at most.")
    ] = clubs.DEFAULT_LEASE_MAX,
    offline_policy: Annotated[
        str, typer.Option(help="lock (at lease end) or continue (to the paid time).")
    ] = OfflinePolicy.LOCK,
) -> None:
    """Create a club of SHOP named NAME (unique across Kassa; it is `{club}` in URLs)."""

    async def work(ctx: Context) -> Club:
        return await clubs.create(
            ctx,
            shop=await shops.get_shop(ctx, name=shop),
            name=name,
            currency=currency,
            timezone=timezone,
            lease_max=lease_max,
            offline_policy=offline_policy,
        )

    club = run(work)
    console.print(f"Club [bold]{escape(club.name)}[/] ({club.currency}, {club.timezone})")


@app.command("list")
def list_clubs(as_json: JsonOption = False) -> None:
    """Every club."""

    async def work(ctx: Context) -> list[Club]:
        return await clubs.list_clubs(ctx)

    found = run(work)
    if as_json:
        print_json([club_object(club) for club in found])
        return
    listed = table(id_column("name"), "currency", "timezone", "lease", "offline")
    for club in found:
        listed.add_row(
            club.name, club.currency, club.timezone, f"{club.lease_max} s", club.offline_policy
        )
    show(listed)


@zones_app.command("add")
def add_zone(club: ClubArg, name: str) -> None:
    """Add a zone to CLUB."""
    zone, _ = _in_club(club, lambda ctx, each: clubs.add_zone(ctx, club=each, name=name))
    console.print(f"Zone [bold]{escape(zone.name)}[/] added")


@zones_app.command("list")
def list_zones(club: ClubArg, as_json: JsonOption = False) -> None:
    """CLUB's zones."""
    found, _ = _in_club(club, lambda ctx, each: clubs.list_zones(ctx, club=each))
    if as_json:
        print_json([{"id": zone.id, "name": zone.name} for zone in found])
        return
    for zone in found:
        console.print(escape(zone.name))


@groups_app.command("add")
def add_group(
    club: ClubArg,
    name: str,
    discount: Annotated[int, typer.Option(min=0, max=100, help="Percent off per-minute rates.")],
) -> None:
    """Add a member group whose customers pay DISCOUNT percent less per minute."""
    group, _ = _in_club(
        club,
        lambda ctx, each: clubs.add_group(ctx, club=each, name=name, discount_percent=discount),
    )
    console.print(f"Group [bold]{escape(group.name)}[/]: {group.discount_percent}% off")


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

    (pc, token), _ = _in_club(club, work)
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

    (found, now), _ = _in_club(club, work)
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

    token, _ = _in_club(club, work)
    _print_token(token, f"Revoked every earlier token of {escape(name)}.")


@customers_app.command("add")
def add_customer(
    club: ClubArg,
    login: str,
    *,
    password: Annotated[str, typer.Option(help="Kept only as an argon2 hash.")],
    name: Annotated[str, typer.Option()] = "",
    phone: Annotated[str | None, typer.Option()] = None,
    group: Annotated[str | None, typer.Option(help="A member group.")] = None,
) -> None:
    """Register a customer of CLUB."""

    async def work(ctx: Context, each: Club) -> customers.Customer:
        return await customers.register(
            ctx, club=each, login=login, password=password, name=name, phone=phone, group=group
        )

    customer, _ = _in_club(club, work)
    console.print(f"Customer [bold]{escape(customer.login)}[/] registered")


@customers_app.command("list")
def list_customers(
    club: ClubArg,
    deleted: Annotated[bool, typer.Option("--deleted", help="Deleted ones too.")] = False,
    as_json: JsonOption = False,
) -> None:
    """CLUB's customers with their balance and time bank."""
    found, each = _in_club(
        club,
        lambda ctx, each: customers.list_customers(ctx, club=each, include_deleted=deleted),
    )
    if as_json:
        print_json([customer_object(customer, each) for customer in found])
        return
    listed = table(id_column("login"), "name", "group", "balance", "time bank", "status")
    for customer in found:
        listed.add_row(
            customer.login,
            escape(customer.name),
            escape(customer.group or ""),
            money(customer.balance, each.currency),
            _duration(customer.time_bank),
            customer.status,
        )
    show(listed)


@customers_app.command("block")
def block_customer(
    club: ClubArg,
    login: str,
    unblock: Annotated[bool, typer.Option("--unblock", help="Unblock instead.")] = False,
) -> None:
    """Block a customer (no sign-in, no purchase), or unblock one."""
    customer, _ = _in_club(
        club, lambda ctx, each: customers.block(ctx, club=each, login=login, blocked=not unblock)
    )
    console.print(f"Customer [bold]{escape(customer.login)}[/] is {customer.status}")


@customers_app.command("delete")
def delete_customer(club: ClubArg, login: str) -> None:
    """Delete a customer; their ledger stays, their login is not reused."""
    _in_club(club, lambda ctx, each: customers.delete(ctx, club=each, login=login))
    console.print(f"Customer [bold]{escape(login)}[/] deleted")


def _posted(club: str, post: Callable[[Context, Club], Awaitable[ledger.Entry]]) -> None:
    """Run `post` on the club and say where the customer's balance and time bank stand."""

    async def work(ctx: Context, each: Club) -> tuple[ledger.Entry, customers.Customer]:
        entry = await post(ctx, each)
        async with ctx.db.read() as conn:
            return entry, await customers.find_by_id(conn, customer_id=entry.customer_id)

    (entry, customer), each = _in_club(club, work)
    console.print(
        f"{entry.kind}: balance {money(customer.balance, each.currency)}, "
        f"time bank {_duration(customer.time_bank)}"
    )


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
            amount=_amount(amount, each),
            method="cash" if cash else "card",
            actor=ACTOR,
        )

    _posted(club, work)


def _online_topup(club: str, login: str, amount: str, *, provider: str | None, test: bool) -> None:
    async def work(ctx: Context, each: Club) -> topups.Started:
        shop = await shops.get_shop(ctx, shop_id=each.shop_id)
        return await topups.start(
            ctx,
            caller=Caller.system(shop=shop, test=test),
            club=each,
            login=login,
            amount=_amount(amount, each),
            actor=ACTOR,
            provider=provider,
        )

    started, each = _in_club(club, work)
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
    found, each = _in_club(club, lambda ctx, each: topups.list_topups(ctx, club=each))
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


@app.command("time")
def add_time(
    club: ClubArg,
    login: str,
    seconds: Annotated[int, typer.Argument(help="Seconds to add (after --, negative: take).")],
    reason: Annotated[str, typer.Option(help="Why.")],
) -> None:
    """Add time to (or take it from) a customer's time bank, with a reason."""

    async def work(ctx: Context, each: Club) -> ledger.Entry:
        return await ledger.correct(
            ctx, club=each, login=login, seconds=seconds, reason=reason, actor=ACTOR
        )

    _posted(club, work)


@app.command("correct")
def correct(
    club: ClubArg,
    login: str,
    amount: Annotated[str, typer.Argument(help="Signed, in the main unit (after --: -500).")],
    reason: Annotated[str, typer.Option(help="Why.")],
) -> None:
    """Correct a customer's balance by AMOUNT, with a reason (never below zero)."""

    async def work(ctx: Context, each: Club) -> ledger.Entry:
        return await ledger.correct(
            ctx, club=each, login=login, amount=_amount(amount, each), reason=reason, actor=ACTOR
        )

    _posted(club, work)


@app.command("buy")
def buy(club: ClubArg, login: str, package: str) -> None:
    """Buy a package for a customer from their balance."""

    async def work(ctx: Context, each: Club) -> ledger.Entry:
        return await packages.buy(ctx, club=each, login=login, package=package, actor=ACTOR)

    _posted(club, work)


@app.command("ledger")
def show_ledger(
    club: ClubArg,
    login: str,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: JsonOption = False,
) -> None:
    """A customer's latest ledger entries, newest first."""
    found, each = _in_club(
        club, lambda ctx, each: ledger.entries(ctx, club=each, login=login, limit=limit)
    )
    if as_json:
        print_json([entry_object(entry, each) for entry in found])
        return
    listed = table("when", "kind", "amount", "time", "by", "why")
    for entry in found:
        listed.add_row(
            f"{entry.created_at:%Y-%m-%d %H:%M:%S}",
            entry.kind,
            money(entry.amount, each.currency) if entry.amount else "",
            _duration(entry.seconds) if entry.seconds else "",
            escape(entry.actor),
            escape(entry.reason or entry.method or ""),
        )
    show(listed)


@app.command("preview")
def preview(
    club: ClubArg,
    login: str,
    package: Annotated[str | None, typer.Option(help="What buying it would do.")] = None,
    zone: Annotated[str | None, typer.Option(help="How long they can play here now.")] = None,
    minutes: Annotated[int | None, typer.Option(min=1, max=1440)] = None,
) -> None:
    """Preview buying --package, or play in --zone, as JSON; changes nothing.

    Play is previewed for --minutes, or as long as the customer can (up to a day)."""
    if (package is None) == (zone is None):
        raise fail("preview a --package or play in a --zone", code=2)

    async def work(ctx: Context, each: Club) -> dict[str, Any]:
        if package is not None:
            found = await packages.preview_purchase(ctx, club=each, login=login, package=package)
            return purchase_preview_object(found, each)
        assert zone is not None
        seconds = None if minutes is None else minutes * 60
        play = await pricing.preview_play(ctx, club=each, login=login, zone=zone, seconds=seconds)
        return play_preview_object(play, each)

    document, _ = _in_club(club, work)
    print_json(document)


@packages_app.command("add")
def add_package(
    club: ClubArg,
    name: str,
    *,
    seconds: Annotated[int, typer.Option(min=1)],
    price: Annotated[str, typer.Option(help="In the main unit, e.g. 350.")],
    zone: Annotated[str | None, typer.Option(help="Only in this zone.")] = None,
    window: Annotated[
        str | None, typer.Option(help="Bought and used only then, e.g. 23:00-08:00.")
    ] = None,
) -> None:
    """Sell SECONDS of play for PRICE."""

    async def work(ctx: Context, each: Club) -> packages.Package:
        return await packages.add(
            ctx,
            club=each,
            name=name,
            seconds=seconds,
            price=_amount(price, each, "price"),
            zone=zone,
            window=window,
        )

    package, each = _in_club(club, work)
    console.print(
        f"Package [bold]{escape(package.name)}[/]: {_duration(package.seconds)} for "
        f"{money(package.price, each.currency)}"
    )


@packages_app.command("list")
def list_packages(club: ClubArg, as_json: JsonOption = False) -> None:
    """CLUB's packages."""
    found, each = _in_club(club, lambda ctx, each: packages.list_packages(ctx, club=each))
    if as_json:
        print_json([package_object(package, each) for package in found])
        return
    listed = table(id_column("name"), "time", "price", "zone", "window", "sold")
    for package in found:
        listed.add_row(
            escape(package.name),
            _duration(package.seconds),
            money(package.price, each.currency),
            escape(package.zone or ""),
            str(package.window or ""),
            "yes" if package.active else "no",
        )
    show(listed)


@packages_app.command("disable")
def disable_package(club: ClubArg, name: str) -> None:
    """Stop selling a package (time bought with it stays)."""
    _in_club(club, lambda ctx, each: packages.disable(ctx, club=each, name=name))
    console.print(f"Package [bold]{escape(name)}[/] is no longer sold")


@tariffs_app.command("set")
def set_tariff(
    club: ClubArg,
    zone: str,
    per_minute: Annotated[str, typer.Option(help="In the main unit, e.g. 5.")],
    days: Annotated[str | None, typer.Option(help="Only on these days: mon-fri, sat,sun.")] = None,
    hours: Annotated[str | None, typer.Option(help="Only at these times: 18:00-23:00.")] = None,
) -> None:
    """Set ZONE's rate per started minute (on --days, in --hours if given; the more specific
    rule wins)."""

    async def work(ctx: Context, each: Club) -> pricing.Tariff:
        return await pricing.set_rate(
            ctx,
            club=each,
            zone=zone,
            per_minute=_amount(per_minute, each, "per_minute"),
            days=days,
            hours=hours,
        )

    tariff, each = _in_club(club, work)
    when = " ".join(part for part in (tariff.days, tariff.hours) if part) or "always"
    console.print(
        f"Zone [bold]{escape(tariff.zone)}[/]: {money(tariff.per_minute, each.currency)} "
        f"a minute ({when})"
    )


@tariffs_app.command("list")
def list_tariffs(club: ClubArg, as_json: JsonOption = False) -> None:
    """CLUB's tariffs."""
    found, each = _in_club(club, lambda ctx, each: pricing.list_tariffs(ctx, club=each))
    if as_json:
        print_json([tariff_object(tariff, each) for tariff in found])
        return
    listed = table("zone", "per minute", "days", "hours")
    for tariff in found:
        listed.add_row(
            escape(tariff.zone),
            money(tariff.per_minute, each.currency),
            tariff.days or "every day",
            tariff.hours or "all day",
        )
    show(listed)


@apps_app.command("add")
def add_app(
    club: ClubArg,
    name: str,
    path: Annotated[str, typer.Argument(help=r"The executable on the PCs: C:\Games\x.exe")],
    *,
    kind: Annotated[str, typer.Option(help="game or app.")],
    icon: Annotated[str | None, typer.Option()] = None,
    zone: Annotated[list[str] | None, typer.Option(help="Offered only in these zones.")] = None,
) -> None:
    """Add an app to CLUB's catalogue."""

    async def work(ctx: Context, each: Club) -> apps.App:
        return await apps.add(
            ctx, club=each, name=name, path=path, kind=kind, icon=icon, zones=tuple(zone or ())
        )

    added, _ = _in_club(club, work)
    console.print(f"App [bold]{escape(added.name)}[/] ({added.kind}) added")


@apps_app.command("list")
def list_apps(club: ClubArg, as_json: JsonOption = False) -> None:
    """CLUB's catalogue."""
    found, _ = _in_club(club, lambda ctx, each: apps.list_apps(ctx, club=each))
    if as_json:
        print_json([app_object(each) for each in found])
        return
    listed = table(id_column("name"), "kind", "path", "zones")
    for each in found:
        listed.add_row(
            escape(each.name), each.kind, escape(each.path), escape(", ".join(each.zones))
        )
    show(listed)


@app.command("launches")
def list_launches(
    club: ClubArg,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: JsonOption = False,
) -> None:
    """CLUB's latest app launches."""
    found, _ = _in_club(club, lambda ctx, each: apps.launches(ctx, club=each, limit=limit))
    if as_json:
        print_json([launch_object(launch) for launch in found])
        return
    listed = table("when", "pc", "customer", "app")
    for launch in found:
        listed.add_row(
            f"{launch.at:%Y-%m-%d %H:%M:%S}",
            escape(launch.pc),
            escape(launch.customer or ""),
            escape(launch.app),
        )
    show(listed)


@shift_app.command("open")
def open_shift(
    club: ClubArg,
    cash: Annotated[str, typer.Option(help="The cash in the drawer, in the main unit.")],
) -> None:
    """Open the club's shift with the cash in the drawer (one shift is open at a time)."""

    async def work(ctx: Context, each: Club) -> shifts.Shift:
        return await shifts.open_shift(
            ctx, club=each, cash=_amount(cash, each, "cash"), actor=ACTOR
        )

    shift, each = _in_club(club, work)
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
        f"{cash(report.corrections)}, {_duration(report.correction_seconds)} "
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
    (shift, report), each = _in_club(club, lambda ctx, each: shifts.x_report(ctx, club=each))
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
            ctx, club=each, counted=_amount(counted, each, "counted"), actor=ACTOR
        )

    (shift, report), each = _in_club(club, work)
    if as_json:
        print_json(shift_object(shift, each, report))
        return
    _print_report(shift, report, each)


@shift_app.command("list")
def list_shifts(club: ClubArg, as_json: JsonOption = False) -> None:
    """The club's latest shifts, newest first."""
    found, each = _in_club(club, lambda ctx, each: shifts.list_shifts(ctx, club=each))
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


sessions_app = typer.Typer(
    help="Sessions on the server's ledger: start, end, list.", no_args_is_help=True
)
app.add_typer(sessions_app, name="sessions")


def _said(session: sessions.Session, what: str, now: datetime) -> None:
    console.print(
        f"Session {session.id} {what} on {escape(session.pc)} for {escape(session.login)}: "
        f"{session.state}, {_duration(session.left(now))} left"
    )


@sessions_app.command("start")
def start_session(
    club: ClubArg,
    pc: Annotated[str, typer.Argument(help="The PC's name.")],
    login: Annotated[str, typer.Argument(help="The customer's login.")],
    minutes: Annotated[
        int | None, typer.Option(min=1, help="How long; default: as long as they can pay.")
    ] = None,
    package: Annotated[str | None, typer.Option(help="Buy this package and play it.")] = None,
) -> None:
    """Start LOGIN's session on PC, charged ahead in the fixed order."""

    async def work(ctx: Context, each: Club) -> sessions.Session:
        return await sessions.start(
            ctx, club=each, pc=pc, login=login, minutes=minutes, package=package, actor=ACTOR
        )

    session, _ = _in_club(club, work)
    _said(session, "started", session.started_at)


@sessions_app.command("end")
def end_session(club: ClubArg, pc: Annotated[str, typer.Argument(help="The PC's name.")]) -> None:
    """End the session on PC now; the unplayed paid time is given back."""

    async def work(ctx: Context, each: Club) -> tuple[sessions.Session, datetime]:
        return await sessions.end(ctx, club=each, pc=pc, actor=ACTOR), ctx.clock()

    (session, now), _ = _in_club(club, work)
    _said(session, "ended", now)


@sessions_app.command("list")
def list_sessions(
    club: ClubArg,
    ended: Annotated[bool, typer.Option("--ended", help="The latest ended ones too.")] = False,
    as_json: JsonOption = False,
) -> None:
    """CLUB's sessions that are not over, newest first."""

    async def work(ctx: Context, each: Club) -> tuple[list[sessions.Session], datetime]:
        return await sessions.list_sessions(ctx, club=each, include_ended=ended), ctx.clock()

    (found, now), _ = _in_club(club, work)
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
            _duration(each.left(now)),
            "" if lease is None else f"{lease:%H:%M:%S}",
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

    operation, _ = _in_club(club, work)
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
    found, _ = _in_club(club, lambda ctx, each: club_actions.recent(ctx, club=each, pc=pc))
    if as_json:
        print_json([action_object(each) for each in found])
        return
    listed = table("when", "action", "state", id_column("id"))
    for each in found:
        listed.add_row(
            f"{each.created_at:%Y-%m-%d %H:%M:%S}", each.kind, each.state.value, each.request_id
        )
    show(listed)
