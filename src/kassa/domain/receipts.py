"""Fiscal receipts (54-FZ): a payment's lines, its customer's contact, a shop's fiscal settings.

Kassa's vocabulary is YooKassa's (tax system codes 1-6, VAT codes, `payment_subject` and
`payment_mode` names), the most widely documented one; each provider module maps it onto its
own wire (CloudPayments numbers the same 54-FZ tags differently). Pure: no I/O.

Exactness: `price` is per unit in minor units and `quantity` a decimal with at most
`QUANTITY_PLACES` places, so a line's sum `price * quantity` is computed exactly; it must be a
whole number of minor units, and the lines must add up to the payment's amount. Nothing is
rounded: a receipt that does not add up is refused before any provider is called.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from kassa.domain.errors import ParameterInvalid

#: At most three decimal places of quantity (grams of a kilogram): what 54-FZ receipts and
#: YooKassa take.
QUANTITY_PLACES = 3
MAX_QUANTITY = Decimal(99_999)
MAX_ITEMS = 100
MAX_DESCRIPTION = 128

#: Tax systems (YooKassa's `tax_system_code`): 1 general, 2 simplified on income,
#: 3 simplified on income less expenses, 4 imputed income, 5 agricultural, 6 patent.
TAX_SYSTEMS = range(1, 7)

#: VAT codes (YooKassa's `vat_code`): 1 no VAT, 2 0%, 3 10%, 4 20%, 5 10/110, 6 20/120,
#: 7 5%, 8 7%, 9 5/105, 10 7/107, 11 22%, 12 22/122.
VAT_CODES = range(1, 13)

#: The subject of a line (54-FZ tag 1212), YooKassa's names in tag order (1 = commodity).
PAYMENT_SUBJECTS = (
    "commodity",
    "excise",
    "job",
    "service",
    "gambling_bet",
    "gambling_prize",
    "lottery",
    "lottery_prize",
    "intellectual_activity",
    "payment",
    "agent_commission",
    "composite",
    "another",
    "property_right",
    "non_operating_gain",
    "insurance_premium",
    "sales_tax",
    "resort_fee",
)

#: How a line is settled (54-FZ tag 1214), YooKassa's names in tag order (1 = full_prepayment).
PAYMENT_MODES = (
    "full_prepayment",
    "partial_prepayment",
    "advance",
    "full_payment",
    "partial_payment",
    "credit",
    "credit_payment",
)

#: How a provider reports a receipt's registration: sent to the tax service's operator,
#: registered there, or refused.
RECEIPT_STATUSES = ("pending", "succeeded", "canceled")

_EMAIL = re.compile(r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$")
_PHONE_SEPARATORS = re.compile(r"[\s()\-]")
_PHONE = re.compile(r"^\+?[0-9]{10,15}$")
MAX_EMAIL = 254


@dataclass(frozen=True, slots=True)
class ReceiptItem:
    """One line of a receipt. `price` is per unit, minor units; `quantity` exact."""

    description: str
    quantity: Decimal
    price: int
    vat_code: int | None = None
    payment_subject: str | None = None
    payment_mode: str | None = None

    @property
    def amount(self) -> int:
        """The line's sum in minor units (exact: `read_items` refuses fractions of a unit)."""
        return int(self.price * self.quantity)

    def document(self) -> dict[str, Any]:
        """The line as the API shows it and the store keeps it (quantity as a string)."""
        return {
            "description": self.description,
            "quantity": str(self.quantity),
            "price": self.price,
            "vat_code": self.vat_code,
            "payment_subject": self.payment_subject,
            "payment_mode": self.payment_mode,
        }


@dataclass(frozen=True, slots=True)
class FiscalSettings:
    """A shop's receipt settings: the defaults for lines that do not say, and whether every
    payment through a provider that sends receipts must carry one (then a payment without
    the customer's e-mail or phone is refused)."""

    tax_system_code: int
    vat_code: int
    payment_subject: str = "commodity"
    payment_mode: str = "full_payment"
    receipts_required: bool = False

    def __post_init__(self) -> None:
        _check_choice(self.tax_system_code, TAX_SYSTEMS, "tax_system_code")
        _check_choice(self.vat_code, VAT_CODES, "vat_code")
        _check_choice(self.payment_subject, PAYMENT_SUBJECTS, "payment_subject")
        _check_choice(self.payment_mode, PAYMENT_MODES, "payment_mode")

    def document(self) -> dict[str, Any]:
        return {
            "tax_system_code": self.tax_system_code,
            "vat_code": self.vat_code,
            "payment_subject": self.payment_subject,
            "payment_mode": self.payment_mode,
            "receipts_required": self.receipts_required,
        }

    @classmethod
    def from_document(cls, data: Mapping[str, Any] | None) -> FiscalSettings | None:
        return cls(**data) if data else None


