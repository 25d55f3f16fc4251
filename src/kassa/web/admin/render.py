"""Rendering admin pages: the locale (cookie, then Accept-Language), the layout's context
(user, CSRF token, language links), and the error pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse

from kassa.services.admin.logins import Session
from kassa.web.admin import csrf
from kassa.web.i18n import negotiate
from kassa.web.templating import Pages

#: The language chosen with the switcher; otherwise Accept-Language decides.
LANGUAGE_COOKIE = "kassa_lang"
#: Admin pages show payments and users: never kept in a shared or browser cache.
NO_STORE = {"Cache-Control": "no-store"}


def locale_of(request: Request) -> str:
    return negotiate(request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language"))


def here(request: Request) -> str:
    """The current page's path and query: where to come back to."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def safe_next(target: str | None) -> str:
    """`target` if it is a page of the admin UI, else the dashboard (never another site:
    `//evil.example` and `/\\evil.example` are refused)."""
    if (
        target
        and target.startswith("/admin")
        and not target.startswith(("//", "/\\"))
        and "\\" not in target
    ):
        return target
    return "/admin"


def render(
    request: Request,
    template: str,
    *,
    session: Session | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """An admin page in the visitor's language, with the layout's context."""
    pages: Pages = request.app.state.pages
    back = urlencode({"next": here(request)})
    response = pages.render(
        template,
        locale=locale_of(request),
        status_code=status_code,
        session=session,
        csrf_token=csrf.token_for(session.token) if session else None,
        language_links={lang: f"/admin/language?lang={lang}&{back}" for lang in ("ru", "en")},
        path=request.url.path,
        **context,
    )
    response.headers.update(NO_STORE)
    return response


class PageError(Exception):
    """Stop and show an error page: `reason` picks its message (see `admin/error.html`)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def page_error(request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, PageError)
    session = getattr(request.state, "admin_session", None)
    return render(
        request, "admin/error.html", session=session, status_code=exc.status, reason=exc.reason
    )
