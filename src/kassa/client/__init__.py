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
from kassa.client.models import (
    BotPlan,
    BotPromoCode,
    Confirmation,
    CryptoTransferConfirmation,
    Event,
    InvoiceLinkConfirmation,
    OtherConfirmation,
    Page,
    Payment,
    QrConfirmation,
    ReceiptItem,
    RedirectConfirmation,
    Refund,
    RequisitesConfirmation,
    TerminalConfirmation,
    WebhookEndpoint,
    WidgetConfirmation,
)
from kassa.client.sync import Kassa
from kassa.client.webhooks import verify_webhook

__all__ = [
    "APIConnectionError",
    "APIError",
    "AsyncKassa",
    "AuthenticationError",
    "BotPlan",
    "BotPromoCode",
    "Confirmation",
    "ConflictError",
    "CryptoTransferConfirmation",
    "Event",
    "InvalidRequestError",
    "InvoiceLinkConfirmation",
    "Kassa",
    "KassaError",
    "NotFoundError",
    "OtherConfirmation",
    "Page",
    "Payment",
    "PermissionDeniedError",
    "ProviderError",
    "QrConfirmation",
    "RateLimitError",
    "ReceiptItem",
    "RedirectConfirmation",
    "Refund",
    "RequisitesConfirmation",
    "TerminalConfirmation",
    "WebhookEndpoint",
    "WebhookVerificationError",
    "WidgetConfirmation",
    "verify_webhook",
]
