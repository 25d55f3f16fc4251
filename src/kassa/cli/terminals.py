"""`kassa terminals`: a shop's terminals (kiosks), their tokens, and who is online.

A token is printed alone on stdout (so `$(kassa terminals add …)` captures it) and only by
the commands that make one: add, revoke, token. Kassa keeps none.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from kassa.cli.output import JsonOption, console, errors, id_column, print_json, run, show, table
from kassa.domain.terminals import Operation, Terminal
from kassa.services.admin import audit
from kassa.services.context import Context
from kassa.services.devices import operations as terminal_operations
from kassa.services.devices import terminals
from kassa.services.devices.operations import operation_object
from kassa.services.devices.terminals import ONLINE_WITHIN, Issued, terminal_object
from kassa.services.shops import shops

app = typer.Typer(
    help="Terminals (kiosks): add (token shown once), list with who is online, revoke, "
    "issue tokens, enable, disable.",
    no_args_is_help=True,
)

#: How many of a terminal's operations `show` lists.
RECENT_OPERATIONS = 20

ShopOption = Annotated[
    str | None,
    typer.Option("--shop", help="The shop's name; needed if several shops have the id."),
]


async def _find(ctx: Context, terminal_id: str, shop: str | None) -> Terminal:
    found = await shops.get_shop(ctx, name=shop) if shop else None
    return await terminals.find_terminal(ctx, terminal_id=terminal_id, shop=found)


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}" if moment else ""


def _state(terminal: Terminal, now: datetime) -> str:
    if terminal.online(now, within=ONLINE_WITHIN):
        return "[green]online[/]"
    return "offline"


def _agent(terminal: Terminal) -> str:
    if terminal.agent_kind is None:
        return ""
    return escape(f"{terminal.agent_kind.value} {terminal.agent_version or '?'}")


def _health(report: object) -> str:
    """A route's health as the agent reports it: `{ok, latency_ms?, error?}`."""
    if not isinstance(report, dict):
        return escape(str(report))
    if report.get("ok"):
        latency = report.get("latency_ms")
        return "[green]ok[/]" + (escape(f", {latency} ms") if latency is not None else "")
    return "[red]error[/]" + escape(f": {report['error']}" if report.get("error") else "")


def _issue(work: Callable[[Context], Awaitable[Issued]], what: Callable[[Issued], str]) -> None:
    """Run `work`, then print the token it issued alone on stdout, and what it is and how to
    use it on stderr."""

    async def with_url(ctx: Context) -> tuple[Issued, str]:
        return await work(ctx), ctx.settings.resolved_public_url

    issued, url = run(with_url)
    console.print(issued.token, soft_wrap=True)
    errors.print(
        f"[dim]{what(issued)} Shown once: Kassa keeps no copy. On the terminal set "
        f"KASSA_HUB_URL={url} and KASSA_TERMINAL_TOKEN to the token above, then run "
        "`kassa agent`.[/]",
        soft_wrap=True,
    )


@app.command("add")
def add(
    shop: str,
    terminal_id: Annotated[str, typer.Argument(metavar="ID", help="e.g. KIOSK_001")],
    name: Annotated[str | None, typer.Option(help="For people; default the id.")] = None,
    location: Annotated[str | None, typer.Option(help="Where it stands.")] = None,
) -> None:
    """Add a terminal to SHOP and print its token, once."""

    async def work(ctx: Context) -> Issued:
        return await terminals.add_terminal(
            ctx,
            shop=await shops.get_shop(ctx, name=shop),
            terminal_id=terminal_id,
            name=name,
            location=location,
            actor=audit.CLI,
        )

    _issue(work, lambda issued: f"Added terminal {escape(issued.terminal.id)} to shop {shop}.")


