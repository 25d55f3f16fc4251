"""What the API returns, as typed objects. Amounts are integer minor units, as in the API;
times are timezone-aware datetimes. `raw` keeps the whole object for fields added later."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, Literal, TypeVar

T = TypeVar("T")


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


# What the payer must do: `Payment.confirmation`, one of these by the API's `type`


@dataclass(frozen=True, slots=True)
class RedirectConfirmation:
    """Send the payer to `url`."""

    url: str
    type: Literal["redirect"] = field(default="redirect", init=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> RedirectConfirmation:
        return cls(url=data["url"])


@dataclass(frozen=True, slots=True)
class QrConfirmation:
    """Show the payer a QR code of `payload` (or the picture at `image_url`)."""

    payload: str
    image_url: str | None = None
    type: Literal["qr"] = field(default="qr", init=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> QrConfirmation:
        return cls(payload=data["payload"], image_url=data.get("image_url"))


@dataclass(frozen=True, slots=True)
class RequisitesConfirmation:
    """Ask the payer to transfer exactly `amount` (minor units of `currency`) to the card
    number `pan` or, through SBP, to the phone number `phone`, before `expires_at`; `url` is
    the provider's page with the same requisites, where it has one."""

    amount: int
    currency: str
    pan: str | None = None
    phone: str | None = None
    bank: str | None = None
    holder: str | None = None
    expires_at: datetime | None = None
    url: str | None = None
    type: Literal["requisites"] = field(default="requisites", init=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> RequisitesConfirmation:
        return cls(
            amount=data["amount"],
            currency=data["currency"],
            pan=data.get("pan"),
            phone=data.get("phone"),
            bank=data.get("bank"),
            holder=data.get("holder"),
            expires_at=_time(data.get("expires_at")),
            url=data.get("url"),
        )


@dataclass(frozen=True, slots=True)
class CryptoTransferConfirmation:
    """Ask the payer to send exactly `amount` (a decimal string) of `asset` on `network` to
    `address` before `expires_at`; `payload` is what the QR code for a wallet encodes."""

    address: str
    amount: str
    asset: str
    network: str
    payload: str
    expires_at: datetime | None = None
    type: Literal["crypto_transfer"] = field(default="crypto_transfer", init=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> CryptoTransferConfirmation:
        return cls(
            address=data["address"],
            amount=data["amount"],
            asset=data["asset"],
            network=data["network"],
            payload=data["payload"],
            expires_at=_time(data.get("expires_at")),
        )


@dataclass(frozen=True, slots=True)
class InvoiceLinkConfirmation:
    """Send the payer to `url`, an invoice in a messenger or a wallet."""

    url: str
    type: Literal["invoice_link"] = field(default="invoice_link", init=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> InvoiceLinkConfirmation:
        return cls(url=data["url"])


@dataclass(frozen=True, slots=True)
class WidgetConfirmation:
    """Load the provider's widget `script` on your page and open it with `params`."""

    script: str
    params: Mapping[str, Any]
    type: Literal["widget"] = field(default="widget", init=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> WidgetConfirmation:
        return cls(script=data["script"], params=data.get("params") or {})


@dataclass(frozen=True, slots=True)
class TerminalConfirmation:
    """The payer pays at the shop's terminal; `result` is its card gateway's answer, or
    `error` the failure, once it comes."""

    terminal: str
    request_id: str | None = None
    result: Mapping[str, Any] | None = None
    error: Mapping[str, Any] | None = None
    type: Literal["terminal"] = field(default="terminal", init=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> TerminalConfirmation:
        return cls(
            terminal=data["terminal"],
            request_id=data.get("request_id"),
            result=data.get("result"),
            error=data.get("error"),
        )


@dataclass(frozen=True, slots=True)
class OtherConfirmation:
    """A kind of confirmation this client does not know (from a newer Kassa): its `type`, and
    the whole object as `raw`."""

    type: str
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


Confirmation = (
    RedirectConfirmation
    | QrConfirmation
    | RequisitesConfirmation
    | CryptoTransferConfirmation
    | InvoiceLinkConfirmation
    | WidgetConfirmation
    | TerminalConfirmation
    | OtherConfirmation
)

_CONFIRMATIONS: Mapping[str, Callable[[Mapping[str, Any]], Confirmation]] = {
    "redirect": RedirectConfirmation.from_api,
    "qr": QrConfirmation.from_api,
    "requisites": RequisitesConfirmation.from_api,
    "crypto_transfer": CryptoTransferConfirmation.from_api,
    "invoice_link": InvoiceLinkConfirmation.from_api,
    "widget": WidgetConfirmation.from_api,
    "terminal": TerminalConfirmation.from_api,
}


def read_confirmation(data: Mapping[str, Any] | None) -> Confirmation | None:
    """The API's `confirmation` object as its typed value (`None` for none)."""
    if not data:
        return None
    kind = str(data.get("type"))
    reader = _CONFIRMATIONS.get(kind)
    return reader(data) if reader is not None else OtherConfirmation(kind, raw=data)


@dataclass(frozen=True, slots=True)
class ReceiptItem:
    """One line of a payment's fiscal receipt: `price` per unit in minor units, `quantity`
    exact (at most 3 decimal places). Pass these, or plain dicts, as `items=` to create."""

    description: str
    quantity: Decimal | int
    price: int
    vat_code: int | None = None
    payment_subject: str | None = None
    payment_mode: str | None = None

    def to_api(self) -> dict[str, Any]:
        line: dict[str, Any] = {
            "description": self.description,
            "quantity": str(self.quantity),
            "price": self.price,
        }
        for name in ("vat_code", "payment_subject", "payment_mode"):
            if getattr(self, name) is not None:
                line[name] = getattr(self, name)
        return line

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ReceiptItem:
        return cls(
            description=data["description"],
            quantity=Decimal(data["quantity"]),
            price=data["price"],
            vat_code=data.get("vat_code"),
            payment_subject=data.get("payment_subject"),
            payment_mode=data.get("payment_mode"),
        )


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
    #: What the payer must do (`None` when the provider said nothing).
    confirmation: Confirmation | None = None
    #: The confirmation's `url` (a redirect's or an invoice link's): where to send the payer.
    confirmation_url: str | None = None
    description: str | None = None
    customer: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    failure_code: str | None = None
    failure_message: str | None = None
    expires_at: datetime | None = None
    #: The fiscal receipt: its recipient, its lines, its registration at the provider.
    customer_email: str | None = None
    customer_phone: str | None = None
    items: tuple[ReceiptItem, ...] = ()
    receipt_status: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Payment:
        confirmation_data = data.get("confirmation") or {}
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
            confirmation=read_confirmation(confirmation_data),
            confirmation_url=confirmation_data.get("url"),
            description=data.get("description"),
            customer=data.get("customer"),
            metadata=data.get("metadata") or {},
            failure_code=failure.get("code"),
            failure_message=failure.get("message"),
            expires_at=_time(data.get("expires_at")),
            customer_email=data.get("customer_email"),
            customer_phone=data.get("customer_phone"),
            items=tuple(ReceiptItem.from_api(line) for line in data.get("items") or ()),
            receipt_status=data.get("receipt_status"),
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
    receipt_status: str | None = None
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
            receipt_status=data.get("receipt_status"),
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
class BotPlan:
    """A plan the shop's Telegram bot sells: `price` in kopecks, `stars` in whole Stars;
    `traffic_gb` and `devices` are limits (None: none); `active` False once not sold."""

    id: str
    name: str
    days: int
    price: int
    stars: int
    active: bool
    traffic_gb: int | None = None
    devices: int | None = None
    referral_days: int = 0
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> BotPlan:
        return cls(
            id=data["id"],
            name=data["name"],
            days=data["days"],
            price=data["price"],
            stars=data["stars"],
            active=data["active"],
            traffic_gb=data.get("traffic_gb"),
            devices=data.get("devices"),
            referral_days=data.get("referral_days", 0),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class BotPromoCode:
    """A promo code of the shop's Telegram bot: `days` extra or `percent` off (one of the
    two), used `uses` times of at most `max_uses`, until `valid_until`."""

    id: str
    code: str
    uses: int
    active: bool
    created_at: datetime
    days: int | None = None
    percent: int | None = None
    max_uses: int | None = None
    valid_until: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> BotPromoCode:
        return cls(
            id=data["id"],
            code=data["code"],
            uses=data["uses"],
            active=data["active"],
            created_at=datetime.fromisoformat(data["created_at"]),
            days=data.get("days"),
            percent=data.get("percent"),
            max_uses=data.get("max_uses"),
            valid_until=_time(data.get("valid_until")),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list; pass the last item's id as `starting_after` for the next."""

    data: list[T]
    has_more: bool
