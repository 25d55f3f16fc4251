"""`kassa club`: a computer club's world from the command line: clubs, zones, PCs (their token
printed once, as `kassa terminals add` does), customers, money and time on their ledger,
tariffs, packages and apps (PCs, top-ups and shifts: `club_floor`; sessions:
`club_sessions`). Amounts are in the club currency's main unit (tenge: `1500` or `1500.50`);
a negative one follows `--` (`kassa club correct CLUB LOGIN --reason R -- -500`).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from kassa.cli import club_floor, club_sessions, club_settings
from kassa.cli.club_common import ACTOR, ClubArg, app, duration, in_club, main_unit, posted
from kassa.cli.output import (
    JsonOption,
    console,
    fail,
    id_column,
    money,
    print_json,
    run,
    show,
    table,
)
from kassa.domain.club import OfflinePolicy
from kassa.services.club import (
    apps,
    clubs,
    customers,
    ledger,
    packages,
    pricing,
)
from kassa.services.club.clubs import Club
from kassa.services.context import Context
from kassa.services.shops import shops
from kassa.web.club_objects import (
    app_object,
    club_object,
    customer_object,
    entry_object,
    launch_object,
    package_object,
    play_preview_object,
    purchase_preview_object,
    tariff_object,
)

#: What `kassa.cli.main` mounts as `kassa club`: every module of it adds its commands.
__all__ = ["app"]

zones_app = typer.Typer(help="A club's zones (Standard, VIP…).", no_args_is_help=True)
groups_app = typer.Typer(help="Member groups and their discounts.", no_args_is_help=True)
customers_app = typer.Typer(help="A club's customers.", no_args_is_help=True)
packages_app = typer.Typer(help="Packages of time for a price.", no_args_is_help=True)
tariffs_app = typer.Typer(help="Per-minute rates per zone.", no_args_is_help=True)
apps_app = typer.Typer(help="The Games and Apps catalogue.", no_args_is_help=True)
for sub, name in (
    (zones_app, "zones"),
    (groups_app, "groups"),
    (club_floor.pcs_app, "pcs"),
    (customers_app, "customers"),
    (packages_app, "packages"),
    (tariffs_app, "tariffs"),
    (apps_app, "apps"),
    (club_floor.shift_app, "shift"),
    (club_sessions.sessions_app, "sessions"),
):
    app.add_typer(sub, name=name)


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
    language: Annotated[
        str, typer.Option(help="The language of the PCs' screens: ru or en.")
    ] = "ru",
    test: Annotated[
        bool,
        typer.Option(
            "--test/--live", help="PCs' online top-ups in test mode (the sandbox) or live."
        ),
    ] = False,
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
            language=language,
            test=test,
        )

    club = run(work)
    console.print(f"Club [bold]{escape(club.name)}[/] ({club.currency}, {club.timezone})")
    console.print(club_settings.describe(club))


@app.command("list")
def list_clubs(as_json: JsonOption = False) -> None:
    """Every club."""

    async def work(ctx: Context) -> list[Club]:
        return await clubs.list_clubs(ctx)

    found = run(work)
    if as_json:
        print_json([club_object(club) for club in found])
        return
    listed = table(
        id_column("name"), "currency", "timezone", "lease", "offline", "language", "top-ups"
    )
    for club in found:
        listed.add_row(
            club.name,
            club.currency,
            club.timezone,
            f"{club.lease_max} s",
            club.offline_policy,
            club.language,
            "test" if club.test else "live",
        )
    show(listed)


@zones_app.command("add")
def add_zone(club: ClubArg, name: str) -> None:
    """Add a zone to CLUB."""
    zone, _ = in_club(club, lambda ctx, each: clubs.add_zone(ctx, club=each, name=name))
    console.print(f"Zone [bold]{escape(zone.name)}[/] added")


@zones_app.command("list")
def list_zones(club: ClubArg, as_json: JsonOption = False) -> None:
    """CLUB's zones."""
    found, _ = in_club(club, lambda ctx, each: clubs.list_zones(ctx, club=each))
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
    group, _ = in_club(
        club,
        lambda ctx, each: clubs.add_group(ctx, club=each, name=name, discount_percent=discount),
    )
    console.print(f"Group [bold]{escape(group.name)}[/]: {group.discount_percent}% off")


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

    customer, _ = in_club(club, work)
    console.print(f"Customer [bold]{escape(customer.login)}[/] registered")


