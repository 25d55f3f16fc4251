"""1Plat's wire format, and how Kassa reads its statuses. No HTTP here: `provider.py` makes the
calls.

**Source quality: thin.** 1Plat's own documentation (`https://1plat.cash/doc/api`) could not be
read; every fact below comes from public integrators' code (3rd-party, see
`docs/providers/oneplat.md`), and the uncertain ones are settings or the safe reading:

- API calls: headers `x-shop` (the shop id) and `x-secret` (the shop secret), JSON bodies.
  `POST /api/merchant/order/create/by-api` `{merchant_order_id, user_id, amount, method,
  email}`, `amount` in whole rubles (most integrations; kopecks are refused by Kassa before
  1Plat is called, never rounded). The answer: `success`, `guid` (1Plat's id), `url` (the
  payer's page), `payment{status, method_group, amount_to_pay, expired, note{currency, pan,
  bank, fio}}`; `note` holds the transfer requisites (a card number, or a phone number for SBP).
- `GET /api/merchant/order/info/{guid}/by-api`: the order as 1Plat has it now. Its shape is NOT
  FOUND: Kassa reads the fields from a nested `payment` object, else from the top level.
- Statuses: -2 no requisites could be issued → `failed`; -1 created and 0 awaiting payment →
  `pending`; 1 paid, awaiting the merchant's confirmation and 2 confirmed → `succeeded` (the
  account setting `succeed_on=2` keeps 1 `pending`); any other code is unknown: a notification
  carrying it is kept and answered, nothing applied.
- Callbacks: a JSON POST `{signature, signature_v2, payment_id, guid, merchant_id, user_id,
  status, amount, amount_to_pay, amount_to_shop, expired, [merchant_order_id]}`.
  `signature_v2` = lower-case hex MD5 of `merchant_id + amount + shop_id + secret` (plain
  concatenation, each value exactly as the callback carries it); `signature` = hex
  HMAC-SHA256 keyed by the secret over the JSON of the callback without its two signature
  fields, serialized in a way NOT FOUND: Kassa accepts either form integrators use (keys as
  sent, compact, non-ASCII as is: JavaScript's `JSON.stringify`; or keys sorted, compact,
  non-ASCII escaped: Python's `json.dumps(sort_keys=True, separators=(",", ":"))`).
  Nothing in a callback is believed but who it names: the order is re-read from `order/info`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from types import MappingProxyType
from typing import Any

from kassa.domain import AmountInvalid, Money, NotificationRejected, PaymentStatus, PaymentUpdate
from kassa.domain.money import format_major
from kassa.providers import wire as shared
from kassa.providers.base import (
    ProviderPayment,
    RedirectConfirmation,
    RequisitesConfirmation,
)

CURRENCY = "RUB"
#: Kassa's method names and 1Plat's `method` for them.
METHODS: Mapping[str, str] = MappingProxyType({"card": "card", "sbp": "sbp"})
#: The method a payment that names none is created with.
DEFAULT_METHOD = "card"
#: The callback fields that are signatures, left out of what `signature` signs.
SIGNATURE_FIELDS = ("signature", "signature_v2")
#: The statuses `succeed_on` may name.
SUCCEED_ON = ("1", "2")


class OnePlatStatus(IntEnum):
    """1Plat's order statuses, as integrators describe them."""

    NO_REQUISITES = -2
    CREATED = -1
    AWAITING = 0
    PAID = 1
    CONFIRMED = 2


def kassa_status(status: OnePlatStatus, *, succeed_on: int = 1) -> PaymentStatus:
    """1Plat's status in Kassa's terms; `succeed_on` is the first status that counts as paid
    (1, or 2 where the shop wants 1Plat's confirmation)."""
    match status:
        case OnePlatStatus.NO_REQUISITES:
            return PaymentStatus.FAILED
        case OnePlatStatus.CREATED | OnePlatStatus.AWAITING:
            return PaymentStatus.PENDING
        case OnePlatStatus.PAID | OnePlatStatus.CONFIRMED:
            return PaymentStatus.SUCCEEDED if status >= succeed_on else PaymentStatus.PENDING


