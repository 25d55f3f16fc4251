"""Merchant webhook endpoints: where a shop wants its events sent, and the secrets that sign them.

Each endpoint has a signing secret `whsec_<base64>` (Standard Webhooks), shown once when it is
made and when it is rotated. It is a symmetric key Kassa must keep to sign with, so it cannot
be hashed: it is stored encrypted (`kassa.services.encryption`) and decrypted only to sign a
delivery; it never appears in logs, events or later API answers. After a rotation the
old secret keeps signing next to the new one for an overlap, so receivers can switch over.
What is sent to endpoints and how: `kassa.services.webhooks.deliveries`, `webhook_fanout` and
`webhook_sending`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import RowMapping, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import EventSource, EventType, NotFound, ParameterInvalid, new_id
from kassa.domain.events import EVENT_FAMILIES, filter_matches, is_event_filter
from kassa.services import encryption
from kassa.services.callers import Caller
from kassa.services.context import Context
from kassa.services.objects import timestamp
from kassa.services.pagination import Page, PageRequest, fetch_page
from kassa.services.webhooks import destinations as webhook_destinations
from kassa.store.keyring import Keyring
from kassa.store.tables import events, webhook_attempts, webhook_deliveries, webhook_endpoints

WHSEC_PREFIX = "whsec_"
_SECRET_BYTES = 32
MAX_URL_LENGTH = 2048
MAX_FILTERS = 50
MAX_DESCRIPTION = 500


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A webhook endpoint. Its secrets are kept encrypted (`signing_secrets` decrypts them)
    and out of its repr, so logging one leaks nothing."""

    id: str
    shop_id: str
    test: bool
    url: str
    description: str | None
    events: tuple[str, ...]
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime
    encrypted_secret: str = field(repr=False)
    encrypted_previous_secret: str | None = field(repr=False)
    previous_secret_expires_at: datetime | None

    def signing_secrets(self, now: datetime, keyring: Keyring) -> list[str]:
        """The secrets that sign a delivery made at `now`: the current one, and the previous
        one while its overlap lasts."""
        encrypted = [self.encrypted_secret]
        expires = self.previous_secret_expires_at
        if self.encrypted_previous_secret and expires is not None and now < expires:
            encrypted.append(self.encrypted_previous_secret)
        return [keyring.decrypt(token) for token in encrypted]

    def wants(self, event_type: str) -> bool:
        """Whether the endpoint's filter takes events of `event_type`."""
        return any(filter_matches(pattern, event_type) for pattern in self.events)


