"""The staff PIN of a club's PCs: what opens a PC's staff panel (`kassa.protocol.club_pc.
STAFF`).

The club keeps only the PIN's argon2 hash; the PIN itself is never stored or logged. A PC may
try `PIN_ATTEMPTS` wrong PINs in `PIN_WINDOW` seconds (`pc_limits.PIN`: however many arrive
at once, exactly as many as are left are checked; a right one frees the PC). Every check,
right or wrong, is in the audit log (`club.pc.staff_pin`, its outcome `granted` or
`refused`).
"""

from __future__ import annotations

import re

from sqlalchemy import select, update

from kassa.domain import AuthenticationFailed, ParameterInvalid, PermissionDenied
from kassa.protocol.club_pc import StaffGrant
from kassa.services import passwords
from kassa.services.admin import audit
from kassa.services.admin.audit import Actor
from kassa.services.club import pc_limits
from kassa.services.club.clubs import Club
from kassa.services.club.pc_view import Seat
from kassa.services.context import Context
from kassa.store.tables import clubs

#: A PIN is 4 to 12 digits.
PIN_PATTERN = re.compile(r"[0-9]{4,12}")
#: How long a right PIN opens the staff panel for.
GRANT_SECONDS = 600
ACTION = "club.pc.staff_pin"


async def set_pin(ctx: Context, *, club: Club, pin: str, actor: Actor = audit.CLI) -> None:
    """Set the club's staff PIN (4-12 digits), replacing the one it had."""
    if not PIN_PATTERN.fullmatch(pin):
        raise ParameterInvalid("a staff PIN is 4 to 12 digits", param="pin")
    pin_hash = await passwords.hash_password(pin)
    async with ctx.db.write() as conn:
        await conn.execute(
            update(clubs).where(clubs.c.id == club.id).values(staff_pin_hash=pin_hash)
        )
        await audit.record(
            conn,
            actor=actor,
            action="club.staff_pin.set",
            now=ctx.clock(),
            object_id=club.id,
            shop_id=club.shop_id,
            details={"club": club.name},
        )


async def check(ctx: Context, seat: Seat, *, pin: str) -> StaffGrant:
    """A grant if `pin` is the club's staff PIN: `PermissionDenied` (`staff_pin_not_set`)
    if the club has none, `RateLimited` (`too_many_attempts`) over the PC's limit,
    `AuthenticationFailed` (`pin_invalid`) for a wrong one."""
    club, now = seat.club, ctx.clock()
    async with ctx.db.read() as conn:
        pin_hash = await conn.scalar(select(clubs.c.staff_pin_hash).where(clubs.c.id == club.id))
    if pin_hash is None:
        raise PermissionDenied(
            f"Club {club.name} has no staff PIN (kassa club staff-pin)", code="staff_pin_not_set"
        )
    await pc_limits.claim(ctx, pc_limits.PIN, seat)
    right = await passwords.password_matches(pin_hash, pin)
    async with ctx.db.write() as conn:
        if right:
            await pc_limits.forget_pc(conn, pc_limits.PIN, seat)
        await audit.record(
            conn,
            actor=Actor(name=seat.actor),
            action=ACTION,
            now=now,
            object_id=seat.pc,
            shop_id=club.shop_id,
            outcome="granted" if right else "refused",
            details={"club": club.name, "pc": seat.pc},
        )
    if not right:
        raise AuthenticationFailed("Wrong staff PIN", code="pin_invalid", param="pin")
    return StaffGrant(seconds=GRANT_SECONDS)
