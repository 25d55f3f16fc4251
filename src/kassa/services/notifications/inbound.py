"""Inbound provider notifications: stored raw, verified, de-duplicated, applied, answered.

The path is built for speed and for never losing anything:

1. The web layer hands over the raw body bytes and headers before any parsing.
2. The provider verifies them (over the raw bytes) and reads them; a notification that fails
   is stored as `rejected` and changes nothing.
3. One write transaction applies the updates through the transition table, writes their
   events, and stores the notification as `accepted` (`kassa.services.notifications.applying`,
   the one definition of what applying decides and writes). Notifications that arrive
   together share that transaction (group commit, `Database.write_together`; on PostgreSQL
   only the simple ones), and each is answered once it has committed. The simple ones, a
   payment's new status by Kassa's id, are applied together (`kassa.services.notifications.
   batch`); the others each in a savepoint of their own (on PostgreSQL, a transaction). A
   partial unique index on the provider's event identity makes a duplicate's insert do
   nothing; the duplicate's savepoint is then rolled back whole and the copy stored as
   `duplicate`.
4. If applying fails, the notification is stored as `pending` and the provider is told to
   resend; the worker re-applies pending notifications (`reprocess_pending`), and so can a
   person (`reprocess_one`). So is one that could not be read because the provider's API did
   not answer (YooKassa's are re-read from the API).

Rejected notifications keep only part of the request (`kassa.services.notifications.
rejected`); people read what is stored through `kassa.services.notifications.inbox`.

A notification that asks rather than reports (CloudPayments' Check) changes nothing: it is
answered from the payment as it stands and stored as accepted, with the answer as its outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from kassa.domain import (
    InvalidState,
    NotFound,
    NotificationRejected,
    PaymentStatus,
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
from kassa.services.notifications import rejected
from kassa.services.notifications.applying import Duplicate, Verified, apply_alone, reapply
from kassa.services.notifications.batch import apply_together, simple
from kassa.services.notifications.inbox import Stored, get_notification, redact
from kassa.services.payments.transitions import find_reported
from kassa.services.shops import shops
from kassa.store.tables import notifications

log = logging.getLogger(__name__)

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
        return await _store(ctx, rejected.kept(row), Verdict.REJECTED, reason)

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
    row["event_key"] = parsed.event_key
    item = Verified(row, account, parsed, now=row["received_at"])
    try:
        # Concurrent notifications share a commit (see the module docstring), and the simple
        # ones are applied together (`kassa.services.notifications.batch`).
        outcome = await ctx.db.write_together(
            lambda conn: apply_alone(conn, item),
            batch=apply_together if simple(item) else None,
            item=item,
        )
    except Duplicate as exc:
        row.update(payment_id=exc.payment_id, processed_at=item.now)
        return await _store(ctx, row, Verdict.DUPLICATE, _DUPLICATE)
    except Exception:
        log.exception("applying %s notification %s failed", account.provider, row["id"])
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


#: The longest reason or outcome stored (a reason may quote what it could not read).
REASON_CHARS = 2000


def _column_text(value: str, limit: int) -> str:
    """Text from the request's path or peer as a column holds it on both databases: at most
    `limit` characters, and NUL, which PostgreSQL's text refuses, as U+FFFD."""
    return value.replace("\x00", "\ufffd")[:limit]


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


async def reprocess_one(ctx: Context, *, notification_id: str, actor: Actor) -> Stored:
    """Apply one pending notification now, on a person's request: the worker's path
    (`reprocess_pending`), without its wait and attempt limit. Only a pending notification
    can be re-processed: a rejected one failed verification, which cannot be repeated once
    its secret-bearing headers are redacted, and an accepted or duplicate one is settled. The
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


async def _reprocess(ctx: Context, row: Any) -> bool:
    """Apply one pending notification (`reapply`); an event accepted meanwhile (the provider
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
    this = notifications.c.id == row["id"]
    try:
        # It was verified when it arrived; its secret-bearing headers are redacted by now.
        parsed = await ctx.gateways.for_account(account).parse_notification(request, verify=False)
        item = Verified(dict(row), account, parsed, now=ctx.clock())
        async with ctx.db.write() as conn:
            if not await reapply(conn, item):
                return False  # another worker settled it
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
