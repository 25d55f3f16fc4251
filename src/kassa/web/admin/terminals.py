"""Terminals (kiosks): every shop's, live (the list polls `/admin/terminals.json`), one
terminal's page with its recent operations, and the forms that act on them.

Everyone signed in sees them. Tokens are credentials, like API keys: only owners add
terminals and revoke their tokens, and a token is shown once, on the page the form returns.
Operators and owners enable and disable terminals. Every action is in the audit log.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from kassa.domain import KassaError, NotFound, Shop
from kassa.domain.terminals import Terminal
from kassa.services.admin.logins import Session
from kassa.services.devices import operations as terminal_operations
from kassa.services.devices import terminals
from kassa.services.devices.terminals import ONLINE_WITHIN
from kassa.services.shops import shops
from kassa.web.admin.auth import Acting, Owner, Signed, admin_router
from kassa.web.admin.filters import common_zone
from kassa.web.admin.render import NO_STORE, PageError, locale_of, render
from kassa.web.deps import ContextDep
from kassa.web.errors import status_of
from kassa.web.routes.terminals import terminal_document

router = admin_router()

#: How many of a terminal's operations its page shows, newest first.
RECENT_OPERATIONS = 50
#: What a terminal's page can report after a form (`?done=…`).
RESULTS = frozenset({"enabled", "disabled"})


async def _listing(ctx: ContextDep, shop: str) -> dict[str, Any]:
    """What the list and its rows show: the terminals of every shop, or of `shop` (a name)."""
    all_shops = await shops.list_shops(ctx)
    chosen = next((s for s in all_shops if s.name == shop), None)
    if shop and chosen is None:
        raise PageError(404, "shop")
    found = await terminals.list_terminals(ctx, shop_id=chosen.id if chosen else None)
    return {
        "terminals": found,
        "shop": shop,
        "shops": all_shops,
        "shops_by_id": {s.id: s for s in all_shops},
        "zone": common_zone(all_shops, chosen),
        "now": ctx.clock(),
        "online_within": ONLINE_WITHIN,
    }


async def _list_page(
    request: Request,
    ctx: ContextDep,
    session: Session,
    *,
    shop: str = "",
    status_code: int = 200,
    error: KassaError | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "admin/terminals.html",
        session=session,
        status_code=status_code,
        error=error,
        form=form or {},
        **await _listing(ctx, shop),
    )


@router.get("/terminals")
async def terminals_page(
    request: Request, ctx: ContextDep, session: Signed, shop: str = ""
) -> HTMLResponse:
    """Every shop's terminals (or one shop's), with who is online; refreshes itself."""
    return await _list_page(request, ctx, session, shop=shop)


@router.get("/terminals.json")
async def terminals_json(
    request: Request, ctx: ContextDep, session: Signed, shop: str = ""
) -> JSONResponse:
    """The list's rows for its script: `terminals` as the API shows them (with `shop`, its
    name) and `html`, the table's rows rendered by the template the page itself uses, in
    the visitor's language, so the script only swaps them in."""
    listing = await _listing(ctx, shop)
    rows = request.app.state.pages.render(
        "admin/_terminal_rows.html", locale=locale_of(request), **listing
    )
    names = {s.id: s.name for s in listing["shops"]}
    return JSONResponse(
        {
            "terminals": [
                terminal_document(t, listing["now"]) | {"shop": names.get(t.shop_id, t.shop_id)}
                for t in listing["terminals"]
            ],
            "html": bytes(rows.body).decode(),
        },
        headers=NO_STORE,
    )


