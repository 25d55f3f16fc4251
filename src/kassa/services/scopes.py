"""Who a payment operation is done for: the rows it may see, and how its changes are witnessed.

Two kinds of caller act on payments through the same service functions:

- `keys.Caller`, a merchant's API key: one shop, one mode (test or live). Its changes are
  recorded as events with source `api`, and that is all.
- `Staff`, a person in the admin UI: every shop, test and live. Each change is also written
  to the audit log, in the transaction that makes the change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Table
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import Payment, Refund
from kassa.services.admin import audit
from kassa.services.admin.audit import Actor


class Scope(Protocol):
    """What payment, refund and capture services need to know about their caller."""

    def scope(self, table: Table) -> tuple[ColumnElement[bool], ...]:
        """Conditions for the rows of `table` the caller may see."""
        ...

    async def witness(
        self,
        conn: AsyncConnection,
        *,
        action: str,
        subject: Payment | Refund,
        now: datetime,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Record that the caller did `action` to `subject`, in the transaction on `conn`."""
        ...


@dataclass(slots=True)
class Staff:
    """An admin user acting on any shop's payments, test or live. One per request:
    `witnessed` tells the page whether a service already wrote the audit entry (it did if
    the action reached the database), so the page writes one itself only when it did not."""

    actor: Actor
    witnessed: bool = False

    def scope(self, table: Table) -> tuple[ColumnElement[bool], ...]:
        return ()

    async def witness(
        self,
        conn: AsyncConnection,
        *,
        action: str,
        subject: Payment | Refund,
        now: datetime,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        payment_id = subject.payment_id if isinstance(subject, Refund) else subject.id
        facts: dict[str, Any] = {"status": subject.status.value, **(details or {})}
        if isinstance(subject, Refund):
            facts |= {"refund": subject.id, "amount": subject.amount}
        await audit.record(
            conn,
            actor=self.actor,
            action=action,
            now=now,
            object_id=payment_id,
            shop_id=subject.shop_id,
            details=facts,
        )
        self.witnessed = True