class Number(str):
    """A JSON number kept as the text it was sent as ("100", "100.00"): 1Plat's MD5 signs the
    amount exactly so, and amounts are read from it exactly (never through a float)."""


def load(raw: bytes) -> Any:
    """A JSON document with its numbers as `Number`s."""
    return json.loads(raw, parse_float=Number, parse_int=Number)


def _dump(value: Any, *, sort_keys: bool, ensure_ascii: bool) -> str:
    """`value` (as `load` read it) written compactly, its numbers as they were sent."""
    if isinstance(value, Number):
        return str(value)
    if isinstance(value, dict):
        items = sorted(value.items()) if sort_keys else value.items()
        return (
            "{"
            + ",".join(
                json.dumps(key, ensure_ascii=ensure_ascii)
                + ":"
                + _dump(item, sort_keys=sort_keys, ensure_ascii=ensure_ascii)
                for key, item in items
            )
            + "}"
        )
    if isinstance(value, list):
        inner = ",".join(_dump(v, sort_keys=sort_keys, ensure_ascii=ensure_ascii) for v in value)
        return f"[{inner}]"
    return json.dumps(value, ensure_ascii=ensure_ascii)


def whole_rubles(amount: int) -> str:
    """Kassa's kopecks as 1Plat's whole rubles ("1500"), or `AmountInvalid` for an amount with
    kopecks: 1Plat takes whole rubles, and Kassa never rounds a price."""
    rubles, kopecks = divmod(amount, 100)
    if kopecks:
        raise AmountInvalid(
            f"1Plat takes whole rubles only: {format_major(amount, CURRENCY)} RUB has kopecks; "
            "ask for an amount that is a multiple of 100 minor units",
            param="amount",
        )
    return str(rubles)


def signature_v2(merchant_id: str, amount: str, shop_id: str, secret: str) -> str:
    """The MD5 signature of a callback (1Plat's `signature_v2`): MD5 is 1Plat's choice, not
    Kassa's; `signature` (HMAC-SHA256) is checked as well."""
    return hashlib.md5(  # noqa: S324
        (merchant_id + amount + shop_id + secret).encode()
    ).hexdigest()


def hmac_signatures(callback: Mapping[str, Any], secret: str) -> tuple[str, ...]:
    """The HMAC `signature` a callback may carry, for each serialization integrators use."""
    payload = {k: v for k, v in callback.items() if k not in SIGNATURE_FIELDS}
    forms = {
        _dump(payload, sort_keys=False, ensure_ascii=False),
        _dump(payload, sort_keys=True, ensure_ascii=True),
    }
    key = secret.encode()
    return tuple(hmac.new(key, form.encode(), hashlib.sha256).hexdigest() for form in forms)


def _field(document: Mapping[str, Any], key: str) -> str | None:
    """A text or number field as text (`None` if absent or null)."""
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{key} is not a string or a number")
    return shared.text(document, key)


@dataclass(frozen=True, slots=True)
class Callback:
    """What a callback says about itself: who it names and its signatures, its fields as text
    exactly as sent."""

    guid: str
    merchant_id: str | None
    amount: str | None
    merchant_order_id: str | None
    status: str | None
    signature: str | None
    signature_v2: str | None
    fields: Mapping[str, Any]

    def signed_by(self, shop_id: str, secret: str) -> bool:
        """Whether `signature_v2` or `signature` proves the callback, in constant time."""
        proved = False
        if self.signature_v2 is not None and self.merchant_id is not None and self.amount:
            expected = signature_v2(self.merchant_id, self.amount, shop_id, secret)
            proved |= shared.signature_matches(self.signature_v2.lower(), expected)
        if self.signature is not None:
            given = self.signature.lower()
            for expected in hmac_signatures(self.fields, secret):
                proved |= shared.signature_matches(given, expected)
        return proved


