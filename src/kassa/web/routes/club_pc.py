"""`/club/pc/…`: the club PC agent's HTTP API (`kassa.protocol.club_pc`, docs/club.md "The PC's
API"), beside its WebSocket link (`kassa.web.club_link`).

Every request carries the PC's device token (`Authorization: Bearer`, kind `club_pc`): a bad
one is 401, a disabled PC 403 (`pc_disabled`). The answers are the contract's dataclasses'
fields. A customer's own requests carry the ticket their sign-in answered (401
`ticket_invalid` for another PC's or an expired one).

Out of the public OpenAPI document: its callers are Kassa's own agents, with a device's token
rather than an API key.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from pydantic import Field, StrictInt

from kassa.domain import AuthenticationFailed, PermissionDenied, TerminalUnavailable
from kassa.domain.devices import DeviceKind
from kassa.domain.money import from_decimal
from kassa.protocol import club_pc
from kassa.services.club import pc_events, pc_play, pc_sign_in, pc_tickets, pc_view, staff_pin
from kassa.services.club.pc_view import Seat
from kassa.services.context import Context
from kassa.services.devices import registry
from kassa.web.deps import ContextDep
from kassa.web.schemas import Body

router = APIRouter(include_in_schema=False, tags=["club-pc"])


async def _seat(ctx: ContextDep, authorization: Annotated[str | None, Header()] = None) -> Seat:
    """The PC the request's bearer token belongs to, where it stands."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("A PC's token is required (Authorization: Bearer)")
    try:
        device = await registry.authenticate(ctx, token.strip(), kind=DeviceKind.CLUB_PC)
    except TerminalUnavailable as exc:
        raise PermissionDenied(exc.message, code="pc_disabled") from None
    return await pc_view.seat_of(ctx, device)


SeatDep = Annotated[Seat, Depends(_seat)]


def _answer(value: Any) -> dict[str, Any]:
    answer: dict[str, Any] = dataclasses.asdict(value)
    return answer


class SignIn(Body):
    login: str = Field(max_length=64)
    password: str = Field(max_length=128)


class Play(Body):
    ticket: str = Field(max_length=2048)
    package: str | None = Field(None, max_length=64)
    minutes: StrictInt | None = Field(None, ge=1, le=24 * 60)


class SessionEnd(Body):
    pass


class TopupCreate(Body):
    login: str = Field(max_length=64)
    amount: StrictInt | str = Field(description="In the club currency's main unit.")


class EventIn(Body):
    id: str = Field(min_length=1, max_length=64)
    seq: StrictInt = Field(ge=0)
    kind: str = Field(max_length=16)
    at: str = Field(max_length=64)
    session: str | None = Field(None, max_length=64)
    app: str | None = Field(None, max_length=128)
    reason: str | None = Field(None, max_length=64)


class Events(Body):
    events: list[EventIn] = Field(max_length=club_pc.MAX_EVENTS)


class PinCheck(Body):
    pin: str = Field(max_length=64)


async def _ticket(ctx: Context, seat: Seat, body: Play) -> pc_tickets.Ticket:
    return await pc_tickets.verify(ctx, body.ticket, shop_id=seat.club.shop_id, pc=seat.pc)


@router.get(club_pc.SCREEN)
async def screen(ctx: ContextDep, seat: SeatDep) -> dict[str, Any]:
    return _answer(await pc_view.screen(ctx, seat))


@router.post(club_pc.SIGN_IN)
async def sign_in(body: SignIn, ctx: ContextDep, seat: SeatDep) -> dict[str, Any]:
    return _answer(await pc_sign_in.sign_in(ctx, seat, login=body.login, password=body.password))


@router.post(club_pc.PREVIEW)
async def preview(body: Play, ctx: ContextDep, seat: SeatDep) -> dict[str, Any]:
    ticket = await _ticket(ctx, seat, body)
    found = await pc_view.preview(ctx, seat, ticket, package=body.package, minutes=body.minutes)
    return _answer(found)


@router.post(club_pc.SESSION)
async def start_session(body: Play, ctx: ContextDep, seat: SeatDep) -> dict[str, Any]:
    ticket = await _ticket(ctx, seat, body)
    started = await pc_play.start(ctx, seat, ticket, package=body.package, minutes=body.minutes)
    return _answer(started)


@router.post(club_pc.SESSION_END)
async def end_session(body: SessionEnd, ctx: ContextDep, seat: SeatDep) -> dict[str, Any]:
    return {"ended": await pc_play.end(ctx, seat)}


@router.post(club_pc.TOPUPS)
async def create_topup(body: TopupCreate, ctx: ContextDep, seat: SeatDep) -> dict[str, Any]:
    amount = from_decimal(body.amount, seat.club.currency, param="amount")
    return _answer(await pc_play.topup(ctx, seat, login=body.login, amount=amount))


@router.get(club_pc.TOPUP)
async def get_topup(topup_id: str, ctx: ContextDep, seat: SeatDep) -> dict[str, Any]:
    return _answer(await pc_play.topup_now(ctx, seat, topup_id=topup_id))


@router.get(club_pc.APPS)
async def list_apps(ctx: ContextDep, seat: SeatDep) -> dict[str, Any]:
    return {"data": [_answer(each) for each in await pc_view.app_entries(ctx, seat)]}


@router.post(club_pc.EVENTS)
async def post_events(body: Events, ctx: ContextDep, seat: SeatDep) -> dict[str, Any]:
    events = [club_pc.PcEvent(**each.model_dump()) for each in body.events]
    return _answer(await pc_events.accept(ctx, seat, events))


@router.post(club_pc.STAFF)
async def staff(body: PinCheck, ctx: ContextDep, seat: SeatDep) -> dict[str, Any]:
    return _answer(await staff_pin.check(ctx, seat, pin=body.pin))
