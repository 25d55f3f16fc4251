"""LoVHub's launcher API (`/api/login`, `/api/buy_package`, …), for the one club
`KASSA_CLUB_LEGACY_API` names, so its PCs can move to Kassa one by one.

Mounted only when that setting is given. LoVHub's protocol has no authentication: the only
guard is the network, so every request from an address outside `KASSA_CLUB_LEGACY_NETWORKS`
(the client's address as the app sees it behind `KASSA_TRUSTED_PROXIES`) gets 403 before
anything is read. The answers have LoVHub's shapes (`{"status": "success", …}`); an error is
`{"status": "error", "code", "message"}` with LoVHub's statuses: 400 for a missing field or an
unknown package, 401 for a wrong password, 402 "Недостаточно средств". The messages LoVHub's
launchers show are its own Russian ones, part of the protocol, not Kassa's translated text.
The launcher's word counts for nothing here: see `kassa.services.club.legacy`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from kassa.domain import (
    AuthenticationFailed,
    InsufficientFunds,
    InvalidRequest,
    KassaError,
    ParameterInvalid,
    PermissionDenied,
)
from kassa.services.club import apps, customers, legacy
from kassa.web.deps import ContextDep
from kassa.web.errors import status_of

#: LoVHub's answer to a purchase the balance does not cover.
NOT_ENOUGH_MONEY = "Недостаточно средств"
WRONG_LOGIN = "Неверный логин или пароль"

JsonBody = Annotated[dict[str, Any], Body()]


def _failure(error: KassaError) -> JSONResponse:
    status = 400 if isinstance(error, InvalidRequest) else status_of(error)
    message = NOT_ENOUGH_MONEY if isinstance(error, InsufficientFunds) else error.message
    if isinstance(error, AuthenticationFailed):
        message = WRONG_LOGIN
    return JSONResponse(
        {"status": "error", "code": error.code, "message": message}, status_code=status
    )


def _allowed(request: Request) -> bool:
    host = request.client.host if request.client else None
    if host is None:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    networks = request.app.state.settings.club_legacy_networks
    return any(address in ipaddress.ip_network(each, strict=False) for each in networks)


class _LovhubRoute(APIRoute):
    """Refuses addresses outside the allow-list, and answers errors in LoVHub's shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            if not _allowed(request):
                return _failure(
                    PermissionDenied(
                        "LoVHub's launcher API answers only the club's network",
                        code="network_forbidden",
                    )
                )
            try:
                return await handler(request)
            except RequestValidationError:
                return _failure(ParameterInvalid("The request is not LoVHub's JSON"))
            except KassaError as error:
                return _failure(error)

        return run


router = APIRouter(route_class=_LovhubRoute, include_in_schema=False)


def install(app: FastAPI) -> None:
    """Mount the routes if `KASSA_CLUB_LEGACY_API` names a club."""
    if app.state.settings.club_legacy_api:
        app.include_router(router)


def _field(body: dict[str, Any], name: str, kind: type) -> Any:
    """`body[name]` if it is a `kind` (a string up to 256 characters); None if absent."""
    value = body.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ParameterInvalid(f"{name} is not a {kind.__name__}", param=name)
    if isinstance(value, str) and len(value) > 256:
        raise ParameterInvalid(f"{name} is up to 256 characters", param=name)
    return value


def _required(body: dict[str, Any], name: str, kind: type) -> Any:
    value = _field(body, name, kind)
    if value is None:
        raise ParameterInvalid(f"{name} is missing", param=name, code="parameter_missing")
    return value


def _text(body: dict[str, Any], name: str) -> str:
    text: str = _required(body, name, str)
    return text


def _number(body: dict[str, Any], name: str) -> int:
    number: int = _required(body, name, int)
    return number


def _status(found: legacy.Status) -> dict[str, Any]:
    return {
        "status": "success",
        "username": found.login,
        "balance": found.balance,
        "time_left": found.time_left,
    }


@router.post("/api/login")
async def login(ctx: ContextDep, body: JsonBody) -> dict[str, Any]:
    username = _text(body, "username")
    password = _text(body, "password")
    club = await legacy.club(ctx)
    await customers.verify(ctx, club=club, login=username, password=password)
    return {"status": "success", "username": username}


@router.get("/api/get_user_status")
async def get_user_status(ctx: ContextDep, username: str = Query("")) -> dict[str, Any]:
    if not username:
        raise ParameterInvalid("username is missing", param="username", code="parameter_missing")
    return _status(await legacy.status(ctx, club=await legacy.club(ctx), login=username))


@router.post("/api/update_time")
async def update_time(ctx: ContextDep, body: JsonBody) -> dict[str, Any]:
    """LoVHub overwrote the customer's time with this; Kassa logs it as the PC's report and
    answers with the server's time left."""
    username = _text(body, "username")
    reported = _number(body, "time_left")
    club = await legacy.club(ctx)
    found = await legacy.status(ctx, club=club, login=username)
    legacy.report(
        club, what="update_time", pc=None, login=username, reported=reported, left=found.time_left
    )
    return {"status": "success", "time_left": found.time_left}


@router.post("/api/buy_package")
async def buy_package(ctx: ContextDep, body: JsonBody) -> dict[str, Any]:
    username = _text(body, "username")
    seconds = _number(body, "seconds")
    club = await legacy.club(ctx)
    found = await legacy.buy_package(
        ctx,
        club=club,
        login=username,
        package_name=_field(body, "package_name", str) or "",
        seconds=seconds,
        price=_field(body, "price", int),
        pc=_field(body, "pc_name", str) or "?",
    )
    return {"status": "success", "new_balance": found.balance, "new_time": found.time_left}


@router.post("/api/heartbeat")
async def heartbeat(ctx: ContextDep, body: JsonBody) -> dict[str, Any]:
    pc = _text(body, "pc_name")
    user: str | None = _field(body, "user", str)
    club = await legacy.club(ctx)
    await legacy.heartbeat(ctx, club=club, pc=pc)
    left = None if user is None else (await legacy.status(ctx, club=club, login=user)).time_left
    legacy.report(
        club,
        what="heartbeat",
        pc=pc,
        login=user,
        reported=_field(body, "time_left", int) or 0,
        left=left,
    )
    return {"status": "success"}


@router.get("/api/apps")
async def list_apps(ctx: ContextDep) -> list[dict[str, Any]]:
    found = await apps.list_apps(ctx, club=await legacy.club(ctx))
    return [
        {"id": app.id, "name": app.name, "path": app.path, "type": app.kind, "icon": app.icon}
        for app in found
    ]


@router.post("/log_launch")
async def log_launch(ctx: ContextDep, body: JsonBody) -> dict[str, Any]:
    pc = _text(body, "computer_name")
    app = _text(body, "app_name")
    await apps.log_launch(
        ctx,
        club=await legacy.club(ctx),
        pc=pc,
        app=app,
        customer=_field(body, "user", str),
    )
    return {"status": "success"}


@router.post("/api/create_payment")
async def create_payment(ctx: ContextDep, body: JsonBody) -> dict[str, Any]:
    """An online top-up (`kassa.services.club.topups`): `payment_url` is the provider's page
    when it has one, else Kassa's payer page (a QR to scan, requisites…)."""
    username = _text(body, "username")
    amount = _number(body, "amount")
    started = await legacy.create_payment(
        ctx, club=await legacy.club(ctx), login=username, amount=amount
    )
    url = (started.confirmation or {}).get("url")
    if not isinstance(url, str):
        url = f"{ctx.settings.resolved_public_url}/pay/{started.payment.id}"
    return {"status": "success", "payment_url": url}
