"""How the CLI talks: Rich tables on stdout, errors on stderr with an exit code, and JSON for
scripts (`--json`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.table import Column, Table

from kassa.config import Settings
from kassa.domain import KassaError
from kassa.domain.money import format_major
from kassa.services import encryption
from kassa.services.context import Context, keyring_for
from kassa.store import upgrade
from kassa.store.keyring import KeyringError

console = Console()
errors = Console(stderr=True)

T = TypeVar("T")

#: `--json` on list and show commands: what scripts read instead of the tables.
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")
]

#: Columns other than ids may be squeezed down to this many characters (folding their text).
_NARROWEST = 8
_UNBOUNDED = 1_000_000


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error and return the `Exit` to raise."""
    errors.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def prepare(settings: Settings) -> None:
    """Bring the schema up to date (a migration may encrypt stored secrets) and make sure
    this Kassa has the key the database's secrets are encrypted with: a missing or wrong key
    is a message and exit code 1, before anything else is done."""
    try:
        upgrade(settings.resolved_database_url, keyring=keyring_for(settings))
        asyncio.run(_check_key(settings))
    except KeyringError as exc:
        raise fail(str(exc)) from None


async def _check_key(settings: Settings) -> None:
    ctx = Context.open(settings)
    try:
        await encryption.check(ctx)
    finally:
        await ctx.close()


def run(work: Callable[[Context], Awaitable[T]]) -> T:
    """Bring the schema up to date, check the key, open a context, run `work` in it; a
    domain error becomes a message and exit code 1."""
    settings = Settings()
    prepare(settings)
    try:
        return in_context(settings, work)
    except KassaError as exc:
        raise fail(exc.message) from None
    except KeyringError as exc:
        raise fail(str(exc)) from None


def in_context(settings: Settings, work: Callable[[Context], Awaitable[T]]) -> T:
    """Open a context on `settings`, run `work` in it and close the context."""

    async def main() -> T:
        ctx = Context.open(settings)
        try:
            return await work(ctx)
        finally:
            await ctx.close()

    return asyncio.run(main())


def money(amount: int, currency: str) -> str:
    return f"{format_major(amount, currency)} {currency}"


def confirmation_rows(confirmation: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What the payer was asked to do, as rows of a details table: its kind, then each field
    that has a value (a `requisites` amount as money; objects as JSON), so that requisites,
    QR payloads and crypto transfers read as well as a redirect's URL."""
    rows = [("confirmation", str(confirmation.get("type", "")))]
    for name, value in confirmation.items():
        if name in ("type", "currency") or value is None or value == {}:
            continue
        if name == "amount" and isinstance(value, int) and "currency" in confirmation:
            shown = money(value, str(confirmation["currency"]))
        elif isinstance(value, str):
            shown = value
        else:
            shown = json.dumps(value, ensure_ascii=False)
        rows.append((f"  {name}", shown))
    return rows


def id_column(header: str) -> Column:
    """A column of ids (or anything else people copy and paste whole): never wrapped, folded
    or cut short, whatever the width of the terminal. A column keeps its cells, so make a new
    one for each table."""
    return Column(header, no_wrap=True)


def text_column(header: str) -> Column:
    """A column of text that may wrap, and folds a long word rather than cutting it."""
    return Column(header, overflow="fold")


def table(*columns: Column | str, **options: Any) -> Table:
    """A table whose plain (string) columns fold rather than cut what does not fit."""
    return Table(*(text_column(c) if isinstance(c, str) else c for c in columns), **options)


def show(renderable: RenderableType) -> None:
    """Print a table (or anything) on stdout so that no id in it is cut short.

    Rich fits a table into the terminal, or into 80 columns in a pipe, and as a last resort
    cuts every column, ids included (`pay_01m9…`), which then cannot be pasted into another
    command. Id columns (`id_column`) are never squeezed; when even they and the narrowest
    of the other columns do not fit, the table is drawn wider than the terminal instead.
    """
    if isinstance(renderable, Table):
        needed = _narrowest_whole(renderable)
        if needed > console.width:
            renderable.width = needed
    console.print(renderable, crop=False)


def _narrowest_whole(found: Table) -> int:
    """The narrowest width at which `found` shows its id columns whole."""
    options = console.options.update_width(_UNBOUNDED)

    def widest(column: Column) -> int:
        cells = [column.header, *column.cells]
        return max(Measurement.get(console, options, cell).maximum for cell in cells)

    columns = sum(
        (widest(column) if column.no_wrap else min(widest(column), _NARROWEST))
        + found._get_padding_width(column._index)
        for column in found.columns
    )
    # Rich's own counts: each column's padding (above), and the borders around and between
    # the columns.
    return columns + found._extra_width


def print_json(document: Any) -> None:
    """Print `document` as JSON on stdout, never wrapped (Rich would wrap long lines)."""
    typer.echo(json.dumps(document, ensure_ascii=False, indent=2))
