"""Reading stored notifications, for the people who look after them: the inbox and its filter,
one notification, a payment's notifications. What is shown is the raw request as it came,
but for the values of headers that carry credentials or signatures (`redact`), which are
redacted before a notification is stored and again whenever one is shown."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from kassa.domain import NotFound
from kassa.services.context import Context
from kassa.services.pagination import Page
from kassa.store.tables import notifications

#: Words in the names of headers whose values are credentials or signatures; such headers are
#: stored and shown as "[redacted]". A signature is as good as a credential to whoever holds
#: the body it signs: with both, a notification can be sent again (CloudPayments'
#: `Content-HMAC` and `X-Content-HMAC`, the sandbox's `X-Sandbox-Signature`).
_SECRET_HEADER_WORDS = (
    "auth",
    "cookie",
    "token",
    "secret",
    "api-key",
    "apikey",
    "password",
    "passwd",
    "credential",
    "session",
    "signature",
    "hmac",
)
#: The same words as one case-insensitive search (a notification's headers pass it on the
#: way in: one call each rather than a loop of lowercased comparisons).
_SECRET_HEADER = re.compile("|".join(map(re.escape, _SECRET_HEADER_WORDS)), re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Stored:
    """A notification as stored: the raw request (secret headers redacted) and its verdict."""

    id: str
    provider: str
    kind: str | None
    method: str
    source_ip: str | None
    headers: Mapping[str, str]
    query: str
    body: bytes
    received_at: datetime
    verdict: str
    reason: str | None
    outcome: str | None
    attempts: int
    shop_id: str | None = None
    shop_ref: str = ""
    payment_id: str | None = None
    #: The length of the body received; more than `len(body)` when only its start was kept.
    body_length: int | None = None

    @property
    def cut(self) -> bool:
        """Whether only the start of the body was kept (a rejected notification's)."""
        return self.body_length is not None and self.body_length > len(self.body)

    @property
    def text(self) -> str:
        """The body as text (bytes that are not UTF-8 shown as replacement characters)."""
        return self.body.decode("utf-8", errors="replace")


async def for_payment(ctx: Context, *, payment_id: str) -> list[Stored]:
    """The notifications applied to a payment, oldest first (for operators)."""
    query = (
        select(notifications)
        .where(notifications.c.payment_id == payment_id)
        .order_by(notifications.c.received_at, notifications.c.id)
    )
    async with ctx.db.read() as conn:
        rows = list((await conn.execute(query)).mappings())
    return [_stored(row) for row in rows]


def _stored(row: Any) -> Stored:
    return Stored(
        id=row["id"],
        provider=row["provider"],
        kind=row["kind"],
        method=row["method"],
        source_ip=row["source_ip"],
        # Stored redacted already; redacted again in case the word list has grown since.
        headers=redact(row["headers"]),
        query=row["query"],
        body=row["body"],
        received_at=row["received_at"],
        verdict=row["verdict"],
        reason=row["reason"],
        outcome=row["outcome"],
        attempts=row["attempts"],
        shop_id=row["shop_id"],
        shop_ref=row["shop_ref"],
        payment_id=row["payment_id"],
        body_length=row["body_length"],
    )


@dataclass(frozen=True, slots=True)
class InboxFilter:
    """Which notifications the inbox lists; `None` is no condition."""

    provider: str | None = None
    shop_id: str | None = None
    #: The shop name in the notification's URL (there may be no such shop).
    shop_ref: str | None = None
    verdict: str | None = None
    received_gte: datetime | None = None
    received_lt: datetime | None = None


async def inbox(
    ctx: Context, found: InboxFilter, *, limit: int = 50, before: str | None = None
) -> Page[Stored]:
    """A page of notifications newest first (ids sort by time), older than the id
    `before`."""
    conditions = [
        column == value
        for column, value in (
            (notifications.c.provider, found.provider),
            (notifications.c.shop_id, found.shop_id),
            (notifications.c.shop_ref, found.shop_ref),
            (notifications.c.verdict, found.verdict),
        )
        if value is not None
    ]
    if found.received_gte is not None:
        conditions.append(notifications.c.received_at >= found.received_gte)
    if found.received_lt is not None:
        conditions.append(notifications.c.received_at < found.received_lt)
    if before is not None:
        conditions.append(notifications.c.id < before)
    query = (
        select(notifications)
        .where(*conditions)
        .order_by(notifications.c.id.desc())
        .limit(limit + 1)
    )
    async with ctx.db.read() as conn:
        rows = list((await conn.execute(query)).mappings())
    return Page([_stored(row) for row in rows[:limit]], has_more=len(rows) > limit)


async def get_notification(ctx: Context, *, notification_id: str) -> Stored:
    """One stored notification; `NotFound` if there is none."""
    query = select(notifications).where(notifications.c.id == notification_id)
    async with ctx.db.read() as conn:
        row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"No notification {notification_id!r}", param="notification")
    return _stored(row)


def redact(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with credential-bearing values replaced, for storage and display."""
    return {
        name: "[redacted]" if _SECRET_HEADER.search(name) else value
        for name, value in headers.items()
    }
