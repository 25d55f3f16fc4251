"""An emulator of 1Plat's merchant API: a small in-memory ASGI app served on loopback for tests.

1Plat's own documentation could not be read; this follows what public integrators' code shows
(`/work/shared/reference/providers.md` §5), and marks its own choices where that is silent:

- `POST /api/merchant/order/create/by-api` and `GET /api/merchant/order/info/{guid}/by-api`,
  authenticated by the headers `x-shop` and `x-secret` (anything else: 401, emulator's choice
  of body `{"success": false, "message"}`, as for every error here).
- A create takes `merchant_order_id`, `user_id`, `amount` (an integer number of rubles, 100 to
  500 000 as one integrator's notes say) and `method` (`card` or `sbp`), and answers `{success,
  guid, url, payment{id, status, method_group, amount, amount_to_pay, expired, note{currency,
  pan, bank, fio}}}`: a card number for `card`, a phone number for `sbp`. `amount_to_pay` is the
  amount plus `surcharge` rubles (0 unless a test sets it). With `requisites` off, the order is
  created with status -1 and no `note` (no requisites issued yet). A second create with the same
  `merchant_order_id` answers the first order (emulator's choice: 1Plat's idempotency is NOT
  FOUND). `expired` is ISO 8601 with an offset (emulator's choice; the format is NOT FOUND).
- `order/info` answers the same shape with `merchant_order_id` and the current status.
- The payer's side and 1Plat's, from Python: `pay` (status 1), `confirm` (2), `no_requisites`
  (-2), `set_status` (any code, an unknown one included).
- `callback` builds the JSON callback 1Plat POSTs: `signature_v2` = MD5 of `merchant_id +
  amount + shop_id + secret` (`merchant_id` is the shop id here, an emulator's choice: whether
  1Plat sends the shop id there is unclear) and `signature` = HMAC-SHA256 keyed by the secret
  over the JSON of the other fields as JavaScript's `JSON.stringify` writes it (or, with
  `sorted_hmac`, keys sorted and non-ASCII escaped, as Python integrators write it).
  `sign` picks which signatures it carries. `notify` POSTs one to Kassa's hook.
- While `down` is set, every API call answers 500 and does nothing (an outage).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.live import LiveApp

Document = dict[str, Any]
Signing = Literal["both", "v2", "hmac", "none"]

MIN_AMOUNT, MAX_AMOUNT = 100, 500_000
TEST_CARD = "2200700112345678"
TEST_PHONE = "+79001234567"
#: How long issued requisites hold (emulator's choice).
REQUISITES_FOR = timedelta(minutes=15)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"success": False, "message": message}


class OnePlatEmulator:
    """The emulator; serve `app` (`running()` does) and set `base_url`."""

    def __init__(self) -> None:
        self.base_url = ""
        #: An outage: while set, every API call answers 500 and does nothing.
        self.down = False
        #: Whether new orders get requisites at once (else status -1 and no `note`).
        self.requisites = True
        #: Rubles 1Plat adds to what the payer transfers.
        self.surcharge = 0
        self.orders: dict[str, Document] = {}
        self.received: list[tuple[str, str, Any]] = []
        self._shops: dict[str, str] = {}
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/api/merchant/order/create/by-api", self._create, methods=["POST"]),
                Route("/api/merchant/order/info/{guid}/by-api", self._info, methods=["GET"]),
                Route("/pay/{guid}", self._page),
            ]
        )

    # 1Plat's and the payer's side, driven from tests.

    def add_shop(self) -> tuple[str, str]:
        """A new shop: its id and secret."""
        shop_id, secret = str(secrets.randbelow(90_000) + 10_000), secrets.token_hex(16)
        with self._lock:
            self._shops[shop_id] = secret
        return shop_id, secret

    def set_status(self, guid: str, status: int) -> Document:
        with self._lock:
            order = self.orders[guid]
            order["payment"]["status"] = status
            return dict(order["payment"])

    def pay(self, guid: str) -> Document:
        """The payer transfers the money: status 1 (paid, awaiting confirmation)."""
        return self.set_status(guid, 1)

    def confirm(self, guid: str) -> Document:
        return self.set_status(guid, 2)

    def no_requisites(self, guid: str) -> Document:
        return self.set_status(guid, -2)

    def callback(
        self,
        guid: str,
        *,
        sign: Signing = "both",
        sorted_hmac: bool = False,
        secret: str | None = None,
        **changes: Any,
    ) -> bytes:
        """The callback 1Plat sends about the order as it is now, with `changes` to its
        fields (before signing), signed with the shop's secret (or `secret`, to forge)."""
        with self._lock:
            order = self.orders[guid]
            shop_id = order["shop_id"]
            key = secret if secret is not None else self._shops[shop_id]
            payment = order["payment"]
            fields: Document = {
                "payment_id": payment["id"],
                "guid": guid,
                "merchant_id": shop_id,
                "merchant_order_id": order["merchant_order_id"],
                "user_id": order["user_id"],
                "status": payment["status"],
                "amount": payment["amount"],
                "amount_to_pay": payment["amount_to_pay"],
                "amount_to_shop": payment["amount"] * 97 // 100,
                "expired": payment["expired"],
                **changes,
            }
        signed: Document = {}
        if sign in ("both", "hmac"):
            if sorted_hmac:
                text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
            else:
                text = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
            signed["signature"] = hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()
        if sign in ("both", "v2"):
            text = f"{fields['merchant_id']}{fields['amount']}{shop_id}{key}"
            signed["signature_v2"] = hashlib.md5(text.encode()).hexdigest()  # noqa: S324
        return json.dumps({**signed, **fields}, ensure_ascii=False).encode()

    def notify(self, kassa_url: str, shop_name: str, body: bytes) -> httpx.Response:
        return httpx.post(
            f"{kassa_url}/hooks/oneplat/{shop_name}",
            content=body,
            headers={"content-type": "application/json"},
            timeout=30,
        )

    def orders_of(self, shop_id: str) -> list[Document]:
        return [order for order in self.orders.values() if order["shop_id"] == shop_id]

    # The API.

    def _authenticate(self, request: Request) -> str:
        shop_id = request.headers.get("x-shop", "")
        secret = request.headers.get("x-secret", "")
        known = self._shops.get(shop_id)
        if known is None or not hmac.compare_digest(known.encode(), secret.encode()):
            raise ApiError(401, "Unauthorized: wrong x-shop or x-secret")
        return shop_id

    async def _create(self, request: Request) -> Response:
        raw = await request.body()
        if self.down:
            return JSONResponse({"success": False, "message": "Internal Server Error"}, 500)
        try:
            with self._lock:
                shop_id = self._authenticate(request)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                self.received.append((shop_id, "create", body))
                return JSONResponse(self._new_order(shop_id, body))
        except ApiError as error:
            return JSONResponse(error.body, error.status)

    def _new_order(self, shop_id: str, body: Any) -> Document:
        if not isinstance(body, dict):
            raise ApiError(400, "The body must be a JSON object")
        order_id, amount, method = (
            body.get("merchant_order_id"),
            body.get("amount"),
            body.get("method"),
        )
        if not isinstance(order_id, str) or not order_id:
            raise ApiError(400, "merchant_order_id is required")
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise ApiError(400, "amount must be an integer number of rubles")
        if not MIN_AMOUNT <= amount <= MAX_AMOUNT:
            raise ApiError(400, f"amount must be between {MIN_AMOUNT} and {MAX_AMOUNT}")
        if method not in ("card", "sbp"):
            raise ApiError(400, f"Unknown method {method!r}")
        for order in self.orders.values():
            if order["shop_id"] == shop_id and order["merchant_order_id"] == order_id:
                return self._answer(order)
        guid = str(uuid.uuid4())
        payment: Document = {
            "id": secrets.randbelow(10**9),
            "status": 0 if self.requisites else -1,
            "method_group": method,
            "amount": amount,
            "amount_to_pay": amount + self.surcharge,
            "expired": (datetime.now(UTC) + REQUISITES_FOR).isoformat(timespec="seconds"),
        }
        if self.requisites:
            payment["note"] = {
                "currency": "RUB",
                "pan": TEST_PHONE if method == "sbp" else TEST_CARD,
                "bank": "Сбербанк",
                "fio": "Иван Иванович И.",
            }
        order = {
            "guid": guid,
            "shop_id": shop_id,
            "merchant_order_id": order_id,
            "user_id": body.get("user_id"),
            "payment": payment,
        }
        self.orders[guid] = order
        return self._answer(order)

    def _answer(self, order: Document) -> Document:
        return {
            "success": True,
            "guid": order["guid"],
            "url": f"{self.base_url}/pay/{order['guid']}",
            "merchant_order_id": order["merchant_order_id"],
            "payment": json.loads(json.dumps(order["payment"])),
        }

    async def _info(self, request: Request) -> Response:
        if self.down:
            return JSONResponse({"success": False, "message": "Internal Server Error"}, 500)
        try:
            with self._lock:
                shop_id = self._authenticate(request)
                guid = str(request.path_params["guid"])
                self.received.append((shop_id, "info", guid))
                order = self.orders.get(guid)
                if order is None or order["shop_id"] != shop_id:
                    raise ApiError(404, "Order not found")
                return JSONResponse(self._answer(order))
        except ApiError as error:
            return JSONResponse(error.body, error.status)

    async def _page(self, request: Request) -> Response:
        order = self.orders.get(str(request.path_params["guid"]))
        if order is None:
            return PlainTextResponse("Not found", 404)
        payment = order["payment"]
        return PlainTextResponse(f"1Plat emulator: {payment['amount_to_pay']} RUB")


@contextmanager
def running() -> Iterator[OnePlatEmulator]:
    """An emulator served on loopback for the duration of the block."""
    emulator = OnePlatEmulator()
    live = LiveApp(emulator.app, name="oneplat-emulator").start()
    emulator.base_url = live.url
    try:
        yield emulator
    finally:
        live.stop()
