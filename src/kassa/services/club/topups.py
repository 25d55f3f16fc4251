"""Online top-ups: a customer's balance topped up through a Kassa payment of the club's shop,
credited exactly once when the payment succeeds.

`start` writes the top-up (pending) with the id of the payment to come, then creates the
payment through `lifecycle.create_payment` with that id and metadata naming the top-up and the
club, and returns both: the payment's confirmation is what the payer needs (a link to open,
Kaspi's QR to scan), for the API's answer, the CLI and the PC's lock screen. No provider named:
Kaspi if the shop has it in the mode, else the sandbox in test mode, else the shop's only one.

The event consumer `club-topups` takes `payment.succeeded`: in the transaction of its receipt
it turns the top-up from pending to credited with a conditional update and posts the ledger
entry keyed `payment:<payment id>`. The receipt is unique per event, the update wins once, and
the key is unique in the club: however often the event is read, by however many workers, and
however many times the provider says the payment succeeded (the payment itself moves to
succeeded once), the customer is credited once. A worker that dies before the commit leaves
nothing, and the next one credits. A payment that succeeds for a customer deleted since is
marked `unclaimed` (the money is the customer's to be given back; nothing else can be done
with it) and logged.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import Event, EventType, NotFound, ParameterInvalid, Payment, Shop, new_id
from kassa.domain.club import LedgerKind
from kassa.services.callers import Caller
from kassa.services.club import access, clubs, customers, ledger
from kassa.services.club.access import Right
from kassa.services.club.clubs import Club
from kassa.services.context import Context
from kassa.services.events import consumers
from kassa.services.payments import lifecycle
from kassa.services.shops import shops
from kassa.store.tables import (
    club_customers,
    club_topups,
    consumer_receipts,
    events,
    payments,
)

log = logging.getLogger(__name__)

NAME = "club-topups"
#: The payment's metadata naming the top-up it pays for, and its club.
METADATA_KEY = "club_topup"
CLUB_KEY = "club"
PENDING, CREDITED, FAILED, UNCLAIMED = "pending", "credited", "failed", "unclaimed"
#: No provider named: the first of these the shop has enabled in the mode.
PREFERRED = {False: ("kaspi",), True: ("kaspi", "sandbox")}


@dataclass(frozen=True, slots=True)
class Topup:
    id: str
    club_id: str
    customer_id: str
    payment_id: str
    #: Minor units of the club's currency.
    amount: int
    provider: str | None
    status: str
    actor: str
    entry_id: str | None
    created_at: datetime
    credited_at: datetime | None


@dataclass(frozen=True, slots=True)
class Started:
    """A top-up and its payment, whose confirmation tells the payer what to do."""

    topup: Topup
    payment: Payment

    @property
    def confirmation(self) -> Mapping[str, Any] | None:
        return self.payment.confirmation


def _topup(row: Any) -> Topup:
    return Topup(**{name: getattr(row, name) for name in Topup.__dataclass_fields__})


def ledger_key(payment_id: str) -> str:
    """The key of the ledger entry that credits the payment's top-up."""
    return f"payment:{payment_id}"


async def default_provider(
    ctx: Context, *, shop: Shop, test: bool, provider: str | None
) -> str | None:
    """`provider` if named; else the first of `PREFERRED` the shop has enabled in the mode;
    else None (the payment then takes the shop's only provider, or asks to name one)."""
    if provider is not None:
        return provider
    enabled = {
        account.provider
        for account in await shops.list_accounts(ctx, shop_id=shop.id, test=test, enabled_only=True)
    }
    return next((name for name in PREFERRED[test] if name in enabled), None)


async def start(
    ctx: Context,
    *,
    caller: Caller,
    club: Club,
    login: str,
    amount: int,
    actor: str,
    provider: str | None = None,
    topup_id: str | None = None,
    return_url: str | None = None,
) -> Started:
    """Create the payment that tops up `login`'s balance by `amount` (minor units of the
    club's currency), through `provider` or the shop's default online one, in `caller`'s
    shop and mode. `topup_id` (an Idempotency-Key's reserved id) makes a retry that finds the
    top-up written ask the provider again for the same payment, never for a second one."""
    access.require(caller, Right.FLOOR)
    if amount <= 0:
        raise ParameterInvalid("a top-up is above zero", param="amount")
    shop = caller.own_shop
    if shop.id != club.shop_id:
        raise NotFound(f"No club {club.name!r}", param="club")
    provider = await default_provider(ctx, shop=shop, test=caller.own_mode, provider=provider)
    topup_id = topup_id or new_id("topup")
    async with ctx.db.write() as conn:
        customer = await customers.find(conn, club=club, login=login)
        customers.check_active(customer)
        written = await conn.execute(
            ctx.db.insert_ignoring_conflict(club_topups, index_elements=["id"]),
            {
                "id": topup_id,
                "club_id": club.id,
                "customer_id": customer.id,
                "payment_id": new_id("pay"),
                "amount": amount,
                "provider": provider,
                "status": PENDING,
                "actor": actor[:64],
                "created_at": ctx.clock(),
            },
        )
        row = (await conn.execute(select(club_topups).where(club_topups.c.id == topup_id))).one()
    topup = _topup(row)
    if written.rowcount == 0:  # a retry: the payment may be made already
        try:
            made = await lifecycle.get_payment(ctx, caller=caller, payment_id=topup.payment_id)
        except NotFound:
            pass
        else:
            return Started(topup, made)
    params = lifecycle.NewPayment(
        amount=amount,
        currency=club.currency,
        provider=provider,
        description=f"Top-up of {login} at {club.name}",
        customer=f"club:{club.name}:{login}",
        metadata={METADATA_KEY: topup.id, CLUB_KEY: club.name},
        return_url=return_url,
    )
    try:
        payment = await lifecycle.create_payment(
            ctx, caller=caller, params=params, payment_id=topup.payment_id
        )
    except Exception:
        # No payment was made (as far as Kassa knows): the top-up failed. Should the provider
        # have made it after all and it succeeds, the consumer credits it all the same.
        async with ctx.db.write() as conn:
            await conn.execute(
                update(club_topups)
                .where(club_topups.c.id == topup.id, club_topups.c.status == PENDING)
                .values(status=FAILED)
            )
        raise
    return Started(topup, payment)


