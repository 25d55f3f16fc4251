"""An emulator of TronGrid's TRC20 transfer list: a chain of transfers you append to, served
on loopback as TronGrid serves it.

What it plays (TronGrid's documentation, reference providers.md §7):

- `GET /v1/accounts/{address}/transactions/trc20`, the transfers in and out of `address`:
  `only_confirmed` / `only_unconfirmed` (both at once is `400`), `only_to` / `only_from`,
  `contract_address`, `min_timestamp` / `max_timestamp` (ms, inclusive), `order_by`
  (`block_timestamp,asc` or `,desc`, the default), `limit` (default 20, at most 200, more is
  `400`), and `fingerprint`, the opaque cursor of the next page that `meta.fingerprint`
  carries while more follow. The answer is `{"data": [...], "success": true, "meta": {"at",
  "page_size", "fingerprint"?}}`, each entry `{transaction_id, token_info {address, decimals,
  symbol, name}, from, to, type: "Transfer", value (digits), block_timestamp (ms)}`.
- `TRON-PRO-API-KEY`: recorded per request (`keys`); with `required_key` set, a request
  without it is `401`.
- Faults: `limited` answers `429` (TronGrid's rate limit) and `down` answers `503`, both
  doing nothing.

The chain is played from Python: `transfer` appends a transfer (of the real USDT contract
unless told otherwise, so a fake token is one call away), confirmed unless `confirmed=False`;
`confirm` confirms one later.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.live import LiveApp

USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def new_address() -> str:
    """A new random TRON address: base58check of 0x41 and 20 random bytes (TRON's format)."""
    payload = b"\x41" + secrets.token_bytes(20)
    raw = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    number, text = int.from_bytes(raw, "big"), ""
    while number:
        number, digit = divmod(number, 58)
        text = _BASE58[digit] + text
    return text


class TronGridEmulator:
    def __init__(self) -> None:
        self.base_url = ""
        self.chain: list[dict[str, Any]] = []
        self.unconfirmed: set[str] = set()
        self.keys: list[str | None] = []
        #: The address of every call, in order.
        self.looked: list[str] = []
        self.required_key: str | None = None
        self.limited = False
        self.down = False
        self.calls = 0
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[Route("/v1/accounts/{address}/transactions/trc20", self._list)]
        )

    # The chain

    def transfer(
        self,
        to: str,
        value: int,
        *,
        contract: str = USDT,
        sender: str | None = None,
        confirmed: bool = True,
        at_ms: int | None = None,
        symbol: str = "USDT",
    ) -> dict[str, Any]:
        """Append a transfer of `value` raw units to `to`; returns its entry."""
        entry: dict[str, Any] = {
            "transaction_id": secrets.token_hex(32),
            "token_info": {
                "symbol": symbol,
                "address": contract,
                "decimals": 6,
                "name": "Tether USD",
            },
            "block_timestamp": at_ms if at_ms is not None else int(time.time() * 1000),
            "from": sender or new_address(),
            "to": to,
            "type": "Transfer",
            "value": str(value),
        }
        with self._lock:
            self.chain.append(entry)
            if not confirmed:
                self.unconfirmed.add(entry["transaction_id"])
        return entry

    def confirm(self, transaction_id: str) -> None:
        with self._lock:
            self.unconfirmed.discard(transaction_id)

    # The API

    def _refusal(self, request: Request) -> JSONResponse | None:
        """The answer to a call that is not served: an outage, the rate limit, no key."""
        self.calls += 1
        key = request.headers.get("tron-pro-api-key")
        self.keys.append(key)
        if self.down:
            return _error(503, "service unavailable")
        if self.limited:
            return _error(429, "too many requests")
        if self.required_key is not None and key != self.required_key:
            return _error(401, "ApiKey not exists")
        return None

    async def _list(self, request: Request) -> JSONResponse:
        if (refused := self._refusal(request)) is not None:
            return refused
        query = request.query_params
        flag = {name: query.get(name, "false") == "true" for name in _FLAGS}
        if flag["only_confirmed"] and flag["only_unconfirmed"]:
            return _error(400, "only_confirmed and only_unconfirmed cannot both be true")
        try:
            limit = int(query.get("limit", "20"))
            start = _cursor(query.get("fingerprint"))
            low = int(query.get("min_timestamp", "0"))
            high = int(query.get("max_timestamp", str(2**62)))
        except ValueError as exc:
            return _error(400, str(exc))
        if not 0 < limit <= 200:
            return _error(400, "limit must be between 1 and 200")
        address, contract = request.path_params["address"], query.get("contract_address")
        self.looked.append(address)
        with self._lock:
            chain = list(self.chain)
            unconfirmed = set(self.unconfirmed)
        found = [
            entry
            for entry in chain
            if address in (entry["from"], entry["to"])
            and (not flag["only_to"] or entry["to"] == address)
            and (not flag["only_from"] or entry["from"] == address)
            and (contract is None or entry["token_info"]["address"] == contract)
            and low <= entry["block_timestamp"] <= high
            and not (flag["only_confirmed"] and entry["transaction_id"] in unconfirmed)
            and not (flag["only_unconfirmed"] and entry["transaction_id"] not in unconfirmed)
        ]
        ascending = query.get("order_by", "block_timestamp,desc") == "block_timestamp,asc"
        found.sort(key=lambda entry: entry["block_timestamp"], reverse=not ascending)
        page = found[start : start + limit]
        meta: dict[str, Any] = {"at": int(time.time() * 1000), "page_size": len(page)}
        if start + limit < len(found):
            meta["fingerprint"] = base64.urlsafe_b64encode(
                json.dumps({"offset": start + limit}).encode()
            ).decode()
        return JSONResponse({"data": page, "success": True, "meta": meta})


_FLAGS = ("only_confirmed", "only_unconfirmed", "only_to", "only_from")


def _cursor(fingerprint: str | None) -> int:
    if not fingerprint:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(fingerprint))["offset"])
    except (ValueError, KeyError, TypeError):
        raise ValueError("invalid fingerprint") from None


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"success": False, "error": message, "statusCode": status}, status)


@contextmanager
def running() -> Iterator[TronGridEmulator]:
    """An emulator served on loopback for the duration of the block."""
    emulator = TronGridEmulator()
    live = LiveApp(emulator.app, name="trongrid-emulator").start()
    emulator.base_url = live.url
    try:
        yield emulator
    finally:
        live.stop()
