"""Inbound provider notifications: stored raw, verified, de-duplicated, applied, answered.

The path is built for speed and for never losing anything:

1. The web layer hands over the raw body bytes and headers before any parsing.
2. The provider verifies them (over the raw bytes) and reads them; a notification that fails
   is stored as `rejected` and changes nothing.
3. One write transaction applies the updates through the transition table, writes their
   events, and stores the notification as `accepted`. Notifications that arrive together
   share that transaction (group commit, `Database.write_together`; on PostgreSQL only the
   simple ones), and each is answered once it has committed. The simple ones, a payment's
   new status by Kassa's id, are applied together by `kassa.services.notifications.batch`;
   the others each in a savepoint of their own (on PostgreSQL, a transaction). A partial
   unique index on the provider's event identity makes a duplicate's insert do nothing; the
   duplicate's savepoint is then rolled back whole and the copy stored as `duplicate`.
4. If applying fails, the notification is stored as `pending` and the provider is told to
   resend; the worker also re-applies pending notifications. So is one that could not be read
   because the provider's API did not answer (YooKassa's are re-read from the API).

A notification that asks rather than reports (CloudPayments' Check) changes nothing: it is
answered from the payment as it stands and stored as accepted, with the answer as its outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Insert, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import (
    EventSource,
    InvalidState,
    NotFound,
    NotificationRejected,
    PaymentStatus,
    PaymentUpdate,
    ProviderAccount,
    ProviderUnavailable,
    new_id,
)
from kassa.providers import (
    PROVIDERS,
    CheckResult,
    InboundRequest,
    Notification,
    PaymentCheck,
    Verdict,
)
from kassa.services.admin import audit
from kassa.services.admin.audit import Actor
from kassa.services.context import Context
from kassa.services.notifications.batch import NO_SUCH_PAYMENT, Duplicate, apply_simple, simple
from kassa.services.payments.refunds import apply_refund_update
from kassa.services.payments.transitions import apply_payment_update, find_reported
from kassa.services.shops import shops
from kassa.store.db import insert_ignoring_conflict
from kassa.store.tables import ACCEPTED, notifications

log = logging.getLogger(__name__)

#: Words in the names of headers whose values are credentials or signatures; such headers are
#: stored and shown as "[redacted]". A signature is as good as a credential to whoever holds
#: the body it signs: with both, a notification can be sent again (CloudPayments'
#: `Content-HMAC` and `X-Content-HMAC`, the sandbox's `X-Sandbox-Signature`).
_SECRET_HEADER_WORDS = (
    "auth",
    "cookie",
    "token",
    "secret",
    "api-key",
    "apikey",
    "password",
    "passwd",
    "credential",
    "session",
    "signature",
    "hmac",
)
#: Pending notifications younger than this are left to the provider's own resend.
REPROCESS_AFTER = timedelta(seconds=30)
#: After this many failed re-applications a notification stays pending for a person to look at.
MAX_ATTEMPTS = 10


@dataclass(frozen=True, slots=True)
class Result:
    """What became of one notification: its stored id, verdict, a readable outcome and, for
    a check, Kassa's answer."""

    notification_id: str
    verdict: Verdict
    outcome: str
    check: CheckResult | None = None
    #: Rejected, and not stored: its sender had sent too many rejected ones lately.
    limited: bool = False

    @property
    def answer(self) -> str:
        """What the sender is told: the outcome, except why a notification was rejected,
        which would tell whoever probes `/hooks` which shops exist (an unknown shop and a
        bad signature must look alike); the stored row keeps the reason for the shop's
        admins."""
        return NOT_ACCEPTED if self.verdict == Verdict.REJECTED else self.outcome


#: The longest event identity (`Notification.event_key`) stored; a longer one is unreadable.
EVENT_KEY_LENGTH = 255
#: The answer to every rejected notification, whatever the reason.
NOT_ACCEPTED = "not accepted"


