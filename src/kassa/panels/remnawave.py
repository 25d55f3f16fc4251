"""Remnawave (remnawave/backend 2.x and 3.x): one adapter, the major version a setting.

As `reference/bot-and-agent.md` A6 describes it, checked against remnawave/backend's
`libs/contract` at tags 2.8.0 and 3.3.2:

- Every call carries the API token (`Authorization: Bearer`), `X-Api-Key` when the panel
  sits behind an auth proxy that wants one, and the reverse-proxy headers the panel demands
  in production (`X-Forwarded-For`, `X-Forwarded-Proto: https`: without them it closes the
  connection unanswered, which is `PanelDown` here, as the cause cannot be told apart).
- Answers are `{"response": {...}}`; errors `{"message", "errorCode"}` (`A019`: the username
  exists; `A063`, `A025` or `A062`: not found).
- Identity: 2.x's user is its `uuid`, 3.x's its numeric `id`; both look users up by
  username (`GET /api/users/by-username/{username}`).
- Provisioning: look the user up; create it (`POST /api/users`, `expireAt` absolute) if
  missing, linking it on `A019` (created meanwhile); else `PATCH /api/users` with its id and
  the absolute `expireAt`. Both majors take the absolute date on `PATCH` (3.x: `id` or
  `username`), so 3.x's `POST /api/users/{id}/actions/extend` (`{"days": N}`, added to the
  current end) is not used: a replay of it would add the days twice.
- The major version: `GET /api/system/metadata` → `response.version` (since 2.5.0; a panel
  answering 404 there is older, so 2.x). `detect_version` is that call.

Settings: `panel_url` (without `/api`), `panel_token`, optional `panel_api_key`,
`panel_version` (`2` or `3`; `kassa.panels.build` detects it when absent), optional
`panel_squads` (internal squad uuids, comma-separated, a new user's squads).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from kassa.panels.base import Access, Panel, PanelRefused, PanelUser, required, send

VERSIONS = ("2", "3")
#: Remnawave's codes for "the username exists" and "no such user(s)" (a lookup by username
#: answers `A063`, "User with specified params not found", in 2.8.0 and 3.3.2).
ALREADY_EXISTS, NOT_FOUND = "A019", frozenset({"A025", "A062", "A063"})
#: The reverse-proxy headers the panel checks (`proxyCheckMiddleware`).
PROXY_HEADERS = {"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "https"}


class RemnawavePanel(Panel):
    name = "remnawave"

    def __init__(self, settings: Mapping[str, str], *, http: httpx.AsyncClient) -> None:
        super().__init__(settings, http=http)
        self.version = settings.get("panel_version", "").strip()
        if self.version not in VERSIONS:
            raise PanelRefused("panel_version must be 2 or 3", code="settings")
        #: The field naming a user on `PATCH /api/users`, and its id in `Access`.
        self.id_field = "uuid" if self.version == "2" else "id"

    async def provision(self, user: PanelUser) -> Access:
        fields: dict[str, Any] = {
            "expireAt": _iso(user.expires_at),
            "trafficLimitBytes": user.traffic_limit_bytes or 0,
        }
        if user.device_limit is not None:
            fields["hwidDeviceLimit"] = user.device_limit
        if user.telegram_id is not None:
            fields["telegramId"] = user.telegram_id
        found = await self._by_username(user.username)
        if found is None:
            created = fields | {"username": user.username, "status": "ACTIVE"}
            if squads := _listed(self.settings.get("panel_squads", "")):
                created["activeInternalSquads"] = squads
            code, document = await _call(self, "POST", "/api/users", json=created)
            if code != ALREADY_EXISTS:
                return self._access(_result(code, document))
            found = await self._by_username(user.username)  # created meanwhile: link it
            if found is None:
                raise PanelRefused("Remnawave says the user exists but has none", code=code)
        update = fields | {self.id_field: found[self.id_field]}
        code, document = await _call(self, "PATCH", "/api/users", json=update)
        return self._access(_result(code, document))

    async def find(self, username: str) -> Access | None:
        found = await self._by_username(username)
        return None if found is None else self._access(found)

    async def _by_username(self, username: str) -> dict[str, Any] | None:
        path = f"/api/users/by-username/{quote(username, safe='')}"
        code, document = await _call(self, "GET", path)
        return None if code in NOT_FOUND else _result(code, document)

    def _access(self, user: dict[str, Any]) -> Access:
        try:
            ident, link = str(user[self.id_field]), str(user["subscriptionUrl"])
            expires_at = datetime.fromisoformat(str(user["expireAt"]).replace("Z", "+00:00"))
        except (KeyError, TypeError, ValueError) as exc:
            raise PanelRefused("Remnawave answered an unreadable user", code="malformed") from exc
        return Access(panel_user_id=ident, link=link, expires_at=expires_at)


async def detect_version(settings: Mapping[str, str], *, http: httpx.AsyncClient) -> str:
    """The panel's major version (`2` or `3`) from `GET /api/system/metadata`."""
    code, document = await _call(_Caller(settings, http), "GET", "/api/system/metadata")
    if code == "404":
        return "2"  # the endpoint came in 2.5.0: an older panel is a 2.x
    version = str(_result(code, document).get("version", ""))
    major = version.split(".", 1)[0]
    if major not in VERSIONS:
        raise PanelRefused(
            f"Remnawave {version[:20]!r} is not a version Kassa knows (2 or 3)", code="version"
        )
    return major


class _Caller:
    """What a call needs: the settings and the client (a panel, or detection before one)."""

    def __init__(self, settings: Mapping[str, str], http: httpx.AsyncClient) -> None:
        self.settings, self.http = settings, http


async def _call(panel: Panel | _Caller, method: str, path: str, **kwargs: Any) -> tuple[str, Any]:
    """One call: its error code (`""` when it succeeded; Remnawave's `errorCode`, else the
    HTTP status) and the body's `response`, or the whole body for an error."""
    url, token = required(panel.settings, "panel_url", "panel_token")
    headers = PROXY_HEADERS | {"Authorization": f"Bearer {token}"}
    if api_key := panel.settings.get("panel_api_key", "").strip():
        headers["X-Api-Key"] = api_key
    response = await send(panel.http, method, url.rstrip("/") + path, headers=headers, **kwargs)
    try:
        document = response.json()
    except ValueError:
        document = None
    if response.status_code < 400:
        if not isinstance(document, dict) or not isinstance(document.get("response"), dict):
            raise PanelRefused("Remnawave answered without a response object", code="malformed")
        return "", document["response"]
    error = document.get("errorCode") if isinstance(document, dict) else None
    return (error if isinstance(error, str) else str(response.status_code)), document


def _result(code: str, document: Any) -> dict[str, Any]:
    if not code:
        return dict(document)
    message = document.get("message") if isinstance(document, dict) else None
    shown = message if isinstance(message, str) else "refused"
    raise PanelRefused(f"Remnawave refused ({code}): {shown}"[:300], code=code)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("a panel user's end must be an aware datetime")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _listed(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]
