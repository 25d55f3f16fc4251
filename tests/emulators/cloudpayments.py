"""An emulator of CloudPayments: its API, and its side of the payment widget.

It behaves as CloudPayments' documentation says (a saved copy of the official API docs; see
`reference/providers.md` section 2), written independently of Kassa's provider module so the
tests check one against the other:

- API: `POST /payments/confirm`, `/payments/void`, `/payments/refund`, `/payments/get`,
  `/v2/payments/find`, `/test`; HTTP Basic auth (Public ID, API secret; 401 otherwise); JSON
  (or form) bodies; answers `{"Success", "Message", "Model"}`; `X-Request-ID` replays the
  stored answer for an hour. Amounts must be JSON numbers and are answered as JSON numbers.
- The widget, driven from Python: `pay()` is a payer paying. It sends Check and stops unless
  the answer is `{"code": 0}`, creates the transaction, then sends Pay (or Fail for a declined
  card). Confirm, Refund and Cancel notifications follow API calls as CloudPayments sends
  them; they wait in `outbox` until the test calls `deliver()`, so tests decide when they land.
- Notifications are signed as CloudPayments signs them (`Content-HMAC`: base64 HMAC-SHA256 of
  the raw bytes; `X-Content-HMAC`: of the URL-decoded bytes), by POST (form or JSON) or GET, in
  UTF-8 or Windows-1251 (`Delivery`).
- Receipts (54-FZ, `tests/emulators/receipts.py`): a `CustomerReceipt` under JsonData's
  `cloudpayments` key, in the widget's `data` or a refund's `JsonData`, must add up to the
  sum and name the customer, or the widget refuses to pay (`ReceiptInvalid` is raised) and the
  refund is refused. A site added with `receipts_required` (CloudKassir switched on) refuses
  either without one.
- Faults: `fail_next(path, "error")` answers 500 without doing anything; `"timeout"` does the
  operation, then answers too late for Kassa's client. While `down` is set, every API call
  answers 500 without doing anything (an outage).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes, urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kassa.domain.money import to_decimal
from tests.emulators.receipts import ReceiptInvalid, check_cloudpayments
from tests.helpers import ProviderShop, make_provider_shop
from tests.live import LiveApp, LiveServer

#: How long an `X-Request-ID` answer is kept (documented: one hour).
REQUEST_ID_TTL = 3600.0

_STATUS_CODES = {"Authorized": 2, "Completed": 3, "Declined": 5}


def encode_json(document: Any, *, ensure_ascii: bool = True) -> str:
    """JSON with `Decimal`s as exact numbers (CloudPayments writes amounts as numbers)."""
    if isinstance(document, Decimal):
        return format(document, "f")
    if isinstance(document, dict):
        members = (
            f"{json.dumps(str(k), ensure_ascii=ensure_ascii)}:"
            f"{encode_json(v, ensure_ascii=ensure_ascii)}"
            for k, v in document.items()
        )
        return "{" + ",".join(members) + "}"
    if isinstance(document, list):
        return "[" + ",".join(encode_json(v, ensure_ascii=ensure_ascii) for v in document) + "]"
    return json.dumps(document, ensure_ascii=ensure_ascii)


def hmac_b64(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class Delivery:
    """How notifications are sent: the site's settings in CloudPayments' cabinet."""

    method: str = "POST"  # CloudPayments' default is GET
    format: str = "form"  # or "json"
    encoding: str = "utf-8"  # or "windows-1251"
    declare_charset: bool = False  # add "; charset=…" to the Content-Type
    headers: tuple[str, ...] = ("Content-HMAC", "X-Content-HMAC")


@dataclass(frozen=True)
class Sent:
    """A notification as sent (or built to be sent): enough to send it again, or altered."""

    kind: str
    method: str
    url: str
    headers: dict[str, str]
    content: bytes

    def send(self, **changes: Any) -> httpx.Response:
        sent = replace(self, **changes)
        return httpx.request(
            sent.method, sent.url, headers=sent.headers, content=sent.content, timeout=30
        )


@dataclass
class Transaction:
    id: int
    public_id: str
    operation: str  # "Payment" or "Refund"
    amount: Decimal
    currency: str
    status: str
    invoice_id: str | None
    account_id: str | None
    description: str | None
    name: str
    json_data: Any
    hooks: str  # the site's notification URL, without the type
    delivery: Delivery
    test_mode: bool
    refunded: Decimal = Decimal(0)
    payment_transaction_id: int | None = None
    reason: str = "Approved"
    reason_code: int = 0
    created: datetime = field(default_factory=lambda: datetime.now(UTC))

    def model(self) -> dict[str, Any]:
        """The transaction as `/payments/get` and `/v2/payments/find` answer it."""
        iso = self.created.strftime("%Y-%m-%dT%H:%M:%S")
        model: dict[str, Any] = {
            "TransactionId": self.id,
            "Amount": self.amount,
            "Currency": self.currency,
            "PaymentAmount": self.amount,
            "PaymentCurrency": self.currency,
            "InvoiceId": self.invoice_id,
            "AccountId": self.account_id,
            "Email": None,
            "Description": self.description,
            "JsonData": self.json_data,
            "CreatedDateIso": iso,
            "AuthDateIso": iso,
            "TestMode": self.test_mode,
            "CardFirstSix": "424242",
            "CardLastFour": "4242",
            "CardType": "Visa",
            "Status": self.status,
            "Reason": self.reason,
            "ReasonCode": self.reason_code,
            "OperationType": self.operation,
            "Refunded": self.refunded > 0,
            "Name": self.name,
        }
        if self.status in _STATUS_CODES:
            model["StatusCode"] = _STATUS_CODES[self.status]
        return model


@dataclass(frozen=True)
class Attempt:
    """What became of a payer's attempt in the widget."""

    transaction_id: int
    check: httpx.Response | None  # Kassa's answer to Check; None if the site sends none
    outcome: Sent | None  # the Pay or Fail notification; None if Check refused
    answer: httpx.Response | None  # Kassa's answer to it, if it was sent

    @property
    def check_code(self) -> int | None:
        if self.check is None or self.check.status_code != 200:
            return None
        code: int = self.check.json()["code"]
        return code