def endpoint(row: RowMapping) -> Endpoint:
    return Endpoint(
        id=row["id"],
        shop_id=row["shop_id"],
        test=row["test"],
        url=row["url"],
        description=row["description"],
        events=tuple(row["events"]),
        enabled=row["enabled"],
        disabled_reason=row["disabled_reason"],
        failing_since=row["failing_since"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        encrypted_secret=row["secret"],
        encrypted_previous_secret=row["previous_secret"],
        previous_secret_expires_at=row["previous_secret_expires_at"],
    )


def endpoint_object(found: Endpoint, *, secret: str | None = None) -> dict[str, Any]:
    """The endpoint as the API shows it and events about it carry it (kept here, once, for
    both); `secret` only right after creation or rotation."""
    document = {
        "id": found.id,
        "object": "webhook_endpoint",
        "url": found.url,
        "events": list(found.events),
        "description": found.description,
        "enabled": found.enabled,
        "disabled_reason": found.disabled_reason,
        "failing_since": timestamp(found.failing_since),
        "previous_secret_expires_at": timestamp(
            found.previous_secret_expires_at if found.encrypted_previous_secret else None
        ),
        "test": found.test,
        "created_at": timestamp(found.created_at),
        "updated_at": timestamp(found.updated_at),
    }
    if secret is not None:
        document["secret"] = secret
    return document


def concerns(data: Mapping[str, Any], endpoint_id: str) -> bool:
    """Whether an event (its `data`) is news about the endpoint itself (a failed delivery to
    it, its disabling): that goes to the shop's other endpoints, not to one that cannot take
    it."""
    subject = data.get("object") or {}
    return endpoint_id in (subject.get("id"), subject.get("endpoint"))


def check_filters(filters: Sequence[str]) -> tuple[str, ...]:
    """`filters` if each is `*`, a known event type or a known family (`payment.*`)."""
    if not filters:
        raise ParameterInvalid("events lists at least one event type, or '*'", param="events")
    if len(filters) > MAX_FILTERS:
        raise ParameterInvalid(f"events lists at most {MAX_FILTERS} entries", param="events")
    for pattern in filters:
        if not is_event_filter(pattern):
            raise ParameterInvalid(
                f"{pattern!r} is not an event type or family; use '*', a family such as "
                f"{', '.join(f'{family}.*' for family in sorted(EVENT_FAMILIES))}, or a type "
                "such as payment.succeeded",
                param="events",
                code="event_type_unknown",
            )
    return tuple(dict.fromkeys(filters))


def check_url(url: str, *, allow_private: bool) -> str:
    """`url` if it is an absolute http(s) URL Kassa can post to, and, unless `allow_private`,
    its host is not written as a non-public address (`kassa.services.webhooks.destinations`;
    what a name resolves to is checked at every delivery)."""
    try:
        parsed = httpx.URL(url)  # what deliveries will be posted with
    except httpx.InvalidURL:
        parsed = None
    blank = any(char.isspace() or not char.isprintable() for char in url)
    if parsed is None or blank or parsed.scheme not in {"http", "https"} or not parsed.host:
        raise ParameterInvalid(
            "url must be an absolute http:// or https:// URL", param="url", code="url_invalid"
        )
    if len(url) > MAX_URL_LENGTH:
        raise ParameterInvalid(
            f"url is longer than {MAX_URL_LENGTH} characters", param="url", code="url_invalid"
        )
    refused = None if allow_private else webhook_destinations.saved_host_refusal(parsed.host)
    if refused is not None:
        raise ParameterInvalid(
            f"url is not allowed: {refused}, and Kassa sends webhooks only to public "
            "addresses (KASSA_WEBHOOKS_ALLOW_PRIVATE=true allows others, for development)",
            param="url",
            code="url_not_allowed",
        )
    return url


def _check_description(description: str | None) -> str | None:
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise ParameterInvalid(
            f"description is at most {MAX_DESCRIPTION} characters", param="description"
        )
    return description or None


def new_secret() -> str:
    return WHSEC_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


def sign(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks signature `v1,<base64>` of a delivery: HMAC-SHA256 over
    `{msg_id}.{timestamp}.{body}`, keyed with the secret's base64-decoded bytes."""
    key = base64.b64decode(secret.removeprefix(WHSEC_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.digest(key, signed, hashlib.sha256)).decode()


async def create_endpoint(
    ctx: Context,
    *,
    caller: Caller,
    url: str,
    events: Sequence[str] = ("*",),
    description: str | None = None,
    enabled: bool = True,
    endpoint_id: str | None = None,
) -> tuple[Endpoint, str]:
    """A new endpoint of the caller's shop and mode, and its secret (to show once)."""
    now = ctx.clock()
    secret = new_secret()
    values = {
        "id": endpoint_id or new_id("we"),
        "shop_id": caller.own_shop.id,
        "test": caller.own_mode,
        "url": check_url(url, allow_private=ctx.settings.webhooks_allow_private),
        "description": _check_description(description),
        "events": list(check_filters(events)),
        "enabled": enabled,
        "created_at": now,
        "updated_at": now,
    }
    async with ctx.db.write() as conn:
        values["secret"] = (await encryption.sealer(ctx, conn))(secret)
        row = (
            (
                await conn.execute(
                    insert(webhook_endpoints).values(values).returning(*webhook_endpoints.c)
                )
            )
            .mappings()
            .one()
        )
    return endpoint(row), secret


async def get_endpoint(ctx: Context, *, caller: Caller, endpoint_id: str) -> Endpoint:
    async with ctx.db.read() as conn:
        return await _load(conn, caller, endpoint_id)


async def _load(
    conn: AsyncConnection, caller: Caller, endpoint_id: str, *, lock: bool = False
) -> Endpoint:
    """The endpoint; with `lock`, row-locked (PostgreSQL) for a change based on what it is,
    so two rotations at once cannot both keep the same old secret and lose a new one."""
    query = select(webhook_endpoints).where(
        webhook_endpoints.c.id == endpoint_id, *caller.scope(webhook_endpoints)
    )
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"No webhook endpoint {endpoint_id!r}", param="endpoint")
    return endpoint(row)


async def list_endpoints(ctx: Context, *, caller: Caller, page: PageRequest) -> Page[Endpoint]:
    """A page of the caller's endpoints, newest first."""
    async with ctx.db.read() as conn:
        found = await fetch_page(conn, webhook_endpoints, caller.scope(webhook_endpoints), page)
    return found.map(endpoint)


async def update_endpoint(
    ctx: Context,
    *,
    caller: Caller,
    endpoint_id: str,
    url: str | None = None,
    events: Sequence[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> Endpoint:
    """Change what is given (`description=""` clears it). Enabling an endpoint clears its
    disabled reason and failure record: its pending deliveries resume on their schedule."""
    changes: dict[str, Any] = {"updated_at": ctx.clock()}
    if url is not None:
        changes["url"] = check_url(url, allow_private=ctx.settings.webhooks_allow_private)
    if events is not None:
        changes["events"] = list(check_filters(events))
    if description is not None:
        changes["description"] = _check_description(description)
    if enabled is not None:
        changes["enabled"] = enabled
        changes["disabled_reason"] = None if enabled else "Disabled by the shop"
        if enabled:
            changes["failing_since"] = None
    async with ctx.db.write() as conn:
        current = await _load(conn, caller, endpoint_id, lock=True)
        if enabled is not None and enabled == current.enabled:
            # Already so: keep the reason it was disabled for, or its failure record.
            del changes["enabled"], changes["disabled_reason"]
            changes.pop("failing_since", None)
        statement = (
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == endpoint_id)
            .values(changes)
            .returning(*webhook_endpoints.c)
        )
        return endpoint((await conn.execute(statement)).mappings().one())


async def rotate_secret(
    ctx: Context, *, caller: Caller, endpoint_id: str, overlap: timedelta | None = None
) -> tuple[Endpoint, str]:
    """Give the endpoint a new secret, and let the current one sign too for `overlap`
    (default: the `webhook_secret_overlap` setting; zero retires it at once). A secret
    older than the current one stops signing now."""
    if overlap is None:
        overlap = timedelta(seconds=ctx.settings.webhook_secret_overlap)
    if overlap < timedelta(0):
        raise ParameterInvalid("overlap cannot be negative", param="overlap")
    now = ctx.clock()
    secret = new_secret()
    async with ctx.db.write() as conn:
        current = await _load(conn, caller, endpoint_id, lock=True)
        keep = overlap > timedelta(0)
        seal = await encryption.sealer(ctx, conn)
        statement = (
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == endpoint_id)
            .values(
                secret=seal(secret),
                # Encrypted again: under the current key, should a rotation have begun.
                previous_secret=seal(ctx.keyring.decrypt(current.encrypted_secret))
                if keep
                else None,
                previous_secret_expires_at=now + overlap if keep else None,
                updated_at=now,
            )
            .returning(*webhook_endpoints.c)
        )
        row = (await conn.execute(statement)).mappings().one()
    return endpoint(row), secret


async def delete_endpoint(ctx: Context, *, caller: Caller, endpoint_id: str) -> Endpoint:
    """Remove the endpoint with its deliveries and their attempts; nothing more is sent to it
    (a delivery in flight finds its row gone and is not recorded)."""
    async with ctx.db.write() as conn:
        found = await _load(conn, caller, endpoint_id)
        its_deliveries = select(webhook_deliveries.c.id).where(
            webhook_deliveries.c.endpoint_id == endpoint_id
        )
        # The deliveries' rows before their attempts', the order a claim takes them in
        # (`kassa.services.webhooks.claims`): else this and a claim of one of them could
        # each wait for the other (on PostgreSQL, a deadlock).
        await conn.execute(its_deliveries.with_for_update())
        await conn.execute(
            delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(its_deliveries))
        )
        await conn.execute(
            delete(webhook_deliveries).where(webhook_deliveries.c.endpoint_id == endpoint_id)
        )
        await conn.execute(delete(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id))
    return found


async def record_event(
    conn: AsyncConnection,
    *,
    type: EventType,
    shop_id: str,
    test: bool,
    data: dict[str, Any],
    now: datetime,
) -> str:
    """Write an event about webhooks themselves (its object is an endpoint or a delivery),
    in the transaction that made the change."""
    event_id = new_id("evt")
    await conn.execute(
        insert(events),
        {
            "id": event_id,
            "shop_id": shop_id,
            "test": test,
            "type": type.value,
            "source": EventSource.SYSTEM.value,
            "data": {"object": data},
            "created_at": now,
        },
    )
    return event_id
