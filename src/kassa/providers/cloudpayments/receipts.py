"""Kassa's fiscal receipt (54-FZ) as CloudPayments' `CustomerReceipt`.

CloudPayments makes the receipt itself (through CloudKassir) from a `CustomerReceipt` under
the key `cloudpayments` of the operation's JsonData ([official copy], `providers.md` §2.2):
the widget's `data` for a payment, the `/payments/refund` call's `JsonData` for a refund, on
which CloudPayments makes the return receipt. The receipt's own fields are not in the
reference: they are CloudKassir's item list as integrations use it ([3rd-party code]
axcherednikov/cloudpayments-php-client, `ReceiptItem`: `label`, `price`, `quantity`,
`amount`, `vat`, `method`, `object`), with `taxationSystem`, `email`, `phone` and `amounts`.
Unverified against the live service; the codes are the 54-FZ tags' numbers:

- `taxationSystem` 0-5 is Kassa's (YooKassa's) tax system code less one;
- `vat` is the rate itself (null: no VAT; 110 and 120 the 10/110 and 20/120 rates, and so on);
- `method` is tag 1214 (1 full prepayment … 7 credit payment), `object` tag 1212 (1 commodity
  … ), in the order `kassa.domain.receipts` lists them.

Amounts are exact Decimals in major units (`json_body` writes them as JSON numbers).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from kassa.domain.money import to_decimal
from kassa.domain.receipts import PAYMENT_MODES, PAYMENT_SUBJECTS, Receipt

#: The JsonData key CloudPayments reads a receipt (and recurrence settings) from.
DATA_KEY = "cloudpayments"

#: Kassa's VAT codes as CloudPayments' `vat` values.
VAT = MappingProxyType(
    {1: None, 2: 0, 3: 10, 4: 20, 5: 110, 6: 120, 7: 5, 8: 7, 9: 105, 10: 107, 11: 22, 12: 122}
)


def customer_receipt(receipt: Receipt, currency: str) -> dict[str, Any]:
    """`receipt` as a `CustomerReceipt` (every line's codes are set: `build_receipt` fills
    them)."""
    items = [
        {
            "label": item.description,
            "price": to_decimal(item.price, currency),
            "quantity": item.quantity,
            "amount": to_decimal(item.amount, currency),
            "vat": VAT[item.vat_code or 1],
            "method": PAYMENT_MODES.index(item.payment_mode or "full_payment") + 1,
            "object": PAYMENT_SUBJECTS.index(item.payment_subject or "commodity") + 1,
        }
        for item in receipt.items
    ]
    document: dict[str, Any] = {
        "Items": items,
        "taxationSystem": receipt.tax_system_code - 1,
        "isBso": False,
        "amounts": {"electronic": to_decimal(receipt.amount, currency)},
    }
    if receipt.email:
        document["email"] = receipt.email
    if receipt.phone:
        document["phone"] = receipt.phone
    return document


def receipt_data(receipt: Receipt, currency: str) -> dict[str, Any]:
    """What goes into an operation's JsonData for CloudPayments to make `receipt`."""
    return {DATA_KEY: {"CustomerReceipt": customer_receipt(receipt, currency)}}
