"""What the API returns, as typed objects. Amounts are integer minor units, as in the API;
times are timezone-aware datetimes. `raw` keeps the whole object for fields added later."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Payment:
    id: str
    status: str
    amount: int
    currency: str
    amount_captured: int
    amount_refunded: int
    provider: str
    test: bool
    created_at: datetime
    provider_payment_id: str | None = None
    confirmation_url: str | None = None
    description: str | None = None
    customer: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    failure_code: str | None = None
    failure_message: str | None = None
    expires_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Payment:
        confirmation = data.get("confirmation") or {}
        failure = data.get("failure") or {}
        return cls(
            id=data["id"],
            status=data["status"],
            amount=data["amount"],
            currency=data["currency"],
            amount_captured=data["amount_captured"],
            amount_refunded=data["amount_refunded"],
            provider=data["provider"],
            test=data["test"],
            created_at=datetime.fromisoformat(data["created_at"]),
            provider_payment_id=data.get("provider_payment_id"),
            confirmation_url=confirmation.get("url"),
            description=data.get("description"),
            customer=data.get("customer"),
            metadata=data.get("metadata") or {},
            failure_code=failure.get("code"),
            failure_message=failure.get("message"),
            expires_at=_time(data.get("expires_at")),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Refund:
    id: str
    payment: str
    status: str
    amount: int
    currency: str
    test: bool
    created_at: datetime
    reason: str | None = None
    failure_message: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Refund:
        return cls(
            id=data["id"],
            payment=data["payment"],
            status=data["status"],
            amount=data["amount"],
            currency=data["currency"],
            test=data["test"],
            created_at=datetime.fromisoformat(data["created_at"]),
            reason=data.get("reason"),
            failure_message=data.get("failure_message"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened; `data` is `{"object": …}`, the object right after it."""

    id: str
    type: str
    created_at: datetime
    data: Mapping[str, Any]
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def object(self) -> Mapping[str, Any]:
        found: Mapping[str, Any] = self.data.get("object") or {}
        return found

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Event:
        return cls(
            id=data["id"],
            type=data["type"],
            created_at=datetime.fromisoformat(data["created_at"]),
            data=data.get("data") or {},
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """Where Kassa sends events; `secret` is set only in the answers of create and rotate."""

    id: str
    url: str
    events: list[str]
    enabled: bool
    test: bool
    created_at: datetime
    description: str | None = None
    disabled_reason: str | None = None
    secret: str | None = field(default=None, repr=False)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> WebhookEndpoint:
        return cls(
            id=data["id"],
            url=data["url"],
            events=list(data["events"]),
            enabled=data["enabled"],
            test=data["test"],
            created_at=datetime.fromisoformat(data["created_at"]),
            description=data.get("description"),
            disabled_reason=data.get("disabled_reason"),
            secret=data.get("secret"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list; pass the last item's id as `starting_after` for the next."""

    data: list[T]
    has_more: bool