@dataclass(frozen=True)
class ApiCall:
    path: str
    public_id: str | None  # None: the credentials were refused
    headers: dict[str, str]
    body: bytes


class CloudPaymentsEmulator:
    """CloudPayments in memory; serve `app` (see `running`) and point accounts at `url`."""

    def __init__(self) -> None:
        self.url = ""
        self.secrets: dict[str, str] = {}
        self.transactions: dict[int, Transaction] = {}
        self.calls: list[ApiCall] = []
        self.sent: list[Sent] = []
        self.outbox: list[tuple[Transaction, str]] = []
        self.stall_seconds = 1.0
        #: An outage: while set, every API call answers 500 and does nothing.
        self.down = False
        self.clock = time.monotonic
        self._ids = itertools.count(1_000_001)
        self._answers: dict[tuple[str, str], tuple[float, bytes]] = {}
        self._faults: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._receipts_required: set[str] = set()
        self.app = Starlette(
            routes=[
                Route("/test", self._test, methods=["POST"]),
                Route("/payments/confirm", self._confirm, methods=["POST"]),
                Route("/payments/void", self._void, methods=["POST"]),
                Route("/payments/refund", self._refund, methods=["POST"]),
                Route("/payments/get", self._get, methods=["POST"]),
                Route("/v2/payments/find", self._find, methods=["POST"]),
                Route("/widget.js", self._widget_script, methods=["GET"]),
            ]
        )

    # Set-up and controls

    def add_account(
        self, public_id: str, api_secret: str, *, receipts_required: bool = False
    ) -> None:
        self.secrets[public_id] = api_secret
        if receipts_required:
            self._receipts_required.add(public_id)

    @staticmethod
    def _has_receipt(data: Any) -> bool:
        return bool(((data or {}).get("cloudpayments") or {}).get("CustomerReceipt"))

    def _receipt_made(self, transaction: Transaction) -> None:
        """CloudKassir makes the receipt of an operation that carried one and sends Receipt
        (waiting in `outbox` like the notifications API calls cause)."""
        if self._has_receipt(transaction.json_data):
            self.outbox.append((transaction, "receipt"))

    def check_receipt(self, public_id: str, data: Any, amount: Decimal) -> None:
        """Refuse (`ReceiptInvalid`) an operation's JsonData whose receipt is wrong, or
        missing where the site requires one."""
        receipt = ((data or {}).get("cloudpayments") or {}).get("CustomerReceipt")
        if receipt is not None or public_id in self._receipts_required:
            check_cloudpayments(receipt, amount)

    def fail_next(self, path: str, fault: str, *, times: int = 1) -> None:
        """Make the next `times` calls of `path` fail: "error" (500, nothing done) or
        "timeout" (done, answered after `stall_seconds`)."""
        assert fault in ("error", "timeout")
        self._faults.setdefault(path, []).extend([fault] * times)

    def calls_to(self, path: str, public_id: str) -> list[ApiCall]:
        return [call for call in self.calls if call.path == path and call.public_id == public_id]

    def calls_by(self, public_id: str) -> list[ApiCall]:
        return [call for call in self.calls if call.public_id == public_id]

    def refunds_of(self, transaction_id: int) -> list[Transaction]:
        return [
            t
            for t in self.transactions.values()
            if t.operation == "Refund" and t.payment_transaction_id == transaction_id
        ]

    # The widget's side

    def pay(
        self,
        kassa_url: str,
        shop_name: str,
        invoice_id: str | None,
        amount: Decimal,
        currency: str,
        *,
        public_id: str,
        two_stage: bool = False,
        account_id: str | None = None,
        decline: bool = False,
        name: str = "CARDHOLDER NAME",
        description: str | None = None,
        delivery: Delivery = Delivery(),
        send_check: bool = True,
        send_outcome: bool = True,
        data: Any = None,
    ) -> Attempt:
        """A payer paying `amount` in the widget opened with `data` (JsonData): Check (unless
        the site has it turned off), then Pay or (declined) Fail. With `send_outcome=False`
        the Pay/Fail is built but left for the test to send."""
        assert public_id in self.secrets, f"unknown Public ID {public_id}"
        self.check_receipt(public_id, data, amount)
        transaction = Transaction(
            id=next(self._ids),
            public_id=public_id,
            operation="Payment",
            amount=amount,
            currency=currency,
            status="Authorized" if two_stage else "Completed",
            invoice_id=invoice_id,
            account_id=account_id,
            description=description,
            name=name,
            json_data=data,
            hooks=f"{kassa_url}/hooks/cloudpayments/{shop_name}",
            delivery=delivery,
            test_mode=public_id.startswith("test_api_"),
        )
        check = self._send(self.build(transaction, "check")) if send_check else None
        # Anything but HTTP 200 with {"code": 0} refuses the payment.
        if check is not None and (check.status_code != 200 or check.json().get("code") != 0):
            transaction.status, transaction.reason, transaction.reason_code = (
                "Declined",
                "RejectedByMerchant",  # the name CloudPayments uses here is NOT FOUND
                5300,
            )
            self._store(transaction)
            return Attempt(transaction.id, check, None, None)
        if decline:
            transaction.status, transaction.reason, transaction.reason_code = (
                "Declined",
                "InsufficientFunds",
                5051,
            )
        self._store(transaction)
        if transaction.status == "Completed":
            self._receipt_made(transaction)
        outcome = self.build(transaction, "fail" if decline else "pay")
        answer = self._send(outcome) if send_outcome else None
        return Attempt(transaction.id, check, outcome, answer)

    def deliver(self, public_id: str) -> list[httpx.Response]:
        """Send the notifications that API calls about this site caused (Confirm, Refund,
        Cancel), in order; returns Kassa's answers."""
        with self._lock:
            pending = [(t, kind) for t, kind in self.outbox if t.public_id == public_id]
            self.outbox = [(t, kind) for t, kind in self.outbox if t.public_id != public_id]
        return [self._send(self.build(transaction, kind)) for transaction, kind in pending]

    def _send(self, sent: Sent) -> httpx.Response:
        self.sent.append(sent)
        return sent.send()

    def build(self, transaction: Transaction, kind: str) -> Sent:
        """The signed notification of `kind` about `transaction`."""
        fields = self._fields(transaction, kind)
        delivery = transaction.delivery
        secret = self.secrets[transaction.public_id]
        url = f"{transaction.hooks}/{kind}"
        headers: dict[str, str] = {}
        if delivery.format == "json":
            raw = encode_json(fields, ensure_ascii=False).encode(delivery.encoding)
            media_type = "application/json"
        else:
            text_fields = {k: _text(v) for k, v in fields.items()}
            raw = urlencode(text_fields, encoding=delivery.encoding).encode("ascii")
            media_type = "application/x-www-form-urlencoded"
        if delivery.declare_charset:
            media_type += f"; charset={delivery.encoding}"
        content = raw
        if delivery.method == "GET":
            url, content = f"{url}?{raw.decode('ascii')}", b""
        else:
            headers["Content-Type"] = media_type
        signatures = {
            "Content-HMAC": hmac_b64(secret, raw),
            "X-Content-HMAC": hmac_b64(secret, unquote_to_bytes(raw.replace(b"+", b" "))),
        }
        for header in delivery.headers:
            headers[header] = signatures[header]
        return Sent(kind, delivery.method, url, headers, content)

    @staticmethod
    def _fields(transaction: Transaction, kind: str) -> dict[str, Any]:
        data = encode_json(transaction.json_data) if transaction.json_data is not None else None
        if kind == "receipt":  # CloudKassir's fields, as integrations show them (unverified)
            return {
                "Id": f"rcpt-{transaction.id}",
                "Type": "IncomeReturn" if transaction.operation == "Refund" else "Income",
                "TransactionId": transaction.id,
                "InvoiceId": transaction.invoice_id,
                "AccountId": transaction.account_id,
                "Amount": transaction.amount,
                "DateTime": transaction.created.strftime("%Y-%m-%d %H:%M:%S"),
                "DocumentNumber": str(transaction.id % 10_000),
                "Url": f"https://receipts.example/{transaction.id}",
            }
        if kind == "refund":
            return {
                "TransactionId": transaction.id,
                "PaymentTransactionId": transaction.payment_transaction_id,
                "Amount": transaction.amount,
                "DateTime": transaction.created.strftime("%Y-%m-%d %H:%M:%S"),
                "OperationType": "Refund",
                "InvoiceId": transaction.invoice_id,
                "AccountId": transaction.account_id,
                "Email": None,
                "Data": data,
            }
        fields: dict[str, Any] = {
            "TransactionId": transaction.id,
            "Amount": transaction.amount,
            "Currency": transaction.currency,
            "PaymentAmount": transaction.amount,
            "PaymentCurrency": transaction.currency,
            "DateTime": transaction.created.strftime("%Y-%m-%d %H:%M:%S"),
            "CardFirstSix": "424242",
            "CardLastFour": "4242",
            "CardType": "Visa",
            "CardExpDate": "12/30",
            "TestMode": int(transaction.test_mode),
            "Status": transaction.status,
            "OperationType": "Payment",
            "InvoiceId": transaction.invoice_id,
            "AccountId": transaction.account_id,
            "SubscriptionId": None,
            "Name": transaction.name,
            "Email": None,
            "IpAddress": "198.51.100.7",
            "IpCountry": "RU",
            "Description": transaction.description,
            "AuthCode": "A1B2C3",
            "Data": data,
            "GatewayName": "Test",
        }
        if kind == "fail":
            fields |= {
                "Reason": transaction.reason,
                "ReasonCode": transaction.reason_code,
                "CardHolderMessage": "Недостаточно средств на карте",
            }
        return fields

    def _store(self, transaction: Transaction) -> None:
        with self._lock:
            self.transactions[transaction.id] = transaction

    # The API

    async def _api(self, request: Request, operation: Any) -> Response:
        body = await request.body()
        path = request.url.path
        public_id = self._authenticate(request.headers.get("authorization", ""))
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.calls.append(ApiCall(path, public_id, headers, body))
        if public_id is None:
            return Response(status_code=401)
        if self.down:
            return Response("Internal Server Error", status_code=500)
        faults = self._faults.get(path)
        fault = faults.pop(0) if faults else None
        if fault == "error":
            return Response("Internal Server Error", status_code=500)
        request_id = request.headers.get("x-request-id")
        with self._lock:
            stored = self._answers.get((public_id, request_id or ""))
            if stored is not None and stored[0] > self.clock():
                answer = stored[1]
            else:
                answer = encode_json(operation(public_id, _params(request, body))).encode()
                if request_id:
                    self._answers[(public_id, request_id)] = (
                        self.clock() + REQUEST_ID_TTL,
                        answer,
                    )
        if fault == "timeout":
            await asyncio.sleep(self.stall_seconds)
        return Response(answer, media_type="application/json")

    def _authenticate(self, authorization: str) -> str | None:
        scheme, _, encoded = authorization.partition(" ")
        try:
            public_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return None
        known = self.secrets.get(public_id)
        if scheme.lower() != "basic" or known is None or not hmac.compare_digest(known, secret):
            return None
        return public_id

    def _own(self, public_id: str, params: dict[str, Any]) -> Transaction | None:
        number = params.get("TransactionId")
        transaction = self.transactions.get(number) if isinstance(number, int) else None
        return transaction if transaction and transaction.public_id == public_id else None

    async def _test(self, request: Request) -> Response:
        return await self._api(
            request, lambda _id, _p: {"Success": True, "Message": str(uuid.uuid4())}
        )

    async def _confirm(self, request: Request) -> Response:
        def confirm(public_id: str, params: dict[str, Any]) -> dict[str, Any]:
            transaction = self._own(public_id, params)
            amount = _amount(params)
            if transaction is None:
                return _refused("Transaction not found")
            if amount is None:
                return _refused("Amount must be a number with at most 2 decimals")
            if transaction.status != "Authorized":
                return _refused(f"Transaction status is {transaction.status}")
            if not 0 < amount <= transaction.amount:
                return _refused("Amount exceeds the authorized amount")
            try:
                if "JsonData" in params:
                    self.check_receipt(public_id, params["JsonData"], amount)
                elif amount != transaction.amount and self._has_receipt(transaction.json_data):
                    raise ReceiptInvalid("JsonData", "A partial confirm needs its receipt")
            except ReceiptInvalid as error:
                return _refused(f"{error.parameter}: {error.description}")
            transaction.status, transaction.amount = "Completed", amount
            self.outbox.append((transaction, "confirm"))
            self._receipt_made(
                replace(transaction, json_data=params.get("JsonData") or transaction.json_data)
            )
            return {"Success": True, "Message": None}

        return await self._api(request, confirm)

    async def _void(self, request: Request) -> Response:
        def void(public_id: str, params: dict[str, Any]) -> dict[str, Any]:
            transaction = self._own(public_id, params)
            if transaction is None:
                return _refused("Transaction not found")
            if transaction.status != "Authorized":
                return _refused(f"Transaction status is {transaction.status}")
            transaction.status = "Cancelled"
            self.outbox.append((transaction, "cancel"))
            return {"Success": True, "Message": None}

        return await self._api(request, void)

    async def _refund(self, request: Request) -> Response:
        def refund(public_id: str, params: dict[str, Any]) -> dict[str, Any]:
            payment = self._own(public_id, params)
            amount = _amount(params)
            if payment is None or payment.operation != "Payment":
                return _refused("Transaction not found")
            if amount is None:
                return _refused("Amount must be a number with at most 2 decimals")
            if payment.status != "Completed":
                return _refused(f"Transaction status is {payment.status}")
            if not 0 < amount <= payment.amount - payment.refunded:
                return _refused("Amount exceeds the amount left to refund")
            try:
                self.check_receipt(public_id, params.get("JsonData"), amount)
            except ReceiptInvalid as error:
                return _refused(f"{error.parameter}: {error.description}")
            payment.refunded += amount
            refund = replace(
                payment,
                id=next(self._ids),
                operation="Refund",
                amount=amount,
                status="Completed",
                refunded=Decimal(0),
                payment_transaction_id=payment.id,
                json_data=params.get("JsonData"),
                created=datetime.now(UTC),
            )
            self.transactions[refund.id] = refund
            self.outbox.append((refund, "refund"))
            self._receipt_made(refund)
            return {"Model": {"TransactionId": refund.id}, "Success": True, "Message": None}

        return await self._api(request, refund)

    async def _get(self, request: Request) -> Response:
        def get(public_id: str, params: dict[str, Any]) -> dict[str, Any]:
            transaction = self._own(public_id, params)
            if transaction is None:
                return _refused("Not found")
            return _answer(transaction)

        return await self._api(request, get)

    async def _find(self, request: Request) -> Response:
        def find(public_id: str, params: dict[str, Any]) -> dict[str, Any]:
            invoice = params.get("InvoiceId")
            found = [
                t
                for t in self.transactions.values()
                if t.public_id == public_id and invoice and t.invoice_id == invoice
            ]
            if not found:
                return _refused("Not found")
            return _answer(max(found, key=lambda t: t.id))  # the latest operation

        return await self._api(request, find)

    async def _widget_script(self, request: Request) -> Response:
        """A stand-in for the widget script, for pages pointed at the emulator."""
        script = (
            "window.cp = {CloudPayments: function () {"
            " this.pay = function (method, options, callbacks) {"
            " (window.cpCalls = window.cpCalls || []).push([method, options]); }; }};\n"
        )
        return Response(script, media_type="text/javascript")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _params(request: Request, body: bytes) -> dict[str, Any]:
    if request.headers.get("content-type", "").startswith("application/json"):
        document = json.loads(body or b"{}", parse_float=Decimal)
        return document if isinstance(document, dict) else {}
    # A form is text; its numbers are read as JSON's would be.
    params: dict[str, Any] = dict(parse_qsl(body.decode()))
    for name, value in params.items():
        with suppress(ValueError):
            params[name] = json.loads(value, parse_float=Decimal)
    return params


