"""Crypto Pay's wire format, and how Kassa reads its invoices. No HTTP here: `provider.py`
makes the calls.

Facts (`reference/providers.md` §3; user guide: docs/providers/cryptopay.md), with how sure
they are:

- Calls: `{api_url}/{method}` with the header `Crypto-Pay-API-Token`; parameters as a query
  string (GET) or JSON; answers `{"ok": true, "result": …}` or `{"ok": false, "error":
  {"code": int, "name": "…"}}` (the envelope: [3rd-party code]). Mainnet
  `https://pay.crypt.bot/api`, testnet `https://testnet-pay.crypt.bot/api` ([official]); a
  token of one works only against its own host.
- `createInvoice` has no idempotency key ([3rd-party code]): Kassa's payment id travels in
  `payload` and the returned `invoice_id` is kept as the payment's `provider_payment_id`.
- Amounts are decimal strings in major units ("125.50"), never JSON numbers. A fiat invoice
  (`currency_type=fiat`, `fiat=RUB`) is paid in a crypto asset (`paid_asset`, `paid_amount`),
  but its `amount` stays in the fiat currency, which is what Kassa compares.
- Invoice statuses `active`, `paid`, `expired` ([official] changelog).
- Webhooks: `{"update_id", "update_type": "invoice_paid", "request_date", "payload":
  <invoice>}`, signed in the header `crypto-pay-api-signature`: hex HMAC-SHA256 of the raw body
  keyed by the raw 32-byte SHA-256 of the token ([3rd-party code], four libraries agree).
  `invoice_paid` is the only documented update type; others are NOT FOUND. Failed deliveries
  are retried for 3 days ([official]).

Statuses, as Kassa reads them (`kassa_status`): `active` (and any status Crypto Pay may add
later) → `pending`; `paid` → `succeeded`; `expired` → `canceled`, with the failure code
`expired` (nobody paid the invoice in its time: Crypto Pay has no declines).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, assert_never

from kassa.domain import Money, NotificationRejected, PaymentStatus, PaymentUpdate, SignatureInvalid
from kassa.domain.money import format_major
from kassa.providers import wire as shared

MAINNET_URL = "https://pay.crypt.bot/api"
TESTNET_URL = "https://testnet-pay.crypt.bot/api"
TOKEN_HEADER = "Crypto-Pay-API-Token"  # noqa: S105 - the header's name, not a token
SIGNATURE_HEADER = "crypto-pay-api-signature"

#: Kassa's currencies Crypto Pay invoices in fiat (`currency_type=fiat`); its fiat list also
#: has ones Kassa does not know. ([3rd-party code] aiocryptopay's enum; the live list is
#: `getCurrencies`.)
FIAT = frozenset({"RUB", "USD", "EUR", "KZT"})
#: Kassa's currencies that are Crypto Pay assets (`currency_type=crypto`).
ASSETS = frozenset({"USDT", "TON", "BTC"})

#: How long Crypto Pay keeps resending a webhook that failed (since API 1.5.2: 3 days, 17
#: attempts, [official]). A genuine delivery is never older; an older `request_date` is a
#: replay, refused.
RETRY_WINDOW = timedelta(days=3)
#: `expires_in`'s bounds, in seconds ([3rd-party code] aiocryptopay).
MIN_EXPIRES_IN, MAX_EXPIRES_IN = 1, 2_678_400
#: `description`'s longest ([3rd-party code] aiocryptopay: 1024 characters).
MAX_DESCRIPTION = 1024

PAID_UPDATE = "invoice_paid"

#: The invoice's links a payer may be sent to (the `link` setting), and the deprecated one
#: older answers carry instead of `bot_invoice_url`.
LINKS: Mapping[str, str] = {
    "bot": "bot_invoice_url",
    "mini_app": "mini_app_invoice_url",
    "web_app": "web_app_invoice_url",
}
LEGACY_LINK = "pay_url"


class InvoiceStatus(StrEnum):
    ACTIVE = "active"
    PAID = "paid"
    EXPIRED = "expired"


def kassa_status(status: InvoiceStatus) -> PaymentStatus:
    """An invoice's status in Kassa's terms; see the module docstring."""
    match status:
        case InvoiceStatus.ACTIVE:
            return PaymentStatus.PENDING
        case InvoiceStatus.PAID:
            return PaymentStatus.SUCCEEDED
        case InvoiceStatus.EXPIRED:
            return PaymentStatus.CANCELED
        case _:
            assert_never(status)


def wire_amount(amount: int, currency: str) -> str:
    """Minor units as Crypto Pay's decimal string, exactly and without trailing zeros:
    1050000 USDT (6 decimals) → "1.05", 10000 RUB → "100"."""
    text = format_major(amount, currency)
    return text.rstrip("0").rstrip(".") if "." in text else text


def invoice_params(
    *,
    payment_id: str,
    amount: int,
    currency: str,
    description: str | None,
    expires_in: int | None,
    accepted_assets: str | None,
    return_url: str | None = None,
) -> dict[str, str]:
    """`createInvoice`'s parameters for a payment (all text, as a query string takes them)."""
    params = {"amount": wire_amount(amount, currency), "payload": payment_id}
    if currency in ASSETS:
        params |= {"currency_type": "crypto", "asset": currency}
    elif currency in FIAT:
        params |= {"currency_type": "fiat", "fiat": currency}
        if accepted_assets:
            params["accepted_assets"] = accepted_assets
    else:
        raise ValueError(f"Crypto Pay invoices no {currency}")
    if description:
        params["description"] = description[:MAX_DESCRIPTION]
    if expires_in is not None:
        params["expires_in"] = str(min(max(expires_in, MIN_EXPIRES_IN), MAX_EXPIRES_IN))
    if return_url and return_url.startswith("https://"):
        # The button the paid invoice shows: `callback` is "Return" to the URL ([3rd-party
        # code] aiocryptopay). Only https: whether Crypto Pay takes http is NOT FOUND.
        params |= {"paid_btn_name": "callback", "paid_btn_url": return_url}
    return params


