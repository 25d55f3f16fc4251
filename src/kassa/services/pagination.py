"""Cursor pagination, newest first: by time-sortable id, or by another increasing column such
as the events' insertion sequence. Every list a service pages through comes back as one
`Page[T]` of domain objects; how a front-end shows it (the API's `{"object": "list", "data",
"has_more"}`, an admin page's pager) is the front-end's business."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Column, ColumnElement, RowMapping, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import ParameterInvalid
from kassa.domain.ids import has_prefix

MAX_LIMIT = 100

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list, newest first: its `items`, whether older ones follow (`has_more`;
    the next page starts after the last item), and, for a page reached going back towards
    the newest, whether newer ones precede it (`has_newer`)."""

    items: list[T]
    has_more: bool
    has_newer: bool = False

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        """The same page with each item converted."""
        return Page([convert(item) for item in self.items], self.has_more, self.has_newer)


@dataclass(frozen=True, slots=True)
class PageRequest:
    """`limit` objects older than the object `starting_after`, newest first; without it (or
    with an empty one), from the newest. `kind` is the id prefix of the listed objects
    (`pay`), against which the cursor is checked."""

    kind: str
    limit: int = 10
    starting_after: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ParameterInvalid(f"limit must be between 1 and {MAX_LIMIT}", param="limit")
        if self.starting_after and not has_prefix(self.starting_after, self.kind):
            raise ParameterInvalid(
                f"starting_after must be the id of an object in the list ({self.kind}_…)",
                param="starting_after",
            )


async def fetch_page(
    conn: AsyncConnection,
    table: Table,
    conditions: Sequence[ColumnElement[bool]],
    page: PageRequest,
    *,
    order: Column[Any] | None = None,
) -> Page[RowMapping]:
    """One page of rows of `table` matching `conditions`, newest first by `order` (default:
    the id)."""
    order = table.c.id if order is None else order
    query = select(table).where(*conditions)
    if page.starting_after:
        cursor = select(order).where(table.c.id == page.starting_after).scalar_subquery()
        query = query.where(order < cursor)
    query = query.order_by(order.desc()).limit(page.limit + 1)
    rows = list((await conn.execute(query)).mappings())
    return Page(rows[: page.limit], has_more=len(rows) > page.limit)
