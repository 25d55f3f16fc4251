"""Statements defined once as SQLAlchemy Core, run through their compiled form on the driver.

On the notification path SQLAlchemy's execution of a small write (the compiled cache's
lookup, an execution context, the parameters built and processed row by row, the result set
up, and on its asyncio layer a greenlet crossed both ways) cost more than SQLite's own work
(`bench/ingest.py`). `execute_many` runs the same statement with less of that where it can:
compiled once per dialect and set of parameter names, each row's values put in the compiled
order through the same bind processors as SQLAlchemy's (the column types' conversions:
aware datetimes to naive UTC, JSON documents through the engine's serializer, booleans), then
executed by the driver itself. That is where the connection is Kassa's SQLite writer on the
event loop's thread (`kassa.store.sqlite_inline`), or asyncpg under SQLAlchemy's adaption of it
(`kassa.store.asyncpg_direct`: on PostgreSQL the same execution cost a notification a third
of its CPU); on aiosqlite's readers it is plain `conn.execute`. Either way the statement is the
one Core definition, and a driver's error is raised as SQLAlchemy would raise it
(`sqlalchemy.exc.IntegrityError` and so on).

`fetch_all` does the same for a query (or an `UPDATE … RETURNING`): its parameters (expanding
ones too) through the bind processors, its rows' values through the columns' result
processors, as plain mappings.

`execute_many` takes only statements without Python-side column defaults or expanding
parameters (checked when compiling), and both take only statements built once, at import: the
compiled forms are kept by statement.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import BindParameter, ColumnElement, Delete, Dialect, Insert, Select, Update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.compiler import SQLCompiler

from kassa.store.asyncpg_direct import AsyncpgDriver
from kassa.store.sqlite_inline import InlineConnection

Processor = Callable[[Any], Any] | None
Statement = Insert | Update | Delete
#: What `fetch_all` reads: a query, or a statement `RETURNING` rows.
Query = Select[Any] | Update


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A statement compiled for one dialect and set of parameter names."""

    sql: str
    #: The positional values with the bound constants in place (processed) and None where
    #: a row's value goes.
    template: tuple[Any, ...]
    #: Where each row value goes, and the row keys in that order.
    positions: tuple[int, ...]
    keys: tuple[str, ...]
    #: The positions whose value goes through a bind processor, and the processor.
    processed: tuple[tuple[int, Callable[[Any], Any]], ...]

    def parameters(self, row: dict[str, Any]) -> list[Any]:
        values = list(self.template)
        for position, key in zip(self.positions, self.keys, strict=True):
            values[position] = row[key]
        return _processed(values, self.processed)


def _processed(
    values: list[Any], processed: Sequence[tuple[int, Callable[[Any], Any]]]
) -> list[Any]:
    """`values` with those at the positions of `processed` through their processors."""
    for position, process in processed:
        values[position] = process(values[position])
    return values


_forms: dict[tuple[Statement, str, tuple[str, ...]], _Compiled] = {}


async def execute_many(
    conn: AsyncConnection, statement: Statement, rows: Sequence[dict[str, Any]]
) -> int:
    """Run `statement` once for each of `rows` (all with the same keys) in the transaction on
    `conn`; how many rows it changed."""
    if not rows:
        return 0
    driver = await _driver(conn)
    if driver is None:
        return (await conn.execute(statement, list(rows))).rowcount
    compiled = _compiled(statement, conn.dialect, tuple(rows[0]))
    parameters = [compiled.parameters(row) for row in rows]
    with _as_sqlalchemy_error(conn.dialect, compiled.sql, parameters):
        return await driver.executemany(compiled.sql, parameters)


async def fetch_all(
    conn: AsyncConnection, query: Query, parameters: Mapping[str, Any]
) -> Sequence[Mapping[str, Any]]:
    """The rows of `query` with `parameters`, as mappings by column key, read on `conn`."""
    driver = await _driver(conn)
    if driver is None:
        result = await conn.execute(query, dict(parameters))
        # Keyed by the columns' keys, which are strings.
        return cast(Sequence[Mapping[str, Any]], result.mappings().all())
    form = _queries.get((query, conn.dialect.name))
    if form is None:
        form = _queries[(query, conn.dialect.name)] = _Query.compile(query, conn.dialect)
    sql, values = form.bound(parameters)
    with _as_sqlalchemy_error(conn.dialect, sql, values):
        raw = await driver.fetch(sql, values)
    keys, processed = form.keys, form.processed
    return [dict(zip(keys, _processed(list(row), processed), strict=True)) for row in raw]


