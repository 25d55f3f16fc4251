"""Payments: create, read, list, capture, cancel and refresh them, as a caller asks.

Every status change goes through `transition`: the domain table is checked, then one
conditional `UPDATE … WHERE status IN (allowed sources)` runs in the same transaction as the
event it writes, so concurrent duplicates (two notifications, a notification and an API call)
cannot both win.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    insert,
    select,
)

from kassa.domain import (
    AmountInvalid,
    CurrencyUnsupported,
    EventSource,
    EventType,
    MethodUnsupported,
    Money,
    NotFound,
    NotSupported,
    ParameterInvalid,
    Payment,
    PaymentStatus,
    PaymentUpdate,
    can_refresh,
    check_cancel,
    check_capture,
    new_id,
)
from kassa.domain.checks import first_check
from kassa.domain.devices import DeviceKind
from kassa.domain.receipts import ReceiptItem, build_receipt, read_email, read_items, read_phone
from kassa.providers import PaymentRequest, Provider
from kassa.services import idempotency
from kassa.services import providers as provider_state
from kassa.services.callers import Caller
from kassa.services.context import Context
from kassa.services.devices.queue import NewOperation, enqueue
from kassa.services.events import outbox as events
from kassa.services.objects import confirmation_object
from kassa.services.pagination import Page, PageRequest, fetch_page
from kassa.services.payments.transitions import (
    Witnessed,
    apply_payment_update,
    apply_update,
)
from kassa.services.shops import shops
from kassa.store import records
from kassa.store.tables import payments

log = logging.getLogger(__name__)

MIN_EXPIRES_IN = 60
MAX_EXPIRES_IN = 30 * 86_400

#: The longest text each field of a new payment may have (what its column holds, or less).
MAX_LENGTHS = {
    "provider": 32,
    "method": 32,
    "description": 1000,
    "customer": 255,
    "return_url": 2048,
    "terminal": 64,
}
MAX_METADATA_KEYS = 50
MAX_METADATA_KEY = 40
MAX_METADATA_VALUE = 500

NUL = "\x00"

#: Built once: the values are given at execution, so SQLAlchemy reuses its compiled form.
_INSERT = insert(payments)


def metadata_problem(metadata: Mapping[str, object]) -> str | None:
    """What is wrong with a payment's metadata, or None: up to 50 keys of 1-40 characters,
    each a string of at most 500, and no NUL anywhere (the database cannot hold it)."""
    if len(metadata) > MAX_METADATA_KEYS:
        return f"at most {MAX_METADATA_KEYS} keys"
    for key, value in metadata.items():
        if not isinstance(value, str):
            return "values are strings"
        if not 0 < len(key) <= MAX_METADATA_KEY or len(value) > MAX_METADATA_VALUE:
            return f"keys are 1-{MAX_METADATA_KEY} characters, values at most {MAX_METADATA_VALUE}"
        if NUL in key or NUL in value:
            return "keys and values may not contain the NUL character (U+0000)"
    return None


@dataclass(frozen=True, slots=True)
class NewPayment:
    """What a merchant asks for when creating a payment."""

    amount: int
    currency: str
    provider: str | None = None
    method: str | None = None
    description: str | None = None
    customer: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    capture: bool = True
    return_url: str | None = None
    expires_in: int | None = None
    terminal: str | None = None
    customer_email: str | None = None
    customer_phone: str | None = None
    #: The receipt's lines as the API took them (`kassa.domain.receipts.read_items`).
    items: list[dict[str, Any]] | None = None

    def check(self) -> None:
        """Refuse text Kassa could not store (too long for its column, or with a NUL, which
        PostgreSQL cannot hold), so that nothing fails once the provider has been asked."""
        for name, limit in MAX_LENGTHS.items():
            value: str | None = getattr(self, name)
            if value is None:
                continue
            if len(value) > limit:
                raise ParameterInvalid(f"{name} is longer than {limit} characters", param=name)
            if NUL in value:
                raise ParameterInvalid(f"{name} contains the NUL character (U+0000)", param=name)
        problem = metadata_problem(self.metadata)
        if problem is not None:
            raise ParameterInvalid(f"metadata: {problem}", param="metadata")

    def receipt_fields(self) -> tuple[str | None, str | None, tuple[ReceiptItem, ...]]:
        """The customer's e-mail and phone and the receipt's lines, checked (the lines must
        add up to the amount)."""
        return (
            read_email(self.customer_email) if self.customer_email is not None else None,
            read_phone(self.customer_phone) if self.customer_phone is not None else None,
            read_items(self.items, amount=self.amount) if self.items is not None else (),
        )


async def create_payment(
    ctx: Context, *, caller: Caller, params: NewPayment, payment_id: str | None = None
) -> Payment:
    """Create a payment at its provider, then record it with its `payment.created` event.

    The provider is called first and Kassa's id is its idempotency key, so an outage leaves
    nothing half-written here, and a retry with the same `payment_id` (a replayed
    Idempotency-Key) can never make a second payment at the provider. Everything that can
    refuse the payment is checked before the provider is called, so a refused create leaves
    no payment at the provider that Kassa does not know.

    The payment is written in one transaction with its event and, under an Idempotency-Key,
    the key's answer (`idempotency.transaction`): so no payment exists yet under a reserved id
    whose key is still open, and nothing is read before the provider is called.
    """
    params.check()
    customer_email, customer_phone, items = params.receipt_fields()
    money = Money(params.amount, params.currency)
    if money.amount == 0:
        raise AmountInvalid("amount must be positive")
    expires_in = params.expires_in or ctx.settings.payment_expires_in
    if not MIN_EXPIRES_IN <= expires_in <= MAX_EXPIRES_IN:
        raise ParameterInvalid(
            f"expires_in must be between {MIN_EXPIRES_IN} and {MAX_EXPIRES_IN} seconds",
            param="expires_in",
        )
    account = await shops.choose_account(
        ctx,
        shop=caller.own_shop,
        test=caller.own_mode,
        provider=params.provider,
        terminal=params.terminal,
    )
    gateway = ctx.gateways.for_account(account)
    _check_offer(gateway, params)
    receipt = build_receipt(
        caller.own_shop.fiscal if gateway.sends_receipts else None,
        amount=money.amount,
        items=items,
        description=params.description,
        email=customer_email,
        phone=customer_phone,
    )
    now = ctx.clock()
    payment = Payment(
        id=payment_id or new_id("pay"),
        shop_id=caller.own_shop.id,
        test=caller.own_mode,
        provider=account.provider,
        provider_account_id=account.id,
        method=params.method,
        status=PaymentStatus.PENDING,
        amount=money.amount,
        currency=money.currency,
        capture=params.capture,
        description=params.description,
        customer=params.customer,
        metadata=params.metadata,
        return_url=params.return_url,
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(seconds=expires_in),
        customer_email=customer_email,
        customer_phone=customer_phone,
        items=items,
        receipt=receipt,
    )
    request = PaymentRequest(
        payment_id=payment.id,
        amount=payment.amount,
        currency=payment.currency,
        capture=payment.capture,
        method=payment.method,
        description=payment.description,
        customer=payment.customer,
        return_url=payment.return_url,
        expires_at=payment.expires_at,
        metadata=payment.metadata,
        terminal=params.terminal,
        created_at=now,
        receipt=receipt,
    )
    created = await gateway.create(await provider_state.prepare(ctx, account, request))
    payment = replace(
        payment,
        provider_payment_id=created.provider_payment_id,
        confirmation=confirmation_object(created.confirmation) if created.confirmation else None,
        receipt_status=created.receipt_status,
        poll_every=created.poll_every,
    )
    async with idempotency.transaction(ctx) as conn:
        await conn.execute(
            _INSERT,
            {
                **records.payment_values(payment),
                "next_check_at": first_check(payment, every=gateway.poll_interval),
            },
        )
        await events.record(
            conn, type=EventType.PAYMENT_CREATED, source=caller.source, now=now, subject=payment
        )
        if created.operation is not None:
            await enqueue(
                conn,
                shop_id=payment.shop_id,
                new=NewOperation(
                    device_id=created.operation.terminal,
                    device_kind=DeviceKind.TERMINAL,
                    kind=created.operation.kind,
                    body=created.operation.body,
                    deadline=created.operation.deadline,
                    payment_id=payment.id,
                ),
                now=now,
            )
        if created.status != PaymentStatus.PENDING:
            applied = await apply_payment_update(
                conn,
                payment=payment,
                reported=PaymentUpdate(status=created.status),
                source=EventSource.PROVIDER,
                now=now,
            )
            payment = applied.payment
    return payment


def _check_offer(gateway: Provider, params: NewPayment) -> None:
    if gateway.currencies is not None and params.currency not in gateway.currencies:
        raise CurrencyUnsupported(
            params.currency, reason=f"{gateway.title} does not take {params.currency}"
        )
    if params.method is not None and params.method not in gateway.methods:
        offered = ", ".join(sorted(gateway.methods))
        raise MethodUnsupported(
            f"{gateway.title} has no method {params.method!r}; it offers: {offered}",
            param="method",
        )
    if not params.capture and not gateway.capabilities.two_stage:
        raise NotSupported(f"{gateway.title} has no two-stage payments (capture: false)")


async def _find(ctx: Context, caller: Caller, payment_id: str) -> Payment | None:
    query = select(payments).where(
        payments.c.id == payment_id,
        *caller.scope(payments),
    )
    async with ctx.db.read() as conn:
        row = (await conn.execute(query)).mappings().first()
    return records.payment(row) if row else None


async def get_payment(ctx: Context, *, caller: Caller, payment_id: str) -> Payment:
    """The caller's payment `payment_id`, or `NotFound` (also for other shops' and modes')."""
    payment = await _find(ctx, caller, payment_id)
    if payment is None:
        raise NotFound(f"No payment {payment_id!r}", param="id")
    return payment


