"""The notifications inbox: every raw notification providers sent, with the verdict on it,
filtered and a page at a time; one in full; and re-processing a pending one by hand."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kassa.domain import InvalidState, NotFound, Shop
from kassa.services.admin.logins import Session
from kassa.services.catalog import PROVIDERS, Verdict
from kassa.services.notifications import inbound as notifications
from kassa.services.notifications import inbox as stored_notifications
from kassa.services.notifications.inbox import InboxFilter, Stored
from kassa.services.payments import lifecycle as payments
from kassa.services.shops import shops
from kassa.web.admin.auth import Acting, Signed, admin_router
from kassa.web.admin.filters import common_zone
from kassa.web.admin.render import PageError, render
from kassa.web.deps import ContextDep

router = admin_router()

PAGE_SIZE = 50
#: The filter form's fields, as named in the query string.
FIELDS = ("provider", "shop", "verdict", "from", "to")
VERDICTS = tuple(verdict.value for verdict in Verdict)


@dataclass(frozen=True, slots=True)
class InboxForm:
    """The filter form as sent, the filter it makes, the zone its dates are days in, and
    the fields it could not read (left out of the filter)."""

    values: dict[str, str]
    filter: InboxFilter
    timezone: str
    errors: frozenset[str]

    @property
    def active(self) -> bool:
        return any(self.values.values())

    def query(self, **extra: str) -> str:
        return urlencode({k: v for k, v in {**self.values, **extra}.items() if v})


def read_form(request: Request, all_shops: list[Shop]) -> InboxForm:
    """The filter the query string asks for; dates are whole days in the page's time zone:
    the chosen shop's, or across shops, theirs if they share one, else UTC."""
    values = {name: request.query_params.get(name, "").strip() for name in FIELDS}
    errors: set[str] = set()
    chosen = next((shop for shop in all_shops if shop.name == values["shop"]), None)
    if values["shop"] and chosen is None:
        errors.add("shop")
    if values["provider"] and values["provider"] not in PROVIDERS:
        errors.add("provider")
    if values["verdict"] and values["verdict"] not in VERDICTS:
        errors.add("verdict")
    zone = common_zone(all_shops, chosen)
    days: dict[str, datetime | None] = {"from": None, "to": None}
    for name in days:
        if values[name]:
            try:
                day = date.fromisoformat(values[name])
            except ValueError:
                errors.add(name)
            else:
                days[name] = datetime.combine(day, time(), tzinfo=ZoneInfo(zone))
    end = days["to"]
    found = InboxFilter(
        provider=None if "provider" in errors else values["provider"] or None,
        shop_id=chosen.id if chosen else None,
        verdict=None if "verdict" in errors else values["verdict"] or None,
        received_gte=days["from"],
        received_lt=end + timedelta(days=1) if end else None,
    )
    return InboxForm(values=values, filter=found, timezone=zone, errors=frozenset(errors))


def readable_body(stored: Stored) -> str:
    """The body to show: indented when it is JSON, else as text (the template escapes it)."""
    try:
        return json.dumps(json.loads(stored.body), indent=2, ensure_ascii=False)
    except ValueError:
        return stored.text


@router.get("/notifications")
async def inbox_page(
    request: Request, ctx: ContextDep, session: Signed, before: str | None = None
) -> HTMLResponse:
    """Notifications of every shop, newest first, filtered, a page at a time."""
    all_shops = await shops.list_shops(ctx)
    form = read_form(request, all_shops)
    found = await stored_notifications.inbox(ctx, form.filter, limit=PAGE_SIZE, before=before)
    return render(
        request,
        "admin/notifications.html",
        session=session,
        status_code=422 if form.errors else 200,
        form=form,
        notifications=found.items,
        more=found.has_more,
        first_page=before is None,
        shops=all_shops,
        shops_by_id={shop.id: shop for shop in all_shops},
        providers=sorted(PROVIDERS),
        verdicts=VERDICTS,
    )


async def _detail(
    request: Request,
    ctx: ContextDep,
    session: Session,
    notification_id: str,
    *,
    confirming: bool = False,
    status_code: int = 200,
    done: bool = False,
    error: str | None = None,
) -> HTMLResponse:
    try:
        stored = await stored_notifications.get_notification(ctx, notification_id=notification_id)
    except NotFound:
        raise PageError(404, "notification") from None
    shop = await shops.get_shop(ctx, shop_id=stored.shop_id) if stored.shop_id else None
    # A notification for no known shop is shown in the zone the lists use.
    zone = shop.timezone if shop else common_zone(await shops.list_shops(ctx), None)
    payment = None
    if stored.payment_id:
        try:
            payment = await payments.find_payment(ctx, payment_id=stored.payment_id)
        except NotFound:
            payment = None
    if confirming and stored.verdict != Verdict.PENDING:
        status_code = 409
    return render(
        request,
        "admin/notification_reprocess.html" if confirming else "admin/notification.html",
        session=session,
        status_code=status_code,
        n=stored,
        shop=shop,
        zone=zone,
        payment=payment,
        body=readable_body(stored),
        done=done,
        error=error,
    )


@router.get("/notifications/{notification_id}")
async def notification_page(
    request: Request, ctx: ContextDep, session: Signed, notification_id: str, done: str = ""
) -> HTMLResponse:
    """One notification in full: the request, its verdict and what it changed."""
    return await _detail(request, ctx, session, notification_id, done=done == "reprocess")


@router.get("/notifications/{notification_id}/reprocess")
async def confirm_reprocess(
    request: Request, ctx: ContextDep, session: Acting, notification_id: str
) -> HTMLResponse:
    """What re-processing does, and the form that does it."""
    return await _detail(request, ctx, session, notification_id, confirming=True)


@router.post("/notifications/{notification_id}/reprocess", response_model=None)
async def reprocess(
    request: Request, ctx: ContextDep, session: Acting, notification_id: str
) -> Response:
    """Apply a pending notification now, then show it with the verdict it got."""
    try:
        await notifications.reprocess_one(ctx, notification_id=notification_id, actor=session.actor)
    except NotFound:
        raise PageError(404, "notification") from None
    except InvalidState as exc:
        return await _detail(
            request,
            ctx,
            session,
            notification_id,
            confirming=True,
            error=exc.message,
        )
    return RedirectResponse(
        f"/admin/notifications/{notification_id}?done=reprocess", status_code=303
    )