@dataclass(frozen=True, slots=True)
class _Query:
    """A query compiled for one dialect, with its bind processors by parameter and its result
    columns' keys and processors."""

    compiled: SQLCompiler
    processors: dict[str, Processor]
    #: The result columns' keys, and the positions whose value goes through a processor.
    keys: tuple[str, ...]
    processed: tuple[tuple[int, Callable[[Any], Any]], ...]

    @classmethod
    def compile(cls, query: Query, dialect: Dialect) -> _Query:
        compiled = query.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        columns = [_result_column(column, dialect) for column in query.exported_columns]
        return cls(
            compiled,
            {name: _bind_processor(bind, dialect) for name, bind in compiled.binds.items()},
            tuple(key for key, _ in columns),
            tuple((i, process) for i, (_, process) in enumerate(columns) if process is not None),
        )

    def bound(self, parameters: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
        """The SQL for `parameters` (expanding ones rendered) and its positional values."""
        state = self.compiled.construct_expanded_state(dict(parameters))
        if state.positiontup is None:
            raise ValueError("fetch_all needs a positional dialect")
        expanded = {
            name: original
            for original, names in state.parameter_expansion.items()
            for name in names
        }
        values = list(state.positional_parameters)
        for position, name in enumerate(state.positiontup):
            process = self.processors.get(expanded.get(name, name))
            if process is not None:
                values[position] = process(values[position])
        return state.statement, tuple(values)


_queries: dict[tuple[Query, str], _Query] = {}


@contextmanager
def _as_sqlalchemy_error(dialect: Dialect, sql: str, parameters: Any) -> Iterator[None]:
    """Raise a driver's error as SQLAlchemy's execution would (`IntegrityError` and so on),
    its parameters hidden as the engines hide them."""
    base = sqlite3.Error if dialect.name == "sqlite" else dialect.loaded_dbapi.Error
    try:
        yield
    except base as exc:
        raise DBAPIError.instance(
            sql, parameters, exc, base, hide_parameters=True, dialect=dialect
        ) from exc


def _result_column(column: ColumnElement[Any], dialect: Dialect) -> tuple[str, Processor]:
    """A result column's key and result processor."""
    if column.key is None:
        raise ValueError("fetch_all needs a key for every column of the query")
    return column.key, column.type.dialect_impl(dialect).result_processor(dialect, None)


def _bind_processor(bind: BindParameter[Any], dialect: Dialect) -> Processor:
    return bind.type.dialect_impl(dialect).bind_processor(dialect)


class _Inline:
    """The SQLite writer's own connection, run as `AsyncpgDriver` is."""

    def __init__(self, connection: InlineConnection) -> None:
        self._connection = connection

    async def executemany(self, sql: str, parameters: Sequence[Sequence[Any]]) -> int:
        cursor = self._connection.cursor()
        try:
            await cursor.executemany(sql, parameters)
            return cursor.rowcount
        finally:
            await cursor.close()

    async def fetch(self, sql: str, values: Sequence[Any]) -> list[Sequence[Any]]:
        cursor = self._connection.cursor()
        try:
            await cursor.execute(sql, values)
            return list(await cursor.fetchall())
        finally:
            await cursor.close()


async def _driver(conn: AsyncConnection) -> _Inline | AsyncpgDriver | None:
    """The driver under `conn`, if it is one that statements can be run on directly: the
    SQLite writer's own connection, or asyncpg's."""
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "asyncpg":
        adapted = (await conn.get_raw_connection()).dbapi_connection
        return AsyncpgDriver(adapted, conn.dialect) if AsyncpgDriver.fits(adapted) else None
    if conn.dialect.name != "sqlite":
        return None
    driver = (await conn.get_raw_connection()).driver_connection
    return _Inline(driver) if isinstance(driver, InlineConnection) else None


def _compiled(statement: Statement, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
    found = _forms.get((statement, dialect.name, keys))
    if found is None:
        found = _forms[(statement, dialect.name, keys)] = _compile(statement, dialect, keys)
    return found


def _compile(statement: Statement, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    assert isinstance(compiled, SQLCompiler)
    if compiled.insert_prefetch or compiled.update_prefetch:
        raise ValueError("execute_many takes no statement with Python-side column defaults")
    if not compiled.positional or compiled.positiontup is None:
        raise ValueError(f"execute_many needs a positional dialect, not {dialect.name}")
    template: list[Any] = []
    positions: list[int] = []
    row_keys: list[str] = []
    processed: list[tuple[int, Callable[[Any], Any]]] = []
    for position, name in enumerate(compiled.positiontup):
        bind = compiled.binds[name]
        if bind.expanding:
            raise ValueError("execute_many takes no expanding parameter")
        process = _bind_processor(bind, dialect)
        if name in keys:
            template.append(None)
            positions.append(position)
            row_keys.append(name)
            if process is not None:
                processed.append((position, process))
        elif bind.callable is None and bind.value is not None:
            template.append(bind.value if process is None else process(bind.value))
        else:
            raise ValueError(f"execute_many: no value for the parameter {name!r}")
    return _Compiled(
        compiled.string, tuple(template), tuple(positions), tuple(row_keys), tuple(processed)
    )
