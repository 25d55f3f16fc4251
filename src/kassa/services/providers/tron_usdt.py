"""USDT-TRC20's state in Kassa: the amounts reserved per payment, the watcher, its panel.

A payment is recognised on the chain by its amount alone, so that amount must be unique
among the payments to one address that can still be paid. `prepare` reserves it before the
payment is created: the price plus a tail of 1 to `TAILS` raw units (0.000001 to 0.009999
USDT), unique per address by a unique index, held until `HOLD_AFTER_EXPIRY` after the
payment's expiry (so a transfer that comes a little late is recognised as late rather than
taken for a newer payment's), then free for another payment (and forgotten after
`KEEP_RESERVATIONS`). Retried for one payment id, it
finds what it reserved; concurrent creates each insert their own candidate amount, and the
unique index lets exactly one of them have it (the others pick again).

The watcher (`watch`, a background job run every second by every background loop) looks at
each account's address when its `poll_interval` has passed: a worker claims the account by
moving its `next_poll_at` ahead in one conditional update, so only one worker looks at once.
It reads TronGrid's confirmed transfers of the token from a little before its checkpoint
(`OVERLAP`: TronGrid may list a confirmed transfer later than newer ones), records each
transfer once (keyed by address and transaction id) with what it is:

- `matched`: the exact amount of a payment still pending, sent before its expiry: delivered
  as a notification through the core's ingestion path (`inbound.receive`: stored raw,
  verified, applied through the transition table with its event), signed by the account's
  `watcher_secret`;
- `repeated`: the exact amount of a payment already paid by another transfer;
- `late`: the exact amount of a payment that had expired or ended when it was sent;
- `underpaid` / `overpaid`: within a tenth (`NEAR`) of a reserved amount, but not it;
- `unmatched`: anything else.

Only `matched` transfers are credited; the others are shown on the payment's admin page (its
`panel`) for a person to settle with the payer. TronGrid's limits (429/403/503) and outages
put the account's next look off, doubling up to `MAX_BACKOFF`.

A recorded transfer is deleted `KASSA_TRON_TRANSFER_RETENTION_DAYS` after the watcher saw it
(`prune`, an hourly job) once no payment needs it: it is linked to none, or its payment has
ended. A pending payment's transfers stay on its panel for as long as it is pending; the
watcher reads no further back than minutes before its checkpoint, so a deleted transfer is
not read and recorded again.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Insert, delete, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import Conflict, Payment, PaymentStatus, ProviderAccount, ProviderError
from kassa.domain.status import OPEN_STATUSES
from kassa.domain.translatable import N_
from kassa.providers import InboundRequest, PaymentRequest
from kassa.providers.tron_usdt import (
    PREPARED_ADDRESS,
    PREPARED_AMOUNT,
    Transfer,
    TronUsdtProvider,
    exact_amount,
)
from kassa.services.context import Context
from kassa.services.operations.jobs import Job
from kassa.services.providers.state import Panel, ProviderState
from kassa.services.shops import shops
from kassa.store import records
from kassa.store.db import insert_ignoring_conflict
from kassa.store.tables import (
    payments,
    provider_accounts,
    tron_reservations,
    tron_transfers,
    tron_watches,
)

log = logging.getLogger(__name__)

NAME = TronUsdtProvider.name
#: The largest tail, in raw units: 0.009999 USDT, under a cent.
TAILS = 9_999
#: How long after a payment's expiry its amount stays reserved.
HOLD_AFTER_EXPIRY = timedelta(hours=1)
#: How long a reservation is kept once it no longer holds its amount: transfers sent while
#: it held are recognised by it (late, underpaid…) even if the watcher sees them this late.
KEEP_RESERVATIONS = timedelta(days=7)
#: How far before its checkpoint the watcher reads again (transfers are de-duplicated).
OVERLAP = timedelta(minutes=5)
#: How long a claimed account is left to the worker that claimed it.
LEASE = timedelta(minutes=2)
#: The longest the watcher waits after failures.
MAX_BACKOFF = timedelta(minutes=5)
#: A transfer this close to a reserved amount (a tenth of it) is taken for a wrong payment of
#: it (underpaid, overpaid) rather than for something unrelated.
NEAR = 10
#: Transfers deleted per transaction when they expire (small, so the SQLite writer, which runs
#: on the event loop, is never held long).
PRUNE_BATCH = 500


class TransferKind(StrEnum):
    """What a transfer to a watched address is (see the module's text)."""

    MATCHED = "matched"
    REPEATED = "repeated"
    LATE = "late"
    UNDERPAID = "underpaid"
    OVERPAID = "overpaid"
    UNMATCHED = "unmatched"


# Reservations


async def prepare(
    ctx: Context, account: ProviderAccount, request: PaymentRequest
) -> PaymentRequest:
    """`request` with the exact amount reserved for it (and the address) in `prepared`."""
    address = account.credentials["address"]
    now = ctx.clock()
    held_until = (request.expires_at or now) + HOLD_AFTER_EXPIRY
    for _ in range(20):
        async with ctx.db.write() as conn:
            found = await _reservation(conn, request.payment_id)
            if found is None:
                amount = await _free_amount(conn, address, request.amount, now)
                if amount is None:
                    break
                await conn.execute(
                    delete(tron_reservations).where(
                        tron_reservations.c.address == address,
                        tron_reservations.c.amount == amount,
                        tron_reservations.c.held_until < now,
                    )
                )
                await conn.execute(
                    _insert_unless_taken(conn.dialect.name),
                    {
                        "payment_id": request.payment_id,
                        "address": address,
                        "amount": amount,
                        "price": request.amount,
                        "created_at": now,
                        "held_until": held_until,
                    },
                )
                found = await _reservation(conn, request.payment_id)
        if found is not None:
            prepared = {PREPARED_AMOUNT: str(found["amount"]), PREPARED_ADDRESS: found["address"]}
            return replace(request, prepared={**request.prepared, **prepared})
    raise Conflict(
        f"Every amount near {exact_amount(request.amount)} USDT is reserved for an open "
        "payment to this address; try again later or another price"
    )


def _insert_unless_taken(dialect: str) -> Insert:
    """An insert of a reservation that does nothing if the payment, or the amount at the
    address, is taken (either unique index: no conflict target)."""
    insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
    return insert(tron_reservations).on_conflict_do_nothing()


async def _reservation(conn: AsyncConnection, payment_id: str) -> Any:
    query = select(tron_reservations).where(tron_reservations.c.payment_id == payment_id)
    return (await conn.execute(query)).mappings().first()


async def _free_amount(
    conn: AsyncConnection, address: str, price: int, now: datetime
) -> int | None:
    """A random amount of `price` plus a tail that no held reservation of `address` has."""
    held = select(tron_reservations.c.amount).where(
        tron_reservations.c.address == address,
        tron_reservations.c.amount.between(price + 1, price + TAILS),
        tron_reservations.c.held_until >= now,
    )
    taken = set((await conn.execute(held)).scalars())
    free = [price + tail for tail in range(1, TAILS + 1) if price + tail not in taken]
    return secrets.choice(free) if free else None


# The watcher


async def watch(ctx: Context) -> int:
    """Look at every account whose time has come; returns how many transfers were new."""
    now = ctx.clock()
    query = select(provider_accounts).where(
        provider_accounts.c.provider == NAME, provider_accounts.c.enabled.is_(True)
    )
    async with ctx.db.read() as conn:
        accounts = [
            records.provider_account(row, ctx.keyring)
            for row in (await conn.execute(query)).mappings()
        ]
        if not accounts:  # most Kassas: one cheap query a second
            return 0
        scheduled = select(tron_watches.c.account_id, tron_watches.c.next_poll_at)
        next_look = {row.account_id: row.next_poll_at for row in await conn.execute(scheduled)}
    seen = 0
    for account in accounts:
        if next_look.get(account.id, now) <= now and await _claim(ctx, account, now):
            seen += await _look(ctx, account)
    return seen


async def _claim(ctx: Context, account: ProviderAccount, now: datetime) -> bool:
    """Whether this worker looks at `account` now (its time has come, and no other does)."""
    async with ctx.db.write() as conn:
        start = await _start_for(conn, account, now)
        await conn.execute(
            insert_ignoring_conflict(
                conn.dialect.name, tron_watches, index_elements=["account_id"]
            ),
            {"account_id": account.id, "checkpoint": start, "next_poll_at": now, "failures": 0},
        )
        claimed = await conn.execute(
            update(tron_watches)
            .where(tron_watches.c.account_id == account.id, tron_watches.c.next_poll_at <= now)
            .values(next_poll_at=now + LEASE)
        )
    return claimed.rowcount == 1


async def _start_for(conn: AsyncConnection, account: ProviderAccount, now: datetime) -> int:
    """Where a new watch starts reading: at the oldest reservation still held for the
    address, or now."""
    oldest = select(tron_reservations.c.created_at).where(
        tron_reservations.c.address == account.credentials["address"],
        tron_reservations.c.held_until >= now,
    )
    first = (await conn.execute(oldest.order_by(tron_reservations.c.created_at))).scalar()
    return _ms(first or now)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


async def _look(ctx: Context, account: ProviderAccount) -> int:
    """Read the account's new transfers and record each; then schedule the next look."""
    gateway = cast(TronUsdtProvider, ctx.gateways.for_account(account))
    async with ctx.db.read() as conn:
        watch_row = (
            (
                await conn.execute(
                    select(tron_watches).where(tron_watches.c.account_id == account.id)
                )
            )
            .mappings()
            .one()
        )
    checkpoint = watch_row["checkpoint"]
    since = checkpoint - int(OVERLAP.total_seconds() * 1000)
    seen = 0
    try:
        async for page in gateway.pages(since=since):
            seen += await _observe(ctx, account, page)
            checkpoint = max([checkpoint, *(transfer.block_timestamp for transfer in page)])
    except ProviderError as exc:
        failures = watch_row["failures"] + 1
        wait = min(timedelta(seconds=gateway.watch_every * 2**failures), MAX_BACKOFF)
        log.warning("watching %s: %s; looking again in %s", account.id, exc.message, wait)
        values: dict[str, Any] = {
            "failures": failures,
            "last_error": exc.message[:2000],
            "next_poll_at": ctx.clock() + wait,
        }
    else:
        values = {
            "failures": 0,
            "last_error": None,
            "polled_at": ctx.clock(),
            "next_poll_at": ctx.clock() + timedelta(seconds=gateway.watch_every),
        }
    async with ctx.db.write() as conn:
        await conn.execute(
            update(tron_watches)
            .where(tron_watches.c.account_id == account.id)
            .values(checkpoint=checkpoint, **values)
        )
        await conn.execute(
            delete(tron_reservations).where(
                tron_reservations.c.address == account.credentials["address"],
                tron_reservations.c.held_until < ctx.clock() - KEEP_RESERVATIONS,
            )
        )
    return seen


async def _observe(ctx: Context, account: ProviderAccount, page: list[Transfer]) -> int:
    """Record each transfer of `page` not seen before with what it is, in one transaction;
    then deliver the matches not yet delivered (again, if a delivery did not finish).
    Returns how many transfers were new."""
    if not page:
        return 0
    address = page[0].recipient  # a page is of one address
    ids = [transfer.transaction_id for transfer in page]
    recorded = select(tron_transfers).where(
        tron_transfers.c.address == address, tron_transfers.c.transaction_id.in_(ids)
    )
    async with ctx.db.write() as conn:
        known = {row["transaction_id"]: row for row in (await conn.execute(recorded)).mappings()}
        new = [transfer for transfer in page if transfer.transaction_id not in known]
        if new:
            held = await _held(conn, address, since=min(transfer.at for transfer in new))
            paid: set[str] = set()  # payments a transfer of this page pays
            rows = [_record(account, transfer, held, paid, now=ctx.clock()) for transfer in new]
            await conn.execute(
                insert_ignoring_conflict(
                    conn.dialect.name, tron_transfers, index_elements=["address", "transaction_id"]
                ),
                rows,
            )
            known = {
                row["transaction_id"]: row for row in (await conn.execute(recorded)).mappings()
            }
    for transfer in page:
        row = known[transfer.transaction_id]
        if row["kind"] == TransferKind.MATCHED and row["notification_id"] is None:
            notification_id = await deliver(ctx, account, row["payment_id"], transfer)
            async with ctx.db.write() as conn:
                await conn.execute(
                    update(tron_transfers)
                    .where(
                        tron_transfers.c.address == address,
                        tron_transfers.c.transaction_id == transfer.transaction_id,
                    )
                    .values(notification_id=notification_id)
                )
    for transfer in new:
        kind, payment_id = (
            known[transfer.transaction_id]["kind"],
            known[transfer.transaction_id]["payment_id"],
        )
        if kind != TransferKind.MATCHED:
            log.warning(
                "USDT-TRC20 transfer %s of %s to %s is %s (payment %s): not credited",
                transfer.transaction_id,
                exact_amount(transfer.value),
                address,
                kind,
                payment_id,
            )
    return len(new)


async def _held(conn: AsyncConnection, address: str, *, since: datetime) -> list[Any]:
    """The reservations of `address` held at `since` or later, with their payments' state."""
    query = (
        select(
            tron_reservations.c.payment_id,
            tron_reservations.c.amount,
            tron_reservations.c.created_at,
            tron_reservations.c.held_until,
            payments.c.status,
            payments.c.expires_at,
            payments.c.provider_payment_id,
        )
        .join(payments, payments.c.id == tron_reservations.c.payment_id)
        .where(tron_reservations.c.address == address, tron_reservations.c.held_until >= since)
    )
    return list((await conn.execute(query)).mappings())


def _record(
    account: ProviderAccount, transfer: Transfer, held: list[Any], paid: set[str], *, now: datetime
) -> dict[str, Any]:
    """The row recording `transfer`, with what it is (`paid`: the payments earlier
    transfers of the page pay, to which it adds)."""
    kind, payment_id = _classify(transfer, held, paid)
    if kind == TransferKind.MATCHED and payment_id is not None:
        paid.add(payment_id)
    return {
        "address": transfer.recipient,
        "transaction_id": transfer.transaction_id,
        "account_id": account.id,
        "sender": transfer.sender,
        "amount": transfer.value,
        "block_at": transfer.at,
        "seen_at": now,
        "kind": kind.value,
        "payment_id": payment_id,
        "notification_id": None,
        "raw": dict(transfer.raw),
    }


def _classify(
    transfer: Transfer, held: list[Any], paid: set[str]
) -> tuple[TransferKind, str | None]:
    """What `transfer` is, and the payment it is about (see the module's text), among the
    reservations `held` when it was sent and the payments already `paid`."""
    rows = [
        row
        for row in held
        if row["held_until"] >= transfer.at and row["created_at"] <= transfer.at + OVERLAP
    ]
    exact = next((row for row in rows if row["amount"] == transfer.value), None)
    if exact is not None:
        status = PaymentStatus(exact["status"])
        expired = exact["expires_at"] is not None and transfer.at > exact["expires_at"]
        paid_otherwise = status == PaymentStatus.SUCCEEDED and (
            exact["provider_payment_id"] != transfer.transaction_id
        )
        if paid_otherwise or exact["payment_id"] in paid:
            return TransferKind.REPEATED, exact["payment_id"]
        if expired or status not in (*OPEN_STATUSES, PaymentStatus.SUCCEEDED):
            return TransferKind.LATE, exact["payment_id"]
        return TransferKind.MATCHED, exact["payment_id"]
    near = min(rows, key=lambda row: abs(row["amount"] - transfer.value), default=None)
    if near is not None and abs(near["amount"] - transfer.value) * NEAR <= near["amount"]:
        kind = TransferKind.UNDERPAID if transfer.value < near["amount"] else TransferKind.OVERPAID
        return kind, near["payment_id"]
    return TransferKind.UNMATCHED, None


async def deliver(
    ctx: Context, account: ProviderAccount, payment_id: str, transfer: Transfer
) -> str | None:
    """Deliver the match of `transfer` to `payment_id` through the core's notification path;
    returns the stored notification's id."""
    from kassa.services.notifications import inbound  # it imports what imports this module

    gateway = cast(TronUsdtProvider, ctx.gateways.for_account(account))
    notice = gateway.notice(payment_id, transfer.raw)
    shop = await shops.get_shop(ctx, shop_id=account.shop_id)
    result = await inbound.receive(
        ctx,
        provider=NAME,
        shop_ref=shop.name,
        request=InboundRequest(method=notice.method, headers=notice.headers, body=notice.body),
    )
    return result.notification_id or None


# The admin's payment page


async def panel(ctx: Context, payment: Payment) -> Panel | None:
    """The amount reserved for the payment and every transfer linked to it."""

    async with ctx.db.read() as conn:
        reserved = await _reservation(conn, payment.id)
        query = (
            select(tron_transfers)
            .where(tron_transfers.c.payment_id == payment.id)
            .order_by(tron_transfers.c.block_at)
        )
        rows = (await conn.execute(query)).mappings().all()
    if reserved is None and not rows:
        return None
    return Panel(
        title=N_("USDT-TRC20 transfers"),
        columns=(N_("Sent at"), N_("Transaction"), N_("Sender"), N_("Amount"), N_("What it is")),
        rows=tuple(
            (
                row["block_at"].isoformat(timespec="seconds"),
                row["transaction_id"],
                row["sender"],
                f"{exact_amount(row['amount'])} USDT",
                row["kind"],
            )
            for row in rows
        ),
        hint=N_(
            "Only a transfer of exactly the amount asked, sent before the payment expires, "
            "pays it; others linked to it (repeated, late, underpaid, overpaid) are shown "
            "here and never credited."
        ),
    )


# Retention


async def prune(ctx: Context) -> int:
    """The background job: delete the transfers seen more than
    `KASSA_TRON_TRANSFER_RETENTION_DAYS` ago that no payment needs (linked to none, or to a
    payment that has ended), a batch per transaction; how many."""
    cutoff = ctx.clock() - timedelta(days=ctx.settings.tron_transfer_retention_days)
    ended = exists().where(
        payments.c.id == tron_transfers.c.payment_id, payments.c.status.not_in(OPEN_STATUSES)
    )
    return await ctx.db.delete_in_batches(
        tron_transfers,
        tron_transfers.c.seen_at < cutoff,
        or_(tron_transfers.c.payment_id.is_(None), ended),
        batch=PRUNE_BATCH,
    )


#: The watcher's job: every second, looking at each account when its own interval is up.
WATCHER = Job("watch USDT-TRC20 addresses", 1.0, watch)
#: Hourly, as the core's own pruning jobs.
PRUNER = Job("prune USDT-TRC20 transfers", 3600.0, prune)

STATE: ProviderState = ProviderState(NAME, prepare, (WATCHER, PRUNER), panel)