@app.command("list")
def list_terminals(
    shop: Annotated[str | None, typer.Option("--shop", help="Only this shop's.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List terminals (every shop's, or one's) with who is online now."""

    async def work(ctx: Context) -> tuple[list[Terminal], dict[str, str], datetime]:
        names = {s.id: s.name for s in await shops.list_shops(ctx)}
        shop_id = (await shops.get_shop(ctx, name=shop)).id if shop else None
        return await terminals.list_terminals(ctx, shop_id=shop_id), names, ctx.clock()

    found, names, now = run(work)
    if as_json:
        print_json(
            [
                {**terminal_object(terminal, now), "shop": names.get(terminal.shop_id)}
                for terminal in found
            ]
        )
        return
    listed = table(
        "shop", id_column("id"), "name", "location", "state", "last seen", "agent", "enabled"
    )
    for terminal in found:
        listed.add_row(
            names.get(terminal.shop_id, terminal.shop_id),
            terminal.id,
            escape(terminal.name),
            escape(terminal.location or ""),
            _state(terminal, now),
            _when(terminal.last_seen_at),
            _agent(terminal),
            "yes" if terminal.enabled else "[red]no[/]",
        )
    show(listed)


@app.command("revoke")
def revoke(
    terminal_id: Annotated[str, typer.Argument(metavar="ID")], shop: ShopOption = None
) -> None:
    """Make every token of the terminal useless (a connected agent is cut off) and print a
    new one, once."""

    async def work(ctx: Context) -> Issued:
        found = await _find(ctx, terminal_id, shop)
        return await terminals.revoke(ctx, terminal=found, actor=audit.CLI)

    _issue(work, lambda issued: f"Revoked every earlier token of {escape(issued.terminal.id)}.")


@app.command("token")
def token(
    terminal_id: Annotated[str, typer.Argument(metavar="ID")], shop: ShopOption = None
) -> None:
    """Print another token for the terminal, once; earlier ones keep working."""

    async def work(ctx: Context) -> Issued:
        found = await _find(ctx, terminal_id, shop)
        return Issued(found, await terminals.issue_token(ctx, terminal=found, actor=audit.CLI))

    _issue(work, lambda issued: f"A new token for {escape(issued.terminal.id)}.")


def _set_enabled(terminal_id: str, shop: str | None, *, enabled: bool) -> Terminal:
    async def work(ctx: Context) -> Terminal:
        found = await _find(ctx, terminal_id, shop)
        return await terminals.set_enabled(ctx, terminal=found, enabled=enabled, actor=audit.CLI)

    return run(work)


@app.command("enable")
def enable(
    terminal_id: Annotated[str, typer.Argument(metavar="ID")], shop: ShopOption = None
) -> None:
    """Let the terminal connect and take operations again."""
    terminal = _set_enabled(terminal_id, shop, enabled=True)
    console.print(f"Enabled terminal {escape(terminal.id)}")


@app.command("disable")
def disable(
    terminal_id: Annotated[str, typer.Argument(metavar="ID")], shop: ShopOption = None
) -> None:
    """Cut the terminal's agent off and refuse it until enabled (its tokens stay valid)."""
    terminal = _set_enabled(terminal_id, shop, enabled=False)
    console.print(f"Disabled terminal {escape(terminal.id)}")


@app.command("show")
def show_terminal(
    terminal_id: Annotated[str, typer.Argument(metavar="ID")],
    shop: ShopOption = None,
    as_json: JsonOption = False,
) -> None:
    """A terminal: its state, its local services' health, its counters and its recent
    operations."""

    async def work(ctx: Context) -> tuple[Terminal, str, list[Operation], datetime]:
        found = await _find(ctx, terminal_id, shop)
        owner = await shops.get_shop(ctx, shop_id=found.shop_id)
        recent = await terminal_operations.list_operations(
            ctx, shop_id=found.shop_id, terminal_id=found.id, limit=RECENT_OPERATIONS
        )
        return found, owner.name, recent, ctx.clock()

    terminal, shop_name, recent, now = run(work)
    if as_json:
        print_json(
            {
                **terminal_object(terminal, now),
                "shop": shop_name,
                "operations": [operation_object(operation) for operation in recent],
            }
        )
        return
    facts = Table.grid(padding=(0, 2))
    for label, value in (
        ("shop", shop_name),
        ("id", terminal.id),
        ("name", escape(terminal.name)),
        ("location", escape(terminal.location or "")),
        ("state", _state(terminal, now)),
        ("enabled", "yes" if terminal.enabled else "[red]no[/]"),
        ("agent", _agent(terminal)),
        ("connected", _when(terminal.connected_at)),
        ("last seen", _when(terminal.last_seen_at)),
        ("created", _when(terminal.created_at)),
    ):
        facts.add_row(f"[bold]{label}[/]", value)
    show(facts)
    if terminal.health:
        health = Table("route", "health", title="Local services")
        for route, report in sorted(terminal.health.items()):
            health.add_row(escape(route), _health(report))
        show(health)
    if terminal.stats:
        stats = Table("counter", "value", title="Counters")
        for counter, value in sorted(terminal.stats.items()):
            stats.add_row(escape(counter), escape(str(value)))
        show(stats)
    operations = table(
        id_column("id"), "kind", "state", "created", "error", title="Recent operations"
    )
    for operation in recent:
        error = operation.error
        operations.add_row(
            operation.request_id,
            escape(operation.kind),
            operation.state.value,
            _when(operation.created_at),
            escape(f"{error.code}: {error.message}") if error else "",
        )
    show(operations)
