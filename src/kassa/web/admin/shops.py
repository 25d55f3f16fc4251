"""Shops: the list, creating one, and a shop's page with its provider accounts and API keys.

Everyone signed in sees them (secret credentials masked); only owners create shops,
configure provider accounts and create or revoke keys. Secret credentials are write-only: a
form never carries them back, and leaving one blank keeps the stored value. A new API key
(and a credential Kassa generates) is shown once, on the page the form returns.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kassa.domain import KassaError, NotFound, Shop
from kassa.services.admin.logins import Session
from kassa.services.bot import settings as bot_settings
from kassa.services.catalog import PROVIDERS
from kassa.services.shops import keys, shops
from kassa.services.shops.keys import ApiKey
from kassa.web.admin.auth import Owner, Signed, admin_router
from kassa.web.admin.filters import common_zone
from kassa.web.admin.render import PageError, render
from kassa.web.deps import ContextDep
from kassa.web.errors import status_of

router = admin_router()

#: What a shop's page can report after a form (`?done=…`).
RESULTS = frozenset({"created", "configured", "revoked"})
#: A credential's form field is named with this prefix, apart from the account's settings.
CREDENTIAL = "cred_"


async def _list_page(
    request: Request,
    ctx: ContextDep,
    session: Session,
    *,
    status_code: int = 200,
    error: KassaError | None = None,
    name: str = "",
    timezone: str = shops.DEFAULT_TIMEZONE,
) -> HTMLResponse:
    all_shops = await shops.list_shops(ctx)
    return render(
        request,
        "admin/shops.html",
        session=session,
        status_code=status_code,
        shops=all_shops,
        zone=common_zone(all_shops, None),
        error=error,
        shop_name=name,
        timezone=timezone,
    )


@router.get("/shops")
async def shops_page(request: Request, ctx: ContextDep, session: Signed) -> HTMLResponse:
    return await _list_page(request, ctx, session)


@router.post("/shops", response_model=None)
async def create_shop(
    request: Request,
    ctx: ContextDep,
    *,
    session: Owner,
    name: Annotated[str, Form()] = "",
    timezone: Annotated[str, Form()] = "",
) -> Response:
    """Create a shop, then open its page to add provider accounts and keys."""
    zone = timezone.strip() or shops.DEFAULT_TIMEZONE
    try:
        shop = await shops.create_shop(ctx, name=name.strip(), timezone=zone, actor=session.actor)
    except KassaError as exc:
        return await _list_page(
            request, ctx, session, status_code=status_of(exc), error=exc, name=name, timezone=zone
        )
    return RedirectResponse(f"/admin/shops/{shop.name}?done=created", status_code=303)


async def _shop(ctx: ContextDep, name: str) -> Shop:
    try:
        return await shops.get_shop(ctx, name=name)
    except NotFound:
        raise PageError(404, "shop") from None


async def _shop_page(
    request: Request,
    ctx: ContextDep,
    session: Session,
    shop: Shop,
    *,
    status_code: int = 200,
    done: str | None = None,
    error: KassaError | None = None,
    error_provider: str | None = None,
    new_key: tuple[ApiKey, str] | None = None,
    generated: dict[str, str] | None = None,
) -> HTMLResponse:
    accounts = await shops.list_accounts(ctx, shop_id=shop.id)
    return render(
        request,
        "admin/shop.html",
        session=session,
        status_code=status_code,
        shop=shop,
        accounts=accounts,
        masked={account.id: shops.masked_credentials(account) for account in accounts},
        providers=[PROVIDERS[name] for name in sorted(PROVIDERS)],
        provider_classes=PROVIDERS,
        keys=await keys.list_keys(ctx, shop=shop),
        bot=await bot_settings.find(ctx, shop_id=shop.id),
        done=done if done in RESULTS else None,
        error=error,
        error_provider=error_provider,
        new_key=new_key,
        generated=generated or {},
        hook_base=f"{request.app.state.settings.resolved_public_url}/hooks",
        credential=CREDENTIAL,
    )


@router.get("/shops/{name}")
async def shop_page(
    request: Request, ctx: ContextDep, *, session: Signed, name: str, done: str | None = None
) -> HTMLResponse:
    """A shop: its provider accounts (secrets masked) and API keys, and the owner's forms."""
    return await _shop_page(request, ctx, session, await _shop(ctx, name), done=done)


