"""A customer's sign-in at a club's PC (`kassa.protocol.club_pc.SIGN_IN`): the login and
password checked, answered with a ticket for this PC (`pc_tickets`).

Wrong sign-ins are limited (`pc_limits.SIGN_IN`): `SIGN_IN_ATTEMPTS` from one PC and
`LOGIN_ATTEMPTS` at one login from any of the club's PCs in `SIGN_IN_WINDOW` seconds, so a
password cannot be guessed from a PC at full speed, nor from every PC at once. Every refused
sign-in (a wrong login or password, a blocked customer, too many attempts) is in the audit log
(`club.pc.sign_in`, outcome `refused`, with the login and the reason), never the password.
"""

from __future__ import annotations

from kassa.domain import AuthenticationFailed, Conflict, PermissionDenied, RateLimited
from kassa.protocol import club_pc
from kassa.services.admin import audit
from kassa.services.admin.audit import Actor
from kassa.services.club import customers, packages, pc_limits
from kassa.services.club.customers import Customer
from kassa.services.club.pc_tickets import Ticket, issue
from kassa.services.club.pc_view import Seat, money
from kassa.services.context import Context

ACTION = "club.pc.sign_in"
#: Why a sign-in was refused, as the audit log says.
WRONG, BLOCKED, LIMITED = "wrong_login_or_password", "customer_blocked", "too_many_attempts"


async def sign_in(ctx: Context, seat: Seat, *, login: str, password: str) -> club_pc.SignedIn:
    """Check the customer's password and answer a ticket for this PC, with where their
    balance, time bank and packages usable here stand."""
    customer = await _verify(ctx, seat, login=login, password=password)
    async with ctx.db.read() as conn:
        held = await packages.usable(
            conn, customer_id=customer.id, zone_id=seat.zone_id, now=ctx.clock()
        )
    ticket = await issue(ctx, Ticket(seat.club.shop_id, seat.pc, customer.id, customer.login))
    return club_pc.SignedIn(
        ticket=ticket,
        login=customer.login,
        name=customer.name or None,
        balance=money(customer.balance, seat.club),
        time_bank_seconds=customer.time_bank,
        package_seconds=sum(each.seconds for each in held),
    )


async def _verify(ctx: Context, seat: Seat, *, login: str, password: str) -> Customer:
    """The customer, once the attempt is within the limits and the password theirs."""
    try:
        attempt = await pc_limits.claim(ctx, pc_limits.SIGN_IN, seat, login=login)
    except RateLimited:
        await _refused(ctx, seat, login, LIMITED)
        raise
    try:
        customer = await customers.verify(ctx, club=seat.club, login=login, password=password)
    except AuthenticationFailed:
        await _refused(ctx, seat, login, WRONG)
        raise AuthenticationFailed("Wrong login or password", code="sign_in_failed") from None
    except Conflict as exc:
        # The password was right: not a failure to count, but a refusal all the same.
        await _refused(ctx, seat, login, BLOCKED, attempt=attempt)
        raise PermissionDenied(exc.message, code="customer_blocked") from None
    async with ctx.db.write() as conn:
        await pc_limits.forget(conn, pc_limits.SIGN_IN, seat, attempt, login=login)
    return customer


async def _refused(
    ctx: Context, seat: Seat, login: str, reason: str, *, attempt: int | None = None
) -> None:
    """Audit a refused sign-in (and forget `attempt`, when it was not a wrong password)."""
    async with ctx.db.write() as conn:
        if attempt is not None:
            await pc_limits.forget(conn, pc_limits.SIGN_IN, seat, attempt)
        await audit.record(
            conn,
            actor=Actor(name=seat.actor),
            action=ACTION,
            now=ctx.clock(),
            object_id=seat.pc,
            shop_id=seat.club.shop_id,
            outcome="refused",
            details={"club": seat.club.name, "pc": seat.pc, "login": login, "reason": reason},
        )
