"""API keys: created once and shown once, stored only as a hash, revocable."""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update

from kassa.domain import AuthenticationFailed, NotFound, Shop, new_id
from kassa.services import configuration
from kassa.services.admin import audit
from kassa.services.admin.audit import Actor
from kassa.services.callers import Caller
from kassa.services.context import Context
from kassa.store import records
from kassa.store.tables import api_keys, shops

_ALPHANUMERIC = string.ascii_letters + string.digits
_SECRET_LENGTH = 32  # about 190 bits


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as Kassa remembers it: never the secret, only its first characters."""

    id: str
    shop_id: str
    test: bool
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


def _digest(secret: str) -> str:
    # Keys are long random strings, so a fast hash is enough; no password stretching needed.
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_key(
    ctx: Context, *, shop: Shop, live: bool = False, actor: Actor | None = None
) -> tuple[ApiKey, str]:
    """A new key for `shop` and its secret (`sk_test_…` / `sk_live_…`), which is never stored.
    With `actor`, `key.create` is audited in the same transaction."""
    secret = f"sk_{'live' if live else 'test'}_" + "".join(
        secrets.choice(_ALPHANUMERIC) for _ in range(_SECRET_LENGTH)
    )
    key = ApiKey(
        id=new_id("key"),
        shop_id=shop.id,
        test=not live,
        prefix=secret[:12],
        created_at=ctx.clock(),
        revoked_at=None,
    )
    async with ctx.db.write() as conn:
        configuration.changed(conn)
        await conn.execute(
            insert(api_keys).values(
                id=key.id,
                shop_id=key.shop_id,
                test=key.test,
                prefix=key.prefix,
                secret_hash=_digest(secret),
                created_at=key.created_at,
            )
        )
        if actor is not None:
            await audit.record(
                conn,
                actor=actor,
                action="key.create",
                now=key.created_at,
                object_id=key.id,
                shop_id=shop.id,
                details={"mode": "live" if live else "test", "prefix": key.prefix},
            )
    return key, secret


async def authenticate(ctx: Context, secret: str) -> Caller:
    """The caller holding `secret`, or `AuthenticationFailed`. Keys found are kept in the
    context's cache until a key, shop or account changes (`kassa.services.configuration`);
    unknown and revoked ones are looked up every time, so they cannot fill it."""
    if not secret.startswith(("sk_test_", "sk_live_")):
        raise AuthenticationFailed("The API key is malformed: it starts with sk_test_ or sk_live_")
    digest = _digest(secret)
    found = await ctx.configuration.api_keys.get(ctx.db, digest, lambda: _find(ctx, digest))
    if found is None:
        raise AuthenticationFailed("The API key is unknown or revoked")
    shop, test, key_id = found
    return Caller.api_key(shop, test=test, key_id=key_id)


async def _find(ctx: Context, digest: str) -> tuple[Shop, bool, str] | None:
    """The shop, mode and id of the active key whose secret has the SHA-256 `digest`."""
    query = (
        select(api_keys.c.id.label("key_id"), api_keys.c.test.label("key_test"), shops)
        .join(shops, shops.c.id == api_keys.c.shop_id)
        .where(api_keys.c.secret_hash == digest, api_keys.c.revoked_at.is_(None))
    )
    async with ctx.db.read() as conn:
        row = (await conn.execute(query)).mappings().first()
    if row is None:
        return None
    return records.shop(row), row["key_test"], row["key_id"]


async def list_keys(ctx: Context, *, shop: Shop) -> list[ApiKey]:
    query = select(api_keys).where(api_keys.c.shop_id == shop.id).order_by(api_keys.c.id)
    async with ctx.db.read() as conn:
        return [
            ApiKey(
                id=row["id"],
                shop_id=row["shop_id"],
                test=row["test"],
                prefix=row["prefix"],
                created_at=row["created_at"],
                revoked_at=row["revoked_at"],
            )
            for row in (await conn.execute(query)).mappings()
        ]


async def revoke_key(ctx: Context, *, key_id: str, actor: Actor | None = None) -> None:
    """Stop a key from working: its later requests get 401, at once in this process and
    within a second in every other (`kassa.services.configuration`). With `actor`,
    `key.revoke` is audited in the same transaction."""
    now = ctx.clock()
    async with ctx.db.write() as conn:
        configuration.changed(conn)
        result = await conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
            .returning(api_keys.c.shop_id, api_keys.c.prefix)
        )
        row = result.first()
        if row is None:
            raise NotFound(f"No active API key {key_id!r}", param="key")
        if actor is not None:
            await audit.record(
                conn,
                actor=actor,
                action="key.revoke",
                now=now,
                object_id=key_id,
                shop_id=row.shop_id,
                details={"prefix": row.prefix},
            )
