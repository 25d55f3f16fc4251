"""The sandbox acquirer: the provider side of the sandbox, served by Kassa itself.

It keeps its own records (`sandbox_payments`, `sandbox_refunds`), apart from Kassa's payments,
exactly as a real provider would: Kassa's `SandboxProvider` reaches it only through its API
(`sandbox_api`: HTTP requests, answered in-process where this process serves it), and learns
what the payer did only from its signed notifications. The hosted checkout
page calls `payer_action`, which changes the acquirer's record and sends the notification.
"""

from __future__ import annotations

import hmac
import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any

from sqlalchemy import Insert, RowMapping, bindparam, insert, select, update

from kassa.domain import KassaError, Money, ProviderAccount, new_id
from kassa.providers.sandbox import SIGNATURE_HEADER, SandboxStatus, sign
from kassa.providers.wire import parse_value_amount, value_amount
from kassa.services.context import Context
from kassa.services.objects import timestamp
from kassa.services.shops.shops import list_accounts
from kassa.store.db import insert_ignoring_conflict
from kassa.store.tables import sandbox_payments, sandbox_refunds, shops

log = logging.getLogger(__name__)


class AcquirerError(Exception):
    """An error answer of the acquirer's API: HTTP status, code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class PayerAction(StrEnum):
    """What the tester can do on the checkout page."""

    PAY = "pay"
    AUTHORIZE = "authorize"
    DECLINE = "decline"


@dataclass(frozen=True, slots=True)
class Checkout:
    """What the hosted checkout page shows."""

    sandbox_id: str
    shop_name: str
    amount: Money
    description: str | None
    status: SandboxStatus
    capture: bool
    return_url: str | None
    notified: bool | None = None


def _status(row: RowMapping, now: datetime) -> SandboxStatus:
    status = SandboxStatus(row["status"])
    if status == SandboxStatus.PENDING and row["expires_at"] and row["expires_at"] <= now:
        return SandboxStatus.EXPIRED
    return status


def _object(ctx: Context, row: RowMapping) -> dict[str, Any]:
    currency = row["currency"]
    return {
        "id": row["id"],
        "object": "sandbox_payment",
        "order_id": row["order_id"],
        "status": _status(row, ctx.clock()).value,
        "amount": value_amount(row["amount"], currency),
        "amount_captured": value_amount(row["amount_captured"], currency),
        "amount_refunded": value_amount(row["amount_refunded"], currency),
        "capture": row["capture"],
        "method": row["method"],
        "description": row["description"],
        "failure_code": row["failure_code"],
        "failure_message": "The card was declined (sandbox)" if row["failure_code"] else None,
        "checkout_url": f"{ctx.settings.resolved_public_url}/sandbox/checkout/{row['id']}",
        "created_at": timestamp(row["created_at"]),
        "expires_at": timestamp(row["expires_at"]),
    }


def _amount(document: Any, field: str = "amount") -> Money:
    try:
        return parse_value_amount(document[field])
    except (KeyError, TypeError, ValueError, KassaError) as exc:
        raise AcquirerError(400, "invalid_amount", f"{field} must be {{value, currency}}") from exc


def _timestamp(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise AcquirerError(400, "invalid_request", "expires_at is an ISO 8601 time with a zone")
    return parsed


async def authenticate(ctx: Context, *, shop_id: str, secret: str) -> ProviderAccount:
    """The shop's sandbox account whose secret was presented, or a 401."""
    for account in await list_accounts(ctx, shop_id=shop_id, test=True, enabled_only=True):
        if account.provider == "sandbox" and hmac.compare_digest(
            account.credentials.get("secret", "").encode(), secret.encode()
        ):
            return account
    raise AcquirerError(401, "unauthorized", "Unknown merchant or wrong secret")


#: Built once, with their values given at execution (SQLAlchemy then reuses their compiled
#: form, and a statement reused is not traversed again for its cache key).
_BY_ID = select(sandbox_payments).where(
    sandbox_payments.c.id == bindparam("id"), sandbox_payments.c.shop_id == bindparam("shop")
)
_BY_ORDER = select(sandbox_payments).where(
    sandbox_payments.c.shop_id == bindparam("shop"),
    sandbox_payments.c.order_id == bindparam("order"),
)
_REFUND_BY_KEY = select(sandbox_refunds).where(
    sandbox_refunds.c.sandbox_payment_id == bindparam("payment"),
    sandbox_refunds.c.idempotence_key == bindparam("key"),
)


@cache
def _create_once(dialect: str) -> Insert:
    """The insert of a new payment, built once per dialect; it inserts and returns nothing
    for an order that has its payment already (`shop_id`, `order_id` are unique)."""
    return insert_ignoring_conflict(
        dialect, sandbox_payments, index_elements=["shop_id", "order_id"]
    ).returning(*sandbox_payments.c)


