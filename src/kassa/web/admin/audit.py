"""The audit log page: who did what, newest first, a page at a time, in the zone the other
lists use (the shops' common time zone, else UTC)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from kassa.services.admin import audit
from kassa.services.shops import shops
from kassa.web.admin.auth import Signed, admin_router
from kassa.web.admin.filters import common_zone
from kassa.web.admin.render import render
from kassa.web.deps import ContextDep

router = admin_router()

PAGE_SIZE = 50


@router.get("/audit")
async def audit_page(
    request: Request,
    ctx: ContextDep,
    session: Signed,
    before: int | None = None,
    actor: str | None = None,
) -> HTMLResponse:
    zone = common_zone(await shops.list_shops(ctx), None)
    entries, more = await audit.list_entries(
        ctx, limit=PAGE_SIZE, before=before, actor_name=actor or None
    )
    return render(
        request,
        "admin/audit.html",
        session=session,
        entries=entries,
        more=more,
        actor=actor or "",
        first_page=before is None,
        zone=zone,
    )