def _amount(params: dict[str, Any]) -> Decimal | None:
    """`Amount` if it is a number (not a string) with at most 2 decimals."""
    value = params.get("Amount")
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        return None
    amount = Decimal(value)
    return amount if amount == amount.quantize(Decimal("0.01")) else None


def _refused(message: str) -> dict[str, Any]:
    return {"Success": False, "Message": message}


def _answer(transaction: Transaction) -> dict[str, Any]:
    return {
        "Model": transaction.model(),
        "Success": transaction.status != "Declined",
        "Message": None,
    }


@contextmanager
def running() -> Iterator[CloudPaymentsEmulator]:
    """An emulator served on loopback for the duration of the block."""
    emulator = CloudPaymentsEmulator()
    live = LiveApp(emulator.app, name="cloudpayments-emulator").start()
    emulator.url = live.url
    try:
        yield emulator
    finally:
        live.stop()


@dataclass(frozen=True)
class Site:
    """A Kassa shop whose CloudPayments account (a "site" in CloudPayments' terms) points at
    the emulator, with the credentials on both sides."""

    shop: ProviderShop
    public_id: str
    api_secret: str
    emulator: CloudPaymentsEmulator
    kassa_url: str

    @property
    def name(self) -> str:
        return self.shop.name

    def deliver(self) -> list[httpx.Response]:
        """Send what CloudPayments notifies after this site's API calls."""
        return self.emulator.deliver(self.public_id)

    def pay(
        self,
        payment: dict[str, Any],
        *,
        amount: Decimal | None = None,
        currency: str | None = None,
        **options: Any,
    ) -> Attempt:
        """The payer paying `payment` in the widget as Kassa's page sets it up."""
        currency = currency or payment["currency"]
        return self.emulator.pay(
            self.kassa_url,
            self.shop.name,
            payment["id"],
            amount if amount is not None else to_decimal(payment["amount"], currency),
            currency,
            public_id=self.public_id,
            two_stage=not payment["capture"],
            account_id=payment.get("customer"),
            **options,
        )


def connect(
    server: LiveServer,
    emulator: CloudPaymentsEmulator,
    *,
    kassa_secret: str | None = None,
    receipts_required: bool = False,
    **settings: str,
) -> Site:
    """A new shop with a test CloudPayments account at the emulator. `kassa_secret` gives
    Kassa another API secret than CloudPayments has (a misconfigured account)."""
    public_id = f"test_api_{secrets.token_hex(12)}"
    api_secret = secrets.token_hex(16)
    emulator.add_account(public_id, api_secret, receipts_required=receipts_required)
    shop = make_provider_shop(
        server,
        "cloudpayments",
        {
            "public_id": public_id,
            "api_secret": kassa_secret or api_secret,
            "api_url": emulator.url,
            **settings,
        },
    )
    return Site(shop, public_id, api_secret, emulator, server.url)
