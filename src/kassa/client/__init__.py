"""Kassa's Python client: `Kassa` (synchronous) and `AsyncKassa`, on httpx.

It needs only httpx, not the server: `from kassa.client import Kassa`. Merchants' apps check
webhook deliveries with `verify_webhook(body, headers, secret)`.
"""

from kassa.client.aio import AsyncKassa
from kassa.client.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    KassaError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitError,
    WebhookVerificationError,
)
from kassa.client.models import Event, Page, Payment, Refund, WebhookEndpoint
from kassa.client.sync import Kassa
from kassa.client.webhooks import verify_webhook

__all__ = [
    "APIConnectionError",
    "APIError",
    "AsyncKassa",
    "AuthenticationError",
    "ConflictError",
    "Event",
    "InvalidRequestError",
    "Kassa",
    "KassaError",
    "NotFoundError",
    "Page",
    "Payment",
    "PermissionDeniedError",
    "ProviderError",
    "RateLimitError",
    "Refund",
    "WebhookEndpoint",
    "WebhookVerificationError",
    "verify_webhook",
]
