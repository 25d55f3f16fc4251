"""Request bodies of the merchant API (validated strictly), and response shapes for the docs."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from kassa.domain import MAX_AMOUNT
from kassa.domain.receipts import MAX_DESCRIPTION, MAX_EMAIL, MAX_ITEMS
from kassa.services.payments.lifecycle import (
    MAX_EXPIRES_IN,
    MAX_LENGTHS,
    MIN_EXPIRES_IN,
    NewPayment,
    metadata_problem,
)


def _check_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError("must be an http(s) URL")
    return value


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReceiptItemIn(Body):
    """One line of the fiscal receipt (54-FZ); docs/receipts.md lists the codes."""

    description: str = Field(min_length=1, max_length=MAX_DESCRIPTION)
    quantity: StrictInt | str = Field(
        description='An integer or a decimal string with up to 3 places ("1", "0.5"); '
        "never a JSON float, which is not exact.",
        examples=["1", "2.5"],
    )
    price: StrictInt = Field(gt=0, le=MAX_AMOUNT, description="Per unit, in minor units.")
    vat_code: StrictInt | None = Field(
        None,
        description="1 no VAT, 2 0%, 3 10%, 4 20%, 5 10/110, 6 20/120, 7 5%, 8 7%, "
        "9 5/105, 10 7/107, 11 22%, 12 22/122; default the shop's.",
    )
    payment_subject: str | None = Field(
        None, description="commodity, service, job, … (54-FZ tag 1212); default the shop's."
    )
    payment_mode: str | None = Field(
        None, description="full_payment, full_prepayment, … (54-FZ tag 1214); default the shop's."
    )


class PaymentCreate(Body):
    amount: StrictInt = Field(
        gt=0, le=MAX_AMOUNT, description="In the currency's minor units: 150000 RUB is 1 500.00 ₽."
    )
    currency: str = Field(
        min_length=3, max_length=8, description="RUB, KZT, USD, EUR, XTR, USDT, TON or BTC."
    )
    provider: str | None = Field(
        None,
        max_length=MAX_LENGTHS["provider"],
        description="Which provider; optional if the shop has just one.",
    )
    method: str | None = Field(
        None, max_length=MAX_LENGTHS["method"], description="e.g. card, sbp."
    )
    description: str | None = Field(None, max_length=MAX_LENGTHS["description"])
    customer: str | None = Field(
        None,
        max_length=MAX_LENGTHS["customer"],
        description="Your reference for the payer (user id, e-mail…).",
    )
    metadata: dict[str, str] = Field(
        default_factory=dict, description="Up to 50 keys (≤ 40 chars) of strings (≤ 500 chars)."
    )
    capture: StrictBool = Field(
        True, description="false: only hold the money; capture or cancel it later."
    )
    return_url: str | None = Field(
        None, max_length=MAX_LENGTHS["return_url"], description="Where the payer goes after paying."
    )
    terminal: str | None = Field(
        None,
        max_length=MAX_LENGTHS["terminal"],
        description='With provider "terminal": the terminal (kiosk) that takes the payment.',
    )
    expires_in: StrictInt | None = Field(
        None,
        ge=MIN_EXPIRES_IN,
        le=MAX_EXPIRES_IN,
        description="Seconds until an unpaid payment expires (default one day).",
    )
    customer_email: str | None = Field(
        None, max_length=MAX_EMAIL, description="Where the fiscal receipt is sent."
    )
    customer_phone: str | None = Field(
        None,
        max_length=32,
        description="Where the fiscal receipt is sent: an international number, +79001234567.",
    )
    items: list[ReceiptItemIn] | None = Field(
        None,
        min_length=1,
        max_length=MAX_ITEMS,
        description="The fiscal receipt's lines; price * quantity of all of them must add up "
        "to `amount` exactly. Default: one line of the description and the whole amount.",
    )

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @field_validator("return_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _check_url(value)

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, str]) -> dict[str, str]:
        problem = metadata_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    def to_params(self) -> NewPayment:
        return NewPayment(**self.model_dump())


class CaptureRequest(Body):
    amount: StrictInt | None = Field(
        None, gt=0, le=MAX_AMOUNT, description="Capture part of the payment (once); default all."
    )


class RefundCreate(Body):
    payment: str = Field(max_length=64, description="The id of the payment to refund.")
    amount: StrictInt | None = Field(
        None, gt=0, le=MAX_AMOUNT, description="Minor units; default everything still refundable."
    )
    reason: str | None = Field(None, max_length=500)


class RedirectConfirmation(BaseModel):
    """The payer follows `url`: the provider's checkout page, or Kassa's payer page."""

    type: Literal["redirect"]
    url: str


class QrConfirmation(BaseModel):
    """The payer scans a QR code of `payload` with a banking app; `image_url`, where the
    provider draws the code, is a picture of it."""

    type: Literal["qr"]
    payload: str
    image_url: str | None = None


class RequisitesConfirmation(BaseModel):
    """The payer transfers exactly `amount` to a card number (`pan`) or, through SBP, a phone
    number (`phone`), one of the two, before `expires_at`."""

    type: Literal["requisites"]
    amount: int = Field(
        description="Minor units of `currency`; may differ from the payment's amount, as the "
        "provider asks: transfer exactly this."
    )
    currency: str
    pan: str | None = Field(None, description="The card number to transfer to.")
    phone: str | None = Field(None, description="The phone number to transfer to through SBP.")
    bank: str | None = Field(None, description="The recipient's bank.")
    holder: str | None = Field(None, description="The recipient's name.")
    expires_at: str | None = Field(None, description="When the requisites stop holding.")
    url: str | None = Field(None, description="The provider's page showing these requisites.")


class CryptoTransferConfirmation(BaseModel):
    """The payer sends exactly `amount` of `asset` on `network` to `address`, before
    `expires_at`; `payload` is what the QR code for a wallet encodes."""

    type: Literal["crypto_transfer"]
    address: str
    amount: str = Field(
        description="A decimal string in the asset's units; the transfer is recognised by this "
        "exact amount, which may exceed the payment's own: send exactly this."
    )
    asset: str = Field(description="What to send, e.g. USDT.")
    network: str = Field(description="The chain to send it on, e.g. TRC20.")
    payload: str = Field(description="What the QR code for a wallet encodes.")
    expires_at: str | None = Field(None, description="When the address stops expecting it.")


class InvoiceLinkConfirmation(BaseModel):
    """The payer opens `url`, an invoice in a messenger or a wallet (Telegram, CryptoBot)."""

    type: Literal["invoice_link"]
    url: str


class WidgetConfirmation(BaseModel):
    """The payer pays in the provider's widget on your page: load `script` and open the
    widget with `params` (the provider's page in docs/providers says how)."""

    type: Literal["widget"]
    script: str
    params: dict[str, Any]


class TerminalConfirmation(BaseModel):
    """The payer pays at `terminal`; once it answers, its operation's `request_id` and the
    card gateway's answer (`result`) or the failure (`error`) are kept here."""

    type: Literal["terminal"]
    terminal: str
    request_id: str | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


Confirmation = Annotated[
    RedirectConfirmation
    | QrConfirmation
    | RequisitesConfirmation
    | CryptoTransferConfirmation
    | InvoiceLinkConfirmation
    | WidgetConfirmation
    | TerminalConfirmation,
    Field(discriminator="type"),
]


class ReceiptItemOut(BaseModel):
    description: str
    quantity: str = Field(description="A decimal string, exact.")
    price: int
    vat_code: int | None
    payment_subject: str | None
    payment_mode: str | None


class Failure(BaseModel):
    code: str
    message: str | None


class PaymentOut(BaseModel):
    id: str = Field(examples=["pay_01jd6xq4m8c9e5rgt2w3n7v0ka"])
    object: Literal["payment"]
    status: Literal[
        "pending", "requires_capture", "succeeded", "canceled", "failed", "expired", "refunded"
    ]
    amount: int
    currency: str
    amount_captured: int
    amount_refunded: int
    capture: bool
    provider: str
    method: str | None
    provider_payment_id: str | None
    confirmation: Confirmation | None
    description: str | None
    customer: str | None
    customer_email: str | None
    customer_phone: str | None
    items: list[ReceiptItemOut]
    receipt_status: Literal["pending", "succeeded", "canceled"] | None = Field(
        description="The fiscal receipt's registration as the provider reports it; null when "
        "it has said nothing (or sends no receipts)."
    )
    metadata: dict[str, str]
    return_url: str | None
    failure: Failure | None
    test: bool
    created_at: str
    updated_at: str
    expires_at: str | None


class RefundOut(BaseModel):
    id: str = Field(examples=["re_01jd6xq4m8c9e5rgt2w3n7v0ka"])
    object: Literal["refund"]
    payment: str
    status: Literal["pending", "succeeded", "failed"]
    amount: int
    currency: str
    reason: str | None
    provider_refund_id: str | None
    failure_message: str | None
    receipt_status: Literal["pending", "succeeded", "canceled"] | None
    test: bool
    created_at: str
    updated_at: str


class EventOut(BaseModel):
    id: str = Field(examples=["evt_01jd6xq4m8c9e5rgt2w3n7v0ka"])
    object: Literal["event"]
    type: str = Field(examples=["payment.succeeded"])
    source: Literal["api", "provider", "reconciliation", "system"]
    payment: str | None
    refund: str | None
    test: bool
    created_at: str
    data: dict[str, Any] = Field(
        description="{object: the payment, refund, webhook endpoint or delivery as it was}"
    )


class PaymentList(BaseModel):
    object: Literal["list"]
    data: list[PaymentOut]
    has_more: bool


class RefundList(BaseModel):
    object: Literal["list"]
    data: list[RefundOut]
    has_more: bool


class EventList(BaseModel):
    object: Literal["list"]
    data: list[EventOut]
    has_more: bool


class ErrorDetail(BaseModel):
    code: str = Field(examples=["parameter_invalid"])
    message: str
    param: str | None = None


class ErrorOut(BaseModel):
    error: ErrorDetail


#: The error answers every API route may give, for the OpenAPI document.
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in (
        (400, "Malformed request: invalid JSON, or the NUL character (U+0000) anywhere"),
        (401, "Missing, unknown or revoked API key"),
        (402, "The provider declined the operation"),
        (404, "No such object for this key"),
        (409, "Conflicts with the object's state or an Idempotency-Key"),
        (422, "A parameter is missing or invalid"),
        (429, "Too many requests for this key"),
        (502, "The provider could not be reached; retry with the same Idempotency-Key"),
    )
}
