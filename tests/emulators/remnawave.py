"""An emulator of Remnawave's REST API (remnawave/backend), 2.x or 3.x, the parts a bot uses.

Written from `reference/bot-and-agent.md` A6 (and the `libs/contract` files it cites, tags
2.8.0 and 3.3.2), not from Kassa's adapter:

- The reverse-proxy gate (`proxyCheckMiddleware`, production mode, on unless `gate=False`):
  a request without `X-Forwarded-For`, or whose `X-Forwarded-Proto` is not `https`, gets its
  connection closed unanswered.
- `Authorization: Bearer <api token>` on every call, else 401; with `api_key` set, the
  panel's auth proxy also wants `X-Api-Key` (a plain-text 403 without it, the emulator's choice).
- Answers `{"response": …}`; errors `{"timestamp", "path", "message", "errorCode"}` with
  the contract's codes: `A019` (400) the username exists, `A063` (404) no user by that
  username (the lookup's code in 2.8.0 and 3.3.2, where the reference names `A025`), `A025`
  (404) no user by that id, and
  `E000` with 400 for a malformed body (the emulator's simplification of zod's answer).
- Users: 2.x named by `uuid` (also carrying `id`), 3.x by numeric `id` (no `uuid`).
  `POST /api/users` (`username` 3 to 36 `[A-Za-z0-9_-]`, `expireAt` ISO-8601 required,
  `status`, `trafficLimitBytes`, `hwidDeviceLimit`, `telegramId`, `activeInternalSquads`),
  `GET /api/users/by-username/{username}`, `GET /api/users/{uuid|id}`, `PATCH /api/users`
  (2.x: `uuid` or `username`; 3.x: `id` or `username`; `expireAt` must be in the future;
  `status` only `ACTIVE`/`DISABLED`), 2.x `GET /api/users/by-telegram-id/{id}` (a list),
  3.x `POST /api/users/{id}/actions/extend` (`{"days": N}`, N ≥ 1: an `ACTIVE` user's end
  moves by N days, an `EXPIRED` one's from now and it becomes `ACTIVE`).
- `GET /api/system/metadata` → `{"response": {"version", "build", "git"}}`; a panel older
  than 2.5.0 (`metadata=False`) answers 404 there.
- From Python: `race_next_create` (the next create finds the user made meanwhile by someone
  else: the emulator makes it, then answers `A019`), `down` (every call answers 500),
  `on_change` (called once, then cleared, when a call has created or changed a user, before
  its answer is sent: the crash tests kill the caller there, so the panel has done the work
  and the caller never hears of it).
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.live import LiveApp

USERNAME = re.compile(r"^[a-zA-Z0-9_-]{3,36}$")
VERSIONS = {2: "2.8.0", 3: "3.3.2"}

Document = dict[str, Any]


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def now() -> datetime:
    return datetime.now(UTC)


def stamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse(value: Any) -> datetime:
    if not isinstance(value, str):
        raise Refused(400, "E000", "expireAt must be an ISO-8601 date")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Refused(400, "E000", "expireAt must be an ISO-8601 date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class RemnawaveEmulator:
    """The emulator of a panel of major `version`; serve `app` (`running()` does)."""

    def __init__(
        self,
        version: int = 3,
        *,
        token: str | None = None,
        api_key: str | None = None,
        gate: bool = True,
        metadata: bool = True,
    ) -> None:
        self.version, self.gate, self.metadata = version, gate, metadata
        self.token = token or f"eyJ{secrets.token_urlsafe(32)}"
        self.api_key = api_key
        self.url = ""
        #: An outage: while set, every call answers 500 and does nothing.
        self.down = False
        self.race_next_create = False
        self.on_change: Callable[[], None] | None = None
        self.users: dict[int, Document] = {}
        #: Every call let through the gate: (method, path, headers).
        self.calls: list[tuple[str, str, dict[str, str]]] = []
        #: Requests dropped by the proxy gate.
        self.dropped = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.api = Starlette(
            routes=[
                Route("/api/system/metadata", self._metadata, methods=["GET"]),
                Route("/api/users", self._users, methods=["POST", "PATCH"]),
                Route("/api/users/by-username/{key}", self._by_username, methods=["GET"]),
                Route("/api/users/by-telegram-id/{key}", self._by_telegram, methods=["GET"]),
                Route("/api/users/{key}/actions/extend", self._extend, methods=["POST"]),
                Route("/api/users/{key}", self._by_key, methods=["GET"]),
            ]
        )
        self.app = _Gate(self)

    # From tests.

    def add_user(self, username: str, expire_at: datetime, **fields: Any) -> Document:
        """A user made on the panel by someone else (its admin, another bot)."""
        with self._lock:
            return dict(self._new(username, expire_at, fields))

    def user(self, username: str) -> Document:
        with self._lock:
            return dict(self._find(username))

    def paths(self) -> list[tuple[str, str]]:
        with self._lock:
            return [(method, path) for method, path, _ in self.calls]

    # The API.

    async def _metadata(self, request: Request) -> Response:
        async def operation(_: Document) -> Any:
            if not self.metadata:  # no such route: NestJS's own 404
                body = {"message": "Cannot GET /api/system/metadata", "statusCode": 404}
                return JSONResponse(body, 404)
            return {
                "version": VERSIONS[self.version],
                "build": {"time": "2026-08-20T00:00:00Z", "number": "1"},
                "git": {
                    "backend": {"commitSha": "0" * 40, "branch": "main", "commitUrl": ""},
                    "frontend": {"commitSha": "0" * 40, "commitUrl": ""},
                },
            }

        return await self._serve(request, operation)

    async def _users(self, request: Request) -> Response:
        return await self._serve(request, self._create if request.method == "POST" else self._patch)

    async def _by_username(self, request: Request) -> Response:
        key = request.path_params["key"]
        return await self._serve(request, lambda _: self._public(self._find(key)))

    async def _by_telegram(self, request: Request) -> Response:
        key = request.path_params["key"]

        def operation(_: Document) -> Any:
            if self.version != 2:
                raise Refused(404, "E000", "Cannot GET")
            found = [self._public(u) for u in self.users.values() if str(u["telegramId"]) == key]
            if not found:
                raise Refused(404, "A062", "Users not found")
            return found

        return await self._serve(request, operation)

    async def _by_key(self, request: Request) -> Response:
        key = request.path_params["key"]
        return await self._serve(request, lambda _: self._public(self._by_identity(key)))

    async def _extend(self, request: Request) -> Response:
        key = request.path_params["key"]

        def operation(document: Document) -> Any:
            if self.version != 3:
                raise Refused(404, "E000", "Cannot POST")
            days = document.get("days")
            if not isinstance(days, int) or isinstance(days, bool) or days < 1:
                raise Refused(400, "E000", "days must be an integer of at least 1")
            user = self._by_identity(key)
            current = parse(user["expireAt"])
            if user["status"] == "EXPIRED" or current < now():
                user["expireAt"], user["status"] = stamp(now() + timedelta(days=days)), "ACTIVE"
            else:
                user["expireAt"] = stamp(current + timedelta(days=days))
            return self._public(user)

        return await self._serve(request, operation)

    async def _serve(self, request: Request, operation: Any) -> Response:
        body = await request.body()
        with self._lock:
            self.calls.append((request.method, request.url.path, dict(request.headers)))
            path = request.url.path
            if self.down:
                return _error(path, Refused(500, "E000", "Internal server error"))
            if self.api_key is not None and request.headers.get("x-api-key") != self.api_key:
                return PlainTextResponse("Forbidden", 403)  # the auth proxy's, not the panel's
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return JSONResponse({"message": "Unauthorized", "statusCode": 401}, 401)
            try:
                document = _json(body) if body else {}
                result = operation(document)
                if hasattr(result, "__await__"):
                    result = await result
                if isinstance(result, Response):
                    return result
                if request.method != "GET" and self.on_change is not None:
                    changed, self.on_change = self.on_change, None
                    changed()
                status = 201 if request.method == "POST" and path == "/api/users" else 200
                return JSONResponse({"response": result}, status)
            except Refused as refused:
                return _error(path, refused)

    def _create(self, document: Document) -> Document:
        username = document.get("username")
        if not isinstance(username, str) or not USERNAME.match(username):
            raise Refused(400, "E000", "Username must be 3-36 of letters, digits, _ and -")
        expire_at = parse(document.get("expireAt"))
        if self.race_next_create:
            self.race_next_create = False
            self._new(username, expire_at - timedelta(days=30), {})
        if any(user["username"] == username for user in self.users.values()):
            raise Refused(400, "A019", "User username already exists")
        fields = {k: v for k, v in document.items() if k not in ("username", "expireAt")}
        return self._public(self._new(username, expire_at, fields))

    def _patch(self, document: Document) -> Document:
        key_name = "uuid" if self.version == 2 else "id"
        if key_name in document:
            user = self._by_identity(str(document[key_name]))
        elif "username" in document:
            user = self._find(str(document["username"]))
        else:
            raise Refused(400, "E000", f"At least one of username, {key_name} must be provided")
        if "expireAt" in document:
            expire_at = parse(document["expireAt"])
            if expire_at <= now():
                raise Refused(400, "E000", "Expiration date cannot be in the past")
            user["expireAt"] = stamp(expire_at)
            if user["status"] == "EXPIRED":
                user["status"] = "ACTIVE"
        if "status" in document:
            if document["status"] not in ("ACTIVE", "DISABLED"):
                raise Refused(400, "E000", "status may only be ACTIVE or DISABLED")
            user["status"] = document["status"]
        for name in ("trafficLimitBytes", "hwidDeviceLimit", "telegramId", "description"):
            if name in document:
                user[name] = document[name]
        return self._public(user)

    def _new(self, username: str, expire_at: datetime, fields: Document) -> Document:
        number = next(self._ids)
        short = secrets.token_urlsafe(12)
        user: Document = {
            "id": number,
            "shortUuid": short,
            "username": username,
            "status": fields.get("status", "ACTIVE"),
            "trafficLimitBytes": fields.get("trafficLimitBytes", 0),
            "trafficLimitStrategy": fields.get("trafficLimitStrategy", "NO_RESET"),
            "expireAt": stamp(expire_at),
            "telegramId": fields.get("telegramId"),
            "email": fields.get("email"),
            "description": fields.get("description"),
            "tag": fields.get("tag"),
            "hwidDeviceLimit": fields.get("hwidDeviceLimit"),
            "activeInternalSquads": [
                {"uuid": squad, "name": "Default"}
                for squad in fields.get("activeInternalSquads", [])
            ],
            "subscriptionUrl": f"https://sub.vpn.example/{short}",
            "userTraffic": {"usedTrafficBytes": 0, "lifetimeUsedTrafficBytes": 0},
            "createdAt": stamp(now()),
            "updatedAt": stamp(now()),
        }
        if self.version == 2:
            user["uuid"] = str(uuid.uuid4())
        self.users[number] = user
        return user

    def _find(self, username: str) -> Document:
        for user in self.users.values():
            if user["username"] == username:
                return user
        raise Refused(404, "A063", "User with specified params not found")

    def _by_identity(self, key: str) -> Document:
        for user in self.users.values():
            if (self.version == 2 and user["uuid"] == key) or (
                self.version == 3 and str(user["id"]) == key
            ):
                return user
        raise Refused(404, "A025", "User not found")

    def _public(self, user: Document) -> Document:
        public = dict(user)
        if self.version == 3:
            public.pop("uuid", None)
        return public


class _Gate:
    """The proxy gate in front of the API: a request it refuses gets no answer, its
    connection closed (`res.socket?.destroy()`) by aborting uvicorn's transport (its `send`
    is bound to the request's cycle, which holds it)."""

    def __init__(self, emulator: RemnawaveEmulator) -> None:
        self.emulator = emulator

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        emulator = self.emulator
        if scope["type"] == "http" and emulator.gate:
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            if not headers.get("x-forwarded-for") or headers.get("x-forwarded-proto") != "https":
                emulator.dropped += 1
                send.__self__.transport.abort()
                return
        await emulator.api(scope, receive, send)


def _json(body: bytes) -> Document:
    try:
        document = json.loads(body)
    except ValueError:
        raise Refused(400, "E000", "Invalid JSON") from None
    if not isinstance(document, dict):
        raise Refused(400, "E000", "The body must be an object")
    return document


def _error(path: str, refused: Refused) -> Response:
    body = {
        "timestamp": stamp(now()),
        "path": path,
        "message": refused.message,
        "errorCode": refused.code,
    }
    return JSONResponse(body, refused.status)


@contextmanager
def running(version: int = 3, **kwargs: Any) -> Iterator[RemnawaveEmulator]:
    """An emulator served on loopback for the duration of the block."""
    emulator = RemnawaveEmulator(version, **kwargs)
    live = LiveApp(emulator.app, name="remnawave-emulator").start()
    emulator.url = live.url
    try:
        yield emulator
    finally:
        live.stop()
