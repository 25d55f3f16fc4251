"""The API's operations as data, shared by the synchronous and the asynchronous client: each
function returns a `Call` (what to send, how to read the answer), and each client runs it."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import httpx

from kassa.client.errors import error_from
from kassa.client.models import (
    BotPlan,
    BotPromoCode,
    Event,
    Page,
    Payment,
    ReceiptItem,
    Refund,
    WebhookEndpoint,
)

T = TypeVar("T")

#: Statuses worth another try with the same request (and the same Idempotency-Key).
RETRYABLE = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    method: str
    path: str
    read: Callable[[Any], T]
    params: Mapping[str, Any] | None = None
    json: Mapping[str, Any] | None = None
    idempotency_key: str | None = None

    def request(self, client: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        headers = {"Idempotency-Key": self.idempotency_key} if self.idempotency_key else {}
        params = {k: v for k, v in (self.params or {}).items() if v is not None}
        return client.build_request(
            self.method, self.path, params=params, json=self.json, headers=headers
        )

    def result(self, response: httpx.Response) -> T:
        try:
            document = response.json()
        except ValueError:
            document = None
        if response.status_code >= 400:
            raise error_from(response.status_code, document)
        return self.read(document)


def retry_delay(attempt: int, response: httpx.Response | None) -> float:
    """Seconds before retry number `attempt` (1, 2, …): Retry-After if Kassa gave one, else
    exponential backoff with jitter."""
    if response is not None:
        try:
            return min(float(response.headers["retry-after"]), 30.0)
        except (KeyError, ValueError):
            pass
    backoff: float = min(0.5 * 2 ** (attempt - 1), 8.0)
    return backoff * (0.5 + random.random() / 2)  # noqa: S311  (jitter, not a secret)


def query(params: Mapping[str, Any]) -> dict[str, Any]:
    """Query parameters as the API reads them (datetimes in ISO 8601)."""
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in params.items()
    }


def _post(path: str, body: Mapping[str, Any], key: str | None, read: Callable[[Any], T]) -> Call[T]:
    """A POST with an Idempotency-Key: the caller's, or a new one that the client's own
    retries then reuse, so a retried create never makes a second payment."""
    return Call("POST", path, read, json=_clean(body), idempotency_key=key or str(uuid.uuid4()))


def _clean(body: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in body.items() if value is not None}


def _page(read: Callable[[Any], T]) -> Callable[[Any], Page[T]]:
    return lambda doc: Page([read(item) for item in doc["data"]], bool(doc["has_more"]))


def create_payment(body: Mapping[str, Any], key: str | None) -> Call[Payment]:
    items = body.get("items")
    if items is not None:  # `ReceiptItem`s or the API's dicts
        lines = [item.to_api() if isinstance(item, ReceiptItem) else item for item in items]
        body = {**body, "items": lines}
    return _post("/v1/payments", body, key, Payment.from_api)


def get_payment(payment_id: str) -> Call[Payment]:
    return Call("GET", f"/v1/payments/{payment_id}", Payment.from_api)


def list_payments(params: Mapping[str, Any]) -> Call[Page[Payment]]:
    return Call("GET", "/v1/payments", _page(Payment.from_api), params=params)


def payment_action(
    payment_id: str, action: str, body: Mapping[str, Any], key: str | None
) -> Call[Payment]:
    return _post(f"/v1/payments/{payment_id}/{action}", body, key, Payment.from_api)


def create_refund(body: Mapping[str, Any], key: str | None) -> Call[Refund]:
    return _post("/v1/refunds", body, key, Refund.from_api)


def get_refund(refund_id: str) -> Call[Refund]:
    return Call("GET", f"/v1/refunds/{refund_id}", Refund.from_api)


def list_refunds(params: Mapping[str, Any]) -> Call[Page[Refund]]:
    return Call("GET", "/v1/refunds", _page(Refund.from_api), params=params)


def list_events(params: Mapping[str, Any]) -> Call[Page[Event]]:
    return Call("GET", "/v1/events", _page(Event.from_api), params=params)


def resend_event(event_id: str, endpoint: str | None, key: str | None) -> Call[Page[Any]]:
    """Deliveries are returned as the API's documents (see docs/webhooks.md)."""
    return _post(f"/v1/events/{event_id}/resend", {"endpoint": endpoint}, key, _page(dict))


def create_endpoint(body: Mapping[str, Any], key: str | None) -> Call[WebhookEndpoint]:
    return _post("/v1/webhook_endpoints", body, key, WebhookEndpoint.from_api)


def get_endpoint(endpoint_id: str) -> Call[WebhookEndpoint]:
    return Call("GET", f"/v1/webhook_endpoints/{endpoint_id}", WebhookEndpoint.from_api)


def list_endpoints() -> Call[Page[WebhookEndpoint]]:
    return Call("GET", "/v1/webhook_endpoints", _page(WebhookEndpoint.from_api))


def update_endpoint(
    endpoint_id: str, body: Mapping[str, Any], key: str | None
) -> Call[WebhookEndpoint]:
    return _post(f"/v1/webhook_endpoints/{endpoint_id}", body, key, WebhookEndpoint.from_api)


def rotate_secret(endpoint_id: str, overlap: int | None, key: str | None) -> Call[WebhookEndpoint]:
    path = f"/v1/webhook_endpoints/{endpoint_id}/rotate_secret"
    return _post(path, {"overlap": overlap}, key, WebhookEndpoint.from_api)


def delete_endpoint(endpoint_id: str) -> Call[None]:
    return Call("DELETE", f"/v1/webhook_endpoints/{endpoint_id}", lambda _: None)


def list_bot_plans() -> Call[Page[BotPlan]]:
    return Call("GET", "/v1/bot/plans", _page(BotPlan.from_api))


def add_bot_plan(body: Mapping[str, Any], key: str | None) -> Call[BotPlan]:
    return _post("/v1/bot/plans", body, key, BotPlan.from_api)


def disable_bot_plan(plan_id: str, key: str | None) -> Call[BotPlan]:
    return _post(f"/v1/bot/plans/{plan_id}/disable", {}, key, BotPlan.from_api)


def list_bot_promo_codes() -> Call[Page[BotPromoCode]]:
    return Call("GET", "/v1/bot/promo_codes", _page(BotPromoCode.from_api))


def add_bot_promo_code(body: Mapping[str, Any], key: str | None) -> Call[BotPromoCode]:
    if isinstance(body.get("valid_until"), datetime):
        body = {**body, "valid_until": body["valid_until"].isoformat()}
    return _post("/v1/bot/promo_codes", body, key, BotPromoCode.from_api)
