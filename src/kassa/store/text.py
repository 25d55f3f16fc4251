"""Searching text case-insensitively in any script, on both databases.

SQLite's `lower()` and `LIKE` fold only ASCII letters, so a search for `заказ` would miss
the capitalised word there. `unicode_lower(column)` compiles to `lower()` on PostgreSQL
(which folds by the database's `LC_CTYPE`: any UTF-8 locale folds Cyrillic, the bare `C`
locale only ASCII) and, on SQLite, to `kassa_lower()`, Python's `str.lower` registered on
every connection (`register_sqlite_functions`). Compare it with text lowered in Python the
same way: `unicode_lower(column).contains(text.lower(), autoescape=True)`, which also
escapes `%` and `_` in what was typed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

#: The name of the lowering function registered on SQLite connections.
SQLITE_LOWER = "kassa_lower"


class unicode_lower(FunctionElement[str]):
    """`lower(x)` that folds every script's letters on SQLite too."""

    type = Text()
    name = "unicode_lower"
    inherit_cache = True


@compiles(unicode_lower)
def _lower(element: unicode_lower, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(unicode_lower, "sqlite")
def _sqlite_lower(element: unicode_lower, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_LOWER}({compiler.process(element.clauses, **kw)})"


def _python_lower(value: object) -> str | None:
    return value.lower() if isinstance(value, str) else None


def register_sqlite_functions(dbapi_connection: Any) -> None:
    """Give an SQLite connection (sqlite3, or SQLAlchemy's aiosqlite adapter) Kassa's
    functions."""
    dbapi_connection.create_function(SQLITE_LOWER, 1, _python_lower, deterministic=True)
