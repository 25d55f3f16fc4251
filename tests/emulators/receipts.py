"""What the YooKassa and CloudPayments emulators check in a fiscal receipt (54-FZ).

The reference (`providers.md` §1, §2) names the `receipt` of YooKassa's payment and refund
calls and CloudPayments' `CustomerReceipt` under JsonData's `cloudpayments` key, but not their
fields. The fields checked here are those of YooKassa's public API reference and
CloudKassir's item list (as CloudPayments integrations use it, [3rd-party code]
axcherednikov/cloudpayments-php-client): unverified against the live services, so each rule
is one the providers are documented or widely shown to enforce, and nothing more:

- someone to send the receipt to: an e-mail or a phone;
- 1-100 lines (the limit is the emulators' choice), each with a description of 1-128
  characters, a positive quantity, a positive price, and codes from the documented sets;
- the lines add up to exactly the amount paid (or captured, or refunded);
- a known tax system (YooKassa 1-6; CloudPayments 0-5).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

YOOKASSA_SUBJECTS = frozenset(
    [
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
    ]
)
YOOKASSA_MODES = frozenset(
    [
        "full_prepayment",
        "partial_prepayment",
        "advance",
        "full_payment",
        "partial_payment",
        "credit",
        "credit_payment",
    ]
)
#: CloudPayments' `vat` values: null (no VAT) and the rates.
CLOUDPAYMENTS_VATS = frozenset({None, 0, 5, 7, 10, 20, 22, 105, 107, 110, 120, 122})
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+?\d{10,15}")
MAX_LINES = 100


class ReceiptInvalid(Exception):
    def __init__(self, parameter: str, description: str) -> None:
        super().__init__(description)
        self.parameter = parameter
        self.description = description


def _contact(email: Any, phone: Any, where: str) -> None:
    if email is None and phone is None:
        raise ReceiptInvalid(where, "The receipt needs the customer's email or phone")
    if email is not None and not (isinstance(email, str) and _EMAIL.fullmatch(email)):
        raise ReceiptInvalid(f"{where}.email", "Invalid email")
    if phone is not None and not (isinstance(phone, str) and _PHONE.fullmatch(phone)):
        raise ReceiptInvalid(f"{where}.phone", "Invalid phone")


def _lines(items: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(items, list) or not 0 < len(items) <= MAX_LINES:
        raise ReceiptInvalid(where, f"A receipt has 1-{MAX_LINES} items")
    if not all(isinstance(item, dict) for item in items):
        raise ReceiptInvalid(where, "Items are objects")
    return items


def _number(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or value <= 0:
        raise ReceiptInvalid(where, "Must be a positive number")
    return Decimal(value)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 128:
        raise ReceiptInvalid(where, "Must be text of 1-128 characters")
    return value


def _total(total: Decimal, expected: Decimal, where: str) -> None:
    if total != expected:
        raise ReceiptInvalid(where, f"The items add up to {total}, not {expected}")


def check_yookassa(receipt: Any, expected: Decimal, currency: str) -> None:
    """A YooKassa `receipt` for `expected` (major units). Quantities arrive as Decimals (the
    emulator reads JSON numbers exactly)."""
    if not isinstance(receipt, dict):
        raise ReceiptInvalid("receipt", "Receipt is missing or illegal")
    customer = receipt.get("customer") or {}
    _contact(customer.get("email"), customer.get("phone"), "receipt.customer")
    tax = receipt.get("tax_system_code")
    if tax is not None and tax not in range(1, 7):
        raise ReceiptInvalid("receipt.tax_system_code", "Unknown tax system code")
    total = Decimal(0)
    for index, item in enumerate(_lines(receipt.get("items"), "receipt.items")):
        where = f"receipt.items[{index}]"
        _text(item.get("description"), f"{where}.description")
        quantity = _number(item.get("quantity"), f"{where}.quantity")
        amount = item.get("amount")
        if not isinstance(amount, dict) or amount.get("currency") != currency:
            raise ReceiptInvalid(f"{where}.amount", "The item's amount is not in the currency")
        price = _number(Decimal(str(amount.get("value", "0"))), f"{where}.amount.value")
        if item.get("vat_code") not in range(1, 13):
            raise ReceiptInvalid(f"{where}.vat_code", "Unknown VAT code")
        if item.get("payment_subject", "commodity") not in YOOKASSA_SUBJECTS:
            raise ReceiptInvalid(f"{where}.payment_subject", "Unknown payment subject")
        if item.get("payment_mode", "full_payment") not in YOOKASSA_MODES:
            raise ReceiptInvalid(f"{where}.payment_mode", "Unknown payment mode")
        total += (price * quantity).quantize(Decimal("0.01"))
    _total(total, expected, "receipt.items")


def check_cloudpayments(receipt: Any, expected: Decimal) -> None:
    """A CloudPayments `CustomerReceipt` for `expected` (major units, as exact Decimals)."""
    if not isinstance(receipt, dict):
        raise ReceiptInvalid("CustomerReceipt", "CustomerReceipt is missing or illegal")
    _contact(receipt.get("email"), receipt.get("phone"), "CustomerReceipt")
    if receipt.get("taxationSystem") not in range(6):
        raise ReceiptInvalid("CustomerReceipt.taxationSystem", "Unknown taxation system")
    total = Decimal(0)
    for index, item in enumerate(_lines(receipt.get("Items"), "CustomerReceipt.Items")):
        where = f"CustomerReceipt.Items[{index}]"
        _text(item.get("label"), f"{where}.label")
        price = _number(item.get("price"), f"{where}.price")
        quantity = _number(item.get("quantity"), f"{where}.quantity")
        amount = _number(item.get("amount"), f"{where}.amount")
        if amount != (price * quantity).quantize(Decimal("0.01")):
            raise ReceiptInvalid(f"{where}.amount", "amount is not price * quantity")
        if item.get("vat") not in CLOUDPAYMENTS_VATS:
            raise ReceiptInvalid(f"{where}.vat", "Unknown VAT rate")
        if item.get("method", 4) not in range(1, 8) or item.get("object", 1) not in range(1, 19):
            raise ReceiptInvalid(where, "Unknown method or object")
        total += amount
    electronic = (receipt.get("amounts") or {}).get("electronic", total)
    if electronic != total:
        raise ReceiptInvalid("CustomerReceipt.amounts.electronic", "Not the items' total")
    _total(total, expected, "CustomerReceipt.Items")
