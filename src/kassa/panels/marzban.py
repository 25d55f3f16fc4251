"""Marzban (Gozargah/Marzban 0.8): users by username, the end as a unix timestamp.

As `reference/bot-and-agent.md` A5 describes it: `POST /api/admin/token` with the admin's
username and password as an OAuth2 form gives a bearer token (24 h by default), logged in
again once when a call answers 401; `POST /api/user` creates (409 if the username exists:
the user is then linked), `PUT /api/user/{username}` with the absolute `expire` (seconds)
updates, so a replay sets the same date. A new user needs at least one protocol
(`panel_proxies`, `vless` unless set), with all of its inbounds.

Settings: `panel_url` (the panel's address, without `/api`), `panel_user`,
`panel_password`, optional `panel_proxies` (comma-separated protocols).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from kassa.panels.base import Access, Panel, PanelRefused, PanelUser, required, send

#: What a new user gets when `panel_proxies` is not set.
DEFAULT_PROXIES = "vless"


class MarzbanPanel(Panel):
    name = "marzban"

    def __init__(self, settings: Mapping[str, str], *, http: httpx.AsyncClient) -> None:
        super().__init__(settings, http=http)
        url, self._user, self._password = required(
            settings, "panel_url", "panel_user", "panel_password"
        )
        self.base_url = url.rstrip("/")
        self._token: str | None = None

    async def provision(self, user: PanelUser) -> Access:
        body: dict[str, Any] = {
            "expire": _timestamp(user.expires_at),
            "data_limit": user.traffic_limit_bytes or 0,
        }
        path = f"/api/user/{quote(user.username, safe='')}"
        response = await self._call("PUT", path, json=body)
        if response.status_code == 404:
            proxies = self.settings.get("panel_proxies", "") or DEFAULT_PROXIES
            created = body | {
                "username": user.username,
                "proxies": {name.strip(): {} for name in proxies.split(",") if name.strip()},
                "data_limit_reset_strategy": "no_reset",
                "status": "active",
            }
            if user.telegram_id is not None:  # a new user's note only: an admin's stays
                created["note"] = f"telegram {user.telegram_id}"
            response = await self._call("POST", "/api/user", json=created)
            if response.status_code == 409:  # created meanwhile (a replay): link it
                response = await self._call("PUT", path, json=body)
        return self._access(_checked(response))

    async def find(self, username: str) -> Access | None:
        response = await self._call("GET", f"/api/user/{quote(username, safe='')}")
        if response.status_code == 404:
            return None
        return self._access(_checked(response))

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call with the admin's token, logging in first if there is none and once
        again if the panel answers 401 (the token expired or was revoked)."""
        for attempt in range(2):
            if self._token is None or attempt:
                self._token = await self._login()
            headers = {"Authorization": f"Bearer {self._token}"}
            url = self.base_url + path
            response = await send(self.http, method, url, headers=headers, **kwargs)
            if response.status_code != 401:
                return response
        raise PanelRefused("Marzban refuses the admin's fresh token", code="401")

    async def _login(self) -> str:
        form = {"username": self._user, "password": self._password}
        response = await send(self.http, "POST", f"{self.base_url}/api/admin/token", data=form)
        if response.status_code in (401, 403):
            raise PanelRefused(
                "Marzban refuses the admin's username or password", code=str(response.status_code)
            )
        token = _checked(response).get("access_token")
        if not isinstance(token, str) or not token:
            raise PanelRefused("Marzban's login gave no access token", code="malformed")
        return token

    def _access(self, document: dict[str, Any]) -> Access:
        if document.get("expire") in (None, 0):  # set by the panel's admin: no end to keep
            raise PanelRefused("Marzban's user never expires (expire unset)", code="no_expire")
        try:
            username, expire = str(document["username"]), document["expire"]
            link = str(document.get("subscription_url") or "")
            expires_at = datetime.fromtimestamp(int(expire), UTC)
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise PanelRefused("Marzban answered an unreadable user", code="malformed") from exc
        if link.startswith("/"):  # XRAY_SUBSCRIPTION_URL_PREFIX unset: relative to the panel
            link = self.base_url + link
        return Access(panel_user_id=username, link=link, expires_at=expires_at)


def _timestamp(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("a panel user's end must be an aware datetime")
    return int(moment.timestamp())


def _checked(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object, or `PanelRefused` with the status and FastAPI's `detail`."""
    try:
        document = response.json()
    except ValueError:
        document = None
    if response.status_code >= 400 or not isinstance(document, dict):
        detail = document.get("detail") if isinstance(document, dict) else None
        shown = detail if isinstance(detail, str) else f"HTTP {response.status_code}"
        raise PanelRefused(f"Marzban refused: {shown}"[:300], code=str(response.status_code))
    return document
