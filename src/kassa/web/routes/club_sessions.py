"""`/v1/club/{club}/sessions…` and `/v1/club/{club}/pcs/{pc}/actions`: sessions on the
server's ledger (start, extend, pause, resume, move, end) and remote actions on PCs, for the
club's staff and apps, with the shop's API key (as `kassa.web.routes.club`).

A session is addressed by its PC: a PC has at most one session that is not over."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StrictInt

from kassa.protocol.club import Action
from kassa.services.callers import Caller
from kassa.services.club import actions, clubs, session_records, sessions
from kassa.services.club.clubs import Club
from kassa.services.context import Context
from kassa.web.club_objects import action_object, session_object
from kassa.web.club_schemas import MONEY_ERRORS
from kassa.web.deps import CallerDep, ContextDep
from kassa.web.idempotent import idempotent
from kassa.web.objects import list_object
from kassa.web.schemas import ERRORS, Body

router = APIRouter(prefix="/v1/club/{club}", tags=["club"])

MINUTES = Field(
    None, ge=1, le=sessions.MAX_MINUTES, description="How long; absent: as long as they can pay."
)


class SessionStart(Body):
    pc: str = Field(max_length=64, description="The PC's name.", examples=["PC-01"])
    customer: str = Field(max_length=64, description="The customer's login.")
    minutes: StrictInt | None = MINUTES
    package: str | None = Field(
        None, max_length=64, description="Buy this package and play its time."
    )


class SessionExtend(Body):
    minutes: StrictInt | None = Field(None, ge=1, le=sessions.MAX_MINUTES)
    package: str | None = Field(None, max_length=64, description="Buy it and add its time.")


class SessionMove(Body):
    to: str = Field(max_length=64, description="The free PC the customer moves to.")


class ActionCreate(Body):
    action: Literal["lock", "unlock", "restart", "shutdown", "message", "end_session"]
    text: str | None = Field(None, max_length=500, description="For `message`: what to show.")


class LeaseOut(BaseModel):
    session: str | None
    paid_until: str | None
    lease_expires_at: str | None
    seq: int


class SessionOut(BaseModel):
    object: Literal["club_session"]
    id: str
    pc: str
    customer: str
    state: Literal["active", "paused", "ended"]
    open_ended: bool
    started_at: str
    paid_until: str
    seconds_left: int
    charged_seconds: int
    lease: LeaseOut
    ended_at: str | None
    end_reason: str | None
    agent_ended_at: str | None


class SessionList(BaseModel):
    object: Literal["list"]
    data: list[SessionOut]
    has_more: bool


class ActionOut(BaseModel):
    object: Literal["club_pc_action"]
    id: str
    pc: str
    action: str
    state: Literal["queued", "sent", "accepted", "done", "unknown", "expired"]
    body: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    created_at: str


class ActionList(BaseModel):
    object: Literal["list"]
    data: list[ActionOut]
    has_more: bool


async def _club(ctx: Context, caller: Caller, name: str) -> Club:
    return await clubs.get(ctx, name=name, shop=caller.own_shop)


def _actor(caller: Caller) -> str:
    return f"key:{caller.key_id}"


@router.get("/sessions", summary="List sessions", response_model=SessionList, responses=ERRORS)
async def list_sessions(
    club: str,
    ctx: ContextDep,
    caller: CallerDep,
    ended: bool = Query(False, description="Include the latest ended sessions."),
) -> Any:
    """The club's sessions that are not over (with `ended`, the latest 100 of all), newest
    first."""
    found = await session_records.list_sessions(
        ctx, club=await _club(ctx, caller, club), include_ended=ended
    )
    now = ctx.clock()
    return list_object(session_object(each, now) for each in found)


@router.post(
    "/sessions",
    status_code=201,
    summary="Start a session",
    responses={201: {"model": SessionOut}, **MONEY_ERRORS},
)
@idempotent(status=201)
async def start(
    club: str, body: SessionStart, ctx: ContextDep, caller: CallerDep
) -> dict[str, Any]:
    """Start the customer's session on a PC, its time charged ahead in the fixed order
    (packages, time bank, balance per minute): `minutes`, a `package` bought now, or neither
    (charged a lease's worth at a time while they can pay). `402 insufficient_funds` if
    nothing can be paid; `409 session_exists` if the PC or the customer has one."""
    session = await sessions.start(
        ctx,
        club=await _club(ctx, caller, club),
        pc=body.pc,
        login=body.customer,
        minutes=body.minutes,
        package=body.package,
        actor=_actor(caller),
        caller=caller,
    )
    return session_object(session, ctx.clock())


@router.get(
    "/sessions/{pc}", summary="Get a PC's session", response_model=SessionOut, responses=ERRORS
)
async def get_session(club: str, pc: str, ctx: ContextDep, caller: CallerDep) -> Any:
    session = await session_records.get(ctx, club=await _club(ctx, caller, club), pc=pc)
    return session_object(session, ctx.clock())


@router.post(
    "/sessions/{pc}/extend",
    summary="Extend a session",
    responses={200: {"model": SessionOut}, **MONEY_ERRORS},
)
@idempotent()
async def extend(
    club: str, pc: str, body: SessionExtend, ctx: ContextDep, caller: CallerDep
) -> dict[str, Any]:
    """Charge more time to the PC's session: `minutes`, or a `package` bought now."""
    session = await sessions.extend(
        ctx,
        club=await _club(ctx, caller, club),
        pc=pc,
        minutes=body.minutes,
        package=body.package,
        actor=_actor(caller),
        caller=caller,
    )
    return session_object(session, ctx.clock())


async def _change(ctx: Context, caller: Caller, club: str, pc: str, change: Any) -> dict[str, Any]:
    session = await change(
        ctx, club=await _club(ctx, caller, club), pc=pc, actor=_actor(caller), caller=caller
    )
    return session_object(session, ctx.clock())


@router.post(
    "/sessions/{pc}/end",
    summary="End a session",
    responses={200: {"model": SessionOut}, **ERRORS},
)
@idempotent()
async def end(club: str, pc: str, ctx: ContextDep, caller: CallerDep) -> dict[str, Any]:
    """End the PC's session now; the paid time not played is given back (one correction
    entry) and the PC is told to lock."""
    return await _change(ctx, caller, club, pc, sessions.end)


@router.post(
    "/sessions/{pc}/pause",
    summary="Pause a session",
    responses={200: {"model": SessionOut}, **ERRORS},
)
@idempotent()
async def pause(club: str, pc: str, ctx: ContextDep, caller: CallerDep) -> dict[str, Any]:
    """Hold the session: its paid time left waits, its PC locks."""
    return await _change(ctx, caller, club, pc, sessions.pause)


@router.post(
    "/sessions/{pc}/resume",
    summary="Resume a session",
    responses={200: {"model": SessionOut}, **ERRORS},
)
@idempotent()
async def resume(club: str, pc: str, ctx: ContextDep, caller: CallerDep) -> dict[str, Any]:
    return await _change(ctx, caller, club, pc, sessions.resume)


@router.post(
    "/sessions/{pc}/move",
    summary="Move a session to another PC",
    responses={200: {"model": SessionOut}, **ERRORS},
)
@idempotent()
async def move(
    club: str, pc: str, body: SessionMove, ctx: ContextDep, caller: CallerDep
) -> dict[str, Any]:
    """Move the customer to a free PC with the paid time they have."""
    session = await sessions.move(
        ctx,
        club=await _club(ctx, caller, club),
        pc=pc,
        to=body.to,
        actor=_actor(caller),
        caller=caller,
    )
    return session_object(session, ctx.clock())


@router.post(
    "/pcs/{pc}/actions",
    status_code=202,
    summary="Send a PC a remote action",
    responses={202: {"model": ActionOut}, **ERRORS},
)
@idempotent(status=202)
async def send_action(
    club: str, pc: str, body: ActionCreate, ctx: ContextDep, caller: CallerDep
) -> dict[str, Any]:
    """Queue a remote action for the PC (lock, unlock, restart, shutdown, a `message`,
    end_session); follow its `state` (`accepted`: the agent has it; `done`: it did it) with
    `GET …/actions`."""
    operation = await actions.send(
        ctx,
        club=await _club(ctx, caller, club),
        pc=pc,
        action=Action(body.action),
        text=body.text,
        actor=_actor(caller),
        caller=caller,
    )
    return action_object(operation)


@router.get(
    "/pcs/{pc}/actions",
    summary="List a PC's remote actions",
    response_model=ActionList,
    responses=ERRORS,
)
async def list_actions(club: str, pc: str, ctx: ContextDep, caller: CallerDep) -> Any:
    """The PC's latest 20 actions, newest first, with whether its agent did them."""
    found = await actions.recent(ctx, club=await _club(ctx, caller, club), pc=pc)
    return list_object(map(action_object, found))
