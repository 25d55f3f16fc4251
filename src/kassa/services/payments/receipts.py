"""The registration status of fiscal receipts, as providers report it.

It is the provider's word about the receipt, not a state of the payment or the refund: it is
written whenever reported (with a payment or refund update, or alone), never moves either,
and writes no event.
"""

from __future__ import annotations

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import Payment, ReceiptUpdate
from kassa.store.tables import payments, refunds

_PAYMENT = (
    update(payments)
    .where(payments.c.id == bindparam("payment_key"))
    .values(receipt_status=bindparam("receipt_status"))
)
_REFUND = (
    update(refunds)
    .where(refunds.c.id == bindparam("refund_key"))
    .values(receipt_status=bindparam("receipt_status"))
)
_REFUND_BY_PROVIDER_ID = (
    update(refunds)
    .where(
        refunds.c.payment_id == bindparam("payment_key"),
        refunds.c.provider_refund_id == bindparam("refund_ref"),
    )
    .values(receipt_status=bindparam("receipt_status"))
)


async def note_payment(conn: AsyncConnection, payment_id: str, status: str) -> None:
    await conn.execute(_PAYMENT, {"payment_key": payment_id, "receipt_status": status})


async def note_refund(conn: AsyncConnection, refund_id: str, status: str) -> None:
    await conn.execute(_REFUND, {"refund_key": refund_id, "receipt_status": status})


async def apply_receipt_update(
    conn: AsyncConnection, *, payment: Payment, reported: ReceiptUpdate
) -> str:
    """Keep a receipt's reported status; the outcome, as a notification's row tells it."""
    if reported.provider_refund_id is None:
        await note_payment(conn, payment.id, reported.status)
        return f"payment receipt {reported.status}"
    found = await conn.execute(
        _REFUND_BY_PROVIDER_ID,
        {
            "payment_key": payment.id,
            "refund_ref": reported.provider_refund_id,
            "receipt_status": reported.status,
        },
    )
    if found.rowcount == 0:
        return "ignored: no such refund"
    return f"refund receipt {reported.status}"
