"""The admin web UI at /admin: sign-in, payments, users, the audit log.

Server-rendered pages (templates in `web/templates/admin/`), a little script from
`/static/admin.js`, every form usable without it. See `docs/admin.md`.
"""

from __future__ import annotations

from fastapi import FastAPI

from kassa.web.admin import (
    actions,
    audit,
    bot,
    broadcasts,
    club,
    club_desk,
    club_floor,
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
from kassa.web.admin.names import counter_name, provider_title, status_name
from kassa.web.admin.outcomes import as_written, outcome
from kassa.web.admin.render import PageError, page_error


def install(app: FastAPI) -> None:
    """Mount the admin pages, with their error pages and sign-in redirects, and give their
    templates the names they read values by."""
    app.state.pages.env.globals.update(
        as_written=as_written,
        counter_name=counter_name,
        outcome=outcome,
        provider_title=provider_title,
        status_name=status_name,
    )
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
        bot.router,
        terminals.router,
        broadcasts.router,
        club.router,
        club_desk.router,
        club_floor.router,
    ):
        app.include_router(router)
    app.add_exception_handler(PageError, page_error)
    app.add_exception_handler(LoginRequired, login_required)