def invoice_money(invoice: Any) -> Money:
    """What an invoice is for: its `amount` in its fiat currency or its asset."""
    kind = shared.text(invoice, "currency_type", required=False) or "crypto"
    # `text` returns a string when required; "" would be refused by `Money` anyway.
    currency = shared.text(invoice, "fiat" if kind == "fiat" else "asset") or ""
    amount = shared.text(invoice, "amount") or ""
    return Money.from_major(amount, currency)


def invoice_id(invoice: Any) -> str:
    """The invoice's id (a JSON integer) as text."""
    value = invoice["invoice_id"]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise TypeError("invoice_id is not a positive integer")
    return str(value)


def invoice_update(invoice: Any) -> PaymentUpdate:
    """An invoice object as a `PaymentUpdate`. Raises one of `shared.MALFORMED` if it is
    malformed."""
    try:
        status = kassa_status(InvoiceStatus(invoice["status"]))
    except ValueError:
        status = PaymentStatus.PENDING  # a status Crypto Pay may add later: decide nothing yet
    expired = status == PaymentStatus.CANCELED
    return PaymentUpdate(
        status=status,
        payment_id=shared.text(invoice, "payload", required=False) or None,
        provider_payment_id=invoice_id(invoice),
        amount=invoice_money(invoice),
        failure_code="expired" if expired else None,
        failure_message="The Crypto Pay invoice expired unpaid" if expired else None,
    )


def invoice_link(invoice: Any, link: str) -> str:
    """The payer's link to the invoice: the one the `link` setting names, else the bot's."""
    for key in (LINKS[link], LINKS["bot"], LEGACY_LINK):
        if url := shared.text(invoice, key, required=False):
            return url
    raise KeyError("the invoice has no link for the payer")


# Answers


@dataclass(frozen=True, slots=True)
class ApiError:
    """Crypto Pay's `{"ok": false, "error": {"code", "name"}}`."""

    code: int | None
    name: str


def read_envelope(document: Any) -> Any:
    """The `result` of a successful answer; an `ApiError` for a refusal. Raises one of
    `shared.MALFORMED` if it is neither."""
    if document.get("ok") is True:
        return document["result"]
    if document.get("ok") is False:
        error = document.get("error") or {}
        code = error.get("code")
        name = shared.text(error, "name", required=False) or "UNKNOWN_ERROR"
        return ApiError(code if isinstance(code, int) else None, name)
    raise ValueError("the answer is neither ok nor an error")


# Webhooks


def signature_key(token: str) -> bytes:
    """The webhook HMAC's key: SHA-256 of the token, the raw 32 bytes (the hex text would
    never match, the pitfall of pyCryptoPayAPI#4)."""
    return hashlib.sha256(token.encode()).digest()


def sign(token: str, body: bytes) -> str:
    """The `crypto-pay-api-signature` of `body`: hex HMAC-SHA256 of the raw bytes."""
    return hmac.new(signature_key(token), body, hashlib.sha256).hexdigest()


def verify_signature(token: str, body: bytes, given: str | None) -> None:
    """Raise `SignatureInvalid` unless `given` signs the raw `body` (constant time)."""
    if not shared.signature_matches(given.lower() if given else None, sign(token, body)):
        raise SignatureInvalid("Crypto Pay webhook signature does not match the token")


@dataclass(frozen=True, slots=True)
class Update:
    """A webhook's body: its identity, kind, date and the invoice it carries."""

    update_id: int
    update_type: str
    request_date: datetime
    invoice: Any


def read_update(body: bytes) -> Update:
    """A webhook body, or `NotificationRejected`."""
    try:
        document = json.loads(body)
        update_id, update_type = document["update_id"], shared.text(document, "update_type")
        if isinstance(update_id, bool) or not isinstance(update_id, int):
            raise TypeError("update_id is not an integer")
        date = datetime.fromisoformat(shared.text(document, "request_date") or "")
        if date.tzinfo is None:
            raise ValueError("request_date has no time zone")
        invoice = document["payload"]
        if not isinstance(invoice, dict):
            raise TypeError("payload is not an invoice object")
    except (ValueError, KeyError, TypeError) as exc:
        raise NotificationRejected(f"Unreadable Crypto Pay webhook: {exc!r}") from exc
    return Update(update_id, (update_type or "")[:64], date.astimezone(UTC), invoice)


def check_fresh(update: Update, now: datetime) -> None:
    """Refuse an update older than Crypto Pay's retry window (a replay)."""
    if update.request_date < now - RETRY_WINDOW:
        raise NotificationRejected(
            f"Crypto Pay webhook of {update.request_date.isoformat()} is older than the "
            f"{RETRY_WINDOW.days}-day window in which Crypto Pay resends"
        )


def timestamp(value: datetime) -> str:
    """Crypto Pay's timestamp form: UTC ISO 8601 with milliseconds and a Z."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
