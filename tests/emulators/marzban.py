"""An emulator of Marzban's REST API (Gozargah/Marzban 0.8.4), the parts a shop's bot uses.

Written from `reference/bot-and-agent.md` A5 (and Marzban 0.8.4's routers and models it
cites), not from Kassa's adapter:

- `POST /api/admin/token`: an OAuth2 password form (`username`, `password`) →
  `{"access_token", "token_type": "bearer"}`; 401 for a wrong pair. Every other call needs
  `Authorization: Bearer <token>`, else 401 `{"detail": "Could not validate credentials"}`.
  `expire_tokens()` makes every issued token stale (as its 24 h running out would).
- `POST /api/user`: `username` (3 to 32 of `a-zA-Z0-9-_@.`), `proxies` (at least one), `expire`
  (unix seconds, 0/null = never), `data_limit` (bytes, 0 = unlimited), `status`
  (`active`|`on_hold`), `note` → the user (`UserResponse`: `username`, `status`, `expire`,
  `data_limit`, `used_traffic`, `links`, `subscription_url`, …); 409 if the username exists,
  400 for no proxy, 422 for a malformed field.
- `GET /api/user/{username}`; `PUT /api/user/{username}`: omitted/null fields unchanged; a
  user `active`/`expired` given a future `expire` becomes `active`; 404 `User not found`.
- `subscription_url` is relative (`/sub/<token>`): `XRAY_SUBSCRIPTION_URL_PREFIX` unset, its
  default.
- From Python: `race_next_create` (the next create finds the user made meanwhile by someone
  else: the emulator makes it, then answers 409), `down` (every call answers 500 and does
  nothing), `on_change` (called once, then cleared, when a call has created or changed a
  user, before its answer is sent: the crash tests kill the caller there, so the panel has
  done the work and the caller never hears of it).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.live import LiveApp

USERNAME = re.compile(r"^(?=\w{3,32}\b)[a-zA-Z0-9-_@.]+(?:_[a-zA-Z0-9-_@.]+)*$")
#: The test panel's admin password (not a secret).
PASSWORD = "s3cret-pass"
PROTOCOLS = frozenset({"vmess", "vless", "trojan", "shadowsocks"})

Document = dict[str, Any]


class Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


class MarzbanEmulator:
    """The emulator; serve `app` (`running()` does) and set `url`."""

    def __init__(self, *, admin: str = "admin", password: str = PASSWORD) -> None:
        self.url = ""
        self.admin, self.password = admin, password
        #: An outage: while set, every call answers 500 and does nothing.
        self.down = False
        self.race_next_create = False
        self.on_change: Callable[[], None] | None = None
        self.users: dict[str, Document] = {}
        self.tokens: set[str] = set()
        #: Every call: (method, path), logins included.
        self.calls: list[tuple[str, str]] = []
        self.logins = 0
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/api/admin/token", self._token, methods=["POST"]),
                Route("/api/user", self._create, methods=["POST"]),
                Route("/api/user/{username}", self._user, methods=["GET", "PUT"]),
            ]
        )

    def expire_tokens(self) -> None:
        """Every token issued so far stops working (its lifetime ran out)."""
        with self._lock:
            self.tokens.clear()

    def user(self, username: str) -> Document:
        with self._lock:
            return dict(self.users[username])

    async def _token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        with self._lock:
            self.calls.append(("POST", request.url.path))
            if self.down:
                return JSONResponse({"detail": "Internal Server Error"}, 500)
            if form.get("username") != self.admin or form.get("password") != self.password:
                return JSONResponse({"detail": "Incorrect username or password"}, 401)
            token = secrets.token_urlsafe(24)
            self.tokens.add(token)
            self.logins += 1
        return JSONResponse({"access_token": token, "token_type": "bearer"})

    async def _create(self, request: Request) -> Response:
        return await self._serve(request, self._add)

    async def _user(self, request: Request) -> Response:
        operation = self._modify if request.method == "PUT" else self._get
        return await self._serve(request, operation)

    async def _serve(self, request: Request, operation: Any) -> Response:
        body = await request.body()
        with self._lock:
            self.calls.append((request.method, request.url.path))
            if self.down:
                return JSONResponse({"detail": "Internal Server Error"}, 500)
            authorization = request.headers.get("authorization", "")
            if not authorization.startswith("Bearer ") or authorization[7:] not in self.tokens:
                return JSONResponse({"detail": "Could not validate credentials"}, 401)
            try:
                document = _json(body) if body else {}
                username = request.path_params.get("username")
                result = operation(username, document)
                if request.method != "GET" and self.on_change is not None:
                    changed, self.on_change = self.on_change, None
                    changed()
                return JSONResponse(result)
            except Refused as refused:
                return JSONResponse({"detail": refused.detail}, refused.status)

    def _add(self, _: str | None, document: Document) -> Document:
        username = document.get("username")
        if not isinstance(username, str) or not USERNAME.match(username):
            raise Refused(422, "Username only can be 3 to 32 characters")
        proxies = document.get("proxies") or {}
        if not isinstance(proxies, dict) or not proxies:
            raise Refused(422, "Each user needs at least one proxy")
        if set(proxies) - PROTOCOLS:
            raise Refused(400, "Protocol is disabled on your server")
        if self.race_next_create:
            self.race_next_create = False
            self._add(None, document | {"expire": 1})
        if username in self.users:
            raise Refused(409, "User already exists")
        if document.get("status", "active") not in ("active", "on_hold"):
            raise Refused(422, "status must be active or on_hold")
        user: Document = {
            "username": username,
            "proxies": proxies,
            "expire": _expire(document.get("expire")),
            "data_limit": _int(document.get("data_limit"), "data_limit") or None,
            "data_limit_reset_strategy": document.get("data_limit_reset_strategy", "no_reset"),
            "note": document.get("note"),
            "status": document.get("status", "active"),
            "used_traffic": 0,
            "lifetime_used_traffic": 0,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "links": [f"vless://{secrets.token_hex(16)}@vpn.example:443"],
            "subscription_url": f"/sub/{secrets.token_urlsafe(24)}",
            "inbounds": {name: [f"{name.upper()} TCP"] for name in proxies},
        }
        self.users[username] = user
        return dict(user)

    def _get(self, username: str, _: Document) -> Document:
        if username not in self.users:
            raise Refused(404, "User not found")
        return dict(self.users[username])

    def _modify(self, username: str, document: Document) -> Document:
        if username not in self.users:
            raise Refused(404, "User not found")
        user = self.users[username]
        if document.get("expire") is not None:
            user["expire"] = _expire(document["expire"])
            future = user["expire"] is None or user["expire"] > time.time()
            if future and user["status"] in ("active", "expired"):
                user["status"] = "active"
        if document.get("data_limit") is not None:
            user["data_limit"] = _int(document["data_limit"], "data_limit") or None
        for name in ("note", "data_limit_reset_strategy"):
            if document.get(name) is not None:
                user[name] = document[name]
        return dict(user)


def _json(body: bytes) -> Document:
    try:
        document = json.loads(body)
    except ValueError:
        raise Refused(422, "JSON decode error") from None
    if not isinstance(document, dict):
        raise Refused(422, "Input should be a valid dictionary")
    return document


def _int(value: Any, name: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Refused(422, f"{name} must be a non-negative integer")
    return value


def _expire(value: Any) -> int | None:
    return _int(value, "expire") or None


@contextmanager
def running(**kwargs: Any) -> Iterator[MarzbanEmulator]:
    """An emulator served on loopback for the duration of the block."""
    emulator = MarzbanEmulator(**kwargs)
    live = LiveApp(emulator.app, name="marzban-emulator").start()
    emulator.url = live.url
    try:
        yield emulator
    finally:
        live.stop()
