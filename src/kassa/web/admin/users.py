"""The users page (owners only): add users, change their role, deactivate them, give them a
new password. A generated password is shown once, on the page the form returns."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kassa.domain import KassaError, NotFound, Role
from kassa.services.admin import users as admins
from kassa.services.admin.logins import Session
from kassa.web.admin.auth import Owner, admin_router
from kassa.web.admin.render import PageError, render
from kassa.web.deps import ContextDep
from kassa.web.errors import status_of

router = admin_router()


async def _page(
    request: Request,
    ctx: ContextDep,
    session: Session,
    *,
    status_code: int = 200,
    error: KassaError | None = None,
    shown_password: tuple[str, str] | None = None,
    done: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "admin/users.html",
        session=session,
        status_code=status_code,
        users=await admins.list_users(ctx),
        roles=list(Role),
        error=error,
        shown_password=shown_password,
        done=done,
    )


@router.get("/users")
async def users_page(
    request: Request, ctx: ContextDep, session: Owner, done: str | None = None
) -> HTMLResponse:
    return await _page(request, ctx, session, done=done if done in {"created", "changed"} else None)


@router.post("/users", response_model=None)
async def create_user(
    request: Request,
    ctx: ContextDep,
    *,
    session: Owner,
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    """Add a user; with no password given, one is generated and shown once."""
    generated = not password
    secret = admins.generate_password() if generated else password
    try:
        user = await admins.create_user(
            ctx,
            name=name.strip().lower(),
            role=_role(role),
            password=secret,
            actor=session.actor,
        )
    except KassaError as exc:
        return await _page(request, ctx, session, status_code=status_of(exc), error=exc)
    if generated:
        return await _page(request, ctx, session, shown_password=(user.name, secret))
    return RedirectResponse("/admin/users?done=created", status_code=303)


@router.post("/users/{user_id}", response_model=None)
async def change_user(
    request: Request,
    ctx: ContextDep,
    *,
    session: Owner,
    user_id: str,
    role: Annotated[str | None, Form()] = None,
    active: Annotated[str | None, Form()] = None,
    new_password: Annotated[str | None, Form()] = None,
) -> Response:
    """Change a user's role or activity, or generate a new password for them (shown once)."""
    secret = admins.generate_password() if new_password else None
    change = admins.Change(
        role=_role(role) if role else None,
        active=None if active is None else active == "yes",
        password=secret,
    )
    try:
        user = await admins.update_user(ctx, user_id=user_id, change=change, actor=session.actor)
    except NotFound:
        raise PageError(404, "user") from None
    except KassaError as exc:
        return await _page(request, ctx, session, status_code=status_of(exc), error=exc)
    if secret is not None:
        return await _page(request, ctx, session, shown_password=(user.name, secret))
    return RedirectResponse("/admin/users?done=changed", status_code=303)


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise PageError(422, "role_unknown") from None
