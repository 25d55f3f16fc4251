"""Statements run on asyncpg under SQLAlchemy's adaption of it, as its cursor runs them.

SQLAlchemy's asyncpg dialect wraps each asyncpg connection in an adapter whose cursor, on
SQLAlchemy's side of a greenlet, takes the connection's lock, begins the transaction if it has
not yet (SQLAlchemy begins lazily, at the first statement), prepares the statement through
the adapter's cache of prepared statements and runs it. `AsyncpgDriver` does the same steps
from the event loop itself, for `kassa.store.compiled`: the same lock, the same lazily begun
transaction (which SQLAlchemy then commits or rolls back as usual), the same cache, and a
driver's error translated by the adapter as its cursor translates it. What it leaves out is
SQLAlchemy's execution around it (the greenlet crossed both ways, the execution context, the
result object). It uses the adapter's private members, so it is checked against the SQLAlchemy
version Kassa pins (`tests/test_compiled_statements.py` runs on PostgreSQL too).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Dialect

#: The adapter's private members `AsyncpgDriver` uses: where a SQLAlchemy release has not all
#: of them, statements go through SQLAlchemy's execution as everywhere else (`fits`).
_MEMBERS = ("_execute_mutex", "_prepare", "_handle_exception", "_transaction", "_start_transaction")


class AsyncpgDriver:
    """One adapted asyncpg connection, inside the transaction SQLAlchemy keeps on it."""

    @staticmethod
    def fits(adapted: object) -> bool:
        """Whether `adapted`, SQLAlchemy's adapted connection, has what this driver uses."""
        return all(hasattr(adapted, name) for name in _MEMBERS)

    def __init__(self, adapted: Any, dialect: Dialect) -> None:
        self._adapted = adapted
        self._dialect = dialect

    async def executemany(self, sql: str, parameters: Sequence[Sequence[Any]]) -> int:
        """Run `sql` once per row of positional `parameters`; -1, as asyncpg does not count
        the rows an executemany changed (nor does SQLAlchemy's rowcount for it)."""
        adapted = self._adapted
        async with adapted._execute_mutex:
            await self._begun()
            try:
                prepared, _ = await adapted._prepare(sql, self._schema_changed_at())
                await prepared.executemany(parameters)
            except Exception as error:
                adapted._handle_exception(error)
        return -1

    async def fetch(self, sql: str, values: Sequence[Any]) -> list[Sequence[Any]]:
        """The rows of `sql` with positional `values`."""
        adapted = self._adapted
        async with adapted._execute_mutex:
            await self._begun()
            try:
                prepared, _ = await adapted._prepare(sql, self._schema_changed_at())
                rows: list[Sequence[Any]] = await prepared.fetch(*values)
            except Exception as error:
                adapted._handle_exception(error)
        return rows

    async def _begun(self) -> None:
        if self._adapted._transaction is None:
            await self._adapted._start_transaction()

    def _schema_changed_at(self) -> float:
        """When SQLAlchemy last ran DDL, after which its cached prepared statements are
        prepared anew (as its cursor passes it)."""
        return float(getattr(self._dialect, "_invalidate_schema_cache_asof", 0))