async def credit(conn: AsyncConnection, event: Event) -> None:
    """The consumer's handler: credit the top-up `event`'s payment pays for, once."""
    if event.payment_id is None:
        return
    row = club_topups.c
    won = (
        await conn.execute(
            update(club_topups)
            .where(
                row.payment_id == event.payment_id,
                # One whose payment seemed not to be made is credited all the same if it
                # succeeds after all: the customer paid.
                row.status.in_((PENDING, FAILED)),
            )
            .values(status=CREDITED, credited_at=event.created_at)
            .returning(row.id, row.club_id, row.customer_id, row.amount, row.actor)
        )
    ).first()
    if won is None:  # not a top-up, or credited already
        return
    deleted = (
        await conn.execute(
            select(club_customers.c.deleted_at).where(club_customers.c.id == won.customer_id)
        )
    ).scalar_one()
    if deleted is not None:
        await conn.execute(
            update(club_topups).where(row.id == won.id).values(status=UNCLAIMED, credited_at=None)
        )
        log.warning(
            "club top-up %s: payment %s succeeded for a deleted customer; give the money back",
            won.id,
            event.payment_id,
        )
        return
    # A customer deleted since the look above makes `post` raise: the handler fails, its
    # transaction is rolled back, and the next try finds the customer deleted.
    entry = await ledger.post(
        conn,
        club=await clubs.find_by_id(conn, club_id=won.club_id),
        customer_id=won.customer_id,
        kind=LedgerKind.TOPUP,
        amount=won.amount,
        method=ledger.ONLINE,
        actor=won.actor,
        now=event.created_at,
        key=ledger_key(event.payment_id),
    )
    await conn.execute(update(club_topups).where(row.id == won.id).values(entry_id=entry.id))


async def audit(conn: AsyncConnection) -> AsyncIterator[str]:
    """For `kassa audit`: no top-up credited without the consumer's receipt of its payment's
    `payment.succeeded`, and none still pending with one."""
    receipt = consumer_receipts.c
    received = (
        select(events.c.payment_id)
        .join(consumer_receipts, receipt.event_id == events.c.id)
        .where(receipt.consumer == NAME, events.c.type == EventType.PAYMENT_SUCCEEDED.value)
    )
    row = club_topups.c
    query = (
        select(row.id, row.status)
        .where(
            or_(
                and_(row.status == CREDITED, row.payment_id.not_in(received)),
                and_(row.status.in_((PENDING, FAILED)), row.payment_id.in_(received)),
            )
        )
        .order_by(row.id)
    )
    for topup_id, status in await conn.execute(query):
        if status == CREDITED:
            yield f"{NAME}:{topup_id}: credited without the receipt of its payment's event"
        else:
            yield f"{NAME}:{topup_id}: its payment's event was received, it is still {status}"


#: From the start of the outbox: a consumer new to a Kassa would otherwise begin at its end,
#: and a top-up paid between the upgrade and the consumer's first round would never be
#: credited. Its first round reads every event once; each that is not a top-up's is skipped.
CONSUMER = consumers.register(
    consumers.Consumer(
        NAME, (EventType.PAYMENT_SUCCEEDED.value,), credit, from_start=True, audit=audit
    )
)


@dataclass(frozen=True, slots=True)
class Listed:
    """An online top-up as staff see it: with its customer's login and its payment's status
    (a top-up left pending by a payment that failed or expired says so there)."""

    topup: Topup
    login: str
    payment_status: str | None


async def list_topups(ctx: Context, *, club: Club, limit: int = 100) -> list[Listed]:
    """The club's latest online top-ups, newest first."""
    query = (
        select(club_topups, club_customers.c.login, payments.c.status.label("payment_status"))
        .join(club_customers, club_customers.c.id == club_topups.c.customer_id)
        .outerjoin(payments, payments.c.id == club_topups.c.payment_id)
        .where(club_topups.c.club_id == club.id)
        .order_by(club_topups.c.created_at.desc(), club_topups.c.id.desc())
        .limit(limit)
    )
    async with ctx.db.read() as conn:
        return [
            Listed(_topup(row), row.login, row.payment_status) for row in await conn.execute(query)
        ]
