"""Who acts: the one caller type every service takes (`caller: Caller`).

A caller carries three things the services need:

- **What it may see**: `scope(table)` gives the conditions for the rows of a table it may
  read or change. An API key sees one shop in one mode (test or live); staff and the system
  see every shop in both modes, unless narrowed (`within`) to one shop or one mode for a page
  or a command.
- **How its changes are witnessed**: every change writes its events anyway; a caller acting
  as a person (`actor`: an admin user) also gets an audit-log entry, written by `witness` in
  the transaction that makes the change. `source` is the events' `source` for what it asks
  (`api` for keys and staff alike, as the admin pages act through the same services).
- **Its role**, where it has one (an admin user's).

Front-ends build one per request or command and pass it down: the API from the API key
(`kassa.services.shops.keys.authenticate`), the admin pages from the signed-in session
(`Caller.staff`), the CLI and Kassa's own work as `Caller.system()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Table
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import EventSource, Payment, Refund, Role, Shop
from kassa.services.admin import audit
from kassa.services.admin.audit import Actor


class CallerKind(StrEnum):
    """What kind of caller it is."""

    API_KEY = "api_key"
    STAFF = "staff"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Caller:
    """Someone acting through the services; build it with `api_key`, `staff` or `system`."""

    kind: CallerKind
    #: The one shop whose rows it sees; None: every shop.
    shop: Shop | None = None
    #: Its one mode (True: test, False: live); None: both.
    test: bool | None = None
    #: The API key it called with.
    key_id: str | None = None
    #: The person it acts as, whose actions go to the audit log.
    actor: Actor | None = None
    role: Role | None = None
    #: The events' `source` for what it asks.
    source: EventSource = EventSource.API
    #: The audit entries written for it so far (one caller is built per request).
    audited: list[str] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def api_key(cls, shop: Shop, *, test: bool, key_id: str) -> Caller:
        """A merchant's API key: its shop, its mode. Its changes are recorded as events with
        source `api`, and that is all."""
        return cls(CallerKind.API_KEY, shop=shop, test=test, key_id=key_id)

    @classmethod
    def staff(cls, actor: Actor, *, role: Role | None = None) -> Caller:
        """A person in the admin UI: every shop, test and live. Each change is also written to
        the audit log, in the transaction that makes it."""
        return cls(CallerKind.STAFF, actor=actor, role=role)

    @classmethod
    def system(cls, *, shop: Shop | None = None, test: bool | None = None) -> Caller:
        """The operator at the command line, or Kassa itself: every shop and both modes (or
        `shop` and `test` only), no audit entries."""
        return cls(CallerKind.SYSTEM, shop=shop, test=test, source=EventSource.SYSTEM)

    def within(self, *, shop: Shop | None = None, test: bool | None = None) -> Caller:
        """The same caller seeing only `shop` and/or one mode (a page's or command's filter).
        It can only narrow: an API key cannot be pointed at another shop or mode."""
        if shop is not None and self.shop is not None and shop.id != self.shop.id:
            raise ValueError(f"a caller of shop {self.shop.id} cannot act for {shop.id}")
        if test is not None and self.test is not None and test != self.test:
            raise ValueError("a caller of one mode cannot act in the other")
        return replace(
            self,
            shop=self.shop if shop is None else shop,
            test=self.test if test is None else test,
            audited=self.audited,
        )

    @property
    def shop_id(self) -> str | None:
        return None if self.shop is None else self.shop.id

    @property
    def own_shop(self) -> Shop:
        """The one shop the caller acts for (an API key's); for callers of every shop this is
        a programming error."""
        if self.shop is None:
            raise ValueError(f"a {self.kind} caller of every shop has no shop of its own")
        return self.shop

    @property
    def own_mode(self) -> bool:
        """The one mode the caller acts in (True: test); a programming error for callers of
        both."""
        if self.test is None:
            raise ValueError(f"a {self.kind} caller of both modes has no mode of its own")
        return self.test

    @property
    def witnessed(self) -> bool:
        """Whether a service already wrote an audit entry for this caller (it did if its
        action reached the database), so a page writes one itself only when it did not."""
        return bool(self.audited)

    def scope(self, table: Table) -> tuple[ColumnElement[bool], ...]:
        """Conditions for the rows of `table` the caller may see: its shop, and its mode where
        the table has modes (terminals belong to a shop, not to a mode)."""
        conditions: list[ColumnElement[bool]] = []
        if self.shop is not None:
            conditions.append(table.c.shop_id == self.shop.id)
        if self.test is not None and "test" in table.c:
            conditions.append(table.c.test == self.test)
        return tuple(conditions)

    async def witness(
        self,
        conn: AsyncConnection,
        *,
        action: str,
        subject: Payment | Refund,
        now: datetime,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Record that the caller did `action` to `subject`, in the transaction on `conn`: an
        audit entry for a person; nothing more for others (their changes are their events)."""
        if self.actor is None:
            return
        payment_id = subject.payment_id if isinstance(subject, Refund) else subject.id
        facts: dict[str, Any] = {"status": subject.status.value, **(details or {})}
        if isinstance(subject, Refund):
            facts |= {"refund": subject.id, "amount": subject.amount}
        entry = await audit.record(
            conn,
            actor=self.actor,
            action=action,
            now=now,
            object_id=payment_id,
            shop_id=subject.shop_id,
            details=facts,
        )
        self.audited.append(entry)