@dataclass(frozen=True, slots=True)
class Stored:
    """A notification as stored: the raw request (secret headers redacted) and its verdict."""

    id: str
    provider: str
    kind: str | None
    method: str
    source_ip: str | None
    headers: Mapping[str, str]
    query: str
    body: bytes
    received_at: datetime
    verdict: str
    reason: str | None
    outcome: str | None
    attempts: int
    shop_id: str | None = None
    shop_ref: str = ""
    payment_id: str | None = None
    #: The length of the body received; more than `len(body)` when only its start was kept.
    body_length: int | None = None

    @property
    def cut(self) -> bool:
        """Whether only the start of the body was kept (a rejected notification's)."""
        return self.body_length is not None and self.body_length > len(self.body)

    @property
    def text(self) -> str:
        """The body as text (bytes that are not UTF-8 shown as replacement characters)."""
        return self.body.decode("utf-8", errors="replace")


async def for_payment(ctx: Context, *, payment_id: str) -> list[Stored]:
    """The notifications applied to a payment, oldest first (for operators)."""
    query = (
        select(notifications)
        .where(notifications.c.payment_id == payment_id)
        .order_by(notifications.c.received_at, notifications.c.id)
    )
    async with ctx.db.read() as conn:
        rows = list((await conn.execute(query)).mappings())
    return [_stored(row) for row in rows]


def _stored(row: Any) -> Stored:
    return Stored(
        id=row["id"],
        provider=row["provider"],
        kind=row["kind"],
        method=row["method"],
        source_ip=row["source_ip"],
        # Stored redacted already; redacted again in case the word list has grown since.
        headers=redact(row["headers"]),
        query=row["query"],
        body=row["body"],
        received_at=row["received_at"],
        verdict=row["verdict"],
        reason=row["reason"],
        outcome=row["outcome"],
        attempts=row["attempts"],
        shop_id=row["shop_id"],
        shop_ref=row["shop_ref"],
        payment_id=row["payment_id"],
        body_length=row["body_length"],
    )


@dataclass(frozen=True, slots=True)
class InboxFilter:
    """Which notifications the inbox lists; `None` is no condition."""

    provider: str | None = None
    shop_id: str | None = None
    #: The shop name in the notification's URL (there may be no such shop).
    shop_ref: str | None = None
    verdict: str | None = None
    received_gte: datetime | None = None
    received_lt: datetime | None = None


async def inbox(
    ctx: Context, found: InboxFilter, *, limit: int = 50, before: str | None = None
) -> tuple[list[Stored], bool]:
    """Notifications newest first (ids sort by time), older than the id `before`, and
    whether more follow."""
    conditions = [
        column == value
        for column, value in (
            (notifications.c.provider, found.provider),
            (notifications.c.shop_id, found.shop_id),
            (notifications.c.shop_ref, found.shop_ref),
            (notifications.c.verdict, found.verdict),
        )
        if value is not None
    ]
    if found.received_gte is not None:
        conditions.append(notifications.c.received_at >= found.received_gte)
    if found.received_lt is not None:
        conditions.append(notifications.c.received_at < found.received_lt)
    if before is not None:
        conditions.append(notifications.c.id < before)
    query = (
        select(notifications)
        .where(*conditions)
        .order_by(notifications.c.id.desc())
        .limit(limit + 1)
    )
    async with ctx.db.read() as conn:
        rows = list((await conn.execute(query)).mappings())
    return [_stored(row) for row in rows[:limit]], len(rows) > limit


async def get_notification(ctx: Context, *, notification_id: str) -> Stored:
    """One stored notification; `NotFound` if there is none."""
    query = select(notifications).where(notifications.c.id == notification_id)
    async with ctx.db.read() as conn:
        row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"No notification {notification_id!r}", param="notification")
    return _stored(row)


