"""How the CLI talks: Rich tables on stdout, errors on stderr with an exit code."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console

from kassa.config import Settings
from kassa.domain import KassaError
from kassa.domain.money import format_major
from kassa.services.context import Context
from kassa.store import upgrade

console = Console()
errors = Console(stderr=True)

T = TypeVar("T")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error and return the `Exit` to raise."""
    errors.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def run(work: Callable[[Context], Awaitable[T]]) -> T:
    """Bring the schema up to date, open a context, run `work` in it; a domain error becomes
    a message and exit code 1."""
    settings = Settings()
    upgrade(settings.resolved_database_url)

    async def main() -> T:
        ctx = Context.open(settings)
        try:
            return await work(ctx)
        finally:
            await ctx.close()

    try:
        return asyncio.run(main())
    except KassaError as exc:
        raise fail(exc.message) from None


def money(amount: int, currency: str) -> str:
    return f"{format_major(amount, currency)} {currency}"
