"""`kassa secrets`: the key Kassa encrypts its stored secrets with: make one, see which are in
use, rotate (see docs/secrets.md)."""

from __future__ import annotations

import typer
from rich.table import Table

from kassa.cli.output import console, errors, run
from kassa.services import encryption
from kassa.services.admin import audit
from kassa.services.context import Context
from kassa.store.keyring import Keyring, new_key

app = typer.Typer(
    help="The key stored secrets are encrypted with: generate one, status, rotate.",
    no_args_is_help=True,
)


@app.command("generate")
def generate() -> None:
    """Print a new random key, for KASSA_SECRET_KEY (nothing is stored)."""
    console.print(new_key(), soft_wrap=True)


@app.command("status")
def status() -> None:
    """Show the key the database's secrets are encrypted with, the keys this Kassa has, and
    how many stored secrets each key encrypts."""

    async def work(ctx: Context) -> tuple[encryption.Census, Keyring]:
        return await encryption.census(ctx), ctx.keyring

    found, keyring = run(work)
    source = str(keyring.key_file) if keyring.key_file else "KASSA_SECRET_KEY"
    console.print(f"Current key: {found.current}")
    console.print(f"Keys this Kassa has ({source}): {', '.join(keyring.ids)}", soft_wrap=True)
    table = Table("Where", "Key", "Secrets")
    for place, counts in found.counts.items():
        for kid, count in sorted(counts.items()):
            table.add_row(place, kid, str(count))
    console.print(table)


@app.command("rotate")
def rotate() -> None:
    """Re-encrypt every stored secret under a new key and retire the old one. With the key
    file, the new key is made here; with KASSA_SECRET_KEY, it is the first key there (keep
    the old one after it until this is done). Safe to run again if it was cut short."""

    async def work(ctx: Context) -> encryption.Rotation:
        return await encryption.rotate(ctx, actor=audit.CLI)

    done = run(work)
    if done.previous != done.current:
        console.print(f"Rotated from key {done.previous} to key {done.current}.")
    console.print(
        f"Every stored secret is encrypted with key {done.current} now ({done.moved} were "
        "encrypted again).",
        soft_wrap=True,
    )
    if done.retired:
        console.print(f"Removed from the key file: {', '.join(done.retired)}.", soft_wrap=True)
    if done.to_drop:
        errors.print(
            f"Nothing is encrypted with {', '.join(done.to_drop)} any more: drop it from "
            "KASSA_SECRET_KEY on every host and restart Kassa's processes.",
            soft_wrap=True,
        )
