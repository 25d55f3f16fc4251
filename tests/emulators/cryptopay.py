"""An emulator of the Crypto Pay API (@CryptoBot): its API, its payers and its webhooks.

It behaves as `reference/providers.md` §3 describes Crypto Pay, written from that text, not
from Kassa's provider module, so the tests check one against the other:

- `/api/{method}` by GET (query string) or POST (JSON or form); the header
  `Crypto-Pay-API-Token` names the app (a token of another emulator, the other net's, is
  refused: `401 UNAUTHORIZED`). Answers `{"ok": true, "result"}` or `{"ok": false, "error":
  {"code", "name"}}`, the HTTP status being the error's code.
- Methods: `getMe`, `createInvoice` (crypto: `asset` and an `amount` with at most the asset's
  decimals; fiat: `fiat`, optional `accepted_assets`; `payload` ≤ 4 KB, `description` ≤ 1024,
  `expires_in` 1 to 2678400), `getInvoices` (`invoice_ids`, `status`, `asset`, `offset`,
  `count` → `{"items": […]}`), `deleteInvoice` (`invoice_id` → `true`). An amount must be a
  decimal string: a JSON number is refused. Error names are the emulator's choice where the
  reference names none (`AMOUNT_INVALID`, `INVOICE_NOT_FOUND`, …).
- One emulator is one net: `testnet=True` plays testnet-pay.crypt.bot (its links go to
  @CryptoTestnetBot).
- The payer, from Python: `pay` (the invoice becomes `paid`, in its asset, or for a fiat one
  in USDT at a made-up rate) and `expire` (its time ran out). A payment queues the webhook
  `invoice_paid`, signed as the reference says (hex HMAC-SHA256 of the raw body, keyed by the
  raw SHA-256 of the token), delivered to the app's `webhook_url` by `deliver` or by the
  returned `Sent.send()`; `update_id`s count up per emulator.
- Faults: while `down` is set, every API call answers 500 and does nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.live import LiveApp

#: Assets and their decimals (emulator's choice for the decimals: the chains' own).
ASSETS = {"USDT": 6, "TON": 9, "BTC": 8, "ETH": 18, "USDC": 6, "TRX": 6, "LTC": 8}
FIAT = frozenset({"RUB", "USD", "EUR", "BYN", "UAH", "KZT", "UZS", "GEL", "TRY", "AMD"})
#: What a fiat invoice is paid in, and at what rate (made up).
FIAT_PAID_ASSET, FIAT_RATE = "USDT", Decimal("90")
MAX_PAYLOAD, MAX_DESCRIPTION, MAX_EXPIRES_IN = 4096, 1024, 2_678_400
#: The buttons a paid invoice may show; each needs `paid_btn_url`.
PAID_BUTTONS = frozenset({"viewItem", "openChannel", "openBot", "callback"})

Document = dict[str, Any]


class ApiError(Exception):
    def __init__(self, code: int, name: str) -> None:
        super().__init__(name)
        self.code, self.name = code, name


def now() -> datetime:
    return datetime.now(UTC)


def stamp(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def signature(token: str, body: bytes) -> str:
    """Crypto Pay's webhook signature: hex HMAC-SHA256, key the raw SHA-256 of the token."""
    return hmac.new(hashlib.sha256(token.encode()).digest(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Sent:
    """A webhook as sent (or built to be sent): enough to send it again, or altered."""

    url: str
    headers: dict[str, str]
    body: bytes

    def send(self, **changes: Any) -> httpx.Response:
        sent = replace(self, **changes)
        return httpx.post(sent.url, content=sent.body, headers=sent.headers, timeout=30)


@dataclass
class App:
    """A Crypto Pay app: its token, and the webhook URL set in its settings."""

    app_id: int
    token: str
    webhook_url: str | None = None
    outbox: list[Sent] = field(default_factory=list)


class CryptoPayEmulator:
    """The emulator; serve `app` (`running()` does) and set `url`."""

    def __init__(self, *, testnet: bool = False) -> None:
        self.testnet = testnet
        #: Where it is served; the API is under `{url}/api`.
        self.url = ""
        #: An outage: while set, every API call answers 500 and does nothing.
        self.down = False
        self.apps: dict[str, App] = {}
        self.invoices: dict[int, Document] = {}
        #: Every API call after authentication: (app id, method, parameters).
        self.calls: list[tuple[int, str, dict[str, str]]] = []
        self._owner: dict[int, int] = {}
        self._ids = itertools.count(1001)
        self._updates = itertools.count(1)
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/api/{method}", self._api, methods=["GET", "POST"])])

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    # The app's owner and the payer, driven from tests.

    def add_app(self, webhook_url: str | None = None) -> App:
        """A new app (as made in @CryptoBot → Crypto Pay → Create App)."""
        app_id = secrets.randbelow(90_000) + 10_000
        app = App(app_id, f"{app_id}:AA{secrets.token_urlsafe(27)}", webhook_url)
        with self._lock:
            self.apps[app.token] = app
        return app

    def invoice(self, invoice_id: int | str) -> Document:
        with self._lock:
            return dict(self.invoices[int(invoice_id)])

    def invoices_of(self, app: App) -> list[Document]:
        with self._lock:
            return [dict(i) for n, i in self.invoices.items() if self._owner[n] == app.app_id]

    def pay(self, invoice_id: int | str, *, send: bool = True) -> Sent:
        """The payer pays the invoice in @CryptoBot; Crypto Pay sends `invoice_paid` (now, or
        with `send` off, when the test says: `Sent.send()`)."""
        with self._lock:
            invoice = self.invoices[int(invoice_id)]
            if invoice["status"] != "active":
                raise ValueError(f"invoice {invoice_id} is {invoice['status']}, not active")
            amount = Decimal(invoice["amount"])
            if invoice["currency_type"] == "fiat":
                paid_asset, paid_amount = FIAT_PAID_ASSET, amount / FIAT_RATE
                invoice["paid_fiat_rate"] = str(FIAT_RATE)
            else:
                paid_asset, paid_amount = invoice["asset"], amount
            invoice.update(
                status="paid",
                paid_at=stamp(now()),
                paid_asset=paid_asset,
                paid_amount=str(paid_amount.quantize(Decimal(1).scaleb(-ASSETS[paid_asset]))),
                paid_anonymously=False,
                fee_asset=paid_asset,
                fee_amount="0",
            )
            sent = self._webhook(invoice)
        if send:
            sent.send()
        return sent

    def expire(self, invoice_id: int | str) -> Document:
        """The invoice's time runs out unpaid (Crypto Pay sends no webhook for it)."""
        with self._lock:
            invoice = self.invoices[int(invoice_id)]
            if invoice["status"] != "active":
                raise ValueError(f"invoice {invoice_id} is {invoice['status']}, not active")
            invoice["status"] = "expired"
            return dict(invoice)

    def update(self, invoice: Document, *, date: datetime | None = None) -> bytes:
        """A webhook body about `invoice` (to build altered ones)."""
        document = {
            "update_id": next(self._updates),
            "update_type": "invoice_paid",
            "request_date": stamp(date or now()),
            "payload": invoice,
        }
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()

    def _webhook(self, invoice: Document) -> Sent:
        app = next(a for a in self.apps.values() if a.app_id == self._owner[invoice["invoice_id"]])
        if app.webhook_url is None:
            raise ValueError("the app has no webhook URL set")
        body = self.update(dict(invoice))
        headers = {
            "content-type": "application/json",
            "crypto-pay-api-signature": signature(app.token, body),
        }
        sent = Sent(app.webhook_url, headers, body)
        app.outbox.append(sent)
        return sent

    # The API.

    async def _api(self, request: Request) -> Response:
        if self.down:
            return _error(ApiError(500, "INTERNAL_ERROR"))
        params = _params(request, await request.body())
        method = str(request.path_params["method"])
        with self._lock:
            try:
                app = self.apps.get(request.headers.get("crypto-pay-api-token", ""))
                if app is None:
                    raise ApiError(401, "UNAUTHORIZED")
                if isinstance(params, ApiError):
                    raise params
                self.calls.append((app.app_id, method, params))
                operation = {
                    "getMe": self._get_me,
                    "createInvoice": self._create_invoice,
                    "getInvoices": self._get_invoices,
                    "deleteInvoice": self._delete_invoice,
                }.get(method)
                if operation is None:
                    raise ApiError(405, "METHOD_NOT_FOUND")
                return JSONResponse({"ok": True, "result": operation(app, params)})
            except ApiError as error:
                return _error(error)

    def _get_me(self, app: App, params: dict[str, str]) -> Any:
        return {
            "app_id": app.app_id,
            "name": "Kassa test app",
            "payment_processing_bot_username": self._bot,
        }

    @property
    def _bot(self) -> str:
        return "CryptoTestnetBot" if self.testnet else "CryptoBot"

    def _create_invoice(self, app: App, params: dict[str, str]) -> Any:
        invoice = _currency(params)
        payload = params.get("payload", "")
        if len(payload.encode()) > MAX_PAYLOAD:
            raise ApiError(400, "PAYLOAD_TOO_LONG")
        description = params.get("description", "")
        if len(description) > MAX_DESCRIPTION:
            raise ApiError(400, "DESCRIPTION_TOO_LONG")
        if button := params.get("paid_btn_name"):
            if button not in PAID_BUTTONS or not params.get("paid_btn_url"):
                raise ApiError(400, "PAID_BTN_INVALID")
            invoice |= {"paid_btn_name": button, "paid_btn_url": params["paid_btn_url"]}
        invoice_id = next(self._ids)
        code = f"IV{secrets.token_hex(6).upper()}"
        link = f"https://t.me/{self._bot}?start={code}"
        invoice |= {
            "invoice_id": invoice_id,
            "hash": code,
            "amount": params["amount"],
            "status": "active",
            "bot_invoice_url": link,
            "mini_app_invoice_url": f"https://t.me/{self._bot}/app?startapp=invoice-{code}",
            "web_app_invoice_url": f"https://testnet-app.send.tg/invoices/{code}"
            if self.testnet
            else f"https://app.send.tg/invoices/{code}",
            "created_at": stamp(now()),
            "allow_comments": params.get("allow_comments", "true") == "true",
            "allow_anonymous": params.get("allow_anonymous", "true") == "true",
        }
        if payload:
            invoice["payload"] = payload
        if description:
            invoice["description"] = description
        if "expires_in" in params:
            seconds = _decimal(params["expires_in"], name="EXPIRES_IN_INVALID")
            if seconds != int(seconds) or not 1 <= seconds <= MAX_EXPIRES_IN:
                raise ApiError(400, "EXPIRES_IN_INVALID")
            invoice["expiration_date"] = stamp(now() + timedelta(seconds=int(seconds)))
        self.invoices[invoice_id] = invoice
        self._owner[invoice_id] = app.app_id
        return dict(invoice)

    def _get_invoices(self, app: App, params: dict[str, str]) -> Any:
        wanted = (
            {int(i) for i in params["invoice_ids"].split(",")} if "invoice_ids" in params else None
        )
        items = [
            dict(invoice)
            for number, invoice in sorted(self.invoices.items(), reverse=True)
            if self._owner[number] == app.app_id
            and (wanted is None or number in wanted)
            and params.get("status") in (None, invoice["status"])
            and params.get("asset") in (None, invoice.get("asset"))
        ]
        offset, count = int(params.get("offset", 0)), int(params.get("count", 100))
        if not 1 <= count <= 1000:
            raise ApiError(400, "COUNT_INVALID")
        return {"items": items[offset : offset + count]}

    def _delete_invoice(self, app: App, params: dict[str, str]) -> Any:
        number = int(_decimal(params.get("invoice_id"), name="INVOICE_ID_INVALID"))
        invoice = self.invoices.get(number)
        if invoice is None or self._owner[number] != app.app_id:
            raise ApiError(400, "INVOICE_NOT_FOUND")
        if invoice["status"] == "paid":  # emulator's choice: a paid invoice stays
            raise ApiError(400, "INVOICE_PAID")
        del self.invoices[number]
        return True


def _currency(params: dict[str, str]) -> Document:
    """What an invoice is in: an asset, with an amount of at most its decimals, or a fiat
    currency (and the assets it may be paid in)."""
    currency_type = params.get("currency_type", "crypto")
    amount = _decimal(params.get("amount"))
    invoice: Document = {"currency_type": currency_type}
    if currency_type == "crypto":
        asset = params.get("asset")
        if asset not in ASSETS:
            raise ApiError(400, "ASSET_INVALID")
        if -amount.as_tuple().exponent > ASSETS[asset]:  # type: ignore[operator]
            raise ApiError(400, "AMOUNT_INVALID")
        invoice["asset"] = asset
    elif currency_type == "fiat":
        fiat = params.get("fiat")
        if fiat not in FIAT:
            raise ApiError(400, "FIAT_INVALID")
        invoice["fiat"] = fiat
        if accepted := params.get("accepted_assets"):
            if any(a not in ASSETS for a in accepted.split(",")):
                raise ApiError(400, "ACCEPTED_ASSETS_INVALID")
            invoice["accepted_assets"] = accepted.split(",")
    else:
        raise ApiError(400, "CURRENCY_TYPE_INVALID")
    return invoice


def _params(request: Request, body: bytes) -> dict[str, str] | ApiError:
    """The call's parameters, from the query string, JSON or a form; values as text (a JSON
    number where a decimal string is wanted is refused by the method)."""
    params = dict(request.query_params)
    if not body:
        return params
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            document = json.loads(body)
        except ValueError:
            return ApiError(400, "JSON_INVALID")
        if not isinstance(document, dict):
            return ApiError(400, "JSON_INVALID")
        for key, value in document.items():
            if key == "amount" and not isinstance(value, str):
                return ApiError(400, "AMOUNT_INVALID")
            params[key] = json.dumps(value) if isinstance(value, bool) else str(value)
        return params
    return params | dict(parse_qsl(body.decode()))


def _decimal(value: str | None, *, name: str = "AMOUNT_INVALID") -> Decimal:
    try:
        amount = Decimal(value or "")
    except InvalidOperation:
        raise ApiError(400, name) from None
    if not amount.is_finite() or amount <= 0:
        raise ApiError(400, name)
    return amount


def _error(error: ApiError) -> Response:
    body = {"ok": False, "error": {"code": error.code, "name": error.name}}
    return JSONResponse(body, error.code)


@contextmanager
def running(*, testnet: bool = False) -> Iterator[CryptoPayEmulator]:
    """An emulator served on loopback for the duration of the block."""
    emulator = CryptoPayEmulator(testnet=testnet)
    live = LiveApp(emulator.app, name="cryptopay-emulator").start()
    emulator.url = live.url
    try:
        yield emulator
    finally:
        live.stop()