async def _get_row(ctx: Context, account: ProviderAccount, sandbox_id: str) -> RowMapping:
    async with ctx.db.read() as conn:
        found = await conn.execute(_BY_ID, {"id": sandbox_id, "shop": account.shop_id})
        row = found.mappings().first()
    if row is None:
        raise AcquirerError(404, "not_found", f"No sandbox payment {sandbox_id}")
    return row


async def create(ctx: Context, account: ProviderAccount, document: Any) -> dict[str, Any]:
    """Create a payment for `order_id`, or return the one that order already has (an
    idempotent create); one write transaction, of one statement unless the order exists."""
    if not isinstance(document, dict) or not isinstance(document.get("order_id"), str):
        raise AcquirerError(400, "invalid_request", "order_id is required")
    money = _amount(document)
    expires_at = _timestamp(document.get("expires_at"))
    now = ctx.clock()
    values = {
        "id": new_id("sbx"),
        "shop_id": account.shop_id,
        "order_id": document["order_id"],
        "amount": money.amount,
        "currency": money.currency,
        "capture": bool(document.get("capture", True)),
        "method": document.get("method"),
        "status": SandboxStatus.PENDING.value,
        "amount_captured": 0,
        "amount_refunded": 0,
        "description": document.get("description"),
        "return_url": document.get("return_url"),
        "failure_code": None,
        "expires_at": expires_at,
        "created_at": now,
        "updated_at": now,
    }
    async with ctx.db.write() as conn:
        row = (await conn.execute(_create_once(ctx.db.dialect), values)).mappings().first()
        if row is None:
            existing = {"shop": account.shop_id, "order": document["order_id"]}
            row = (await conn.execute(_BY_ORDER, existing)).mappings().one()
    return _object(ctx, row)


async def get(ctx: Context, account: ProviderAccount, sandbox_id: str) -> dict[str, Any]:
    return _object(ctx, await _get_row(ctx, account, sandbox_id))


async def _move(
    ctx: Context,
    row: RowMapping,
    *,
    sources: set[SandboxStatus],
    target: SandboxStatus,
    **values: Any,
) -> RowMapping:
    """Change the record's status if it is still in one of `sources` (double clicks and
    repeated API calls change nothing twice)."""
    current = _status(row, ctx.clock())
    if current == target:
        return row
    if current not in sources:
        raise AcquirerError(409, "invalid_state", f"The payment is {current.value}")
    statement = (
        update(sandbox_payments)
        .where(
            sandbox_payments.c.id == row["id"],
            sandbox_payments.c.status.in_([source.value for source in sources]),
        )
        .values(status=target.value, updated_at=ctx.clock(), **values)
        .returning(*sandbox_payments.c)
    )
    async with ctx.db.write() as conn:
        moved = (await conn.execute(statement)).mappings().first()
        if moved is None:  # a concurrent request moved it first: same answer if same target
            moved = (
                (
                    await conn.execute(
                        select(sandbox_payments).where(sandbox_payments.c.id == row["id"])
                    )
                )
                .mappings()
                .one()
            )
            if SandboxStatus(moved["status"]) != target:
                raise AcquirerError(409, "invalid_state", f"The payment is {moved['status']}")
    return moved


async def capture(
    ctx: Context, account: ProviderAccount, sandbox_id: str, document: Any
) -> dict[str, Any]:
    row = await _get_row(ctx, account, sandbox_id)
    amount = row["amount"]
    if isinstance(document, dict) and document.get("amount") is not None:
        amount = _amount(document).amount
        if not 0 < amount <= row["amount"]:
            raise AcquirerError(400, "invalid_amount", "Capture more than 0, at most the amount")
    moved = await _move(
        ctx,
        row,
        sources={SandboxStatus.AUTHORIZED},
        target=SandboxStatus.SUCCEEDED,
        amount_captured=amount,
    )
    return _object(ctx, moved)


async def cancel(ctx: Context, account: ProviderAccount, sandbox_id: str) -> dict[str, Any]:
    row = await _get_row(ctx, account, sandbox_id)
    moved = await _move(
        ctx,
        row,
        sources={SandboxStatus.PENDING, SandboxStatus.AUTHORIZED},
        target=SandboxStatus.CANCELED,
    )
    return _object(ctx, moved)


