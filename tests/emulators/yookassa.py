"""An emulator of YooKassa's API v3: a small in-memory ASGI app served on loopback for tests.

It behaves as YooKassa's documentation and official SDKs describe, and so documents what
Kassa's `YooKassaProvider` relies on:

- Paths under `/v3`: `POST /payments`, `GET /payments/{id}`, `POST /payments/{id}/capture`,
  `POST /payments/{id}/cancel`, `POST /refunds`, `GET /refunds/{id}`.
- HTTP Basic auth with the shop id and secret key; anything else is `401 invalid_credentials`.
  A shop whose key starts with `test_` is a test shop: its objects carry `"test": true`.
- Errors are `{"type": "error", "id", "code", "description", "parameter"}`. An amount must be
  `{"value": "<digits>.<two digits>", "currency"}`: a JSON number or "169.0" is
  `400 invalid_request` "Specify the amount in correct format. For example, 100.00".
- Every POST needs an `Idempotence-Key`. The same key with the same request gets the same
  answer (even after the object changed); with a different request, an error. With
  `processing_rounds` set, a new key is first answered `202 {"type": "processing",
  "retry_after": <ms>}` that many times, then carried out.
- Payments start `pending` with a `confirmation_url` on this emulator (`/checkout/{id}`, a
  plain page). The payer's side is played from Python: `pay` (→ `succeeded`, or
  `waiting_for_capture` for `capture: false`) and `decline` (→ `canceled` with a reason).
- `capture` (full or partial) only from `waiting_for_capture`; after a partial capture the
  payment's `amount` is the captured sum. `cancel` only from `waiting_for_capture` (YooKassa
  cancels only holds). Refunds only of `succeeded` payments, several partial ones, never more
  than was captured; they settle at once (`succeeded`), or, with `refunds_settle` off, stay
  `pending` until `settle_refund`.
- Receipts (54-FZ, `tests/emulators/receipts.py`): a shop made with `receipts_required`
  (YooKassa's receipts switched on for it) refuses a payment without a `receipt`; a receipt,
  wherever given (create, capture, refund), must add up to the sum and name the customer.
  A payment or refund with one carries `receipt_registration`: `pending`, then `succeeded`
  once the money is taken (emulator's choice: registration takes no time).
- `notify` POSTs a notification as YooKassa does: unsigned JSON
  `{"type": "notification", "event", "object"}`, here from loopback with an `X-Forwarded-For`
  naming one of YooKassa's addresses, so Kassa must trust 127.0.0.1 as a proxy.
- Faults: `fail_next("error")` carries out the next call and then answers 500 (the answer is
  lost, the effect is not); `fail_next("hang")` carries it out and answers only after
  `hang_seconds`, longer than a client waits. While `down` is set, every call is answered
  500 and does nothing (an outage).

Where the public documentation is silent, the emulator's choice is marked as such.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import threading
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from tests.emulators.receipts import ReceiptInvalid, check_yookassa
from tests.live import LiveApp

#: The address `notify` claims to come from: inside YooKassa's published 185.71.76.0/27.
YOOKASSA_ADDRESS = "185.71.76.10"
#: The test card YooKassa's own test notifications show.
TEST_CARD = {"first6": "555555", "last4": "4477", "expiry_month": "12", "expiry_year": "2030"}
#: Currencies the emulator takes (emulator's choice: the ones Kassa offers for YooKassa).
CURRENCIES = frozenset({"RUB", "USD", "EUR", "KZT"})
PAYMENT_METHODS = frozenset({"bank_card", "sbp", "yoo_money", "sberbank", "tinkoff_bank"})
_AMOUNT_VALUE = re.compile(r"\d{1,13}\.\d{2}")
_AMOUNT_FORMAT = "Specify the amount in correct format. For example, 100.00"

Document = dict[str, Any]
Fault = Literal["error", "hang"]


class ApiError(Exception):
    """An error answer: YooKassa's error body with its HTTP status."""

    def __init__(
        self, status: int, code: str, description: str, parameter: str | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.body: Document = {
            "type": "error",
            "id": str(uuid.uuid4()),
            "code": code,
            "description": description,
        }
        if parameter is not None:
            self.body["parameter"] = parameter


def invalid(description: str, parameter: str | None = None) -> ApiError:
    return ApiError(400, "invalid_request", description, parameter)


@dataclass(frozen=True)
class Received:
    """One request the emulator got (after authentication)."""

    shop_id: str
    method: str
    path: str
    key: str | None
    body: Any


@dataclass(frozen=True)
class _Answer:
    fingerprint: str
    status: int
    body: Document


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def money(value: Decimal, currency: str) -> Document:
    return {"value": f"{value:.2f}", "currency": currency}


def parse_amount(document: Any, parameter: str = "amount") -> tuple[Decimal, str]:
    """An amount object as YooKassa accepts it: a two-decimal string and a known currency."""
    if not isinstance(document, dict):
        raise invalid(_AMOUNT_FORMAT, parameter)
    value, currency = document.get("value"), document.get("currency")
    if not isinstance(value, str) or not _AMOUNT_VALUE.fullmatch(value):
        raise invalid(_AMOUNT_FORMAT, f"{parameter}.value")
    if currency not in CURRENCIES:
        raise invalid(f"Currency {currency!r} is not supported", f"{parameter}.currency")
    amount = Decimal(value)
    if amount <= 0:
        raise invalid("The amount must be positive", f"{parameter}.value")
    return amount, currency


class YooKassaEmulator:
    """The emulator; serve `app` (`running()` does) and set `base_url`."""

    def __init__(self, *, retry_after_ms: int = 20, hang_seconds: float = 3.0) -> None:
        #: Where the emulator is served, without `/v3`; set by whoever serves it.
        self.base_url = ""
        #: How many times a new Idempotence-Key is answered 202 before it is carried out.
        self.processing_rounds = 0
        #: An outage: while set, every API call answers 500 and does nothing.
        self.down = False
        #: Whether new refunds settle at once (as card refunds do) or stay `pending` until
        #: `settle_refund`.
        self.refunds_settle = True
        self.retry_after_ms = retry_after_ms
        self.hang_seconds = hang_seconds
        self.payments: dict[str, Document] = {}
        self.refunds: dict[str, Document] = {}
        self.received: list[Received] = []
        self._shops: dict[str, str] = {}
        self._two_stage: set[str] = set()
        self._receipts_required: set[str] = set()
        self._answers: dict[tuple[str, str], _Answer] = {}
        self._processing: Counter[tuple[str, str]] = Counter()
        self._faults: deque[Fault] = deque()
        # The app runs on the server's thread, the payer's side on the test's.
        self._lock = threading.Lock()
        api = [
            Route("/payments", self._endpoint(self._create_payment), methods=["POST"]),
            Route("/payments/{id}", self._endpoint(self._get_payment), methods=["GET"]),
            Route("/payments/{id}/capture", self._endpoint(self._capture), methods=["POST"]),
            Route("/payments/{id}/cancel", self._endpoint(self._cancel), methods=["POST"]),
            Route("/refunds", self._endpoint(self._create_refund), methods=["POST"]),
            Route("/refunds/{id}", self._endpoint(self._get_refund), methods=["GET"]),
        ]
        self.app = Starlette(
            routes=[Mount("/v3", routes=api), Route("/checkout/{id}", self._checkout)]
        )

    # The provider's side, driven from tests.

    def add_shop(self, *, receipts_required: bool = False) -> tuple[str, str]:
        """A new test shop: its shop id and secret key."""
        shop_id, secret_key = (
            str(secrets.randbelow(900_000) + 100_000),
            "test_" + secrets.token_urlsafe(18),
        )
        with self._lock:
            self._shops[shop_id] = secret_key
            if receipts_required:
                self._receipts_required.add(shop_id)
        return shop_id, secret_key

    def pay(self, payment_id: str) -> Document:
        """The payer pays: `succeeded`, or `waiting_for_capture` for a two-stage payment."""
        with self._lock:
            payment = self._pending(payment_id)
            payment.update(paid=True, payment_method=self._card())
            if payment_id in self._two_stage:
                expires = datetime.now(UTC) + timedelta(days=7)  # emulator's choice
                payment.update(
                    status="waiting_for_capture",
                    expires_at=expires.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                )
            else:
                payment.update(status="succeeded", captured_at=now(), refundable=True)
                _registered(payment)
            return dict(payment)

    def decline(
        self, payment_id: str, reason: str = "insufficient_funds", party: str = "payment_network"
    ) -> Document:
        """The payer's bank (or YooKassa) declines: `canceled` with `reason`."""
        with self._lock:
            payment = self._pending(payment_id)
            payment.update(
                status="canceled", cancellation_details={"party": party, "reason": reason}
            )
            return dict(payment)

    def refund_in_cabinet(self, payment_id: str, value: str) -> Document:
        """A refund made in YooKassa's cabinet, not through the API."""
        with self._lock:
            return self._refund(self.payments[payment_id], Decimal(value))

    def settle_refund(self, refund_id: str) -> Document:
        """A pending refund goes through."""
        with self._lock:
            refund = self.refunds[refund_id]
            if refund["status"] != "pending":
                raise ValueError(f"refund {refund_id} is {refund['status']}, not pending")
            refund["status"] = "succeeded"
            return dict(refund)

    def fail_next(self, fault: Fault) -> None:
        """Break the next call: see the module docstring."""
        self._faults.append(fault)

    def payments_of(self, shop_id: str) -> list[Document]:
        """The payments made in a shop (to prove that a retry made no second one)."""
        return [p for p in self.payments.values() if p["recipient"]["account_id"] == shop_id]

    def keys_of(self, shop_id: str) -> list[str | None]:
        """The Idempotence-Keys of a shop's POSTs, in order, repeats included."""
        return [r.key for r in self.received if r.shop_id == shop_id and r.method == "POST"]

    def notification(self, event: str, object_id: str, **changes: Any) -> bytes:
        """The body YooKassa sends for `event` about an object as it is now, with `changes`
        to the object (to forge one)."""
        with self._lock:
            store = self.refunds if event.startswith("refund.") else self.payments
            document = {**store[object_id], **changes}
        return json.dumps({"type": "notification", "event": event, "object": document}).encode()

    def notify(
        self,
        kassa_url: str,
        shop_name: str,
        event: str,
        object_id: str,
        *,
        forwarded_for: str | None = YOOKASSA_ADDRESS,
        body: bytes | None = None,
    ) -> httpx.Response:
        """POST a notification to Kassa's hook for `shop_name` as YooKassa would (through a
        proxy on loopback that names `forwarded_for` as the sender)."""
        headers = {"content-type": "application/json"}
        if forwarded_for is not None:
            headers["x-forwarded-for"] = forwarded_for
        content = body if body is not None else self.notification(event, object_id)
        return httpx.post(
            f"{kassa_url}/hooks/yookassa/{shop_name}", content=content, headers=headers, timeout=30
        )

    # The API.

    def _endpoint(
        self, operation: Callable[[str, Any, str], tuple[int, Document]]
    ) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            if self.down:
                error = ApiError(500, "internal_server_error", "Internal server error")
                return JSONResponse(error.body, error.status)
            fault = self._faults.popleft() if self._faults else None
            status, body = self._dispatch(request, await request.body(), operation)
            if fault == "error":
                error = ApiError(500, "internal_server_error", "Internal server error")
                status, body = error.status, error.body
            elif fault == "hang":
                await asyncio.sleep(self.hang_seconds)
            return JSONResponse(body, status)

        return endpoint

    def _dispatch(
        self,
        request: Request,
        raw: bytes,
        operation: Callable[[str, Any, str], tuple[int, Document]],
    ) -> tuple[int, Document]:
        object_id = str(request.path_params.get("id", ""))
        with self._lock:
            try:
                shop_id = self._authenticate(request)
                if request.method != "POST":
                    self.received.append(Received(shop_id, "GET", request.url.path, None, None))
                    return operation(shop_id, None, object_id)
                return self._idempotent(request, raw, shop_id, object_id, operation)
            except ApiError as error:
                return error.status, error.body
            except ReceiptInvalid as error:
                return 400, invalid(error.description, error.parameter).body

    def _idempotent(
        self,
        request: Request,
        raw: bytes,
        shop_id: str,
        object_id: str,
        operation: Callable[[str, Any, str], tuple[int, Document]],
    ) -> tuple[int, Document]:
        key = request.headers.get("idempotence-key")
        try:
            body = json.loads(raw, parse_float=Decimal) if raw else {}
        except ValueError:
            body = None
        self.received.append(Received(shop_id, "POST", request.url.path, key, body))
        if not key:
            raise invalid("Idempotence-Key header is missing", "Idempotence-Key")
        if not isinstance(body, dict):
            raise invalid("The request body must be a JSON object")
        fingerprint = f"{request.url.path} {json.dumps(body, sort_keys=True, default=str)}"
        stored = self._answers.get((shop_id, key))
        if stored is not None:
            if stored.fingerprint != fingerprint:
                raise invalid(
                    "The Idempotence-Key was used with another request", "Idempotence-Key"
                )
            return stored.status, stored.body
        if self._processing[shop_id, key] < self.processing_rounds:
            self._processing[shop_id, key] += 1
            return 202, {
                "type": "processing",
                "description": "Request accepted",
                "retry_after": self.retry_after_ms,
            }
        status, document = operation(shop_id, body, object_id)
        # Emulator's choice: only answers that did something are kept for the key. Whether
        # YooKassa also replays an error under the same key is not documented.
        self._answers[shop_id, key] = _Answer(fingerprint, status, document)
        return status, document

    def _authenticate(self, request: Request) -> str:
        credentials = request.headers.get("authorization", "")
        scheme, _, encoded = credentials.partition(" ")
        try:
            shop_id, _, secret_key = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            shop_id = secret_key = ""
        if scheme.lower() != "basic" or not shop_id or self._shops.get(shop_id) != secret_key:
            raise ApiError(
                401,
                "invalid_credentials",
                "Login or password is incorrect. Check the shop id and the secret key",
            )
        return shop_id

    def _create_payment(self, shop_id: str, body: Any, _: str) -> tuple[int, Document]:
        value, currency = parse_amount(body.get("amount"))
        capture = body.get("capture", False)  # YooKassa's default is two-stage
        if not isinstance(capture, bool):
            raise invalid("capture must be true or false", "capture")
        description = body.get("description")
        if description is not None and (not isinstance(description, str) or len(description) > 128):
            raise invalid("The description is longer than 128 characters", "description")
        metadata = body.get("metadata") or {}
        if not (
            isinstance(metadata, dict)
            and len(metadata) <= 16
            and all(isinstance(k, str) and len(k) <= 32 for k in metadata)
            and all(isinstance(v, str) and len(v) <= 512 for v in metadata.values())
        ):
            raise invalid("metadata is at most 16 string keys (32) and values (512)", "metadata")
        method = (body.get("payment_method_data") or {}).get("type")
        if method is not None and method not in PAYMENT_METHODS:
            raise invalid(f"Unknown payment method {method!r}", "payment_method_data.type")
        confirmation = body.get("confirmation")
        if not isinstance(confirmation, dict) or confirmation.get("type") != "redirect":
            raise invalid("A redirect confirmation is required", "confirmation.type")
        return_url = confirmation.get("return_url")
        if not isinstance(return_url, str) or not return_url.startswith(("http://", "https://")):
            raise invalid("return_url must be an http(s) URL", "confirmation.return_url")
        if "receipt" in body or shop_id in self._receipts_required:
            check_yookassa(body.get("receipt"), value, currency)
        payment_id = str(uuid.uuid4())
        payment: Document = {
            "id": payment_id,
            "status": "pending",
            "paid": False,
            "amount": money(value, currency),
            "confirmation": {
                "type": "redirect",
                "return_url": return_url,
                "confirmation_url": f"{self.base_url}/checkout/{payment_id}",
            },
            "created_at": now(),
            "description": description,
            "metadata": metadata,
            "recipient": {"account_id": shop_id, "gateway_id": "100500"},
            "refundable": False,
            "test": self._shops[shop_id].startswith("test_"),
        }
        if description is None:
            del payment["description"]
        if "receipt" in body:
            payment["receipt_registration"] = "pending"
        self.payments[payment_id] = payment
        if not capture:
            self._two_stage.add(payment_id)
        return 200, dict(payment)

    def _get_payment(self, shop_id: str, _: Any, payment_id: str) -> tuple[int, Document]:
        return 200, dict(self._payment(shop_id, payment_id))

    def _capture(self, shop_id: str, body: Any, payment_id: str) -> tuple[int, Document]:
        payment = self._payment(shop_id, payment_id)
        if payment["status"] != "waiting_for_capture":
            raise invalid(f"The payment is {payment['status']}: only a hold can be captured")
        held = Decimal(payment["amount"]["value"])
        currency = payment["amount"]["currency"]
        value = held
        if "amount" in body:
            value, asked = parse_amount(body["amount"])
            if asked != currency or value > held:
                raise invalid("The capture exceeds the amount held", "amount.value")
        if "receipt" in body:
            check_yookassa(body["receipt"], value, currency)
        elif value != held and "receipt_registration" in payment:
            raise invalid("A partial capture needs the receipt for what is taken", "receipt")
        _registered(payment)
        payment.update(
            status="succeeded",
            amount=money(value, currency),
            captured_at=now(),
            refundable=True,
        )
        payment.pop("expires_at", None)
        return 200, dict(payment)

    def _cancel(self, shop_id: str, _: Any, payment_id: str) -> tuple[int, Document]:
        payment = self._payment(shop_id, payment_id)
        if payment["status"] != "waiting_for_capture":
            raise invalid(f"The payment is {payment['status']}: only a hold can be canceled")
        payment.update(
            status="canceled",
            paid=False,
            cancellation_details={"party": "merchant", "reason": "canceled_by_merchant"},
        )
        payment.pop("expires_at", None)
        return 200, dict(payment)

    def _create_refund(self, shop_id: str, body: Any, _: str) -> tuple[int, Document]:
        payment_id = body.get("payment_id")
        if not isinstance(payment_id, str):
            raise invalid("payment_id is required", "payment_id")
        payment = self._payment(shop_id, payment_id)
        value, currency = parse_amount(body.get("amount"))
        if currency != payment["amount"]["currency"]:
            raise invalid("The refund's currency is not the payment's", "amount.currency")
        if "receipt" in body or shop_id in self._receipts_required:
            check_yookassa(body.get("receipt"), value, currency)
        refund = self._refund(payment, value)
        if "receipt" in body:
            self.refunds[refund["id"]]["receipt_registration"] = "succeeded"
        return 200, dict(self.refunds[refund["id"]])

    def _get_refund(self, shop_id: str, _: Any, refund_id: str) -> tuple[int, Document]:
        refund = self.refunds.get(refund_id)
        if (
            refund is None
            or self.payments[refund["payment_id"]]["recipient"]["account_id"] != shop_id
        ):
            raise ApiError(404, "not_found", "Refund doesn't exist or access denied", "refund_id")
        return 200, dict(refund)

    # State, always under the lock.

    def _refund(self, payment: Document, value: Decimal) -> Document:
        if payment["status"] != "succeeded":
            raise invalid(f"The payment is {payment['status']}: only a succeeded one is refunded")
        currency = payment["amount"]["currency"]
        refunded = Decimal(payment.get("refunded_amount", {}).get("value", "0"))
        left = Decimal(payment["amount"]["value"]) - refunded
        if value > left:
            raise invalid(f"Only {left} {currency} is left to refund", "amount.value")
        refund: Document = {
            "id": str(uuid.uuid4()),
            "payment_id": payment["id"],
            "status": "succeeded" if self.refunds_settle else "pending",
            "amount": money(value, currency),
            "created_at": now(),
        }
        self.refunds[refund["id"]] = refund
        payment.update(refunded_amount=money(refunded + value, currency), refundable=value < left)
        return dict(refund)

    def _payment(self, shop_id: str, payment_id: str) -> Document:
        payment = self.payments.get(payment_id)
        if payment is None or payment["recipient"]["account_id"] != shop_id:
            raise ApiError(404, "not_found", "Payment doesn't exist or access denied", "payment_id")
        return payment

    def _pending(self, payment_id: str) -> Document:
        payment = self.payments[payment_id]
        if payment["status"] != "pending":
            raise ValueError(f"payment {payment_id} is {payment['status']}, not pending")
        return payment

    @staticmethod
    def _card() -> Document:
        return {
            "type": "bank_card",
            "id": str(uuid.uuid4()),
            "saved": False,
            "title": f"Bank card *{TEST_CARD['last4']}",
            "card": {**TEST_CARD, "card_type": "MasterCard", "issuer_country": "RU"},
        }

    async def _checkout(self, request: Request) -> Response:
        """The payer's page (a stand-in: the payer's actions are `pay` and `decline`)."""
        with self._lock:
            payment = self.payments.get(str(request.path_params["id"]))
            if payment is None:
                return PlainTextResponse("Payment not found", 404)
            amount = payment["amount"]
            text = f"YooKassa emulator: {amount['value']} {amount['currency']}, {payment['status']}"
        return PlainTextResponse(text)


def _registered(payment: Document) -> None:
    """The receipt of a payment whose money is taken is registered (emulator's choice: at
    once)."""
    if "receipt_registration" in payment:
        payment["receipt_registration"] = "succeeded"


@contextmanager
def running(**options: Any) -> Iterator[YooKassaEmulator]:
    """An emulator (made with `options`) served on loopback for the duration of the block."""
    emulator = YooKassaEmulator(**options)
    live = LiveApp(emulator.app, name="yookassa-emulator").start()
    emulator.base_url = live.url
    try:
        yield emulator
    finally:
        live.stop()
