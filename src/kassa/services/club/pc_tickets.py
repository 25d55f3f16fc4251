"""Sign-in tickets of the club PC's API (`kassa.protocol.club_pc`): what a customer's requests
from a PC carry once their login and password were checked, so the PC never keeps the
password.

A ticket is a JWT (HS256) bound to the shop, the PC and the customer, lasting
`TICKET_SECONDS`. Its key is derived from the hub's device-token key
(`kassa.services.devices.tokens.signing_key`, the same in every hub process) with a label of
its own, so a ticket is never a device token and a device token never a ticket.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

import jwt

from kassa.domain import AuthenticationFailed
from kassa.protocol.club_pc import TICKET_SECONDS
from kassa.services.context import Context
from kassa.services.devices import tokens as device_tokens

ALGORITHM = "HS256"
#: What sets a ticket's key apart from the device tokens' one it is derived from.
LABEL = b"kassa club pc sign-in ticket"
#: The ticket's `typ` claim.
KIND = "club_pc_ticket"


@dataclass(frozen=True, slots=True)
class Ticket:
    """Who a valid ticket signed in, and where."""

    shop_id: str
    pc: str
    customer_id: str
    login: str


async def _key(ctx: Context) -> bytes:
    base = await device_tokens.signing_key(ctx)
    return hmac.new(base.encode(), LABEL, hashlib.sha256).digest()


async def issue(ctx: Context, ticket: Ticket) -> str:
    """A signed ticket for `ticket`, good for `TICKET_SECONDS` from now."""
    now = ctx.clock()
    claims = {
        "typ": KIND,
        "shop": ticket.shop_id,
        "pc": ticket.pc,
        "sub": ticket.customer_id,
        "login": ticket.login,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=TICKET_SECONDS)).timestamp()),
    }
    return jwt.encode(claims, await _key(ctx), algorithm=ALGORITHM)


async def verify(ctx: Context, token: str, *, shop_id: str, pc: str) -> Ticket:
    """The ticket `token` carries if it is signed, unexpired by the hub's clock and made for
    this PC; `AuthenticationFailed` (`ticket_invalid`) otherwise."""
    refused = AuthenticationFailed(
        "The sign-in ticket is not valid here or has expired; sign in again",
        code="ticket_invalid",
        param="ticket",
    )
    try:
        claims = jwt.decode(
            token,
            await _key(ctx),
            algorithms=[ALGORITHM],
            # Times are checked below by the hub's clock, not the library's.
            options={"verify_exp": False, "verify_iat": False, "require": ["exp", "sub", "typ"]},
        )
    except jwt.PyJWTError:
        raise refused from None
    if (
        claims.get("typ") != KIND
        or claims.get("shop") != shop_id
        or claims.get("pc") != pc
        or not isinstance(claims.get("exp"), int)
        or claims["exp"] <= ctx.clock().timestamp()
    ):
        raise refused
    return Ticket(shop_id, pc, str(claims["sub"]), str(claims.get("login", "")))
