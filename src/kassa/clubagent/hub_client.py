"""The PC's HTTP API of the hub (`kassa.protocol.club_pc`), as the agent's core calls it: the
PC's token as Bearer on every request, the hub's error bodies turned into
`model.AgentError(code, message)`, and a hub that cannot be reached into
`AgentError(model.UNREACHABLE, …)`."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx

from kassa.clubagent.model import UNREACHABLE, AgentError
from kassa.protocol import club_pc
from kassa.protocol.club_pc import (
    Answer,
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
#: The code of `AgentError` when the hub's answer is not what the contract says.
BAD_RESPONSE = "bad_response"

A = TypeVar("A", bound=Answer)


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
        return await self._answer(Screen, "GET", club_pc.SCREEN)

    async def sign_in(self, login: str, password: str) -> SignedIn:
        body = {"login": login, "password": password}
        return await self._answer(SignedIn, "POST", club_pc.SIGN_IN, body)

    async def preview(self, ticket: str, package: str | None, minutes: int | None) -> Preview:
        return await self._answer(
            Preview, "POST", club_pc.PREVIEW, _choice(ticket, package, minutes)
        )

    async def start(self, ticket: str, package: str | None, minutes: int | None) -> Started:
        return await self._answer(
            Started, "POST", club_pc.SESSION, _choice(ticket, package, minutes)
        )

    async def end_session(self) -> str | None:
        """End this PC's session; the session ended, if there was one."""
        ended = (await self._call("POST", club_pc.SESSION_END, {})).get("ended")
        return ended if isinstance(ended, str) else None

    async def top_up(self, login: str, amount: str) -> Topup:
        body = {"login": login, "amount": amount}
        return await self._answer(Topup, "POST", club_pc.TOPUPS, body)

    async def topup(self, topup_id: str) -> Topup:
        return await self._answer(Topup, "GET", club_pc.TOPUP.format(topup_id=topup_id))

    async def apps(self) -> list[AppEntry]:
        listed = await self._call("GET", club_pc.APPS)
        try:
            return [AppEntry.from_data(each) for each in listed["data"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise AgentError(BAD_RESPONSE, f"GET {club_pc.APPS}: {exc}") from None

    async def events(self, events: list[PcEvent]) -> EventsAccepted:
        body = {"events": [event.to_data() for event in events]}
        return await self._answer(EventsAccepted, "POST", club_pc.EVENTS, body)

    async def staff(self, pin: str) -> StaffGrant:
        return await self._answer(StaffGrant, "POST", club_pc.STAFF, {"pin": pin})

    async def _answer(
        self, kind: type[A], method: str, path: str, body: dict[str, Any] | None = None
    ) -> A:
        """The hub's answer as a `kind` (`AgentError` `bad_response` if it is not one)."""
        data = await self._call(method, path, body)
        try:
            return kind.from_data(data)
        except ValueError as exc:
            raise AgentError(BAD_RESPONSE, f"{method} {path}: {exc}") from None

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
            raise AgentError(BAD_RESPONSE, f"{method} {path}: not a JSON object")
        raise AgentError(f"http_{response.status_code}", response.text[:200])


def _choice(ticket: str, package: str | None, minutes: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {"ticket": ticket}
    if package is not None:
        body["package"] = package
    if minutes is not None:
        body["minutes"] = minutes
    return body
