"""`/v1/refunds`: refund part or all of a payment, read, list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from kassa.services.objects import refund_object
from kassa.services.pagination import PageRequest
from kassa.services.payments import refunds
from kassa.web import idempotent
from kassa.web.deps import CallerDep, ContextDep, IdempotencyKey, Limit, StartingAfter
from kassa.web.schemas import ERRORS, RefundCreate, RefundList, RefundOut

router = APIRouter(prefix="/v1/refunds", tags=["refunds"])


@router.post(
    "",
    status_code=201,
    summary="Refund a payment",
    responses={201: {"model": RefundOut}, **ERRORS},
)
async def create_refund(
    body: RefundCreate,
    request: Request,
    ctx: ContextDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Refund `amount` (default: everything left) of a succeeded payment. Several partial
    refunds are allowed; together they never exceed what was captured."""

    async def run(refund_id: str) -> dict[str, Any]:
        refund = await refunds.create_refund(
            ctx,
            caller=caller,
            payment_id=body.payment,
            amount=body.amount,
            reason=body.reason,
            refund_id=refund_id,
        )
        return refund_object(refund)

    return await idempotent.respond(
        request, ctx, caller, idempotency_key, prefix="re", status=201, run=run
    )


@router.get("", summary="List refunds", response_model=RefundList, responses=ERRORS)
async def list_refunds(
    ctx: ContextDep,
    caller: CallerDep,
    payment: Annotated[str | None, Query(description="Only this payment's refunds")] = None,
    limit: Limit = 10,
    starting_after: StartingAfter = None,
) -> Any:
    return await refunds.list_refunds(
        ctx,
        caller=caller,
        page=PageRequest(kind="re", limit=limit, starting_after=starting_after),
        payment_id=payment,
    )


@router.get("/{refund_id}", summary="Get a refund", response_model=RefundOut, responses=ERRORS)
async def get_refund(refund_id: str, ctx: ContextDep, caller: CallerDep) -> Any:
    return refund_object(await refunds.get_refund(ctx, caller=caller, refund_id=refund_id))
