"""A club PC's page in the admin UI: what it is doing (its tile, the customer's session), the
session's controls (start with the price preview first, extend, pause, resume, move to another
PC, end), the remote actions (lock, unlock, restart, shut down, a message) and the latest of
them with their state, so staff see whether the PC did it. Its live parts (the PC's state and
alarms, the session and its lease, the latest actions) refresh themselves as the club's map
does: the page's script (`static/club.js`) polls `live.json` for them, rendered by the same
templates, and swaps them in.

Every change goes through the club's services as the visitor (`Staff`): the services check the
role (a viewer gets none of it) and write the audit entry with the change. Each form carries a
key of its own, run through `kassa.services.idempotency` (the API's `Idempotency-Key`
machinery, under the club's shop): a form sent twice, at once or later, acts once, and the
second send is answered as the first was.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from kassa.domain import KassaError, NotFound, ParameterInvalid
from kassa.protocol.club import Action
from kassa.services import idempotency
from kassa.services.admin.logins import Session
from kassa.services.callers import Caller
from kassa.services.club import actions, packages, pcs, pricing, session_records, sessions
from kassa.services.club.clubs import Club
from kassa.services.context import Context
from kassa.services.idempotency import Answer
from kassa.services.shops import shops
from kassa.web.admin.auth import Signed, Staff, admin_router
from kassa.web.admin.club import club_named, live_parts, tile_document, tiles_of
from kassa.web.admin.club_desk import audit_refusal, ledger_actor, whole_number
from kassa.web.admin.render import NO_STORE, PageError, render
from kassa.web.deps import ContextDep
from kassa.web.errors import status_of

router = admin_router()

#: The remote actions the page sends itself (ending the session is the session's `end`).
REMOTE = (Action.LOCK, Action.UNLOCK, Action.RESTART, Action.SHUTDOWN, Action.MESSAGE)
#: The session's controls, and what the page says after each.
CONTROLS = {
    "start": "started",
    "extend": "extended",
    "pause": "paused",
    "resume": "resumed",
    "move": "moved",
    "end": "ended",
}
#: What the page can report after a form (`?done=…`).
RESULTS = frozenset(CONTROLS.values()) | {"sent"}
#: The latest remote actions the page shows.
RECENT_ACTIONS = 10
#: The page's parts that refresh themselves (`static/club.js`), by name: the PC's state,
#: session and lease; its latest remote actions.
LIVE = {"fields": "admin/_club_pc_live.html", "actions": "admin/_club_pc_actions.html"}


def _page_url(club: Club, pc: str) -> str:
    return f"/admin/clubs/{club.name}/pcs/{pc}"


async def _pc(ctx: Context, club: Club, name: str) -> pcs.Pc:
    try:
        return await pcs.get(ctx, club=club, name=name)
    except NotFound:
        raise PageError(404, "pc") from None


async def _preview(
    ctx: Context, club: Club, pc: pcs.Pc, *, login: str, length: str, minutes: str, package: str
) -> dict[str, Any]:
    """What starting the session asked for would charge (changes nothing): the package's
    purchase, or the play's plan source by source."""
    if length == "package":
        return {
            "package": await packages.preview_purchase(ctx, club=club, login=login, package=package)
        }
    seconds = whole_number(minutes, "minutes") * 60 if length == "minutes" else None
    return {
        "play": await pricing.preview_play(
            ctx, club=club, login=login, zone=pc.zone, seconds=seconds
        )
    }


async def _live(ctx: Context, club: Club, pc: pcs.Pc) -> dict[str, Any]:
    """What the page shows that changes on its own (`LIVE`): the PC's tile (its state and
    alarms), its session with the lease, its latest remote actions."""
    [tile] = await tiles_of(ctx, club, [pc])
    try:
        running: session_records.Session | None = await session_records.get(
            ctx, club=club, pc=pc.name
        )
    except NotFound:
        running = None
    return {
        "club": club,
        "pc": pc,
        "now": ctx.clock(),
        "tile": tile,
        "running": running,
        "recent": await actions.recent(ctx, club=club, pc=pc.name, limit=RECENT_ACTIONS),
    }


async def _page(
    request: Request,
    ctx: Context,
    session: Session,
    club: Club,
    pc: pcs.Pc,
    *,
    done: str | None = None,
    error: KassaError | None = None,
    status_code: int = 200,
    start: dict[str, str] | None = None,
) -> HTMLResponse:
    preview: dict[str, Any] = {}
    if start is not None and error is None:
        try:
            preview = await _preview(ctx, club, pc, **start)
        except KassaError as exc:
            error, status_code = exc, status_of(exc)
    others = [each for each in await pcs.list_pcs(ctx, club=club) if each.name != pc.name]
    return render(
        request,
        "admin/club_pc.html",
        session=session,
        status_code=status_code,
        packages=[p for p in await packages.list_packages(ctx, club=club) if p.active],
        others=others,
        remote=REMOTE,
        start=start,
        preview=preview,
        done=done if done in RESULTS else None,
        error=error,
        form_key=secrets.token_urlsafe(16),
        **await _live(ctx, club, pc),
    )


