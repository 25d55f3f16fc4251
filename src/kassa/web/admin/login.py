"""Signing in and out, and the language switcher."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kassa.domain import AuthenticationFailed, RateLimited
from kassa.services.admin import logins
from kassa.web.admin import csrf
from kassa.web.admin.auth import (
    MaybeSigned,
    Signed,
    admin_router,
    client_of,
    forget_session,
    is_https,
    remember_session,
)
from kassa.web.admin.render import LANGUAGE_COOKIE, PageError, render, safe_next
from kassa.web.deps import ContextDep
from kassa.web.i18n import LOCALES

#: Sign-in has no session yet, so it has its own CSRF check instead of the router's.
public = APIRouter(prefix="/admin", include_in_schema=False)
router = admin_router()

#: How long the language choice is kept: a year.
LANGUAGE_MAX_AGE = 365 * 86_400


def _login_page(
    request: Request,
    *,
    next_page: str,
    status_code: int = 200,
    name: str = "",
    error: str | None = None,
    wait: int | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    token = request.cookies.get(csrf.LOGIN_COOKIE) or csrf.new_login_token()
    response = render(
        request,
        "admin/login.html",
        session=None,
        status_code=status_code,
        login_token=token,
        next_page=next_page,
        user_name=name,
        error=error,
        wait=wait,
        notice=notice,
    )
    response.set_cookie(
        csrf.LOGIN_COOKIE,
        token,
        path="/admin/login",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )
    return response


@public.get("/login", response_model=None)
async def login_page(
    request: Request,
    session: MaybeSigned,
    next: str | None = None,
    expired: str | None = None,
    signed_out: str | None = None,
) -> Response:
    """The sign-in form; someone signed in already goes straight on."""
    if session is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    notice = "expired" if expired else "signed_out" if signed_out else None
    return _login_page(request, next_page=safe_next(next), notice=notice)


@public.post("/login", response_model=None)
async def login(
    request: Request,
    ctx: ContextDep,
    *,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str | None, Form()] = None,
    next: Annotated[str | None, Form()] = None,
) -> Response:
    """Check the password (within the rate limits) and start a session."""
    if not csrf.matches(csrf_token, request.cookies.get(csrf.LOGIN_COOKIE)):
        raise PageError(403, "csrf")
    next_page = safe_next(next)
    try:
        session = await logins.log_in(ctx, name=name, password=password, client=client_of(request))
    except RateLimited as exc:
        paused = _login_page(
            request,
            next_page=next_page,
            status_code=429,
            name=name,
            error="rate_limited",
            wait=exc.retry_after,
        )
        paused.headers["Retry-After"] = str(exc.retry_after)
        return paused
    except AuthenticationFailed:
        return _login_page(request, next_page=next_page, status_code=401, name=name, error="wrong")
    response = RedirectResponse(next_page, status_code=303)
    remember_session(request, response, session)
    response.delete_cookie(csrf.LOGIN_COOKIE, path="/admin/login")
    return response


@router.post("/logout")
async def logout(ctx: ContextDep, session: Signed) -> RedirectResponse:
    """End the session here and in the database."""
    await logins.log_out(ctx, session=session)
    response = RedirectResponse("/admin/login?signed_out=1", status_code=303)
    forget_session(response)
    return response


@public.get("/language")
async def language(request: Request, lang: str, next: str | None = None) -> RedirectResponse:
    """Switch the admin UI's language (kept in a cookie) and go back to the page."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if lang in LOCALES:
        response.set_cookie(
            LANGUAGE_COOKIE,
            lang,
            max_age=LANGUAGE_MAX_AGE,
            path="/admin",
            httponly=True,
            samesite="lax",
            secure=is_https(request),
        )
    return response