@customers_app.command("list")
def list_customers(
    club: ClubArg,
    deleted: Annotated[bool, typer.Option("--deleted", help="Deleted ones too.")] = False,
    as_json: JsonOption = False,
) -> None:
    """CLUB's customers with their balance and time bank."""
    found, each = in_club(
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
            duration(customer.time_bank),
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
    customer, _ = in_club(
        club, lambda ctx, each: customers.block(ctx, club=each, login=login, blocked=not unblock)
    )
    console.print(f"Customer [bold]{escape(customer.login)}[/] is {customer.status}")


@customers_app.command("delete")
def delete_customer(club: ClubArg, login: str) -> None:
    """Delete a customer; their ledger stays, their login is not reused."""
    in_club(club, lambda ctx, each: customers.delete(ctx, club=each, login=login))
    console.print(f"Customer [bold]{escape(login)}[/] deleted")


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

    posted(club, work)


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
            ctx, club=each, login=login, amount=main_unit(amount, each), reason=reason, actor=ACTOR
        )

    posted(club, work)


@app.command("buy")
def buy(club: ClubArg, login: str, package: str) -> None:
    """Buy a package for a customer from their balance."""

    async def work(ctx: Context, each: Club) -> ledger.Entry:
        return await packages.buy(ctx, club=each, login=login, package=package, actor=ACTOR)

    posted(club, work)


@app.command("ledger")
def show_ledger(
    club: ClubArg,
    login: str,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: JsonOption = False,
) -> None:
    """A customer's latest ledger entries, newest first."""
    found, each = in_club(
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
            duration(entry.seconds) if entry.seconds else "",
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

    document, _ = in_club(club, work)
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
            price=main_unit(price, each, "price"),
            zone=zone,
            window=window,
        )

    package, each = in_club(club, work)
    console.print(
        f"Package [bold]{escape(package.name)}[/]: {duration(package.seconds)} for "
        f"{money(package.price, each.currency)}"
    )


@packages_app.command("list")
def list_packages(club: ClubArg, as_json: JsonOption = False) -> None:
    """CLUB's packages."""
    found, each = in_club(club, lambda ctx, each: packages.list_packages(ctx, club=each))
    if as_json:
        print_json([package_object(package, each) for package in found])
        return
    listed = table(id_column("name"), "time", "price", "zone", "window", "sold")
    for package in found:
        listed.add_row(
            escape(package.name),
            duration(package.seconds),
            money(package.price, each.currency),
            escape(package.zone or ""),
            str(package.window or ""),
            "yes" if package.active else "no",
        )
    show(listed)


@packages_app.command("disable")
def disable_package(club: ClubArg, name: str) -> None:
    """Stop selling a package (time bought with it stays)."""
    in_club(club, lambda ctx, each: packages.disable(ctx, club=each, name=name))
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
            per_minute=main_unit(per_minute, each, "per_minute"),
            days=days,
            hours=hours,
        )

    tariff, each = in_club(club, work)
    when = " ".join(part for part in (tariff.days, tariff.hours) if part) or "always"
    console.print(
        f"Zone [bold]{escape(tariff.zone)}[/]: {money(tariff.per_minute, each.currency)} "
        f"a minute ({when})"
    )


@tariffs_app.command("list")
def list_tariffs(club: ClubArg, as_json: JsonOption = False) -> None:
    """CLUB's tariffs."""
    found, each = in_club(club, lambda ctx, each: pricing.list_tariffs(ctx, club=each))
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

    added, _ = in_club(club, work)
    console.print(f"App [bold]{escape(added.name)}[/] ({added.kind}) added")


@apps_app.command("list")
def list_apps(club: ClubArg, as_json: JsonOption = False) -> None:
    """CLUB's catalogue."""
    found, _ = in_club(club, lambda ctx, each: apps.list_apps(ctx, club=each))
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
    found, _ = in_club(club, lambda ctx, each: apps.launches(ctx, club=each, limit=limit))
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
