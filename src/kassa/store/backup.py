"""Backups of Kassa's database: `kassa backup` and `kassa restore`.

SQLite: a copy made with SQLite's online backup API, all pages in one step, so it is one
consistent moment of the database even while `kassa serve` writes (in WAL mode a reader holds
writers up for nothing); it is checked and moved into place only when complete. A restore
copies a backup into the data directory through a connection that first takes the database
for itself: a running Kassa holds it open, and then the restore is refused.

PostgreSQL: `pg_dump` and `pg_restore` do this better than Kassa could, so Kassa only builds
their command lines from its database URL, leaving the password out.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import URL, make_url

from kassa.domain import InvalidRequest, InvalidState
from kassa.store.migrate import alembic_config

#: How long a backup waits for SQLite's locks (a checkpoint in progress, say), in seconds.
BUSY_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Copy:
    """A database file written by a backup or a restore: where, how big, its schema revision
    and how many payments it holds."""

    path: Path
    size: int
    revision: str
    payments: int


def sqlite_file(url: str | URL) -> Path | None:
    """The SQLite database file `url` names, or None for another database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise InvalidRequest("Kassa needs an SQLite file, not an in-memory database")
    return Path(parsed.database)


@contextlib.contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def _describe(conn: sqlite3.Connection, path: Path, what: str) -> Copy:
    """Check that `conn` holds a whole Kassa database; what it is."""
    (verdict,) = conn.execute("PRAGMA quick_check").fetchone()
    if verdict != "ok":
        raise InvalidState(f"{what} {path} is damaged: {verdict}")
    try:
        (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        (count,) = conn.execute("SELECT count(*) FROM payments").fetchone()
    except (sqlite3.DatabaseError, TypeError):
        raise InvalidRequest(f"{what} {path} is not a Kassa database") from None
    return Copy(path, path.stat().st_size, revision, count)


def backup_sqlite(database: Path, target: Path, *, force: bool = False) -> Copy:
    """Copy the live `database` to `target` (replaced only with `force`), consistently."""
    if not database.exists():
        raise InvalidRequest(f"there is no database at {database} to back up")
    _refuse_same_file(target, database)
    if target.exists() and not force:
        raise InvalidRequest(f"{target} exists; choose another path, or --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        with _connect(database) as source, _connect(partial) as copy:
            source.backup(copy)  # every page in one step: one moment of the database
            # One self-contained file, with no write-ahead log beside it.
            copy.execute("PRAGMA journal_mode=DELETE")
            made = _describe(copy, partial, "the backup")
        with partial.open("rb") as written:
            os.fsync(written.fileno())
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return Copy(target, target.stat().st_size, made.revision, made.payments)


def restore_sqlite(backup: Path, database: Path, *, force: bool = False) -> Copy:
    """Copy `backup` over `database` (an existing one only with `force`), unless a running
    Kassa holds `database` open."""
    if not backup.is_file():
        raise InvalidRequest(f"there is no backup at {backup}")
    _refuse_same_file(backup, database)
    with _connect(backup) as source:
        found = _describe(source, backup, "the backup")
        _check_revision(found)
        if database.exists() and not force:
            raise InvalidRequest(
                f"{database} exists; --force replaces it with the backup (stop Kassa first)"
            )
        database.parent.mkdir(parents=True, exist_ok=True)
        # No wait here: a lock held by another connection means a Kassa is running on it.
        target = sqlite3.connect(database, timeout=0, isolation_level=None)
        try:
            _take(target, database)
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")
            restored = _describe(target, database, "the restored database")
        finally:
            target.close()
    return restored


def _refuse_same_file(path: Path, database: Path) -> None:
    """A backup is never the database itself: replacing a live database's file under a
    running Kassa would have it write on into the file it still holds, and lose that."""
    if path.exists() and database.exists() and path.samefile(database):
        raise InvalidRequest(f"{path} is the database itself: choose another path")


def _take(conn: sqlite3.Connection, database: Path) -> None:
    """Hold `database` alone until `conn` closes. Leaving WAL mode needs every other
    connection closed, and a running Kassa keeps some open, so it is refused then."""
    conn.execute("PRAGMA locking_mode=EXCLUSIVE")
    try:
        (mode,) = conn.execute("PRAGMA journal_mode=DELETE").fetchone()
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        mode = None
    if mode != "delete":
        raise InvalidState(
            f"{database} is in use: stop kassa serve and kassa worker on it before restoring"
        )


def _check_revision(found: Copy) -> None:
    """A backup made by a newer Kassa has a schema this one does not know."""
    scripts = ScriptDirectory.from_config(alembic_config(""))
    try:
        known = scripts.get_revision(found.revision)
    except CommandError:
        known = None
    if known is None:
        raise InvalidState(
            f"the backup {found.path} has schema revision {found.revision}, which this Kassa "
            "does not know: restore it with the Kassa version that made it, or a newer one"
        )


def _libpq_options(url: str | URL) -> list[str]:
    parsed = make_url(url)
    options = []
    if parsed.host:
        options.append(f"--host={parsed.host}")
    if parsed.port:
        options.append(f"--port={parsed.port}")
    if parsed.username:
        options.append(f"--username={parsed.username}")
    return options


def pg_dump_command(url: str | URL, path: Path) -> list[str]:
    """The `pg_dump` that backs the database of `url` up into `path` (custom format, which
    `pg_restore` reads). The URL's password is left out."""
    database = make_url(url).database or ""
    return ["pg_dump", "--format=custom", *_libpq_options(url), f"--file={path}", database]


def pg_restore_command(url: str | URL, path: Path) -> list[str]:
    """The command that restores `path` into the database of `url`: `pg_restore` for a
    custom-format dump, `psql` for a plain SQL one (`.sql`). Objects the backup holds are
    dropped first, and the restore stops at the first error."""
    database = make_url(url).database or ""
    if path.suffix == ".sql":
        return [
            "psql",
            *_libpq_options(url),
            "--single-transaction",
            "--set=ON_ERROR_STOP=1",
            f"--file={path}",
            f"--dbname={database}",
        ]
    return [
        "pg_restore",
        *_libpq_options(url),
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        f"--dbname={database}",
        str(path),
    ]