@router.post("/shops/{name}/providers/{provider}", response_model=None)
async def configure_provider(
    request: Request, ctx: ContextDep, *, session: Owner, name: str, provider: str
) -> Response:
    """Create or change the shop's account with `provider` from its form. Blank credentials
    keep their stored values; an unticked "enabled" disables the account."""
    shop = await _shop(ctx, name)
    if provider not in PROVIDERS:
        raise PageError(404, "page")
    form = await request.form()
    settings = {
        key.removeprefix(CREDENTIAL): value.strip()
        for key, value in form.items()
        if key.startswith(CREDENTIAL) and isinstance(value, str) and value.strip()
    }
    settings["test"] = "true" if form.get("mode") != "live" else "false"
    settings["enabled"] = "true" if form.get("enabled") else "false"
    api_url = form.get("api_url")
    settings["api_url"] = api_url.strip() if isinstance(api_url, str) else ""
    try:
        configured = await shops.configure_provider(
            ctx, shop=shop, provider=provider, settings=settings, actor=session.actor
        )
    except KassaError as exc:
        return await _shop_page(
            request,
            ctx,
            session,
            shop,
            status_code=status_of(exc),
            error=exc,
            error_provider=provider,
        )
    if configured.generated:
        return await _shop_page(
            request, ctx, session, shop, done="configured", generated=configured.generated
        )
    return RedirectResponse(f"/admin/shops/{shop.name}?done=configured", status_code=303)


@router.post("/shops/{name}/keys", response_model=None)
async def create_key(
    request: Request,
    ctx: ContextDep,
    *,
    session: Owner,
    name: str,
    mode: Annotated[str, Form()] = "test",
) -> HTMLResponse:
    """Make an API key and show its secret, this once: Kassa keeps only its hash."""
    shop = await _shop(ctx, name)
    made = await keys.create_key(ctx, shop=shop, live=mode == "live", actor=session.actor)
    return await _shop_page(request, ctx, session, shop, new_key=made)


async def _key(ctx: ContextDep, shop: Shop, key_id: str) -> ApiKey:
    found = next((key for key in await keys.list_keys(ctx, shop=shop) if key.id == key_id), None)
    if found is None:
        raise PageError(404, "key")
    return found


@router.get("/shops/{name}/keys/{key_id}/revoke")
async def confirm_revoke(
    request: Request, ctx: ContextDep, *, session: Owner, name: str, key_id: str
) -> HTMLResponse:
    """What revoking does, and the form that does it."""
    shop = await _shop(ctx, name)
    key = await _key(ctx, shop, key_id)
    return render(
        request,
        "admin/key_revoke.html",
        session=session,
        status_code=409 if key.revoked_at else 200,
        shop=shop,
        key=key,
    )


@router.post("/shops/{name}/keys/{key_id}/revoke", response_model=None)
async def revoke_key(
    request: Request, ctx: ContextDep, *, session: Owner, name: str, key_id: str
) -> Response:
    """Revoke the key; requests with it get 401 from now on."""
    shop = await _shop(ctx, name)
    key = await _key(ctx, shop, key_id)
    try:
        await keys.revoke_key(ctx, key_id=key.id, actor=session.actor)
    except NotFound:  # revoked already (perhaps a moment ago, in another tab)
        return render(
            request, "admin/key_revoke.html", session=session, status_code=409, shop=shop, key=key
        )
    return RedirectResponse(f"/admin/shops/{shop.name}?done=revoked", status_code=303)
