"""Terminal tokens: JWTs (HS256) an agent presents when it connects.

The claims (`kassa.protocol.claims`) are the ones the field's ws_client expects (`kiosk_id`,
`iat`, `exp`) plus the shop and the terminal's token version: revoking a terminal bumps its
version, so every token issued before stops working at once, without a list of revoked tokens.

The signing key is `KASSA_TERMINAL_TOKEN_SECRET` or, by default, one Kassa generates on first
use and keeps in `hub_secrets` (encrypted, like every stored secret), so every hub process
signs and verifies with the same key.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import jwt
from sqlalchemy import select

from kassa.domain import AuthenticationFailed
from kassa.domain.terminals import Terminal
from kassa.protocol import ClaimsError, TokenClaims
from kassa.protocol.claims import REQUIRED
from kassa.services import encryption
from kassa.services.context import Context
from kassa.store.tables import hub_secrets

ALGORITHM = "HS256"
SECRET_NAME = "terminal_tokens"  # noqa: S105 (the name of the secret, not the secret)


async def signing_key(ctx: Context) -> str:
    """The configured key, else the stored one (made by whichever process asks first)."""
    if ctx.settings.terminal_token_secret:
        return ctx.settings.terminal_token_secret
    cached = ctx.secrets.get(SECRET_NAME)
    if cached is not None:
        return cached
    async with ctx.db.write() as conn:
        seal = await encryption.sealer(ctx, conn)
        await conn.execute(
            ctx.db.insert_ignoring_conflict(hub_secrets, index_elements=["name"]),
            {
                "name": SECRET_NAME,
                "value": seal(secrets.token_urlsafe(48)),
                "created_at": ctx.clock(),
            },
        )
        stored: str = (
            await conn.execute(select(hub_secrets.c.value).where(hub_secrets.c.name == SECRET_NAME))
        ).scalar_one()
    value = ctx.keyring.decrypt(stored)
    ctx.secrets[SECRET_NAME] = value
    return value


async def issue(ctx: Context, terminal: Terminal, *, days: int | None = None) -> str:
    """A new token for `terminal` at its current version."""
    now = ctx.clock()
    lifetime = timedelta(days=days or ctx.settings.terminal_token_days)
    claims = TokenClaims(
        device_id=terminal.id,
        shop_id=terminal.shop_id,
        version=terminal.token_version,
        issued_at=now,
        expires_at=now + lifetime,
        # Tokens issued in the same second must still differ (a new one replaces a leaked one).
        token_id=secrets.token_urlsafe(8),
    )
    return jwt.encode(claims.to_payload(), await signing_key(ctx), algorithm=ALGORITHM)


async def verify(ctx: Context, token: str) -> TokenClaims:
    """The token's claims if its signature and lifetime hold; `AuthenticationFailed` with
    code `token_invalid` or `token_expired` otherwise. (Revocation is the caller's check.)"""
    try:
        payload = jwt.decode(
            token,
            await signing_key(ctx),
            algorithms=[ALGORITHM],
            options={"require": list(REQUIRED)},
            leeway=30,
        )
        return TokenClaims.from_payload(payload)
    except jwt.ExpiredSignatureError:
        raise AuthenticationFailed("The terminal token has expired", code="token_expired") from None
    except (jwt.PyJWTError, ClaimsError):
        raise AuthenticationFailed(
            "The terminal token is not valid", code="token_invalid"
        ) from None
