"""A club's customers: registered with a login and a password (argon2), blocked, deleted.

A customer's `balance` and `time_bank` are the sums of their ledger entries
(`kassa.services.club.ledger`); nothing here writes them. Deleting a customer keeps the row
and the ledger (the money stays accounted for), frees nothing (the login is not reused), and
stops every charge and top-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import AuthenticationFailed, Conflict, NotFound, ParameterInvalid, new_id
from kassa.domain.club import check_login
from kassa.services import passwords
from kassa.services.callers import Caller
from kassa.services.club import access
from kassa.services.club.access import Right
from kassa.services.club.clubs import Club, find_group
from kassa.services.context import Context
from kassa.store.tables import club_customers, club_groups

MIN_PASSWORD_LENGTH = 4
MAX_PASSWORD_LENGTH = 128


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    club_id: str
    login: str
    name: str
    phone: str | None
    group: str | None
    #: The group's discount on per-minute rates, in percent.
    discount_percent: int
    #: Minor units of the club's currency.
    balance: int
    #: Seconds.
    time_bank: int
    blocked_at: datetime | None
    deleted_at: datetime | None
    created_at: datetime

    @property
    def status(self) -> str:
        if self.deleted_at is not None:
            return "deleted"
        return "blocked" if self.blocked_at is not None else "active"


def _query() -> Any:
    return select(
        club_customers,
        club_groups.c.name.label("group_name"),
        club_groups.c.discount_percent,
    ).outerjoin(club_groups, club_groups.c.id == club_customers.c.group_id)


def _customer(row: Any) -> Customer:
    return Customer(
        id=row.id,
        club_id=row.club_id,
        login=row.login,
        name=row.name,
        phone=row.phone,
        group=row.group_name,
        discount_percent=row.discount_percent or 0,
        balance=row.balance,
        time_bank=row.time_bank,
        blocked_at=row.blocked_at,
        deleted_at=row.deleted_at,
        created_at=row.created_at,
    )


def _check_password(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ParameterInvalid(
            f"A password is {MIN_PASSWORD_LENGTH}-{MAX_PASSWORD_LENGTH} characters",
            param="password",
        )


async def register(
    ctx: Context,
    *,
    club: Club,
    login: str,
    password: str,
    name: str = "",
    phone: str | None = None,
    group: str | None = None,
    caller: Caller | None = None,
) -> Customer:
    """A new customer of `club`, with a zero balance and time bank."""
    access.require(caller, Right.FLOOR)
    check_login(login)
    _check_password(password)
    if len(name) > 128 or (phone is not None and len(phone) > 32):
        raise ParameterInvalid("a name is up to 128 characters, a phone up to 32")
    password_hash = await passwords.hash_password(password)
    customer_id = new_id("cust")
    async with ctx.db.write() as conn:
        group_id = None if group is None else (await find_group(conn, club=club, name=group)).id
        added = await conn.execute(
            ctx.db.insert_ignoring_conflict(club_customers, index_elements=["club_id", "login"]),
            {
                "id": customer_id,
                "club_id": club.id,
                "login": login,
                "password_hash": password_hash,
                "name": name,
                "phone": phone,
                "group_id": group_id,
                "balance": 0,
                "time_bank": 0,
                "created_at": ctx.clock(),
            },
        )
        if added.rowcount == 0:
            raise Conflict(
                f"Club {club.name} has a customer {login!r} already (logins are never reused)",
                param="login",
                code="customer_exists",
            )
        return await find(conn, club=club, login=login)


async def find(conn: AsyncConnection, *, club: Club, login: str) -> Customer:
    """The club's customer `login` (deleted ones too), or `NotFound`."""
    query = _query().where(club_customers.c.club_id == club.id, club_customers.c.login == login)
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound(f"Club {club.name} has no customer {login!r}", param="customer")
    return _customer(row)


async def find_by_id(conn: AsyncConnection, *, customer_id: str) -> Customer:
    row = (await conn.execute(_query().where(club_customers.c.id == customer_id))).first()
    if row is None:
        raise NotFound(f"No customer {customer_id!r}", param="customer")
    return _customer(row)


async def get(ctx: Context, *, club: Club, login: str) -> Customer:
    async with ctx.db.read() as conn:
        return await find(conn, club=club, login=login)


async def list_customers(
    ctx: Context, *, club: Club, include_deleted: bool = False
) -> list[Customer]:
    query = _query().where(club_customers.c.club_id == club.id)
    if not include_deleted:
        query = query.where(club_customers.c.deleted_at.is_(None))
    async with ctx.db.read() as conn:
        return [
            _customer(row) for row in await conn.execute(query.order_by(club_customers.c.login))
        ]


async def verify(ctx: Context, *, club: Club, login: str, password: str) -> Customer:
    """The customer if `password` is theirs and they may play: `AuthenticationFailed`
    otherwise (the same for an unknown login, which takes as long), `Conflict` if blocked."""
    async with ctx.db.read() as conn:
        row = (
            await conn.execute(
                _query().where(
                    club_customers.c.club_id == club.id,
                    club_customers.c.login == login,
                    club_customers.c.deleted_at.is_(None),
                )
            )
        ).first()
    if row is None:
        await passwords.password_matches(passwords.DECOY_HASH, password)
        raise AuthenticationFailed("Wrong login or password", code="login_failed")
    if not await passwords.password_matches(row.password_hash, password):
        raise AuthenticationFailed("Wrong login or password", code="login_failed")
    customer = _customer(row)
    if customer.blocked_at is not None:
        raise Conflict("This customer is blocked", code="customer_blocked")
    return customer


async def _set(
    ctx: Context,
    *,
    club: Club,
    login: str,
    caller: Caller | None = None,
    action: str = "",
    **values: Any,
) -> Customer:
    """Change the customer's row; with `action`, the audit entry of `caller`'s change."""
    async with ctx.db.write() as conn:
        changed = await conn.execute(
            update(club_customers)
            .where(
                club_customers.c.club_id == club.id,
                club_customers.c.login == login,
                club_customers.c.deleted_at.is_(None),
            )
            .values(**values)
        )
        customer = await find(conn, club=club, login=login)
        if changed.rowcount and action:
            details = {"login": login}
            await access.witness(
                conn, caller, club=club, action=action, object_id=customer.id,
                now=ctx.clock(), details=details,
            )  # fmt: skip
    if changed.rowcount == 0:
        raise Conflict(f"Customer {login!r} is deleted", code="customer_deleted")
    return customer


async def block(
    ctx: Context,
    *,
    club: Club,
    login: str,
    blocked: bool = True,
    caller: Caller | None = None,
) -> Customer:
    """Block (or unblock) a customer: a blocked one cannot sign in or buy."""
    access.require(caller, Right.FLOOR)
    return await _set(
        ctx,
        club=club,
        login=login,
        caller=caller,
        action="club.customer.block" if blocked else "club.customer.unblock",
        blocked_at=ctx.clock() if blocked else None,
    )


async def delete(ctx: Context, *, club: Club, login: str, caller: Caller | None = None) -> Customer:
    """Delete a customer, keeping their ledger; no charge or top-up reaches them again."""
    access.require(caller, Right.FLOOR)
    return await _set(ctx, club=club, login=login, deleted_at=ctx.clock())


def check_active(customer: Customer) -> None:
    """`Conflict` unless the customer may buy or play."""
    if customer.deleted_at is not None:
        raise Conflict(f"Customer {customer.login!r} is deleted", code="customer_deleted")
    if customer.blocked_at is not None:
        raise Conflict(f"Customer {customer.login!r} is blocked", code="customer_blocked")
