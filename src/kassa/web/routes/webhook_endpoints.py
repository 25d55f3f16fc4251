"""`/v1/webhook_endpoints`: where a shop's events are sent, signed; and `/v1/events/{id}/resend`."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field, StrictBool, StrictInt

from kassa.services.objects import list_object
from kassa.services.pagination import PageRequest
from kassa.services.webhooks import deliveries
from kassa.services.webhooks import endpoints as webhooks
from kassa.services.webhooks import sending as webhook_sending
from kassa.services.webhooks.endpoints import MAX_DESCRIPTION, MAX_FILTERS, MAX_URL_LENGTH
from kassa.web import idempotent
from kassa.web.deps import CallerDep, ContextDep, IdempotencyKey, Limit, StartingAfter
from kassa.web.schemas import ERRORS, Body

# No prefix: the router also serves `/v1/events/{id}/resend`, beside the events it resends.
router = APIRouter(tags=["webhooks"])

PREFIX = "/v1/webhook_endpoints"
MAX_OVERLAP = 7 * 86_400

_EVENTS = (
    "Event types to send: '*' for all, a family such as 'payment.*', or types such as "
    "'payment.succeeded'."
)


class WebhookEndpointCreate(Body):
    url: str = Field(max_length=MAX_URL_LENGTH, description="An http:// or https:// URL.")
    events: list[str] = Field(
        default_factory=lambda: ["*"], max_length=MAX_FILTERS, description=_EVENTS
    )
    description: str | None = Field(None, max_length=MAX_DESCRIPTION)
    enabled: StrictBool = True


class WebhookEndpointUpdate(Body):
    url: str | None = Field(None, max_length=MAX_URL_LENGTH)
    events: list[str] | None = Field(None, max_length=MAX_FILTERS, description=_EVENTS)
    description: str | None = Field(
        None, max_length=MAX_DESCRIPTION, description='"" removes the description.'
    )
    enabled: StrictBool | None = Field(
        None, description="true re-enables an endpoint Kassa disabled after days of failures."
    )


class SecretRotation(Body):
    overlap: StrictInt | None = Field(
        None,
        ge=0,
        le=MAX_OVERLAP,
        description="Seconds the old secret keeps signing beside the new one (default one "
        "day; 0 retires it at once).",
    )


class ResendRequest(Body):
    endpoint: str | None = Field(
        None,
        max_length=64,
        description="Only this endpoint (whatever its filter); default: every enabled "
        "endpoint that takes the event's type.",
    )


class WebhookEndpointOut(BaseModel):
    id: str = Field(examples=["we_01jd6xq4m8c9e5rgt2w3n7v0ka"])
    object: Literal["webhook_endpoint"]
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None
    failing_since: str | None
    previous_secret_expires_at: str | None = Field(
        description="Until when the secret before the last rotation still signs too."
    )
    test: bool
    created_at: str
    updated_at: str


class WebhookEndpointWithSecret(WebhookEndpointOut):
    secret: str = Field(
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        description="The signing secret; shown only in this answer.",
    )


class WebhookEndpointList(BaseModel):
    object: Literal["list"]
    data: list[WebhookEndpointOut]
    has_more: bool


class WebhookEndpointDeleted(BaseModel):
    id: str
    object: Literal["webhook_endpoint"]
    deleted: Literal[True]


class AttemptOut(BaseModel):
    id: str
    state: Literal["in_flight", "done", "unknown"] = Field(
        description="in_flight: being made (recorded before it is sent); done: its outcome is "
        "below; unknown: Kassa stopped while making it, so it may have reached the endpoint."
    )
    attempted_at: str
    succeeded: bool
    status_code: int | None
    latency_ms: int = Field(description="0 unless the attempt is done.")
    response_body: str | None = Field(description="The first 1 KiB of the answer.")
    error: str | None = Field(description="Why no answer came (timeout, connection refused…).")


class WebhookDeliveryOut(BaseModel):
    id: str = Field(examples=["wd_01jd6xq4m8c9e5rgt2w3n7v0ka"])
    object: Literal["webhook_delivery"]
    endpoint: str
    event: str
    manual: bool = Field(description="true for a resend")
    status: Literal["pending", "succeeded", "failed"]
    next_attempt_at: str | None
    created_at: str
    updated_at: str
    attempts: list[AttemptOut]


class WebhookDeliveryList(BaseModel):
    object: Literal["list"]
    data: list[WebhookDeliveryOut]
    has_more: bool


@router.post(
    PREFIX,
    status_code=201,
    summary="Create a webhook endpoint",
    responses={201: {"model": WebhookEndpointWithSecret}, **ERRORS},
)
async def create_endpoint(
    body: WebhookEndpointCreate,
    request: Request,
    ctx: ContextDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Start sending the key's shop and mode events to `url`. The answer holds the endpoint's
    signing `secret`, which is never shown again (rotate it to get a new one)."""

    async def run(endpoint_id: str) -> dict[str, Any]:
        endpoint, secret = await webhooks.create_endpoint(
            ctx,
            shop_id=caller.shop.id,
            test=caller.test,
            url=body.url,
            events=body.events,
            description=body.description,
            enabled=body.enabled,
            endpoint_id=endpoint_id,
        )
        return webhooks.endpoint_object(endpoint, secret=secret)

    return await idempotent.respond(
        request, ctx, caller, idempotency_key, prefix="we", status=201, run=run, secret=True
    )


