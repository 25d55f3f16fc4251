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
from kassa.services import encryption
from kassa.services.context import Context, keyring_for
from kassa.store import upgrade
from kassa.store.keyring import KeyringError

console = Console()
errors = Console(stderr=True)

T = TypeVar("T")


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
    except KeyringError as exc:
        raise fail(str(exc)) from None


def money(amount: int, currency: str) -> str:
    return f"{format_major(amount, currency)} {currency}"
