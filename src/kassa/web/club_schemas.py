"""Request bodies and answer shapes of the club's API (`/v1/club/{club}/…`). Amounts are in the
club currency's main unit: an integer or a decimal string ("1500", "1500.50"), never a JSON
float; answers show them as decimal strings."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, StrictInt

from kassa.web.schemas import ERRORS, Body, ErrorOut

#: An amount in the main unit, as the club's bodies take it.
Amount = StrictInt | str
AMOUNT = 'In the club currency\'s main unit: 1500 or "1500.50" (never a JSON float).'

#: What the club's money routes may answer besides the usual errors.
MONEY_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    402: {"model": ErrorOut, "description": "insufficient_funds: the balance does not cover it"},
}


class ZoneCreate(Body):
    name: str = Field(max_length=64, examples=["VIP"])


class CustomerCreate(Body):
    login: str = Field(max_length=64, examples=["arman"])
    password: str = Field(max_length=128, description="Kept only as an argon2 hash.")
    name: str = Field("", max_length=128)
    phone: str | None = Field(None, max_length=32)
    group: str | None = Field(None, max_length=64, description="A member group of the club.")


class TopupCreate(Body):
    customer: str = Field(max_length=64, description="The customer's login.")
    amount: Amount = Field(description=AMOUNT)
    method: Literal["cash", "card", "online"] | None = Field(
        None,
        description="cash or card: paid at the desk, credited now. online (or none given): "
        "a payment through `provider` or the shop's default online one (Kaspi first; the "
        "sandbox in test mode), credited once it succeeds.",
    )
    provider: str | None = Field(
        None, max_length=32, description="The provider of an online top-up."
    )
    return_url: str | None = Field(
        None, max_length=2048, description="Where the payer returns after a redirect."
    )


class ShiftOpen(Body):
    cash: Amount = Field(description=f"The cash in the drawer. {AMOUNT}")


class ShiftClose(Body):
    counted: Amount = Field(description=f"The cash counted in the drawer. {AMOUNT}")


class CorrectionCreate(Body):
    customer: str = Field(max_length=64, description="The customer's login.")
    amount: Amount = Field(0, description=f"Signed. {AMOUNT}")
    seconds: StrictInt = Field(0, description="Signed: time added to (or taken from) the bank.")
    reason: str = Field(min_length=1, max_length=500)


class PurchaseCreate(Body):
    customer: str = Field(max_length=64, description="The customer's login.")
    package: str = Field(max_length=64, description="The package's name.")


class PackageCreate(Body):
    name: str = Field(max_length=64, examples=["1 час"])
    seconds: StrictInt = Field(gt=0, examples=[3600])
    price: Amount = Field(description=AMOUNT, examples=[350])
    zone: str | None = Field(None, max_length=64, description="Only in this zone.")
    window: str | None = Field(
        None,
        max_length=11,
        description="Bought and used only then, in the club's time zone: 23:00-08:00.",
    )


class TariffSet(Body):
    zone: str = Field(max_length=64)
    per_minute: Amount = Field(description=f"Per started minute. {AMOUNT}", examples=[5])
    days: str | None = Field(None, max_length=40, description="Only on these days: mon-fri.")
    hours: str | None = Field(None, max_length=11, description="Only at these times: 18:00-23:00.")


class AppCreate(Body):
    name: str = Field(max_length=64, examples=["Dota 2"])
    path: str = Field(max_length=1024, examples=["C:\\Games\\Dota 2\\dota2.exe"])
    kind: Literal["game", "app"]
    icon: str | None = Field(None, max_length=1024)
    zones: list[str] = Field(
        default_factory=list, max_length=50, description="Offered only there; none: everywhere."
    )


class ClubOut(BaseModel):
    object: Literal["club"]
    id: str
    name: str
    currency: str
    timezone: str
    lease_max: int
    offline_policy: Literal["lock", "continue"]
    language: Literal["ru", "en"] = Field(description="Its PCs' screens' language.")
    test: bool = Field(description="Its PCs' online top-ups are made in test mode.")
    created_at: str


class ZoneOut(BaseModel):
    object: Literal["club_zone"]
    name: str


class CustomerOut(BaseModel):
    object: Literal["club_customer"]
    id: str
    login: str
    name: str
    phone: str | None
    group: str | None
    balance: str = Field(examples=["1500.00"])
    time_bank: int = Field(description="Seconds.")
    status: Literal["active", "blocked", "deleted"]
    created_at: str


class EntryOut(BaseModel):
    object: Literal["club_ledger_entry"]
    id: str
    kind: Literal["topup", "purchase", "session_charge", "refund", "correction"]
    amount: str
    seconds: int
    method: str | None
    actor: str
    reason: str | None
    created_at: str


class PostedOut(EntryOut):
    customer: CustomerOut = Field(description="The customer after the entry.")


class TopupOut(BaseModel):
    object: Literal["club_topup"]
    id: str
    customer: str = Field(description="The customer's login.")
    amount: str
    currency: str
    provider: str | None
    status: Literal["pending", "credited", "failed", "unclaimed"]
    payment: str = Field(description="The Kassa payment's id.")
    payment_status: str | None = None
    confirmation: dict[str, Any] | None = Field(
        None, description="What the payer must do: a link to open, a QR to scan…"
    )
    created_at: str
    credited_at: str | None


class ReportOut(BaseModel):
    until: str
    opening_cash: str
    cash: str
    card: str
    online: str
    sessions: str
    session_charges: int
    packages: str
    packages_sold: int
    corrections: str
    correction_seconds: int
    corrections_made: int
    expected_cash: str


class ShiftOut(BaseModel):
    object: Literal["club_shift"]
    id: str
    status: Literal["open", "closed"]
    opened_at: str
    opened_by: str
    opening_cash: str
    closed_at: str | None
    closed_by: str | None
    counted_cash: str | None
    expected_cash: str | None
    difference: str | None
    report: ReportOut | None = Field(
        None, description="The X report of an open shift; the Z report of a closed one."
    )


class PackageOut(BaseModel):
    object: Literal["club_package"]
    name: str
    seconds: int
    price: str
    zone: str | None
    window: str | None
    active: bool


class TariffOut(BaseModel):
    object: Literal["club_tariff"]
    zone: str
    per_minute: str
    days: str | None
    hours: str | None


class AppOut(BaseModel):
    object: Literal["club_app"]
    name: str
    path: str
    kind: Literal["game", "app"]
    icon: str | None
    zones: list[str]


class UseOut(BaseModel):
    source: Literal["package", "time_bank", "balance"]
    seconds: int
    amount: str
    package: str | None


class PreviewOut(BaseModel):
    object: Literal["club_preview"]
    kind: Literal["purchase", "play"]
    package: PackageOut | None = None
    price: str | None = None
    balance: str
    balance_after: str | None = None
    allowed: bool | None = None
    refused: str | None = None
    expires_at: str | None = None
    zone: str | None = None
    at: str | None = None
    per_minute: str | None = None
    time_bank: int | None = None
    seconds: int | None = None
    short: int | None = None
    amount: str | None = None
    uses: list[UseOut] | None = None


class ZoneList(BaseModel):
    object: Literal["list"]
    data: list[ZoneOut]
    has_more: bool


class CustomerList(BaseModel):
    object: Literal["list"]
    data: list[CustomerOut]
    has_more: bool


class EntryList(BaseModel):
    object: Literal["list"]
    data: list[EntryOut]
    has_more: bool


class PackageList(BaseModel):
    object: Literal["list"]
    data: list[PackageOut]
    has_more: bool


class TariffList(BaseModel):
    object: Literal["list"]
    data: list[TariffOut]
    has_more: bool


class AppList(BaseModel):
    object: Literal["list"]
    data: list[AppOut]
    has_more: bool


class TopupList(BaseModel):
    object: Literal["list"]
    data: list[TopupOut]
    has_more: bool


class ShiftList(BaseModel):
    object: Literal["list"]
    data: list[ShiftOut]
    has_more: bool
