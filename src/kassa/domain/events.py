"""Event types: what Kassa tells the business's apps, and its own audit trail."""

from __future__ import annotations

from enum import StrEnum

from kassa.domain.status import PaymentStatus, RefundStatus


class EventType(StrEnum):
    """Every event type Kassa writes."""

    PAYMENT_CREATED = "payment.created"
    PAYMENT_REQUIRES_CAPTURE = "payment.requires_capture"
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_CANCELED = "payment.canceled"
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_EXPIRED = "payment.expired"
    PAYMENT_REFUNDED = "payment.refunded"
    REFUND_CREATED = "refund.created"
    REFUND_SUCCEEDED = "refund.succeeded"
    REFUND_FAILED = "refund.failed"
    WEBHOOK_DELIVERY_FAILED = "webhook_delivery.failed"
    WEBHOOK_ENDPOINT_DISABLED = "webhook_endpoint.disabled"


class EventSource(StrEnum):
    """Who caused an event: the merchant API, a provider notification, a re-check, or Kassa."""

    API = "api"
    PROVIDER = "provider"
    RECONCILIATION = "reconciliation"
    SYSTEM = "system"


#: Every event type, and the families (`payment.*`) an event filter may name.
EVENT_TYPES = frozenset(EventType)
EVENT_FAMILIES = frozenset(kind.split(".", 1)[0] for kind in EventType)


def is_event_filter(pattern: str) -> bool:
    """Whether `pattern` is an event filter: `*`, a known type, or a known family (`payment.*`)."""
    return (
        pattern == "*"
        or pattern in EVENT_TYPES
        or (pattern.endswith(".*") and pattern[:-2] in EVENT_FAMILIES)
    )


def filter_matches(pattern: str, event_type: str) -> bool:
    """Whether the event filter `pattern` takes events of `event_type`."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def payment_event(status: PaymentStatus) -> EventType:
    """The event written when a payment enters `status`."""
    return _PAYMENT_EVENTS[status]


def refund_event(status: RefundStatus) -> EventType:
    """The event written when a refund enters `status`."""
    return _REFUND_EVENTS[status]


_PAYMENT_EVENTS = {
    PaymentStatus.PENDING: EventType.PAYMENT_CREATED,
    PaymentStatus.REQUIRES_CAPTURE: EventType.PAYMENT_REQUIRES_CAPTURE,
    PaymentStatus.SUCCEEDED: EventType.PAYMENT_SUCCEEDED,
    PaymentStatus.CANCELED: EventType.PAYMENT_CANCELED,
    PaymentStatus.FAILED: EventType.PAYMENT_FAILED,
    PaymentStatus.EXPIRED: EventType.PAYMENT_EXPIRED,
    PaymentStatus.REFUNDED: EventType.PAYMENT_REFUNDED,
}

_REFUND_EVENTS = {
    RefundStatus.PENDING: EventType.REFUND_CREATED,
    RefundStatus.SUCCEEDED: EventType.REFUND_SUCCEEDED,
    RefundStatus.FAILED: EventType.REFUND_FAILED,
}