@router.post("/terminals", response_model=None)
async def add_terminal(
    request: Request,
    ctx: ContextDep,
    *,
    session: Owner,
    shop: Annotated[str, Form()] = "",
    terminal_id: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    location: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Add a terminal and show its page with the token, this once."""
    form = {"shop": shop, "terminal_id": terminal_id, "name": name, "location": location}
    try:
        issued = await terminals.add_terminal(
            ctx,
            shop=await shops.get_shop(ctx, name=shop),
            terminal_id=terminal_id.strip(),
            name=name.strip() or None,
            location=location.strip() or None,
            actor=session.actor,
        )
    except KassaError as exc:
        return await _list_page(
            request, ctx, session, status_code=status_of(exc), error=exc, form=form
        )
    return await _terminal_page(request, ctx, session, issued.terminal, token=issued.token)


async def _terminal(ctx: ContextDep, shop_name: str, terminal_id: str) -> Terminal:
    try:
        shop = await shops.get_shop(ctx, name=shop_name)
        return await terminals.get_terminal(ctx, shop_id=shop.id, terminal_id=terminal_id)
    except NotFound:
        raise PageError(404, "terminal") from None


async def _terminal_page(
    request: Request,
    ctx: ContextDep,
    session: Session,
    terminal: Terminal,
    *,
    done: str | None = None,
    token: str | None = None,
) -> HTMLResponse:
    shop: Shop = await shops.get_shop(ctx, shop_id=terminal.shop_id)
    return render(
        request,
        "admin/terminal.html",
        session=session,
        terminal=terminal,
        shop=shop,
        operations=await terminal_operations.list_operations(
            ctx, shop_id=terminal.shop_id, terminal_id=terminal.id, limit=RECENT_OPERATIONS
        ),
        now=ctx.clock(),
        online_within=ONLINE_WITHIN,
        done=done if done in RESULTS else None,
        token=token,
        hub_url=request.app.state.settings.resolved_public_url,
    )


@router.get("/terminals/{shop}/{terminal_id}")
async def terminal_page(
    request: Request,
    ctx: ContextDep,
    *,
    session: Signed,
    shop: str,
    terminal_id: str,
    done: str | None = None,
) -> HTMLResponse:
    """A terminal: its agent, its local services' health, its counters, its operations."""
    terminal = await _terminal(ctx, shop, terminal_id)
    return await _terminal_page(request, ctx, session, terminal, done=done)


@router.get("/terminals/{shop}/{terminal_id}/revoke")
async def confirm_revoke(
    request: Request, ctx: ContextDep, *, session: Owner, shop: str, terminal_id: str
) -> HTMLResponse:
    """What revoking does, and the form that does it."""
    terminal = await _terminal(ctx, shop, terminal_id)
    return render(
        request, "admin/terminal_revoke.html", session=session, terminal=terminal, shop_name=shop
    )


@router.post("/terminals/{shop}/{terminal_id}/revoke", response_model=None)
async def revoke(
    request: Request, ctx: ContextDep, *, session: Owner, shop: str, terminal_id: str
) -> HTMLResponse:
    """Make the terminal's tokens useless (its agent is cut off) and show a new one, once."""
    terminal = await _terminal(ctx, shop, terminal_id)
    issued = await terminals.revoke(ctx, terminal=terminal, actor=session.actor)
    return await _terminal_page(request, ctx, session, issued.terminal, token=issued.token)


async def _set_enabled(
    ctx: ContextDep, session: Session, shop: str, terminal_id: str, *, enabled: bool
) -> Response:
    terminal = await _terminal(ctx, shop, terminal_id)
    await terminals.set_enabled(ctx, terminal=terminal, enabled=enabled, actor=session.actor)
    done = "enabled" if enabled else "disabled"
    return RedirectResponse(f"/admin/terminals/{shop}/{terminal.id}?done={done}", status_code=303)


@router.post("/terminals/{shop}/{terminal_id}/enable", response_model=None)
async def enable(ctx: ContextDep, *, session: Acting, shop: str, terminal_id: str) -> Response:
    """Let the terminal connect and take operations again."""
    return await _set_enabled(ctx, session, shop, terminal_id, enabled=True)


@router.post("/terminals/{shop}/{terminal_id}/disable", response_model=None)
async def disable(ctx: ContextDep, *, session: Acting, shop: str, terminal_id: str) -> Response:
    """Cut the terminal's agent off and refuse it until it is enabled again."""
    return await _set_enabled(ctx, session, shop, terminal_id, enabled=False)
