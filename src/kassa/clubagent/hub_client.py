"""The PC's HTTP API of the hub (`kassa.protocol.club_pc`), as the agent's core calls it: the
PC's token as Bearer on every request, the hub's error bodies turned into
`model.AgentError(code, message)`, and a hub that cannot be reached into
`AgentError(model.UNREACHABLE, …)`."""

from __future__ import annotations

from typing import Any

import httpx

from kassa.clubagent.model import UNREACHABLE, AgentError
from kassa.protocol import club_pc
from kassa.protocol.club_pc import (
    AppEntry,
    EventsAccepted,
    PcEvent,
    Preview,
    Screen,
    SignedIn,
    StaffGrant,
    Started,
    Topup,
)

#: Seconds a request may take.
TIMEOUT = 10.0


class HubClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        user_agent: str = "kassa-club-agent",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": user_agent},
            timeout=TIMEOUT,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def screen(self) -> Screen:
        return Screen.from_data(await self._call("GET", club_pc.SCREEN))

    async def sign_in(self, login: str, password: str) -> SignedIn:
        data = await self._call("POST", club_pc.SIGN_IN, {"login": login, "password": password})
        return SignedIn.from_data(data)

    async def preview(self, ticket: str, package: str | None, minutes: int | None) -> Preview:
        return Preview.from_data(
            await self._call("POST", club_pc.PREVIEW, _choice(ticket, package, minutes))
        )

    async def start(self, ticket: str, package: str | None, minutes: int | None) -> Started:
        return Started.from_data(
            await self._call("POST", club_pc.SESSION, _choice(ticket, package, minutes))
        )

    async def end_session(self) -> str | None:
        """End this PC's session; the session ended, if there was one."""
        ended = (await self._call("POST", club_pc.SESSION_END, {})).get("ended")
        return ended if isinstance(ended, str) else None

    async def top_up(self, login: str, amount: str) -> Topup:
        data = await self._call("POST", club_pc.TOPUPS, {"login": login, "amount": amount})
        return Topup.from_data(data)

    async def topup(self, topup_id: str) -> Topup:
        return Topup.from_data(await self._call("GET", club_pc.TOPUP.format(topup_id=topup_id)))

    async def apps(self) -> list[AppEntry]:
        data = await self._call("GET", club_pc.APPS)
        return [AppEntry.from_data(each) for each in data["data"]]

    async def events(self, events: list[PcEvent]) -> EventsAccepted:
        data = await self._call(
            "POST", club_pc.EVENTS, {"events": [event.to_data() for event in events]}
        )
        return EventsAccepted(**data)

    async def staff(self, pin: str) -> StaffGrant:
        return StaffGrant(**await self._call("POST", club_pc.STAFF, {"pin": pin}))

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = await self._http.request(method, path, json=body)
        except httpx.TransportError as exc:
            raise AgentError(UNREACHABLE, str(exc) or type(exc).__name__) from exc
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.is_success and isinstance(data, dict):
            return data
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            raise AgentError(error["code"], str(error.get("message", "")))
        if response.is_success:
            raise AgentError("bad_response", f"{method} {path}: not a JSON object")
        raise AgentError(f"http_{response.status_code}", response.text[:200])


def _choice(ticket: str, package: str | None, minutes: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {"ticket": ticket}
    if package is not None:
        body["package"] = package
    if minutes is not None:
        body["minutes"] = minutes
    return body