async def list_payments(
    ctx: Context,
    *,
    caller: Caller,
    page: PageRequest,
    status: PaymentStatus | None = None,
    provider: str | None = None,
    customer: str | None = None,
    created_gte: datetime | None = None,
    created_lt: datetime | None = None,
) -> Page[Payment]:
    """The caller's payments, newest first, filtered."""
    conditions = list(caller.scope(payments))
    if status is not None:
        conditions.append(payments.c.status == status.value)
    if provider is not None:
        conditions.append(payments.c.provider == provider)
    if customer is not None:
        conditions.append(payments.c.customer == customer)
    if created_gte is not None:
        conditions.append(payments.c.created_at >= created_gte)
    if created_lt is not None:
        conditions.append(payments.c.created_at < created_lt)
    async with ctx.db.read() as conn:
        found = await fetch_page(conn, payments, conditions, page)
    return found.map(records.payment)


async def gateway_for(ctx: Context, payment: Payment) -> Provider:
    """The provider the payment was made through, with its account's credentials."""
    account = await shops.get_account(ctx, account_id=payment.provider_account_id)
    return ctx.gateways.for_account(account)


async def capture_payment(
    ctx: Context, *, caller: Caller, payment_id: str, amount: int | None = None
) -> Payment:
    """Take all or part (once) of a held payment."""
    payment = await get_payment(ctx, caller=caller, payment_id=payment_id)
    amount = check_capture(payment, amount)
    gateway = await gateway_for(ctx, payment)
    if amount < payment.amount and not gateway.capabilities.partial_capture:
        raise NotSupported(f"{gateway.title} cannot capture part of a payment")
    reported = await gateway.capture(payment, amount)
    return await apply_update(
        ctx,
        payment=payment,
        reported=reported,
        source=caller.source,
        witness=Witnessed(caller, "payment.capture", {"amount": amount}),
    )


