"""Receipt e-mails: the event consumer that decides one is due, and the job that sends it.

Exactly once per event: the consumer writes the e-mail's row (`receipt_emails`, keyed by the
event's id) in the transaction that records the event's receipt, so however many times or
workers read the event, one row is written. It calls out to nothing, as a consumer must not:
the sending job claims due rows (moving `next_attempt_at` a lease ahead, with `FOR UPDATE
SKIP LOCKED` on PostgreSQL), sends each outside any transaction and records the outcome.
Only a worker that dies between the server's "250 OK" and that record leaves the row to be
sent again after the lease; the copy carries the same Message-ID.

Rows are written for a payment with a customer e-mail only. A shop without a sender address
(`kassa shops email`) or a hub without `KASSA_SMTP_URL` (also a warning in the log) gets its
rows marked `skipped`, with the reason: nothing waits forever for a setting. An SMTP failure is
tried again after `consumers.RETRY_DELAYS`; a refusal of the recipient or the message (5xx)
or the last failure marks the row `failed`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.config import SmtpServer
from kassa.domain import Event, EventType, Payment
from kassa.domain.receipts import items_from_documents
from kassa.domain.translatable import N_
from kassa.services.context import Context
from kassa.services.emails import smtp
from kassa.services.emails.letters import Letter, message_id, render
from kassa.services.events import consumers
from kassa.services.providers import Panel
from kassa.store.tables import consumer_receipts, events, payments, receipt_emails, refunds, shops

log = logging.getLogger(__name__)

NAME = "receipt-emails"
PENDING, SENT, SKIPPED, FAILED = "pending", "sent", "skipped", "failed"
#: How long a sending job keeps the row it took before another may take it: longer than
#: the slowest exchange with an SMTP server (`smtp.TIMEOUT` for each of its few steps).
LEASE = timedelta(minutes=10)
#: E-mails a round of the job sends at most.
BATCH = 20
NO_SMTP = "KASSA_SMTP_URL is not set"
NO_SENDER = "the shop has no sender address (kassa shops email SHOP ADDRESS)"


async def record(conn: AsyncConnection, event: Event) -> None:
    """The consumer's handler: the e-mail `event` calls for, if its payment has a customer
    e-mail, written as due (or skipped, if the shop has no sender)."""
    query = (
        select(payments.c.customer_email, shops.c.email_from)
        .join(shops, shops.c.id == payments.c.shop_id)
        .where(payments.c.id == event.payment_id)
    )
    found = (await conn.execute(query)).first()
    if found is None or not found.customer_email:
        return
    await conn.execute(
        receipt_emails.insert().values(
            event_id=event.id,
            shop_id=event.shop_id,
            payment_id=event.payment_id,
            refund_id=event.refund_id,
            recipient=found.customer_email,
            status=PENDING if found.email_from else SKIPPED,
            error=None if found.email_from else NO_SENDER,
            next_attempt_at=event.created_at if found.email_from else None,
            created_at=event.created_at,
            updated_at=event.created_at,
        )
    )


async def audit(conn: AsyncConnection) -> AsyncIterator[str]:
    """For `kassa audit`: no e-mail without the receipt of the event it tells of."""
    receipt = consumer_receipts.c
    orphans = (
        select(receipt_emails.c.event_id)
        .outerjoin(
            consumer_receipts,
            and_(receipt.consumer == NAME, receipt.event_id == receipt_emails.c.event_id),
        )
        .where(receipt.event_id.is_(None))
        .order_by(receipt_emails.c.event_id)
    )
    for (event_id,) in await conn.execute(orphans):
        yield f"{NAME}:{event_id}: an e-mail without the event's receipt"


CONSUMER = consumers.register(
    consumers.Consumer(
        NAME,
        (EventType.PAYMENT_SUCCEEDED.value, EventType.REFUND_SUCCEEDED.value),
        record,
        audit=audit,
    )
)


async def send_due(ctx: Context) -> int:
    """The background job: send the e-mails that are due. Returns how many it sent."""
    now = ctx.clock()
    due = select(receipt_emails.c.event_id).where(receipt_emails.c.next_attempt_at <= now)
    async with ctx.db.read() as conn:
        # Looking first keeps an idle round from taking SQLite's write lock.
        if (await conn.execute(due.limit(1))).first() is None:
            return 0
    try:
        server = ctx.settings.smtp_server
    except ValueError as exc:
        log.error("receipt e-mails wait: KASSA_SMTP_URL is not a usable SMTP URL (%s)", exc)
        return 0
    if server is None:
        skipped = await _claim(ctx, due, now, limit=BATCH)
        await _finish(ctx, skipped, status=SKIPPED, error=NO_SMTP)
        log.warning("%d receipt e-mail(s) skipped: %s", len(skipped), NO_SMTP)
        return 0
    sent = 0
    # One at a time: a row is claimed just before it is sent, so a slow server cannot make
    # the lease of rows still waiting in this worker's hands run out.
    for _ in range(BATCH):
        claimed = await _claim(ctx, due, now, limit=1)
        if not claimed:
            break
        sent += await _send(ctx, server, *claimed[0])
    return sent


async def _send(ctx: Context, server: SmtpServer, event_id: str, attempts: int) -> int:
    """Send the claimed e-mail of `event_id` and record what came of it; 1 if it was sent."""
    letter = await _letter(ctx, event_id)
    if letter is None:  # its sender was unset since
        await _finish(ctx, [(event_id, attempts)], status=SKIPPED, error=NO_SENDER)
        return 0
    try:
        message = render(letter)
    except Exception as exc:
        # A fault of the template or of an address: counted like a failure to send, so that
        # it holds up none of the others and is given up on in the end.
        failure = smtp.SendFailed(f"could not write the e-mail: {exc!r}", permanent=False)
        await _failed(ctx, event_id, attempts + 1, failure)
        return 0
    try:
        await smtp.send(server, message)
    except smtp.SendFailed as exc:
        await _failed(ctx, event_id, attempts + 1, exc)
        return 0
    sent_as = message_id(letter.event_id, letter.sender)
    await _finish(ctx, [(event_id, attempts)], status=SENT, message_id=sent_as)
    return 1


async def _claim(ctx: Context, due: Any, now: datetime, *, limit: int) -> list[tuple[str, int]]:
    """Take up to `limit` due rows for a lease; another worker skips them meanwhile."""
    row = receipt_emails.c
    async with ctx.db.write() as conn:
        taken = await conn.execute(
            update(receipt_emails)
            .where(
                row.next_attempt_at <= now,
                row.event_id.in_(
                    due.order_by(row.next_attempt_at).limit(limit).with_for_update(skip_locked=True)
                ),
            )
            .values(next_attempt_at=now + LEASE)
            .returning(row.event_id, row.attempts)
        )
        return [(event_id, attempts) for event_id, attempts in taken]


async def _finish(
    ctx: Context,
    claimed: Sequence[tuple[str, int]],
    *,
    status: str,
    error: str | None = None,
    message_id: str | None = None,
) -> None:
    if not claimed:
        return
    now = ctx.clock()
    values: dict[str, Any] = {"status": status, "error": error, "next_attempt_at": None}
    if status == SENT:
        values |= {"sent_at": now, "message_id": message_id}
    async with ctx.db.write() as conn:
        for event_id, attempts in claimed:
            await conn.execute(
                update(receipt_emails)
                .where(receipt_emails.c.event_id == event_id)
                .values(attempts=attempts + 1, updated_at=now, **values)
            )


async def _failed(ctx: Context, event_id: str, attempts: int, exc: smtp.SendFailed) -> None:
    now = ctx.clock()
    last = exc.permanent or attempts >= consumers.MAX_ATTEMPTS
    retry_at = None if last else now + consumers.RETRY_DELAYS[attempts - 1]
    async with ctx.db.write() as conn:
        await conn.execute(
            update(receipt_emails)
            .where(receipt_emails.c.event_id == event_id)
            .values(
                attempts=attempts,
                status=FAILED if last else PENDING,
                error=str(exc),
                next_attempt_at=retry_at,
                updated_at=now,
            )
        )
    if last:
        log.error("receipt e-mail for event %s given up on: %s", event_id, exc)
    else:
        log.warning(
            "receipt e-mail for event %s not sent (attempt %d): %s", event_id, attempts, exc
        )


async def _letter(ctx: Context, event_id: str) -> Letter | None:
    """What the e-mail for `event_id` says, from the payment, refund and shop as they are;
    None if the shop has no sender address now."""
    query = (
        select(
            receipt_emails.c.recipient,
            events.c.created_at.label("happened_at"),
            shops.c.name.label("shop_name"),
            shops.c.language,
            shops.c.timezone,
            shops.c.email_from,
            payments.c.id.label("payment_id"),
            payments.c.description,
            payments.c.amount,
            payments.c.currency,
            payments.c["items"],
            refunds.c.amount.label("refund_amount"),
        )
        .join(events, events.c.id == receipt_emails.c.event_id)
        .join(shops, shops.c.id == receipt_emails.c.shop_id)
        .join(payments, payments.c.id == receipt_emails.c.payment_id)
        .outerjoin(refunds, refunds.c.id == receipt_emails.c.refund_id)
        .where(receipt_emails.c.event_id == event_id)
    )
    async with ctx.db.read() as conn:
        row = (await conn.execute(query)).mappings().one()
    if not row["email_from"]:
        return None
    return Letter(
        event_id=event_id,
        kind="payment" if row["refund_amount"] is None else "refund",
        shop_name=row["shop_name"],
        language=row["language"],
        timezone=row["timezone"],
        sender=row["email_from"],
        recipient=row["recipient"],
        payment_id=row["payment_id"],
        description=row["description"],
        amount=row["amount"],
        currency=row["currency"],
        happened_at=row["happened_at"],
        lines=items_from_documents(row["items"]),
        refund_amount=row["refund_amount"],
    )


@dataclass(frozen=True, slots=True)
class ReceiptEmail:
    """A receipt e-mail as people see it (`kassa emails list`)."""

    event_id: str
    payment_id: str
    refund_id: str | None
    recipient: str
    status: str
    attempts: int
    error: str | None
    created_at: datetime
    sent_at: datetime | None


async def list_emails(
    ctx: Context, *, shop_id: str | None = None, payment_id: str | None = None, limit: int = 50
) -> list[ReceiptEmail]:
    """The newest receipt e-mails, of one shop or one payment if given."""
    query = select(receipt_emails).order_by(receipt_emails.c.created_at.desc()).limit(limit)
    if shop_id is not None:
        query = query.where(receipt_emails.c.shop_id == shop_id)
    if payment_id is not None:
        query = query.where(receipt_emails.c.payment_id == payment_id)
    async with ctx.db.read() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [
        ReceiptEmail(
            event_id=row["event_id"],
            payment_id=row["payment_id"],
            refund_id=row["refund_id"],
            recipient=row["recipient"],
            status=row["status"],
            attempts=row["attempts"],
            error=row["error"],
            created_at=row["created_at"],
            sent_at=row["sent_at"],
        )
        for row in rows
    ]


async def panels(ctx: Context, payment: Payment) -> list[Panel]:
    """The admin payment page's panel of the payment's receipt e-mails, if it has any."""
    found = await list_emails(ctx, payment_id=payment.id)
    if not found:
        return []
    rows = tuple(
        (
            each.recipient,
            each.refund_id or payment.id,
            each.status,
            each.error or "",
            (each.sent_at or each.created_at).strftime("%Y-%m-%d %H:%M:%S UTC"),
        )
        for each in reversed(found)
    )
    return [
        Panel(
            title=N_("Receipt e-mails"),
            columns=(N_("Recipient"), N_("For"), N_("Status"), N_("Why"), N_("When")),
            rows=rows,
            hint=N_("One e-mail to the customer when the payment succeeds and for each refund."),
        )
    ]
