"""`Kassa`: the synchronous client."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx

from kassa.client import calls
from kassa.client.calls import RETRYABLE, Call, query, retry_delay
from kassa.client.errors import APIConnectionError
from kassa.client.models import (
    BotPlan,
    BotPromoCode,
    Event,
    Page,
    Payment,
    Refund,
    WebhookEndpoint,
)

T = TypeVar("T")


class Kassa:
    """A client of Kassa's API for one shop key: `Kassa("sk_test_…", "https://pay.example")`.

    Every POST carries an Idempotency-Key (yours, or one made per call) and is retried with
    the same key after a network error, a 429 or a 5xx, `max_retries` times.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = "http://127.0.0.1:8000",
        *,
        timeout: float = 30.0,
        max_retries: int = 2,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.max_retries = max_retries
        self._http = http_client or httpx.Client(timeout=timeout)
        self._http.base_url = httpx.URL(base_url)
        self._http.headers["Authorization"] = f"Bearer {api_key}"
        self.payments = Payments(self)
        self.refunds = Refunds(self)
        self.events = Events(self)
        self.webhook_endpoints = WebhookEndpoints(self)
        self.bot_plans = BotPlans(self)
        self.bot_promo_codes = BotPromoCodes(self)

    def run(self, call: Call[T]) -> T:
        """Send `call`, retrying what is safe to retry, and read the answer."""
        attempt = 0
        while True:
            response: httpx.Response | None = None
            try:
                response = self._http.send(call.request(self._http))
            except httpx.TransportError as exc:
                if attempt >= self.max_retries:
                    raise APIConnectionError(f"Kassa could not be reached: {exc!r}") from exc
            else:
                if response.status_code not in RETRYABLE or attempt >= self.max_retries:
                    return call.result(response)
            attempt += 1
            time.sleep(retry_delay(attempt, response))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Kassa:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Payments:
    def __init__(self, client: Kassa) -> None:
        self._client = client

    def create(
        self,
        *,
        amount: int,
        currency: str,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Payment:
        """Create a payment of `amount` minor units; `fields` are the API's (provider, method,
        description, customer, metadata, capture, return_url, expires_in, terminal,
        customer_email, customer_phone, items: `ReceiptItem`s or dicts)."""
        body = {"amount": amount, "currency": currency, **fields}
        return self._client.run(calls.create_payment(body, idempotency_key))

    def get(self, payment_id: str) -> Payment:
        return self._client.run(calls.get_payment(payment_id))

    def list(self, **params: Any) -> Page[Payment]:
        """One page: status, provider, customer, created_gte, created_lt, limit,
        starting_after."""
        return self._client.run(calls.list_payments(query(params)))

    def capture(
        self, payment_id: str, amount: int | None = None, *, idempotency_key: str | None = None
    ) -> Payment:
        call = calls.payment_action(payment_id, "capture", {"amount": amount}, idempotency_key)
        return self._client.run(call)

    def cancel(self, payment_id: str, *, idempotency_key: str | None = None) -> Payment:
        return self._client.run(calls.payment_action(payment_id, "cancel", {}, idempotency_key))

    def refresh(self, payment_id: str) -> Payment:
        """Ask the provider about an open payment now."""
        return self._client.run(calls.payment_action(payment_id, "refresh", {}, None))


class Refunds:
    def __init__(self, client: Kassa) -> None:
        self._client = client

    def create(
        self,
        payment: str,
        amount: int | None = None,
        *,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> Refund:
        body = {"payment": payment, "amount": amount, "reason": reason}
        return self._client.run(calls.create_refund(body, idempotency_key))

    def get(self, refund_id: str) -> Refund:
        return self._client.run(calls.get_refund(refund_id))

    def list(self, **params: Any) -> Page[Refund]:
        """One page: payment, limit, starting_after."""
        return self._client.run(calls.list_refunds(query(params)))


class Events:
    def __init__(self, client: Kassa) -> None:
        self._client = client

    def list(self, **params: Any) -> Page[Event]:
        """One page, newest first: type (or a family like `payment.*`), payment, limit,
        starting_after."""
        return self._client.run(calls.list_events(query(params)))

    def iterate(self, **params: Any) -> Iterator[Event]:
        """Every matching event, newest first, fetching page after page."""
        while True:
            page = self.list(**params)
            yield from page.data
            if not page.has_more or not page.data:
                return
            params["starting_after"] = page.data[-1].id

    def resend(
        self, event_id: str, *, endpoint: str | None = None, idempotency_key: str | None = None
    ) -> Page[Any]:
        """Send an event again now, to one endpoint or every one that takes it; the new
        deliveries with their first attempt."""
        return self._client.run(calls.resend_event(event_id, endpoint, idempotency_key))


class WebhookEndpoints:
    def __init__(self, client: Kassa) -> None:
        self._client = client

    def create(
        self,
        url: str,
        *,
        events: list[str] | None = None,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> WebhookEndpoint:
        """A new endpoint; its `secret` is in this answer only: store it."""
        body = {"url": url, "events": events, "description": description}
        return self._client.run(calls.create_endpoint(body, idempotency_key))

    def get(self, endpoint_id: str) -> WebhookEndpoint:
        return self._client.run(calls.get_endpoint(endpoint_id))

    def list(self) -> Page[WebhookEndpoint]:
        return self._client.run(calls.list_endpoints())

    def update(
        self, endpoint_id: str, *, idempotency_key: str | None = None, **fields: Any
    ) -> WebhookEndpoint:
        """Change url, events, description or enabled (true re-enables a disabled one)."""
        return self._client.run(calls.update_endpoint(endpoint_id, fields, idempotency_key))

    def rotate_secret(
        self, endpoint_id: str, *, overlap: int | None = None, idempotency_key: str | None = None
    ) -> WebhookEndpoint:
        """A new secret (in this answer only); the old one signs too for `overlap` seconds."""
        return self._client.run(calls.rotate_secret(endpoint_id, overlap, idempotency_key))

    def delete(self, endpoint_id: str) -> None:
        self._client.run(calls.delete_endpoint(endpoint_id))


class BotPlans:
    """The plans of the shop's Telegram bot (a live bot's are changed with a live key)."""

    def __init__(self, client: Kassa) -> None:
        self._client = client

    def list(self) -> Page[BotPlan]:
        """Every plan, sold or not, shortest first."""
        return self._client.run(calls.list_bot_plans())

    def add(
        self,
        name: str,
        *,
        days: int,
        price: int,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> BotPlan:
        """Sell a new plan: `price` in kopecks; `fields` are the API's (stars, traffic_gb,
        devices, referral_days)."""
        body = {"name": name, "days": days, "price": price, **fields}
        return self._client.run(calls.add_bot_plan(body, idempotency_key))

    def disable(self, plan_id: str, *, idempotency_key: str | None = None) -> BotPlan:
        """Stop selling the plan; subscriptions bought with it go on."""
        return self._client.run(calls.disable_bot_plan(plan_id, idempotency_key))


class BotPromoCodes:
    """The promo codes of the shop's Telegram bot."""

    def __init__(self, client: Kassa) -> None:
        self._client = client

    def list(self) -> Page[BotPromoCode]:
        """Every code, newest first, with its uses."""
        return self._client.run(calls.list_bot_promo_codes())

    def add(
        self,
        code: str,
        *,
        days: int | None = None,
        percent: int | None = None,
        max_uses: int | None = None,
        valid_until: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> BotPromoCode:
        """A code of `days` extra or `percent` off (one of the two), each buyer once."""
        body = {
            "code": code,
            "days": days,
            "percent": percent,
            "max_uses": max_uses,
            "valid_until": valid_until,
        }
        return self._client.run(calls.add_bot_promo_code(body, idempotency_key))