async def cancel_payment(ctx: Context, *, caller: Caller, payment_id: str) -> Payment:
    """Cancel a payment nobody has paid yet, or release a hold."""
    payment = await get_payment(ctx, caller=caller, payment_id=payment_id)
    check_cancel(payment)
    gateway = await gateway_for(ctx, payment)
    reported = await gateway.cancel(payment)
    return await apply_update(
        ctx,
        payment=payment,
        reported=reported,
        source=caller.source,
        witness=Witnessed(caller, "payment.cancel"),
    )


async def refresh_payment(ctx: Context, *, caller: Caller, payment_id: str) -> Payment:
    """Ask the provider about an open payment now and apply what it says, as reconciliation
    (the "check payment" button); a payment whose outcome is settled is returned as it is."""
    payment = await get_payment(ctx, caller=caller, payment_id=payment_id)
    if not can_refresh(payment):
        return payment
    gateway = await gateway_for(ctx, payment)
    reported = await gateway.fetch(payment)
    return await apply_update(
        ctx,
        payment=payment,
        reported=reported,
        source=EventSource.RECONCILIATION,
        witness=Witnessed(caller, "payment.refresh"),
    )


async def find_payment(ctx: Context, *, payment_id: str) -> Payment:
    """Any payment by id, for operators; `NotFound` if there is none."""
    async with ctx.db.read() as conn:
        row = (
            (await conn.execute(select(payments).where(payments.c.id == payment_id)))
            .mappings()
            .first()
        )
    if row is None:
        raise NotFound(f"No payment {payment_id!r}", param="id")
    return records.payment(row)