@router.get("/clubs/{club}/pcs/{pc}")
async def pc_page(
    request: Request,
    ctx: ContextDep,
    *,
    session: Signed,
    club: str,
    pc: str,
    done: str | None = None,
    login: str = "",
    length: str = "",
    minutes: str = "",
    package: str = "",
) -> HTMLResponse:
    """A PC: its state, its session and their controls, its remote actions. With `login`
    (the start form sent for a preview), what starting that session would charge, and the
    form that starts it."""
    found = await club_named(ctx, club)
    start = None
    if login.strip():
        start = {"login": login.strip(), "length": length, "minutes": minutes, "package": package}
    return await _page(
        request, ctx, session, found, await _pc(ctx, found, pc), done=done, start=start
    )


@router.get("/clubs/{club}/pcs/{pc}/live.json")
async def pc_live_json(
    request: Request, ctx: ContextDep, *, session: Signed, club: str, pc: str
) -> JSONResponse:
    """The page's live parts for its script: `pc` (its tile's facts, as the map's JSON has
    them) and each part of `LIVE` rendered by the template the page itself uses."""
    found = await club_named(ctx, club)
    shown = await _live(ctx, found, await _pc(ctx, found, pc))
    return JSONResponse(
        {"pc": tile_document(shown["tile"]), **live_parts(request, LIVE, shown)},
        headers=NO_STORE,
    )


def _refused_answer(error: KassaError) -> Answer:
    body = {"code": error.code, "message": error.message, "param": error.param}
    return Answer(status_of(error), json.dumps(body).encode())


def _error_of(answer: Answer) -> KassaError:
    """A refusal stored under a form's key, as an error to show again."""
    facts = json.loads(answer.body)
    return KassaError(facts["message"], param=facts["param"], code=facts["code"])


async def _once(
    ctx: Context,
    staff: Caller,
    club: Club,
    *,
    key: str,
    what: Mapping[str, str],
    change: Callable[[], Awaitable[str]],
) -> tuple[Answer, bool]:
    """Run `change` (it returns what the page says after it) at most once for the form's
    `key` (a form without one just runs it); the answer, and whether it is an earlier one
    given back."""

    async def act(_: str = "") -> Answer:
        return Answer(303, (await change()).encode())

    if not key:
        try:
            return await act(), False
        except KassaError as exc:
            return _refused_answer(exc), False
    shop = await shops.get_shop(ctx, shop_id=club.shop_id)

    fingerprint = idempotency.fingerprint("POST", "admin/club", json.dumps(what).encode())
    outcome = await idempotency.run(
        ctx,
        staff.within(shop=shop, test=False),
        f"admin:club:{key}",
        fingerprint=fingerprint,
        prefix="op",
        action=act,
        refused=_refused_answer,
    )
    return outcome.answer, outcome.replayed


@router.post("/clubs/{club}/pcs/{pc}/{action}", response_model=None)
async def pc_action(
    request: Request,
    ctx: ContextDep,
    *,
    session: Signed,
    staff: Staff,
    club: str,
    pc: str,
    action: str,
    key: Annotated[str, Form()] = "",
    login: Annotated[str, Form()] = "",
    length: Annotated[str, Form()] = "minutes",
    minutes: Annotated[str, Form()] = "",
    package: Annotated[str, Form()] = "",
    to: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
) -> Response:
    """A session control (`start`, `extend`, `pause`, `resume`, `move`, `end`) or a remote
    action (`lock`, `unlock`, `restart`, `shutdown`, `message`) for the PC, as the visitor."""
    found = await club_named(ctx, club)
    the_pc = await _pc(ctx, found, pc)
    if action not in CONTROLS and action not in {each.value for each in REMOTE}:
        raise PageError(404, "page")
    actor = ledger_actor(session)

    def length_of() -> dict[str, Any]:
        if length == "package":
            return {"package": package.strip()}
        if length == "open":
            return {}
        return {"minutes": whole_number(minutes, "minutes")}

    async def change() -> str:
        base: dict[str, Any] = {
            "ctx": ctx,
            "club": found,
            "pc": the_pc.name,
            "actor": actor,
            "caller": staff,
        }
        if action == "start":
            if not login.strip():
                raise ParameterInvalid("say whose session it is", param="login")
            await sessions.start(**base, login=login.strip(), **length_of())
        elif action == "extend":
            if length == "open":
                raise ParameterInvalid("extend by minutes or by a package", param="minutes")
            await sessions.extend(**base, **length_of())
        elif action == "move":
            await sessions.move(**base, to=to.strip())
        elif action in CONTROLS:
            control = {"pause": sessions.pause, "resume": sessions.resume, "end": sessions.end}
            await control[action](**base)
        else:
            await actions.send(**base, action=action, text=text or None)
            return "sent"
        return CONTROLS[action]

    what = {"club": found.name, "pc": the_pc.name, "action": action, "login": login}
    what |= {"length": length, "minutes": minutes, "package": package, "to": to, "text": text}
    answer, replayed = await _once(ctx, staff, found, key=key, what=what, change=change)
    if answer.status == 303:
        return RedirectResponse(
            f"{_page_url(found, the_pc.name)}?done={answer.body.decode()}", status_code=303
        )
    error = _error_of(answer)
    if not replayed:
        await audit_refusal(
            ctx,
            staff,
            found,
            action=f"club.session.{action}" if action in CONTROLS else f"club.pc.{action}",
            object_id=the_pc.name,
            error=error,
            pc=the_pc.name,
        )
    return await _page(request, ctx, session, found, the_pc, error=error, status_code=answer.status)
