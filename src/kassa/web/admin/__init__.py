"""The admin web UI at /admin: sign-in, payments, users, the audit log.

Server-rendered pages (templates in `web/templates/admin/`), a little script from
`/static/admin.js`, every form usable without it. See `docs/admin.md`.
"""

from __future__ import annotations

from fastapi import FastAPI

from kassa.web.admin import (
    actions,
    audit,
    dashboard,
    inbox,
    login,
    payments,
    shops,
    terminals,
    users,
    webhooks,
)
from kassa.web.admin.auth import LoginRequired, login_required
from kassa.web.admin.render import PageError, page_error


def install(app: FastAPI) -> None:
    """Mount the admin pages, with their error pages and sign-in redirects."""
    for router in (
        login.public,
        login.router,
        dashboard.router,
        payments.router,
        actions.router,
        users.router,
        audit.router,
        inbox.router,
        webhooks.router,
        shops.router,
        terminals.router,
    ):
        app.include_router(router)
    app.add_exception_handler(PageError, page_error)
    app.add_exception_handler(LoginRequired, login_required)