async def reprocess_one(ctx: Context, *, notification_id: str, actor: Actor) -> Stored:
    """Apply one pending notification now, on a person's request: the worker's path
    (`_reprocess`), without its wait and attempt limit. Only a pending notification can be
    re-processed: a rejected one failed verification, which cannot be repeated once its
    secret-bearing headers are redacted, and an accepted or duplicate one is settled. The
    request is written to the audit log (`notification.reprocess`) with what came of it."""
    query = select(notifications).where(notifications.c.id == notification_id)
    async with ctx.db.read() as conn:
        row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"No notification {notification_id!r}", param="notification")
    if row["verdict"] != Verdict.PENDING.value:
        await audit.record_now(
            ctx,
            actor=actor,
            action="notification.reprocess",
            object_id=notification_id,
            shop_id=row["shop_id"],
            outcome=f"refused: it is {row['verdict']}",
        )
        raise InvalidState(
            f"Only a pending notification can be re-processed, not a {row['verdict']} one"
        )
    await _reprocess(ctx, row)
    after = await get_notification(ctx, notification_id=notification_id)
    await audit.record_now(
        ctx,
        actor=actor,
        action="notification.reprocess",
        object_id=notification_id,
        shop_id=after.shop_id,
        outcome=after.verdict,
        details={"outcome": after.outcome or after.reason or ""},
    )
    return after