async def refund(
    ctx: Context, account: ProviderAccount, document: Any, *, key: str | None
) -> dict[str, Any]:
    """Refund part of a captured payment, once per Idempotence-Key."""
    if not key:
        raise AcquirerError(400, "idempotence_key_required", "Idempotence-Key header is required")
    if not isinstance(document, dict) or not isinstance(document.get("payment_id"), str):
        raise AcquirerError(400, "invalid_request", "payment_id is required")
    row = await _get_row(ctx, account, document["payment_id"])
    money = _amount(document)
    existing = await _find_refund(ctx, row["id"], key)
    if existing is not None:
        return _refund_object(existing, row["currency"], document.get("reference"))
    if money.currency != row["currency"]:
        raise AcquirerError(400, "invalid_amount", "The refund's currency differs")
    if _status(row, ctx.clock()) != SandboxStatus.SUCCEEDED:
        raise AcquirerError(409, "invalid_state", "Only a succeeded payment can be refunded")
    now = ctx.clock()
    refund_id = new_id("sbxr")
    async with ctx.db.write() as conn:
        taken = await conn.execute(
            update(sandbox_payments)
            .where(
                sandbox_payments.c.id == row["id"],
                sandbox_payments.c.amount_captured - sandbox_payments.c.amount_refunded
                >= money.amount,
            )
            .values(amount_refunded=sandbox_payments.c.amount_refunded + money.amount)
            .returning(sandbox_payments.c.id)
        )
        if taken.first() is None:
            raise AcquirerError(400, "amount_too_large", "The refund exceeds what is left")
        await conn.execute(
            insert(sandbox_refunds).values(
                id=refund_id,
                sandbox_payment_id=row["id"],
                amount=money.amount,
                idempotence_key=key,
                created_at=now,
            )
        )
    stored = await _find_refund(ctx, row["id"], key)
    assert stored is not None
    return _refund_object(stored, row["currency"], document.get("reference"))


async def _find_refund(ctx: Context, sandbox_id: str, key: str) -> RowMapping | None:
    async with ctx.db.read() as conn:
        found = await conn.execute(_REFUND_BY_KEY, {"payment": sandbox_id, "key": key})
        return found.mappings().first()


def _refund_object(row: RowMapping, currency: str, reference: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "object": "sandbox_refund",
        "payment_id": row["sandbox_payment_id"],
        "status": "succeeded",
        "amount": value_amount(row["amount"], currency),
        "reference": reference if isinstance(reference, str) else None,
        "created_at": timestamp(row["created_at"]),
    }


async def _checkout_row(ctx: Context, sandbox_id: str) -> tuple[RowMapping, str]:
    query = (
        select(sandbox_payments, shops.c.name.label("shop_name"))
        .join(shops, shops.c.id == sandbox_payments.c.shop_id)
        .where(sandbox_payments.c.id == sandbox_id)
    )
    async with ctx.db.read() as conn:
        row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise AcquirerError(404, "not_found", "No such sandbox payment")
    return row, row["shop_name"]


async def checkout(ctx: Context, sandbox_id: str) -> Checkout:
    """The hosted page's view of the sandbox payment `sandbox_id`."""
    row, shop_name = await _checkout_row(ctx, sandbox_id)
    return Checkout(
        sandbox_id=sandbox_id,
        shop_name=shop_name,
        amount=Money(row["amount"], row["currency"]),
        description=row["description"],
        status=_status(row, ctx.clock()),
        capture=row["capture"],
        return_url=row["return_url"],
    )


async def payer_action(ctx: Context, sandbox_id: str, action: PayerAction) -> Checkout:
    """Do what the tester chose on the checkout page, then notify Kassa, signed."""
    row, shop_name = await _checkout_row(ctx, sandbox_id)
    pending = {SandboxStatus.PENDING}
    if action == PayerAction.PAY:
        if not row["capture"]:
            raise AcquirerError(409, "invalid_state", "A two-stage payment is authorized")
        moved = await _move(
            ctx,
            row,
            sources=pending,
            target=SandboxStatus.SUCCEEDED,
            amount_captured=row["amount"],
        )
        event = "payment.succeeded"
    elif action == PayerAction.AUTHORIZE:
        if row["capture"]:
            raise AcquirerError(409, "invalid_state", "A one-stage payment is paid, not held")
        moved = await _move(ctx, row, sources=pending, target=SandboxStatus.AUTHORIZED)
        event = "payment.authorized"
    else:
        moved = await _move(
            ctx, row, sources=pending, target=SandboxStatus.FAILED, failure_code="card_declined"
        )
        event = "payment.failed"
    notified = await _notify(ctx, row["shop_id"], shop_name, event, _object(ctx, moved))
    return replace(await checkout(ctx, sandbox_id), notified=notified)


async def _notify(
    ctx: Context, shop_id: str, shop_name: str, event: str, document: dict[str, Any]
) -> bool:
    """Send Kassa the signed notification of `event`; whether Kassa accepted it."""
    accounts = await list_accounts(ctx, shop_id=shop_id, test=True, enabled_only=True)
    account = next((a for a in accounts if a.provider == "sandbox"), None)
    if account is None:
        return False
    body = json.dumps(
        {
            "id": new_id("sbxevt"),
            "type": event,
            "created_at": timestamp(ctx.clock()),
            "object": document,
        }
    ).encode()
    headers = {
        "content-type": "application/json",
        SIGNATURE_HEADER: sign(account.credentials["secret"], body),
    }
    try:
        response = await ctx.gateways.hub.post(
            f"/hooks/sandbox/{shop_name}", content=body, headers=headers
        )
    except Exception:
        log.exception("the sandbox could not deliver its notification")
        return False
    return response.status_code < 300
