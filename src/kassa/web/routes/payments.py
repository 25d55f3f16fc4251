"""`/v1/payments`: create, read, list, capture, cancel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from kassa.domain import PaymentStatus
from kassa.services.objects import payment_object
from kassa.services.pagination import PageRequest
from kassa.services.payments import lifecycle as payments
from kassa.web import idempotent
from kassa.web.deps import CallerDep, ContextDep, IdempotencyKey, Limit, StartingAfter
from kassa.web.schemas import ERRORS, CaptureRequest, PaymentCreate, PaymentList, PaymentOut
from kassa.web.timestamps import RANGE, Timestamp

router = APIRouter(prefix="/v1/payments", tags=["payments"])

_TIME = f"ISO 8601 or Unix seconds (UTC without a zone), {RANGE}"


@router.post(
    "",
    status_code=201,
    summary="Create a payment",
    responses={
        201: {"model": PaymentOut},
        402: ERRORS[409] | {"description": "Provider declined"},
        **ERRORS,
    },
)
async def create_payment(
    body: PaymentCreate,
    request: Request,
    ctx: ContextDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a payment at the provider. Its `confirmation` tells what the payer must do
    (for `redirect`, send the payer to `confirmation.url`)."""

    async def run(payment_id: str) -> dict[str, Any]:
        payment = await payments.create_payment(
            ctx, caller=caller, params=body.to_params(), payment_id=payment_id
        )
        return payment_object(payment)

    return await idempotent.respond(
        request, ctx, caller, idempotency_key, prefix="pay", status=201, run=run
    )


@router.get("", summary="List payments", response_model=PaymentList, responses=ERRORS)
async def list_payments(
    ctx: ContextDep,
    caller: CallerDep,
    status: PaymentStatus | None = None,
    provider: str | None = None,
    customer: str | None = None,
    created_gte: Annotated[Timestamp | None, Query(description=_TIME)] = None,
    created_lt: Annotated[Timestamp | None, Query(description=_TIME)] = None,
    limit: Limit = 10,
    starting_after: StartingAfter = None,
) -> Any:
    """The key's payments, newest first; page with `starting_after` = the last id you got."""
    return await payments.list_payments(
        ctx,
        caller=caller,
        page=PageRequest(kind="pay", limit=limit, starting_after=starting_after),
        status=status,
        provider=provider,
        customer=customer,
        created_gte=created_gte,
        created_lt=created_lt,
    )


@router.get("/{payment_id}", summary="Get a payment", response_model=PaymentOut, responses=ERRORS)
async def get_payment(payment_id: str, ctx: ContextDep, caller: CallerDep) -> Any:
    return payment_object(await payments.get_payment(ctx, caller=caller, payment_id=payment_id))


@router.post(
    "/{payment_id}/capture",
    summary="Capture a held payment",
    responses={200: {"model": PaymentOut}, **ERRORS},
)
async def capture_payment(
    payment_id: str,
    request: Request,
    ctx: ContextDep,
    caller: CallerDep,
    body: CaptureRequest | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Take the money of a `requires_capture` payment: all of it, or a part (once)."""
    amount = body.amount if body else None

    async def run(_: str) -> dict[str, Any]:
        payment = await payments.capture_payment(
            ctx, caller=caller, payment_id=payment_id, amount=amount
        )
        return payment_object(payment)

    return await idempotent.respond(
        request, ctx, caller, idempotency_key, prefix="req", status=200, run=run
    )


@router.post(
    "/{payment_id}/cancel",
    summary="Cancel a payment",
    responses={200: {"model": PaymentOut}, **ERRORS},
)
async def cancel_payment(
    payment_id: str,
    request: Request,
    ctx: ContextDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Cancel a payment not yet paid, or release the hold of a `requires_capture` one."""

    async def run(_: str) -> dict[str, Any]:
        payment = await payments.cancel_payment(ctx, caller=caller, payment_id=payment_id)
        return payment_object(payment)

    return await idempotent.respond(
        request, ctx, caller, idempotency_key, prefix="req", status=200, run=run
    )


@router.post(
    "/{payment_id}/refresh",
    summary="Re-check a payment with its provider",
    responses={200: {"model": PaymentOut}, **ERRORS},
)
async def refresh_payment(
    payment_id: str,
    request: Request,
    ctx: ContextDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Ask the provider about a `pending` or `requires_capture` payment now and apply what it
    says (its event's `source` is `reconciliation`); other payments are returned unchanged.
    For a payment whose notification never came."""

    async def run(_: str) -> dict[str, Any]:
        payment = await payments.refresh_payment(ctx, caller=caller, payment_id=payment_id)
        return payment_object(payment)

    return await idempotent.respond(
        request, ctx, caller, idempotency_key, prefix="req", status=200, run=run
    )