def _check_choice(value: object, allowed: Sequence[object], param: str) -> None:
    if value not in allowed:
        shown = (
            f"{allowed[0]}-{allowed[-1]}"
            if isinstance(allowed, range)
            else ", ".join(map(str, allowed))
        )
        raise ParameterInvalid(f"{param} must be one of {shown}, not {value!r}", param=param)


def read_quantity(value: object, *, param: str = "quantity") -> Decimal:
    """A positive quantity from an integer or a decimal string (never a float, which is not
    exact), with at most `QUANTITY_PLACES` decimal places."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ParameterInvalid(f"{param} must be an integer or a decimal string", param=param)
    try:
        quantity = Decimal(value)
    except InvalidOperation:
        raise ParameterInvalid(f"{param} is not a decimal number: {value!r}", param=param) from None
    if not quantity.is_finite() or not 0 < quantity <= MAX_QUANTITY:
        raise ParameterInvalid(f"{param} must be above 0 and at most {MAX_QUANTITY}", param=param)
    if quantity == quantity.to_integral_value():
        return quantity.quantize(Decimal(1))  # "2.000" is 2, and never "2E+0"
    quantity = quantity.normalize()
    if -int(quantity.as_tuple().exponent) > QUANTITY_PLACES:
        raise ParameterInvalid(
            f"{param} has more than {QUANTITY_PLACES} decimal places", param=param
        )
    return quantity


def read_items(raw: Sequence[Mapping[str, Any]], *, amount: int) -> tuple[ReceiptItem, ...]:
    """A payment's lines, checked: each valid, each line's sum a whole number of minor units,
    and all of them adding up to exactly `amount`."""
    if not 0 < len(raw) <= MAX_ITEMS:
        raise ParameterInvalid(f"items takes 1-{MAX_ITEMS} lines", param="items")
    items = tuple(_read_item(line, f"items[{index}]") for index, line in enumerate(raw))
    total = sum(item.amount for item in items)
    if total != amount:
        raise ParameterInvalid(
            f"the items add up to {total} (price * quantity of each line), "
            f"not the payment's amount {amount}",
            param="items",
        )
    return items


def _read_item(line: Mapping[str, Any], where: str) -> ReceiptItem:
    description = line.get("description")
    if (
        not isinstance(description, str)
        or not 0 < len(description) <= MAX_DESCRIPTION
        or "\x00" in description
    ):
        raise ParameterInvalid(
            f"{where}.description must be 1-{MAX_DESCRIPTION} characters, without NUL",
            param=f"{where}.description",
        )
    price = line.get("price")
    if isinstance(price, bool) or not isinstance(price, int) or price <= 0:
        raise ParameterInvalid(
            f"{where}.price must be a positive integer (minor units per unit)",
            param=f"{where}.price",
        )
    quantity = read_quantity(line.get("quantity"), param=f"{where}.quantity")
    if (price * quantity) % 1:
        raise ParameterInvalid(
            f"{where}: price * quantity = {price * quantity} is not a whole number of minor "
            "units; choose a price or quantity that is",
            param=f"{where}.quantity",
        )
    item = ReceiptItem(
        description=description,
        quantity=quantity,
        price=price,
        vat_code=line.get("vat_code"),
        payment_subject=line.get("payment_subject"),
        payment_mode=line.get("payment_mode"),
    )
    if item.vat_code is not None:
        _check_choice(item.vat_code, VAT_CODES, f"{where}.vat_code")
    if item.payment_subject is not None:
        _check_choice(item.payment_subject, PAYMENT_SUBJECTS, f"{where}.payment_subject")
    if item.payment_mode is not None:
        _check_choice(item.payment_mode, PAYMENT_MODES, f"{where}.payment_mode")
    return item


def items_from_documents(documents: Sequence[Mapping[str, Any]] | None) -> tuple[ReceiptItem, ...]:
    """Stored lines (as `ReceiptItem.document` wrote them) back into items, unchecked."""
    return tuple(
        ReceiptItem(
            description=data["description"],
            quantity=Decimal(data["quantity"]),
            price=data["price"],
            vat_code=data.get("vat_code"),
            payment_subject=data.get("payment_subject"),
            payment_mode=data.get("payment_mode"),
        )
        for data in documents or ()
    )


def read_email(value: str) -> str:
    """An e-mail address for the receipt, as given (the provider delivers it)."""
    if len(value) > MAX_EMAIL or not _EMAIL.match(value):
        raise ParameterInvalid(
            f"customer_email is not an e-mail address: {value!r}", param="customer_email"
        )
    return value


def read_phone(value: str) -> str:
    """A phone number for the receipt in international form, `+` and 10-15 digits; spaces,
    dashes and parentheses are dropped (`+7 (900) 123-45-67` → `+79001234567`)."""
    digits = _PHONE_SEPARATORS.sub("", value)
    if not _PHONE.match(digits):
        raise ParameterInvalid(
            f"customer_phone must be an international number such as +79001234567, not {value!r}",
            param="customer_phone",
        )
    return digits if digits.startswith("+") else f"+{digits}"


#: What a receipt line says when the payment gives no lines and no description.
DEFAULT_LINE = "Payment"


@dataclass(frozen=True, slots=True)
class Receipt:
    """The fiscal receipt Kassa sends with a payment (or a refund): complete, every line's
    codes filled in from the shop's defaults, so a provider module only translates it. Kept
    with the payment as sent, so its refunds' receipts follow the same one whatever the
    shop's settings say later."""

    tax_system_code: int
    items: tuple[ReceiptItem, ...]
    email: str | None = None
    phone: str | None = None

    @property
    def amount(self) -> int:
        return sum(item.amount for item in self.items)

    def for_amount(self, amount: int) -> Receipt:
        """The receipt for `amount` of the payment (a refund, a partial capture): the same
        lines for all of it; for a part, one line of the first line's description and codes
        for that sum (which lines a part stands for cannot be told from its amount)."""
        if amount == self.amount:
            return self
        first = self.items[0]
        line = ReceiptItem(
            description=first.description,
            quantity=Decimal(1),
            price=amount,
            vat_code=first.vat_code,
            payment_subject=first.payment_subject,
            payment_mode=first.payment_mode,
        )
        return Receipt(self.tax_system_code, (line,), email=self.email, phone=self.phone)

    def document(self) -> dict[str, Any]:
        return {
            "tax_system_code": self.tax_system_code,
            "items": [item.document() for item in self.items],
            "email": self.email,
            "phone": self.phone,
        }

    @classmethod
    def from_document(cls, data: Mapping[str, Any] | None) -> Receipt | None:
        if not data:
            return None
        return cls(
            tax_system_code=data["tax_system_code"],
            items=items_from_documents(data["items"]),
            email=data.get("email"),
            phone=data.get("phone"),
        )


