"""Kaspi's check/pay transactions: Kassa's record of each `pay`, and the answers read from it.

Kaspi's `pay` says it took the payer's money for a bill (`account`, Kassa's payment id) in its
transaction `txn_id`. Kassa credits the payment once per `txn_id` (the notification's event
identity is `pay:{txn_id}`, and an event is accepted once), and keeps one row per `txn_id` in
`kaspi_transactions`, written in the transaction that applies the `pay` (`record`): its id is
the `prv_txn_id` Kassa answers, and its `result` what Kassa made of it. Every repeat of the
`pay` (Kaspi repeats until it has an answer; two may arrive at once) is a duplicate that
changes nothing and is answered from that row (`answer`): the same `prv_txn_id`, never a
second credit. Whether Kaspi wants `0` or `3` for a repeat is NOT FOUND; Kassa answers the
original answer, `0` with the original `prv_txn_id`.

The result of a `pay` is decided with the payment locked (`FOR UPDATE` on PostgreSQL; SQLite's
single writer serialises), so that it holds when the payment moves in the same transaction:

- no such payment among the account's: 1;
- a `sum` other than the payment's amount: 5, nothing credited (the domain refuses it too);
- a pending payment: 0, the payment succeeds;
- one already paid (by another `txn_id`, or by QR): 3; canceled, failed or expired: 2.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import Money, Payment, PaymentStatus, new_id
from kassa.domain.money import format_major
from kassa.domain.translatable import N_
from kassa.providers import Verdict
from kassa.providers import wire as common
from kassa.providers.base import HookReply
from kassa.providers.kaspi import wire
from kassa.providers.kaspi.wire import CheckPay, Command, ResultCode
from kassa.services.context import Context
from kassa.services.providers.state import Panel, ProviderState, Received, Recorded
from kassa.store.db import insert_ignoring_conflict
from kassa.store.tables import kaspi_transactions, notifications, payments

PAID = frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED})
ENDED = frozenset({PaymentStatus.CANCELED, PaymentStatus.FAILED, PaymentStatus.EXPIRED})


def _outcome(payment: Any, asked: CheckPay) -> tuple[ResultCode, str]:
    """What a `pay` comes to for the payment as it stands (locked), before it is applied."""
    if payment is None:
        return ResultCode.ACCOUNT_NOT_FOUND, "no such payment"
    if (payment.amount, payment.currency) != (asked.sum.amount, asked.sum.currency):
        owed = format_major(payment.amount, payment.currency)
        return ResultCode.OTHER_ERROR, f"the sum differs from the payment's {owed}"
    status = PaymentStatus(payment.status)
    if status == PaymentStatus.PENDING:
        return ResultCode.OK, "paid"
    if status in PAID:
        return ResultCode.ALREADY_PAID, "the payment is paid already"
    if status in ENDED:
        return ResultCode.CANCELLED, f"the payment is {status.value}"
    return ResultCode.OTHER_ERROR, f"the payment is {status.value}"


async def record(conn: AsyncConnection, recorded: Recorded) -> None:
    """Keep a `pay` being applied as a Kaspi transaction (nothing for a check)."""
    try:
        asked = wire.read_check_pay(recorded.query)
    except common.MALFORMED:
        return
    if asked.command != Command.PAY:
        return
    found = (
        await conn.execute(
            select(payments.c.id, payments.c.status, payments.c.amount, payments.c.currency)
            .where(
                payments.c.id == asked.account,
                payments.c.provider_account_id == recorded.account.id,
            )
            .with_for_update()
        )
    ).first()
    result, comment = _outcome(found, asked)
    statement = insert_ignoring_conflict(
        conn.dialect.name, kaspi_transactions, index_elements=["account_id", "txn_id"]
    )
    await conn.execute(
        statement,
        {
            "id": new_id("kpt"),
            "account_id": recorded.account.id,
            "txn_id": asked.txn_id,
            "account": asked.account[:255],
            "payment_id": found.id if found is not None else None,
            "amount": asked.sum.amount,
            "txn_date": asked.txn_date,
            "result": int(result),
            "comment": comment,
            "notification_id": recorded.notification_id,
            "created_at": recorded.now,
        },
    )


async def answer(ctx: Context, received: Received) -> HookReply:
    """Kaspi's answer to a check/pay request, once Kassa has stored it."""
    request = received.request
    txn_id = wire.request_txn_id(request.query)
    if received.verdict == Verdict.REJECTED:
        return wire.answer(
            txn_id=txn_id, result=ResultCode.OTHER_ERROR, comment="not accepted", status_code=403
        )
    if received.verdict == Verdict.PENDING:
        return wire.answer(txn_id=txn_id, result=ResultCode.PROCESSING, comment="try again later")
    asked = wire.read_check_pay(request.query)  # it verified, so it reads
    amount = format_major(asked.sum.amount, asked.sum.currency)
    if asked.command == Command.CHECK:
        assert received.check is not None
        code = wire.check_code(received.check)
        return wire.answer(txn_id=txn_id, result=code, comment=received.check.value, sum=amount)
    account = (
        select(notifications.c.account_id)
        .where(notifications.c.id == received.notification_id)
        .scalar_subquery()
    )
    query = select(kaspi_transactions).where(
        kaspi_transactions.c.account_id == account, kaspi_transactions.c.txn_id == asked.txn_id
    )
    async with ctx.db.read() as conn:
        row = (await conn.execute(query)).mappings().first()
    if row is None:  # stored, but not applied through `record`: Kaspi asks again later
        return wire.answer(txn_id=txn_id, result=ResultCode.PROCESSING, comment="try again later")
    if row["amount"] != asked.sum.amount:
        return wire.answer(
            txn_id=txn_id,
            result=ResultCode.OTHER_ERROR,
            comment="this txn_id was paid with another sum",
            prv_txn_id=row["id"],
            sum=amount,
        )
    return wire.answer(
        txn_id=txn_id,
        result=ResultCode(row["result"]),
        comment=row["comment"],
        prv_txn_id=row["id"],
        sum=amount,
    )


async def panel(ctx: Context, payment: Payment) -> Panel | None:
    """The check/pay transactions Kaspi made for the payment, oldest first."""
    query = (
        select(kaspi_transactions)
        .where(kaspi_transactions.c.payment_id == payment.id)
        .order_by(kaspi_transactions.c.created_at, kaspi_transactions.c.id)
    )
    async with ctx.db.read() as conn:
        rows = list((await conn.execute(query)).mappings())
    if not rows:
        return None
    return Panel(
        title=N_("Kaspi transactions"),
        columns=(
            N_("Kaspi txn_id"),
            N_("Kassa's prv_txn_id"),
            N_("Amount"),
            N_("Result"),
            N_("When"),
        ),
        rows=tuple(
            (
                row["txn_id"],
                row["id"],
                str(Money(row["amount"], wire.CURRENCY)),
                f"{row['result']} ({row['comment']})",
                row["created_at"].isoformat(timespec="seconds"),
            )
            for row in rows
        ),
        hint=N_("Kaspi's pay requests; a repeated one is answered from its row, never credited"),
    )


STATE: ProviderState = ProviderState(provider="kaspi", record=record, answer=answer, panel=panel)
