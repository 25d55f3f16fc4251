"""An emulator of Kaspi, both surfaces, as third-party code shows them (Kaspi publishes no
merchant API document; see `docs/providers/kaspi.md`):

- The QR partner API, served on loopback: `POST /r1/v01/qr/create` and `/r1/v01/qr/create-link`
  (`{DeviceToken, Amount, ExternalId}`), `GET /r1/v02/payment/status/{QrPaymentId}`, and
  `POST /r1/v01/payment/return` (`{DeviceToken, QrPaymentId, Amount}`, the enhanced scheme's
  return). Header `Api-Key` must be the device's key. Every answer is HTTP 200 with
  `{"StatusCode", "Message", "Data"}`, `StatusCode` 0 for success; the non-zero codes used
  for refusals are the emulator's choice (only -10000, a failed certificate, is known: the
  r2/r3 prefixes answer it, as this emulator has no TLS). `Amount` is a JSON number of tenge.
- The payer's side, from Python: `pay` (→ `Processed`, with a `TransactionId`), `decline`
  (→ `Error`), `cancel_by_user` (→ `CancelledByUser`).
- Kaspi calling the merchant's check/pay URL: `call` sends
  `GET {url}?command=check|pay&txn_id&account&sum&txn_date`, with basic auth if given.
- While `down` is set, every API call is answered 500 and does nothing.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.live import LiveApp

Document = dict[str, Any]

#: Refusals (the emulator's choice of codes, beside the known -10000).
CERTIFICATE_FAILED = -10000
UNKNOWN_DEVICE = -1501
BAD_REQUEST = -1502
NOT_FOUND = -1503
NOT_REFUNDABLE = -1504
BAD_KEY = -1505
POLLING_INTERVAL = 5


@dataclass(frozen=True)
class CheckPay:
    """One check/pay request as Kaspi sends it."""

    command: str
    txn_id: str
    account: str
    sum: str
    txn_date: str | None = None

    def query(self) -> str:
        values = {"command": self.command, "txn_id": self.txn_id, "account": self.account}
        values["sum"] = self.sum
        if self.txn_date is not None:
            values["txn_date"] = self.txn_date
        return urlencode(values)


class KaspiEmulator:
    """The QR API's state, the payer, and Kaspi's check/pay calls (see the module's text)."""

    def __init__(self) -> None:
        self.base_url = ""
        self.down = False
        #: The `StatusPollingInterval` Kaspi gives with each QR code or link.
        self.polling_interval: object = POLLING_INTERVAL
        self.devices: dict[str, str] = {}  # DeviceToken → Api-Key
        self.payments: dict[str, Document] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self._ids = count(700_000_001)
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/{scheme}/v01/qr/create", self._create, methods=["POST"]),
                Route("/{scheme}/v01/qr/create-link", self._create, methods=["POST"]),
                Route("/{scheme}/v02/payment/status/{id}", self._status, methods=["GET"]),
                Route("/{scheme}/v01/payment/return", self._return, methods=["POST"]),
            ]
        )

    # The merchant's set-up and the payer

    def add_device(self) -> tuple[str, str]:
        """A registered device: its Api-Key and DeviceToken."""
        key, token = secrets.token_hex(16), secrets.token_hex(16)
        self.devices[token] = key
        return key, token

    def pay(self, qr_payment_id: str) -> Document:
        return self._move(qr_payment_id, "Processed", TransactionId=str(next(self._ids)))

    def decline(self, qr_payment_id: str) -> Document:
        return self._move(qr_payment_id, "Error")

    def cancel_by_user(self, qr_payment_id: str) -> Document:
        return self._move(qr_payment_id, "CancelledByUser")

    def _move(self, qr_payment_id: str, status: str, **changes: Any) -> Document:
        with self._lock:
            payment = self.payments[qr_payment_id]
            if payment["Status"] not in ("QrTokenCreated", "Wait"):
                raise ValueError(f"payment {qr_payment_id} is {payment['Status']}")
            payment.update(Status=status, **changes)
            return dict(payment)

    # Kaspi calling the merchant

    @staticmethod
    def call(
        url: str,
        request: CheckPay,
        *,
        auth: tuple[str, str] | None = None,
        forwarded_for: str | None = None,
    ) -> httpx.Response:
        """Kaspi's check or pay request to the merchant's `url`."""
        headers = {"x-forwarded-for": forwarded_for} if forwarded_for else {}
        return httpx.get(f"{url}?{request.query()}", auth=auth, headers=headers, timeout=10)

    # The API

    @staticmethod
    def _answer(data: Document | None = None, code: int = 0, message: str = "") -> Response:
        return JSONResponse({"StatusCode": code, "Message": message, "Data": data})

    async def _authenticated(self, request: Request) -> tuple[Any, Response | None]:
        """The request's JSON body (or None for a GET), or the refusal to answer with."""
        if self.down:
            return None, Response("Kaspi emulator is down", 500)
        if request.path_params["scheme"] != "r1":
            return None, self._answer(code=CERTIFICATE_FAILED, message="certificate required")
        body: Any = None
        if request.method == "POST":
            try:
                body = json.loads(await request.body(), parse_float=Decimal)
            except ValueError:
                return None, self._answer(code=BAD_REQUEST, message="not JSON")
        problem = self._key_problem(request.headers.get("api-key"), body)
        if problem is not None:
            return None, self._answer(code=problem[0], message=problem[1])
        self.requests.append((request.method, request.url.path, body))
        return body, None

    def _key_problem(self, key: str | None, body: Any) -> tuple[int, str] | None:
        """Why `Api-Key` does not authenticate the request: a POST's must be its device's."""
        if body is None:
            return None if key in self.devices.values() else (BAD_KEY, "unknown Api-Key")
        token = body.get("DeviceToken") if isinstance(body, dict) else None
        if token not in self.devices:
            return UNKNOWN_DEVICE, "unknown device"
        return None if key == self.devices[token] else (BAD_KEY, "Api-Key does not match")

    async def _create(self, request: Request) -> Response:
        body, refused = await self._authenticated(request)
        if refused is not None:
            return refused
        amount = body.get("Amount")
        if not _positive(amount):
            return self._answer(code=BAD_REQUEST, message="Amount must be a positive number")
        link = request.url.path.endswith("create-link")
        expires = (datetime.now(UTC) + timedelta(minutes=5)).isoformat(timespec="seconds")
        with self._lock:
            qr_id = next(self._ids)
            self.payments[str(qr_id)] = {
                "QrPaymentId": qr_id,
                "DeviceToken": body["DeviceToken"],
                "Amount": Decimal(amount),
                "ExternalId": body.get("ExternalId"),
                "Status": "Wait" if link else "QrTokenCreated",
                "Returned": Decimal(0),
            }
        options = {
            "StatusPollingInterval": self.polling_interval,
            "PaymentConfirmationTimeout": 65,
        }
        if link:
            return self._answer(
                {
                    "PaymentLink": f"https://pay.kaspi.kz/pay/{secrets.token_hex(6)}",
                    "PaymentId": qr_id,
                    "ExpireDate": expires,
                    "PaymentMethods": ["Gold", "Red", "Loan"],
                    "PaymentBehaviorOptions": {**options, "LinkActivationWaitTimeout": 180},
                }
            )
        return self._answer(
            {
                "QrToken": f"https://qr.kaspi.kz/{secrets.token_hex(12)}",
                "ExpireDate": expires,
                "QrPaymentId": qr_id,
                "PaymentMethods": ["Gold", "Red", "Loan"],
                "QrPaymentBehaviorOptions": {**options, "QrCodeScanWaitTimeout": 180},
            }
        )

    async def _status(self, request: Request) -> Response:
        _, refused = await self._authenticated(request)
        if refused is not None:
            return refused
        with self._lock:
            payment = self.payments.get(request.path_params["id"])
            if payment is None:
                return self._answer(code=NOT_FOUND, message="payment not found")
            data = {
                "Status": payment["Status"],
                "TransactionId": payment.get("TransactionId"),
                "ProductType": "Gold",
                "Amount": _number(payment["Amount"]),
                "StoreName": "Emulated club",
            }
        return self._answer(data)

    async def _return(self, request: Request) -> Response:
        body, refused = await self._authenticated(request)
        if refused is not None:
            return refused
        amount = body.get("Amount")
        if not _positive(amount):
            return self._answer(code=BAD_REQUEST, message="Amount must be a positive number")
        with self._lock:
            payment = self.payments.get(str(body.get("QrPaymentId")))
            if payment is None or payment["DeviceToken"] != body["DeviceToken"]:
                return self._answer(code=NOT_FOUND, message="payment not found")
            left = payment["Amount"] - payment["Returned"]
            if payment["Status"] != "Processed" or Decimal(amount) > left:
                return self._answer(code=NOT_REFUNDABLE, message=f"{left} can be returned")
            payment["Returned"] += Decimal(amount)
            return self._answer({"ReturnOperationId": next(self._ids)})


def _positive(amount: Any) -> bool:
    return not isinstance(amount, bool) and isinstance(amount, int | Decimal) and amount > 0


def _number(value: Decimal) -> int | float:
    """Tenge as a JSON number: whole tenge as an integer; tiyn (two decimals, which a JSON
    number writes exactly) as a fraction."""
    return int(value) if value == value.to_integral_value() else float(value)


@contextmanager
def running() -> Iterator[KaspiEmulator]:
    """An emulator served on loopback for the duration of the block."""
    emulator = KaspiEmulator()
    live = LiveApp(emulator.app, name="kaspi-emulator").start()
    emulator.base_url = live.url
    try:
        yield emulator
    finally:
        live.stop()
