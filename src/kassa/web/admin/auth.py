"""Who is signed in, and what they may do: the session cookie, the role checks, CSRF on
every POST. Routes name what they need as typed parameters (`Signed`, `Acting`, `Owner`)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from kassa.services.admin import logins
from kassa.services.admin.logins import Session
from kassa.web.admin import csrf
from kassa.web.admin.render import PageError, here
from kassa.web.deps import ContextDep

SESSION_COOKIE = "kassa_admin"
COOKIE_PATH = "/admin"


def client_of(request: Request) -> str:
    """The visitor's address (the proxy's client when behind `KASSA_TRUSTED_PROXIES`)."""
    return request.client.host if request.client else "unknown"


def is_https(request: Request) -> bool:
    """Whether the visitor reached Kassa over HTTPS (directly, or through a trusted proxy
    that says so in X-Forwarded-Proto); then cookies are marked Secure."""
    return request.url.scheme == "https"


def remember_session(request: Request, response: Response, session: Session) -> None:
    """Give the browser the session cookie: HttpOnly, SameSite=Lax, Secure over HTTPS; it
    lasts no longer than the session may."""
    hours = request.app.state.settings.admin_session_max_hours
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=hours * 3600,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def forget_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax")


class LoginRequired(Exception):
    """No live session: go to the sign-in page (and say why, if the session expired)."""

    def __init__(self, *, expired: bool) -> None:
        super().__init__("login required")
        self.expired = expired


async def login_required(request: Request, exc: Exception) -> RedirectResponse:
    assert isinstance(exc, LoginRequired)
    # After signing in, come back to the page, not to a form's POST address.
    back = here(request) if request.method == "GET" else "/admin"
    query = {"next": back} | ({"expired": "1"} if exc.expired else {})
    response = RedirectResponse(f"/admin/login?{urlencode(query)}", status_code=303)
    if exc.expired:
        forget_session(response)
    return response


async def current_session(request: Request, ctx: ContextDep) -> Session | None:
    """The visitor's live session, if any."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    session = await logins.resume(ctx, token=token, client=client_of(request))
    request.state.admin_session = session
    return session


MaybeSigned = Annotated[Session | None, Depends(current_session)]


async def signed_in(request: Request, session: MaybeSigned) -> Session:
    """The signed-in visitor; anyone else is sent to the sign-in page."""
    if session is None:
        raise LoginRequired(expired=SESSION_COOKIE in request.cookies)
    return session


Signed = Annotated[Session, Depends(signed_in)]


async def acting(session: Signed) -> Session:
    """A visitor whose role may change payments (operator, owner); a viewer gets 403."""
    if not session.user.role.can_act:
        raise PageError(403, "role")
    return session


Acting = Annotated[Session, Depends(acting)]


async def owner(session: Signed) -> Session:
    """An owner; everyone else gets 403."""
    if not session.user.role.can_manage_users:
        raise PageError(403, "owner")
    return session


Owner = Annotated[Session, Depends(owner)]


async def check_csrf(request: Request) -> None:
    """Every POST of a signed-in page carries its session's CSRF token; else 403. A POST
    without a session has nothing to protect: `signed_in` sends it to the sign-in page."""
    if request.method != "POST":
        return
    token = request.cookies.get(SESSION_COOKIE)
    if token is None:
        return
    form = await request.form()
    if not csrf.matches(form.get(csrf.FIELD), csrf.token_for(token)):
        raise PageError(403, "csrf")


def admin_router() -> APIRouter:
    """A router for signed-in pages: under /admin, out of the API schema, CSRF-checked."""
    return APIRouter(prefix="/admin", include_in_schema=False, dependencies=[Depends(check_csrf)])