def redact(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with credential-bearing values replaced, for storage and display."""
    return {
        name: "[redacted]" if any(word in name.lower() for word in _SECRET_HEADER_WORDS) else value
        for name, value in headers.items()
    }


def _always() -> bool:
    return True


async def receive(
    ctx: Context,
    *,
    provider: str,
    shop_ref: str,
    request: InboundRequest,
    may_store_rejected: Callable[[], bool] = _always,
) -> Result:
    """Verify, store and apply one notification; see the module docstring.

    A notification that is rejected is stored only if `may_store_rejected()` says so (the
    web layer's limit of rejected notifications per sender); otherwise nothing is written
    and the result is `limited`. It is asked only once a notification has been rejected, so
    a verified notification is never limited, whoever else sends from its address."""
    now = ctx.clock()
    row = _row(provider=provider, shop_ref=shop_ref, request=request, now=now)

    async def reject(reason: str) -> Result:
        if not may_store_rejected():
            return Result("", Verdict.REJECTED, reason, limited=True)
        return await _store(ctx, _rejected(row), Verdict.REJECTED, reason)

    if request.kind is not None and not PROVIDERS[provider].hook_kinds:
        return await reject(
            f"{provider} notifications come to /hooks/{provider}/<shop>, with nothing after it"
        )
    accounts = await shops.hook_accounts(ctx, shop_name=shop_ref, provider=provider)
    if not accounts:
        return await reject(f"no enabled {provider} account for shop {shop_ref!r}")
    try:
        account, parsed, error = await _verify(ctx, accounts, request)
    except _Unread as exc:
        row.update(shop_id=exc.account.shop_id, account_id=exc.account.id)
        return await _store(ctx, row, Verdict.PENDING, f"{exc.reason}; will be retried")
    row.update(shop_id=account.shop_id, account_id=account.id)
    if parsed is not None and len(parsed.event_key or "") > EVENT_KEY_LENGTH:
        parsed, error = None, f"the event's identity is longer than {EVENT_KEY_LENGTH} characters"
    if parsed is None:
        return await reject(error)
    if parsed.check is not None:
        return await _answer_check(ctx, row, account, parsed.check)
    return await _accept(ctx, row, account, parsed)


async def _accept(
    ctx: Context, row: dict[str, Any], account: ProviderAccount, parsed: Notification
) -> Result:
    """Apply a verified notification and store it as accepted, in one commit; or store it as
    a duplicate, or as pending if applying failed."""
    now = row["received_at"]
    row["event_key"] = parsed.event_key

    async def apply_and_store(conn: AsyncConnection) -> str:
        outcome, payment_id = await _apply(conn, account, parsed, now=now)
        row.update(payment_id=payment_id, processed_at=now)
        if not await _insert_accepted(ctx, conn, row, outcome):
            raise Duplicate
        return outcome

    batchable = simple(row, account, parsed)
    try:
        # Concurrent notifications share a commit (see the module docstring), and the simple
        # ones are applied together (`kassa.services.notifications.batch`).
        outcome = await ctx.db.write_together(
            apply_and_store, batch=apply_simple if batchable else None, item=batchable
        )
    except Duplicate:
        return await _store(ctx, row, Verdict.DUPLICATE, _DUPLICATE)
    except Exception:
        log.exception("applying %s notification %s failed", account.provider, row["id"])
        row.update(processed_at=None, payment_id=None)
        return await _store(ctx, row, Verdict.PENDING, "applying failed; will be retried")
    return Result(row["id"], Verdict.ACCEPTED, outcome)


_DUPLICATE = "the same event was accepted before"


class _Unread(Exception):
    """The notification verified as far as it could, but reading it needs the provider's API,
    which did not answer: keep it pending rather than reject it."""

    def __init__(self, account: ProviderAccount, reason: str) -> None:
        super().__init__(reason)
        self.account = account
        self.reason = reason


async def _answer_check(
    ctx: Context, row: dict[str, Any], account: ProviderAccount, check: PaymentCheck
) -> Result:
    """Answer a provider's "may I charge?" from the payment as it stands, and store it."""
    async with ctx.db.read() as conn:
        payment = await find_reported(
            conn, account=account, payment_id=check.payment_id, provider_payment_id=None
        )
    if payment is None:
        answer = CheckResult.UNKNOWN_PAYMENT
    elif (payment.amount, payment.currency) != (check.amount.amount, check.amount.currency):
        answer = CheckResult.WRONG_AMOUNT
    elif payment.status == PaymentStatus.EXPIRED or (
        payment.status == PaymentStatus.PENDING
        and payment.expires_at is not None
        and payment.expires_at <= ctx.clock()
    ):
        answer = CheckResult.EXPIRED
    elif payment.status != PaymentStatus.PENDING:
        answer = CheckResult.NOT_PAYABLE
    else:
        answer = CheckResult.ACCEPT
    row.update(payment_id=payment.id if payment else None, processed_at=row["received_at"])
    stored = await _store(ctx, row, Verdict.ACCEPTED, f"check answered: {answer.value}")
    return Result(stored.notification_id, stored.verdict, stored.outcome, check=answer)


async def _verify(
    ctx: Context, accounts: list[ProviderAccount], request: InboundRequest
) -> tuple[ProviderAccount, Notification | None, str]:
    """The account whose credentials verify the request, and what it says; or the last
    account tried, nothing, and why. Raises `_Unread` if the provider's API is needed to read
    it and did not answer."""
    error = ""
    for account in accounts:
        try:
            return account, await ctx.gateways.for_account(account).parse_notification(request), ""
        except NotificationRejected as exc:
            error = exc.message
        except ProviderUnavailable as exc:
            raise _Unread(account, exc.message) from exc
        except Exception as exc:  # a provider module's bug must not lose the notification
            log.exception("verifying a %s notification failed", account.provider)
            error = f"verification failed unexpectedly ({type(exc).__name__})"
    return accounts[-1], None, error


async def _apply(
    conn: AsyncConnection, account: ProviderAccount, parsed: Notification, *, now: datetime
) -> tuple[str, str | None]:
    """Apply every update of a verified notification; the outcome text and the payment."""
    outcomes: list[str] = []
    payment_id: str | None = None
    for reported in parsed.updates:
        payment = await find_reported(
            conn,
            account=account,
            payment_id=reported.payment_id,
            provider_payment_id=reported.provider_payment_id,
        )
        if payment is None:
            outcomes.append(NO_SUCH_PAYMENT)
            continue
        payment_id = payment.id
        if isinstance(reported, PaymentUpdate):
            applied = await apply_payment_update(
                conn, payment=payment, reported=reported, source=EventSource.PROVIDER, now=now
            )
            outcomes.append(applied.outcome)
        else:
            refund = await apply_refund_update(
                conn, payment=payment, reported=reported, source=EventSource.PROVIDER, now=now
            )
            outcomes.append(refund.outcome)
    return "; ".join(outcomes) or "nothing to apply", payment_id


def _row(*, provider: str, shop_ref: str, request: InboundRequest, now: datetime) -> dict[str, Any]:
    return {
        "id": new_id("ntf"),
        "provider": provider,
        "shop_id": None,
        "shop_ref": _column_text(shop_ref, 255),
        "account_id": None,
        "kind": None if request.kind is None else _column_text(request.kind, 32),
        "method": request.method,
        "source_ip": None if request.source_ip is None else _column_text(request.source_ip, 64),
        "headers": redact(request.headers),
        "query": request.query,
        "body": request.body,
        "body_length": len(request.body),
        "received_at": now,
        "event_key": None,
        "payment_id": None,
        "processed_at": None,
    }


#: What a rejected notification keeps of its body and query: enough to see what it was.
REJECTED_BODY_BYTES = 4096
#: What it keeps of its headers: at most this many, each value cut to `REJECTED_HEADER_CHARS`
#: (the body limit does not bound headers).
REJECTED_HEADERS = 64
REJECTED_HEADER_CHARS = 1024
#: The longest reason or outcome stored (a reason may quote what it could not read).
REASON_CHARS = 2000


def _rejected(row: dict[str, Any]) -> dict[str, Any]:
    """A rejected notification's row: its headers, the start of its body and query, and the
    body's whole length, not the whole request, so that nobody can fill the disk through
    `/hooks` (rejected ones are also limited per sender and expire)."""
    headers = list(row["headers"].items())[:REJECTED_HEADERS]
    return {
        **row,
        "headers": {name[:256]: value[:REJECTED_HEADER_CHARS] for name, value in headers},
        "body": row["body"][:REJECTED_BODY_BYTES],
        "query": row["query"][:REJECTED_BODY_BYTES],
    }


def _column_text(value: str, limit: int) -> str:
    """Text from the request's path or peer as a column holds it on both databases: at most
    `limit` characters, and NUL, which PostgreSQL's text refuses, as U+FFFD."""
    return value.replace("\x00", "\ufffd")[:limit]


async def _insert_accepted(
    ctx: Context, conn: AsyncConnection, row: dict[str, Any], outcome: str
) -> bool:
    """Store the notification as accepted, unless its event was accepted before."""
    values = {**row, "verdict": Verdict.ACCEPTED.value, "outcome": outcome}
    return (await conn.execute(_accepted_insert(ctx.db.dialect), values)).first() is not None


@cache
def _accepted_insert(dialect: str) -> Insert:
    """The insert of an accepted notification, built once per dialect (values are given at
    execution, and a reused statement is not traversed again for SQLAlchemy's cache key)."""
    return insert_ignoring_conflict(
        dialect,
        notifications,
        index_elements=["provider", "shop_id", "event_key"],
        # PostgreSQL matches an ON CONFLICT target to a partial index only by the same
        # predicate, written as a literal (a bound parameter does not match).
        index_where=ACCEPTED,
    ).returning(notifications.c.id)


async def _store(ctx: Context, row: dict[str, Any], verdict: Verdict, reason: str) -> Result:
    values = {**row, "verdict": verdict.value}
    reason = reason[:REASON_CHARS]
    values["reason" if verdict in (Verdict.REJECTED, Verdict.DUPLICATE) else "outcome"] = reason
    async with ctx.db.write() as conn:
        await conn.execute(insert(notifications), values)
    return Result(row["id"], verdict, reason)


async def reprocess_pending(ctx: Context, *, limit: int = 100) -> int:
    """Apply notifications stored as `pending` (applying failed, or the process died);
    returns how many were settled."""
    cutoff = ctx.clock() - REPROCESS_AFTER
    query = (
        select(notifications)
        .where(notifications.c.verdict == Verdict.PENDING.value)
        .where(notifications.c.received_at < cutoff)
        .where(notifications.c.attempts < MAX_ATTEMPTS)
        .order_by(notifications.c.received_at)
        .limit(limit)
    )
    async with ctx.db.read() as conn:
        rows = list((await conn.execute(query)).mappings())
    settled = 0
    for row in rows:
        if await _reprocess(ctx, row):
            settled += 1
    return settled


async def _reprocess(ctx: Context, row: Any) -> bool:
    """Apply one pending notification. The row is claimed first, inside the transaction, so
    concurrent workers cannot apply it twice; an event accepted meanwhile (the provider
    resent it) makes this copy a duplicate."""
    account = await shops.get_account(ctx, account_id=row["account_id"])
    request = InboundRequest(
        method=row["method"],
        headers=row["headers"],
        body=row["body"],
        query=row["query"],
        kind=row["kind"],
        source_ip=row["source_ip"],
    )
    now = ctx.clock()
    this = notifications.c.id == row["id"]
    try:
        # It was verified when it arrived; its secret-bearing headers are redacted by now.
        parsed = await ctx.gateways.for_account(account).parse_notification(request, verify=False)
        async with ctx.db.write() as conn:
            claimed = await conn.execute(
                update(notifications)
                .where(this, notifications.c.verdict == Verdict.PENDING.value)
                .values(
                    verdict=Verdict.ACCEPTED.value,
                    event_key=parsed.event_key,
                    processed_at=now,
                    attempts=notifications.c.attempts + 1,
                )
                .returning(notifications.c.id)
            )
            if claimed.first() is None:
                return False  # another worker settled it
            outcome, payment_id = await _apply(conn, account, parsed, now=now)
            await conn.execute(
                update(notifications).where(this).values(outcome=outcome, payment_id=payment_id)
            )
    except IntegrityError:
        async with ctx.db.write() as conn:
            await conn.execute(
                update(notifications)
                .where(this)
                .values(verdict=Verdict.DUPLICATE.value, reason=_DUPLICATE)
            )
    except NotificationRejected as exc:
        # Reading it needed the provider's API, which now refuses it (a notification posted
        # to another kind's URL, say): it changed nothing and never will.
        async with ctx.db.write() as conn:
            await conn.execute(
                update(notifications)
                .where(this, notifications.c.verdict == Verdict.PENDING.value)
                .values(
                    verdict=Verdict.REJECTED.value,
                    reason=exc.message[:REASON_CHARS],
                    attempts=notifications.c.attempts + 1,
                )
            )
    except Exception:
        log.exception("re-applying notification %s failed", row["id"])
        async with ctx.db.write() as conn:
            await conn.execute(
                update(notifications).where(this).values(attempts=notifications.c.attempts + 1)
            )
        return False
    return True


#: Rejected notifications deleted per transaction when they expire (small, so the SQLite
#: writer, which runs on the event loop, is never held long).
PRUNE_BATCH = 500


async def prune_rejected(ctx: Context) -> int:
    """Delete rejected notifications older than `KASSA_REJECTED_NOTIFICATION_RETENTION_DAYS`,
    a batch per transaction; returns how many. Found through the partial index
    `ix_notifications_rejected`. Verified notifications are kept: they are the record of
    what changed payments."""
    cutoff = ctx.clock() - timedelta(days=ctx.settings.rejected_notification_retention_days)
    return await ctx.db.delete_in_batches(
        notifications,
        notifications.c.verdict == Verdict.REJECTED.value,
        notifications.c.received_at < cutoff,
        batch=PRUNE_BATCH,
    )
