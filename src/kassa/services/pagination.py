"""Cursor pagination over time-sortable ids, newest first (`{data, has_more}`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, RowMapping, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import ParameterInvalid

MAX_LIMIT = 100


@dataclass(frozen=True, slots=True)
class PageRequest:
    """`limit` objects older than the object `starting_after` (an id), newest first."""

    limit: int = 10
    starting_after: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ParameterInvalid(f"limit must be between 1 and {MAX_LIMIT}", param="limit")


async def fetch_page(
    conn: AsyncConnection,
    table: Table,
    conditions: Sequence[ColumnElement[bool]],
    page: PageRequest,
) -> tuple[list[RowMapping], bool]:
    """One page of rows of `table` matching `conditions`, and whether more follow."""
    query = select(table).where(*conditions)
    if page.starting_after:
        query = query.where(table.c.id < page.starting_after)
    query = query.order_by(table.c.id.desc()).limit(page.limit + 1)
    rows = list((await conn.execute(query)).mappings())
    return rows[: page.limit], len(rows) > page.limit
