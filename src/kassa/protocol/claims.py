"""A device token's claims: what the hub signs into the JWT (HS256) it issues each device, and
what an agent reads back from it.

Only the names and shape live here, so both ends agree on them. Signing and verifying stay with
the hub, the only holder of the key; an agent reads its own token's claims without verifying
them (`unverified_payload`), to report which device it is and when its token expires.

The claims are those the field's ws_client expects (`kiosk_id`, `iat`, `exp`) plus the shop,
the device's token version (revoking bumps it, which invalidates every older token at once),
a token id (two tokens issued in one second still differ) and the device kind. Terminal tokens
carry no `kind`: every token issued before there were other kinds is a terminal's.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum, unique
from typing import Any, TypeVar

#: Claim names. The device's id keeps the name the field's agents read.
DEVICE_ID = "kiosk_id"
SHOP = "shop"
VERSION = "ver"
ISSUED_AT = "iat"
EXPIRES_AT = "exp"
TOKEN_ID = "jti"  # noqa: S105 (a claim name, not a secret)
KIND = "kind"
#: What a token must carry to be a device's.
REQUIRED = (DEVICE_ID, SHOP, VERSION, EXPIRES_AT)

T = TypeVar("T")


@unique
class DeviceKind(StrEnum):
    """What kind of device a token is for."""

    TERMINAL = "terminal"
    """A kiosk or payment terminal running `kassa agent` (or a field agent)."""
    CLUB_PC = "club_pc"
    """A computer club's PC, for the club's PC agent."""


class ClaimsError(ValueError):
    """A token whose claims cannot be read, or do not say what a device token must."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    device_id: str
    shop_id: str
    version: int
    expires_at: datetime
    issued_at: datetime | None = None
    token_id: str | None = None
    kind: DeviceKind = DeviceKind.TERMINAL

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at <= (now or datetime.now(UTC))

    def to_payload(self) -> dict[str, Any]:
        """The JWT payload (times as whole seconds since the epoch)."""
        payload: dict[str, Any] = {
            DEVICE_ID: self.device_id,
            SHOP: self.shop_id,
            VERSION: self.version,
            EXPIRES_AT: int(self.expires_at.timestamp()),
        }
        if self.issued_at is not None:
            payload[ISSUED_AT] = int(self.issued_at.timestamp())
        if self.token_id is not None:
            payload[TOKEN_ID] = self.token_id
        if self.kind is not DeviceKind.TERMINAL:
            payload[KIND] = self.kind.value
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> TokenClaims:
        """The claims of a JWT payload, or `ClaimsError` naming the claim that is missing or
        of the wrong type. Times are read in UTC."""
        kind = _string(payload, KIND)
        try:
            device_kind = DeviceKind.TERMINAL if kind is None else DeviceKind(kind)
        except ValueError:
            raise ClaimsError(f"the {KIND} claim {kind!r} is not a device kind") from None
        return cls(
            device_id=_present(_string(payload, DEVICE_ID), DEVICE_ID),
            shop_id=_present(_string(payload, SHOP), SHOP),
            version=_present(_integer(payload, VERSION), VERSION),
            expires_at=_present(_time(payload, EXPIRES_AT), EXPIRES_AT),
            issued_at=_time(payload, ISSUED_AT),
            token_id=_string(payload, TOKEN_ID),
            kind=device_kind,
        )


def unverified_payload(token: str) -> dict[str, Any]:
    """The payload of a JWT (`header.payload.signature`, base64url without padding), read
    WITHOUT verifying its signature."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise ClaimsError("the token is not a JWT (three dot-separated parts)")
    encoded = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        payload: Any = json.loads(base64.urlsafe_b64decode(encoded))
    except (binascii.Error, ValueError) as exc:
        raise ClaimsError(f"the token's claims cannot be read: {exc}") from None
    if not isinstance(payload, dict):
        raise ClaimsError("the token's claims are not a JSON object")
    return payload


def _present(value: T | None, name: str) -> T:
    if value is None:
        raise ClaimsError(f"no {name} claim")
    return value


def _string(payload: Mapping[str, Any], name: str) -> str | None:
    value = payload.get(name)
    if value is not None and not isinstance(value, str):
        raise ClaimsError(f"the {name} claim is not a string")
    return value


def _integer(payload: Mapping[str, Any], name: str) -> int | None:
    value = payload.get(name)
    # A bool is an int to isinstance, but never a claim's number.
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ClaimsError(f"the {name} claim is not a whole number")
    return value


def _time(payload: Mapping[str, Any], name: str) -> datetime | None:
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ClaimsError(f"the {name} claim is not a number of seconds")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise ClaimsError(f"the token's {name} claim {value} is not a time") from None
