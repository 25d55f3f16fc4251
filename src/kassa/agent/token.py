"""Reading a terminal token's claims, WITHOUT verifying its signature: only the hub can (it
holds the key); the agent reads them to report which kiosk it is and when the token expires."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


class TokenError(Exception):
    """The token is not a JWT whose claims can be read."""


@dataclass(frozen=True, slots=True)
class Claims:
    kiosk_id: str | None
    shop: str | None
    expires_at: datetime | None

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or datetime.now(UTC))


def read_claims(token: str) -> Claims:
    """The claims of a JWT (`header.payload.signature`, base64url without padding)."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise TokenError("the token is not a JWT (three dot-separated parts)")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims: Any = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError) as exc:
        raise TokenError(f"the token's claims cannot be read: {exc}") from None
    if not isinstance(claims, dict):
        raise TokenError("the token's claims are not a JSON object")
    exp = claims.get("exp")
    expires_at = None
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        try:
            expires_at = datetime.fromtimestamp(exp, UTC)
        except (OverflowError, OSError, ValueError):
            raise TokenError(f"the token's exp claim {exp} is not a time") from None
    kiosk_id, shop = claims.get("kiosk_id"), claims.get("shop")
    return Claims(
        kiosk_id=kiosk_id if isinstance(kiosk_id, str) else None,
        shop=shop if isinstance(shop, str) else None,
        expires_at=expires_at,
    )