def read_callback(raw: bytes) -> Callback:
    """A callback body, or `NotificationRejected` if it is not one."""
    try:
        document = load(raw)
        if not isinstance(document, dict):
            raise TypeError("the body is not a JSON object")
        guid = _field(document, "guid")
        if not guid:
            raise KeyError("guid")
        return Callback(
            guid=guid,
            merchant_id=_field(document, "merchant_id"),
            amount=_field(document, "amount"),
            merchant_order_id=_field(document, "merchant_order_id"),
            status=_field(document, "status"),
            signature=_field(document, "signature"),
            signature_v2=_field(document, "signature_v2"),
            fields=document,
        )
    except shared.MALFORMED as exc:
        raise NotificationRejected(f"Unreadable 1Plat callback: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class Order:
    """A 1Plat order as `order/info` (or the create's answer) shows it. `status` is `None`
    for a code Kassa does not know."""

    guid: str
    status: OnePlatStatus | None
    code: str
    amount: Money | None
    merchant_order_id: str | None

    def update(self, *, succeed_on: int) -> PaymentUpdate:
        """The order as a `PaymentUpdate`; an unknown status decides nothing (`pending`)."""
        if self.status is None:
            status = PaymentStatus.PENDING
        else:
            status = kassa_status(self.status, succeed_on=succeed_on)
        failed = status == PaymentStatus.FAILED
        return PaymentUpdate(
            status=status,
            provider_payment_id=self.guid,
            amount=self.amount,
            failure_code="no_requisites" if failed else None,
            failure_message=(
                "1Plat could not issue transfer requisites for the payment (status -2)"
                if failed
                else None
            ),
        )


def _payment_part(document: Any) -> Mapping[str, Any]:
    """The `payment` object of an answer, or the answer itself where there is none."""
    if not isinstance(document, dict):
        raise TypeError("the answer is not a JSON object")
    inner = document.get("payment")
    return inner if isinstance(inner, dict) else document


def _lookup(document: Mapping[str, Any], key: str) -> str | None:
    return _field(_payment_part(document), key) or _field(document, key)


def read_order(document: Any) -> Order:
    """An `order/info` answer (raises `ValueError`, `KeyError`, `TypeError` if malformed)."""
    if document.get("success") in (False, Number("0")):
        raise ValueError(f"1Plat answered without success: {document!r:.200}")
    guid = _field(document, "guid") or _lookup(document, "guid")
    code = _lookup(document, "status")
    if not guid or code is None:
        raise KeyError("guid and status")
    try:
        status: OnePlatStatus | None = OnePlatStatus(int(code))
    except ValueError:
        status = None
    amount = _lookup(document, "amount")
    return Order(
        guid=guid,
        status=status,
        code=code,
        amount=Money.from_major(amount, CURRENCY) if amount is not None else None,
        merchant_order_id=_lookup(document, "merchant_order_id"),
    )


def _expiry(value: str | None) -> datetime | None:
    """1Plat's `expired`, if it is an ISO 8601 time with its offset. Its format is NOT FOUND:
    a time without an offset could be any zone, so it is not shown rather than shown wrong."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def confirmation(
    document: Mapping[str, Any], url: str, method: str
) -> RequisitesConfirmation | RedirectConfirmation:
    """The requisites of a created order (`payment.note`), with its page; or the page alone
    while 1Plat has issued none."""
    payment = _payment_part(document)
    note = payment.get("note")
    note = note if isinstance(note, dict) else {}
    number = _field(note, "pan")
    to_pay = _field(payment, "amount_to_pay")
    if not number or to_pay is None:
        return RedirectConfirmation(url)
    group = _field(payment, "method_group") or method
    phone = group == "sbp" or number.startswith("+")
    return RequisitesConfirmation(
        amount=Money.from_major(to_pay, CURRENCY).amount,
        currency=CURRENCY,
        pan=None if phone else number,
        phone=number if phone else None,
        bank=_field(note, "bank"),
        holder=_field(note, "fio"),
        expires_at=_expiry(_field(payment, "expired")),
        url=url,
    )


def created_payment(document: Any, *, method: str) -> ProviderPayment:
    """1Plat's answer to a create: its guid, and the requisites or the page."""
    if not isinstance(document, dict) or document.get("success") in (False, Number("0")):
        raise ValueError(f"1Plat answered without success: {document!r:.200}")
    guid = _field(document, "guid")
    if not guid:
        raise KeyError("guid")
    url = _field(document, "url") or f"https://pay.1plat.cash/pay/{guid}"
    return ProviderPayment(
        provider_payment_id=guid, confirmation=confirmation(document, url, method)
    )
