"""`/v1/events`: what happened, for catching up without webhooks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from kassa.services.events import outbox as events
from kassa.services.pagination import PageRequest
from kassa.web.deps import CallerDep, ContextDep, Limit, StartingAfter
from kassa.web.schemas import ERRORS, EventList

router = APIRouter(prefix="/v1/events", tags=["events"])


@router.get("", summary="List events", response_model=EventList, responses=ERRORS)
async def list_events(
    ctx: ContextDep,
    caller: CallerDep,
    type: Annotated[
        str | None, Query(description="An event type, or a family such as payment.*")
    ] = None,
    payment: Annotated[str | None, Query(description="Only this payment's events")] = None,
    limit: Limit = 10,
    starting_after: StartingAfter = None,
) -> Any:
    """The key's events, newest first; each carries the object as it was at that moment."""
    return await events.list_events(
        ctx,
        shop_id=caller.shop.id,
        test=caller.test,
        page=PageRequest(kind="evt", limit=limit, starting_after=starting_after),
        type=type,
        payment_id=payment,
    )
