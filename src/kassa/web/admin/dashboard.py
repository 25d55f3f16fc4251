"""The dashboard (`/admin`): revenue today, over 7 and 30 days per shop and per provider;
daily charts drawn as SVG on the server; conversion, average check, time to success; and
payments stuck waiting.

It counts one mode at a time: live payments (revenue), or, with its Test mode switch on, test
payments, so that whoever tries Kassa with the sandbox sees figures too. The mode is in the
URL (`?mode=test`) and is remembered for the browser session in a cookie."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.numbers import format_percent
from fastapi import Request
from fastapi.responses import HTMLResponse

from kassa.domain import Shop
from kassa.services import analytics
from kassa.services.analytics import Figures, Period, Report, Scope
from kassa.services.shops import shops
from kassa.web.admin.auth import Signed, admin_router, is_https
from kassa.web.admin.filters import common_zone
from kassa.web.admin.render import render
from kassa.web.deps import ContextDep
from kassa.web.i18n import current_locale

router = admin_router()

#: The periods the charts and figures can cover, in days; the first is the default.
PERIODS = (30, 7, 90)
#: The revenue cards: today, the last 7 days, the last 30 days.
WINDOWS = (1, 7, 30)

#: The modes the dashboard shows, the default first.
MODES = ("live", "test")
#: Where the chosen mode is remembered until the browser closes.
MODE_COOKIE = "kassa_dashboard_mode"

#: The chart's drawing area, in SVG user units (it scales to the page's width).
CHART_WIDTH = 600
CHART_HEIGHT = 160


@dataclass(frozen=True, slots=True)
class Bar:
    day: date
    value: int
    x: int
    width: int
    y: int
    height: int


@dataclass(frozen=True, slots=True)
class Chart:
    """One series per day as bars: coordinates computed here, drawn by the template."""

    bars: list[Bar]
    top: int
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT


def bar_chart(values: list[tuple[date, int]], *, top: int | None = None) -> Chart:
    """Bars for `values` scaled so that `top` (by default the largest) fills the height;
    integer coordinates."""
    if top is None:
        top = max((value for _, value in values), default=0)
    step = CHART_WIDTH // max(len(values), 1)
    gap = 1 if step > 3 else 0
    bars = []
    for number, (day, value) in enumerate(values):
        height = value * CHART_HEIGHT // top if top else 0
        bars.append(
            Bar(
                day=day,
                value=value,
                x=number * step,
                width=step - gap,
                y=CHART_HEIGHT - height,
                height=height,
            )
        )
    return Chart(bars=bars, top=top)


@dataclass(frozen=True, slots=True)
class RevenueRow:
    """A shop's or a provider's revenue in each window (per currency)."""

    name: str
    windows: list[dict[str, int]]


def revenue_rows(reports: list[Report], names: dict[str, str]) -> list[RevenueRow]:
    """One row per group found in any window, each with its revenue in every window."""
    keys = sorted({key for one in reports for key in one.groups}, key=lambda k: names.get(k, k))
    return [
        RevenueRow(
            name=names.get(key, key),
            windows=[one.groups.get(key, Figures()).revenue for one in reports],
        )
        for key in keys
    ]


def percent(value: Decimal) -> str:
    return format_percent(value, format="#,##0.#%", locale=current_locale())


def chosen_mode(request: Request, asked: str, errors: set[str]) -> str:
    """The mode asked for in the URL, else the one remembered, else live."""
    if asked in MODES:
        return asked
    if asked:
        errors.add("mode")
    remembered = request.cookies.get(MODE_COOKIE, "")
    return remembered if remembered in MODES else MODES[0]


@router.get("")
async def dashboard(request: Request, ctx: ContextDep, session: Signed) -> HTMLResponse:
    """The figures of every shop, or one, over the chosen period, in the chosen mode
    (`?shop=&days=&mode=`)."""
    all_shops = await shops.list_shops(ctx)
    values = {name: request.query_params.get(name, "").strip() for name in ("shop", "days", "mode")}
    errors: set[str] = set()
    mode = chosen_mode(request, values["mode"], errors)
    chosen: Shop | None = {shop.name: shop for shop in all_shops}.get(values["shop"])
    if values["shop"] and chosen is None:
        errors.add("shop")
    days = PERIODS[0]
    if values["days"]:
        if values["days"].isdigit() and int(values["days"]) in PERIODS:
            days = int(values["days"])
        else:
            errors.add("days")
    zone = common_zone(all_shops, chosen)
    today = ctx.clock().astimezone(ZoneInfo(zone)).date()
    scope = Scope(test=mode == "test", shop_id=chosen.id if chosen else None, timezone=zone)
    found = await analytics.report(ctx, scope, Period.ending(today, days, zone), group_by="day")
    by_shop, by_provider = [], []
    for window in WINDOWS:
        period = Period.ending(today, window, zone)
        by_shop.append(await analytics.report(ctx, scope, period, group_by="shop"))
        by_provider.append(await analytics.report(ctx, scope, period, group_by="provider"))
    daily = list(found.groups.items())
    created_chart = bar_chart([(date.fromisoformat(day), one.created) for day, one in daily])
    switch_to = MODES[1] if mode == MODES[0] else MODES[0]
    kept = {name: values[name] for name in ("shop", "days") if values[name]}
    response = render(
        request,
        "admin/dashboard.html",
        session=session,
        status_code=422 if errors else 200,
        values=values,
        test_mode=scope.test,
        switch_to=switch_to,
        switch_href="/admin?" + urlencode({**kept, "mode": switch_to}),
        errors=errors,
        shops=all_shops,
        periods=PERIODS,
        days=days,
        zone=zone,
        report=found,
        windows=WINDOWS,
        totals=[one.total.revenue for one in by_shop],
        shop_rows=revenue_rows(by_shop, {shop.id: shop.name for shop in all_shops}),
        provider_rows=revenue_rows(by_provider, {}),
        revenue_charts={
            currency: bar_chart(
                [(date.fromisoformat(day), one.revenue.get(currency, 0)) for day, one in daily]
            )
            for currency in sorted(found.total.revenue)
        },
        created_chart=created_chart,
        # Drawn over the created bars, so on the same scale.
        succeeded_chart=bar_chart(
            [(date.fromisoformat(day), one.succeeded) for day, one in daily],
            top=created_chart.top,
        ),
        stuck=await analytics.stuck(ctx, scope),
        percent=percent,
    )
    if values["mode"] == mode:
        response.set_cookie(
            MODE_COOKIE,
            mode,
            path="/admin",
            httponly=True,
            samesite="lax",
            secure=is_https(request),
        )
    return response