def build_receipt(
    settings: FiscalSettings | None,
    *,
    amount: int,
    items: Sequence[ReceiptItem],
    description: str | None,
    email: str | None,
    phone: str | None,
) -> Receipt | None:
    """The receipt for a payment of a shop with `settings`, or None: the shop sends no
    receipts, or (receipts not required) the payment names nobody to send one to. Without
    `items`, one line of the description (cut to 128 characters) for the whole amount.
    Raises `ParameterInvalid` when the shop requires receipts and there is no e-mail or
    phone: a receipt must reach the customer."""
    if settings is None:
        return None
    if email is None and phone is None:
        if settings.receipts_required:
            raise ParameterInvalid(
                "customer_email or customer_phone is required: this shop sends a fiscal "
                "receipt with every payment",
                param="customer_email",
            )
        return None
    if not items:
        text = (description or DEFAULT_LINE)[:MAX_DESCRIPTION]
        items = (ReceiptItem(description=text, quantity=Decimal(1), price=amount),)
    complete = tuple(
        ReceiptItem(
            description=item.description,
            quantity=item.quantity,
            price=item.price,
            vat_code=item.vat_code or settings.vat_code,
            payment_subject=item.payment_subject or settings.payment_subject,
            payment_mode=item.payment_mode or settings.payment_mode,
        )
        for item in items
    )
    return Receipt(settings.tax_system_code, complete, email=email, phone=phone)