@router.get(
    PREFIX, summary="List webhook endpoints", response_model=WebhookEndpointList, responses=ERRORS
)
async def list_endpoints(
    ctx: ContextDep,
    caller: CallerDep,
    limit: Limit = 10,
    starting_after: StartingAfter = None,
) -> Any:
    found, has_more = await webhooks.list_endpoints(
        ctx, scope=caller, page=PageRequest(kind="we", limit=limit, starting_after=starting_after)
    )
    return list_object([webhooks.endpoint_object(e) for e in found], has_more=has_more)


@router.get(
    PREFIX + "/{endpoint_id}",
    summary="Get a webhook endpoint",
    response_model=WebhookEndpointOut,
    responses=ERRORS,
)
async def get_endpoint(endpoint_id: str, ctx: ContextDep, caller: CallerDep) -> Any:
    found = await webhooks.get_endpoint(ctx, scope=caller, endpoint_id=endpoint_id)
    return webhooks.endpoint_object(found)


@router.post(
    PREFIX + "/{endpoint_id}",
    summary="Update or re-enable a webhook endpoint",
    responses={200: {"model": WebhookEndpointOut}, **ERRORS},
)
async def update_endpoint(
    endpoint_id: str,
    body: WebhookEndpointUpdate,
    request: Request,
    ctx: ContextDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Change the fields given. `enabled: true` re-enables an endpoint that was disabled; its
    pending deliveries then resume."""

    async def run(_: str) -> dict[str, Any]:
        endpoint = await webhooks.update_endpoint(
            ctx,
            scope=caller,
            endpoint_id=endpoint_id,
            url=body.url,
            events=body.events,
            description=body.description,
            enabled=body.enabled,
        )
        return webhooks.endpoint_object(endpoint)

    return await idempotent.respond(
        request, ctx, caller, idempotency_key, prefix="req", status=200, run=run
    )


@router.delete(
    PREFIX + "/{endpoint_id}",
    summary="Delete a webhook endpoint",
    response_model=WebhookEndpointDeleted,
    responses=ERRORS,
)
async def delete_endpoint(endpoint_id: str, ctx: ContextDep, caller: CallerDep) -> Any:
    """Stop sending to the endpoint and forget it, with its deliveries."""
    await webhooks.delete_endpoint(ctx, scope=caller, endpoint_id=endpoint_id)
    return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}


@router.post(
    PREFIX + "/{endpoint_id}/rotate_secret",
    summary="Rotate a webhook endpoint's secret",
    responses={200: {"model": WebhookEndpointWithSecret}, **ERRORS},
)
async def rotate_secret(
    endpoint_id: str,
    request: Request,
    ctx: ContextDep,
    caller: CallerDep,
    body: SecretRotation | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Give the endpoint a new secret (in this answer only). For `overlap` seconds both the
    old and the new one sign each delivery, so the receiver can switch without losing any."""
    overlap = body.overlap if body else None

    async def run(_: str) -> dict[str, Any]:
        endpoint, secret = await webhooks.rotate_secret(
            ctx,
            scope=caller,
            endpoint_id=endpoint_id,
            overlap=None if overlap is None else timedelta(seconds=overlap),
        )
        return webhooks.endpoint_object(endpoint, secret=secret)

    return await idempotent.respond(
        request, ctx, caller, idempotency_key, prefix="req", status=200, run=run, secret=True
    )


@router.get(
    PREFIX + "/{endpoint_id}/deliveries",
    summary="List a webhook endpoint's deliveries",
    response_model=WebhookDeliveryList,
    responses=ERRORS,
)
async def list_deliveries(
    endpoint_id: str,
    ctx: ContextDep,
    caller: CallerDep,
    event: Annotated[str | None, Query(description="Only this event's deliveries")] = None,
    limit: Limit = 10,
    starting_after: StartingAfter = None,
) -> Any:
    """Deliveries to the endpoint, newest first, each with every attempt made."""
    found, has_more = await deliveries.list_deliveries(
        ctx,
        scope=caller,
        endpoint_id=endpoint_id,
        page=PageRequest(kind="wd", limit=limit, starting_after=starting_after),
        event_id=event,
    )
    return list_object([deliveries.delivery_object(d) for d in found], has_more=has_more)


@router.post(
    "/v1/events/{event_id}/resend",
    tags=["events"],
    summary="Resend an event to webhook endpoints",
    responses={200: {"model": WebhookDeliveryList}, **ERRORS},
)
async def resend_event(
    event_id: str,
    request: Request,
    ctx: ContextDep,
    caller: CallerDep,
    body: ResendRequest | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Send the event again now: to `endpoint`, or to every enabled endpoint that takes its
    type. Answers once the first attempt of each is made (at most 15 s); a failed one is
    retried on the usual schedule."""
    endpoint_id = body.endpoint if body else None

    async def run(_: str) -> dict[str, Any]:
        sent = await webhook_sending.resend(
            ctx, scope=caller, event_id=event_id, endpoint_id=endpoint_id
        )
        return list_object([deliveries.delivery_object(d) for d in sent], has_more=False)

    return await idempotent.respond(
        request, ctx, caller, idempotency_key, prefix="req", status=200, run=run
    )
