"""`/v1/refunds`: refund part or all of a payment, read, list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from kassa.services.objects import refund_object
from kassa.services.pagination import PageRequest
from kassa.services.payments import refunds
from kassa.web.deps import CallerDep, ContextDep, Limit, StartingAfter
from kassa.web.idempotent import idempotent
from kassa.web.objects import page_object
from kassa.web.schemas import ERRORS, RefundCreate, RefundList, RefundOut

router = APIRouter(prefix="/v1/refunds", tags=["refunds"])


@router.post(
    "",
    status_code=201,
    summary="Refund a payment",
    responses={201: {"model": RefundOut}, **ERRORS},
)
@idempotent(status=201, prefix="re")
async def create_refund(
    body: RefundCreate, ctx: ContextDep, caller: CallerDep, resource_id: str
) -> dict[str, Any]:
    """Refund `amount` (default: everything left) of a succeeded payment. Several partial
    refunds are allowed; together they never exceed what was captured."""
    refund = await refunds.create_refund(
        ctx,
        caller=caller,
        payment_id=body.payment,
        amount=body.amount,
        reason=body.reason,
        refund_id=resource_id,
    )
    return refund_object(refund)


@router.get("", summary="List refunds", response_model=RefundList, responses=ERRORS)
async def list_refunds(
    ctx: ContextDep,
    caller: CallerDep,
    payment: Annotated[str | None, Query(description="Only this payment's refunds")] = None,
    limit: Limit = 10,
    starting_after: StartingAfter = None,
) -> Any:
    found = await refunds.list_refunds(
        ctx,
        caller=caller,
        page=PageRequest(kind="re", limit=limit, starting_after=starting_after),
        payment_id=payment,
    )
    return page_object(found, refund_object)


@router.get("/{refund_id}", summary="Get a refund", response_model=RefundOut, responses=ERRORS)
async def get_refund(refund_id: str, ctx: ContextDep, caller: CallerDep) -> Any:
    return refund_object(await refunds.get_refund(ctx, caller=caller, refund_id=refund_id))
