"""`kassa backup` and `kassa restore`: SQLite's online backup and its restore; for
PostgreSQL, the `pg_dump` / `pg_restore` command to run.

A command to run is printed alone on stdout (so `sh -c "$(kassa backup …)"` runs it), every
note on stderr. Neither command migrates the database: a backup is taken as it is, and a
restored one is migrated by the next `kassa migrate` or `kassa serve`.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from sqlalchemy import make_url

from kassa.cli.output import console, errors, fail
from kassa.config import Settings
from kassa.domain import KassaError
from kassa.store import backup as backups

Force = Annotated[bool, typer.Option("--force", help="Replace PATH if it exists.")]
#: Said after every backup: encrypted secrets in it are useless without their key.
KEY_NOTE = (
    "The secret key is not in the backup: keep KASSA_SECRET_KEY or the data directory's "
    "key file (secret.key) safe apart from it; see docs/secrets.md."
)


def _password_note(url: str) -> str:
    parsed = make_url(url)
    notes = ["The password is not printed: the command reads it from PGPASSWORD or ~/.pgpass."]
    if parsed.query:
        options = ", ".join(sorted(parsed.query))
        notes.append(f"The URL's options ({options}) are not carried over: set PG* variables.")
    return " ".join(notes)


def _print_command(command: list[str], note: str) -> None:
    """PostgreSQL's tool does the work: its command line alone on stdout, for
    `sh -c "$(kassa backup …)"`, and what to know about it on stderr."""
    typer.echo(shlex.join(command))
    errors.print(f"[dim]{escape(note)}[/]")


def backup(
    path: Annotated[Path, typer.Argument(help="The file to write.")], force: Force = False
) -> None:
    """Back the database up into PATH: with SQLite, a consistent copy made while Kassa runs;
    with PostgreSQL, print the pg_dump command that does it."""
    url = Settings().resolved_database_url
    try:
        database = backups.sqlite_file(url)
        if database is None:
            _print_command(backups.pg_dump_command(url, path), f"{_password_note(url)} {KEY_NOTE}")
            return
        made = backups.backup_sqlite(database, path, force=force)
    except KassaError as exc:
        raise fail(exc.message) from None
    console.print(
        f"Backed up {escape(str(database))} to {escape(str(made.path))}: {made.size:,} bytes, "
        f"{made.payments} payments, schema {made.revision}",
        soft_wrap=True,
    )
    errors.print(f"[dim]{KEY_NOTE}[/]")


def restore(
    path: Annotated[Path, typer.Argument(help="A backup made by `kassa backup`.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace the database in the data directory.")
    ] = False,
) -> None:
    """Restore a backup into the data directory (SQLite; refused while Kassa runs on it,
    and over an existing database without --force); with PostgreSQL, print the pg_restore
    command that does it."""
    url = Settings().resolved_database_url
    try:
        database = backups.sqlite_file(url)
        if database is None:
            note = "Stop Kassa first; afterwards run kassa migrate, then kassa audit."
            _print_command(backups.pg_restore_command(url, path), f"{note} {_password_note(url)}")
            return
        restored = backups.restore_sqlite(path, database, force=force)
    except KassaError as exc:
        raise fail(exc.message) from None
    console.print(
        f"Restored {escape(str(path))} into {escape(str(restored.path))}: "
        f"{restored.payments} payments, schema {restored.revision}",
        soft_wrap=True,
    )
    errors.print("[dim]Next: kassa migrate (kassa serve does it too), then kassa audit.[/]")
