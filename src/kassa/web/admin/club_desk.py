"""A club's desk in the admin UI: customers (search, a customer's balance, time bank and
ledger; top-ups in cash or by card, time added, corrections, blocking), tariffs and packages,
apps and their launch logs, shifts (open, X report, close with the cash counted), and the
online top-ups.

Every change goes through the club's services with the visitor as the caller, so the
`club_operator` role's limits are the services' (it runs the floor but cannot change a price,
whatever the form sends); the pages only hide the forms a role cannot use. Each change is
written to the audit log. A ledger form carries a key of its own, so sending it twice (a
double click, a reload) posts its entry once.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kassa.domain import KassaError, NotFound, ParameterInvalid
from kassa.domain.money import from_decimal
from kassa.services.admin import audit
from kassa.services.admin.logins import Session
from kassa.services.callers import Caller
from kassa.services.club import apps, clubs, customers, ledger, packages, pricing, shifts, topups
from kassa.services.club.clubs import Club
from kassa.services.context import Context
from kassa.web.admin.auth import Signed, Staff, admin_router
from kassa.web.admin.club import club_named
from kassa.web.admin.filters import parse_amount
from kassa.web.admin.render import PageError, render
from kassa.web.deps import ContextDep
from kassa.web.errors import status_of

router = admin_router()

#: The ledger entries a customer's page shows, newest first.
RECENT_ENTRIES = 100
#: What a page can report after a form (`?done=…`).
RESULTS = frozenset(
    {"topup", "time", "correction", "blocked", "unblocked", "rate", "package", "disabled"}
    | {"opened", "closed"}
)


def _base(club: Club) -> str:
    return f"/admin/clubs/{club.name}"


def ledger_actor(session: Session) -> str:
    """Who the ledger says acted: the admin user."""
    return f"admin:{session.user.name}"


def _minor(club: Club, text: str, *, signed: bool = False) -> int:
    """An amount typed in major units (`1 500,50`; with `signed`, maybe `-200`) in minor units
    of the club's currency."""
    text = text.strip()
    negative = signed and text.startswith("-")
    minor = from_decimal(parse_amount(text.removeprefix("-") if negative else text), club.currency)
    return -minor if negative else minor


def whole_number(text: str, param: str) -> int:
    """A whole number typed in a form (maybe signed)."""
    try:
        return int(text.strip() or "0")
    except ValueError:
        raise ParameterInvalid(f"{text!r} is not a whole number", param=param) from None


async def audit_refusal(
    ctx: Context,
    staff: Caller,
    club: Club,
    *,
    action: str,
    object_id: str,
    error: KassaError,
    **details: Any,
) -> None:
    """The audit entry of a change the services refused (as for payments: with its reason's
    code). A change made is recorded by the service, in its own transaction."""
    if staff.witnessed or staff.actor is None:
        return
    await audit.record_now(
        ctx,
        actor=staff.actor,
        action=action,
        object_id=object_id,
        shop_id=club.shop_id,
        outcome=f"refused: {error.code}",
        details={"club": club.name, **details},
    )


def _done(url: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"{url}?done={done}", status_code=303)


# Customers


@router.get("/clubs/{club}/customers")
async def customers_page(
    request: Request, ctx: ContextDep, *, session: Signed, club: str, q: str = ""
) -> HTMLResponse:
    """The club's customers, found by a part of their login, name or phone."""
    found = await club_named(ctx, club)
    everyone = await customers.list_customers(ctx, club=found)
    needle = q.strip().casefold()
    shown = [
        c
        for c in everyone
        if not needle or any(needle in (v or "").casefold() for v in (c.login, c.name, c.phone))
    ]
    return render(
        request, "admin/club_customers.html", session=session, club=found, customers=shown, q=q
    )


async def _customer(ctx: Context, club: Club, login: str) -> customers.Customer:
    try:
        return await customers.get(ctx, club=club, login=login)
    except NotFound:
        raise PageError(404, "customer") from None


async def _customer_page(
    request: Request,
    ctx: Context,
    session: Session,
    club: Club,
    login: str,
    *,
    done: str | None = None,
    error: KassaError | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    customer = await _customer(ctx, club, login)
    return render(
        request,
        "admin/club_customer.html",
        session=session,
        status_code=status_code,
        club=club,
        customer=customer,
        entries=await ledger.entries(ctx, club=club, login=login, limit=RECENT_ENTRIES),
        done=done if done in RESULTS else None,
        error=error,
        form_key=secrets.token_urlsafe(16),
    )


@router.get("/clubs/{club}/customers/{login}")
async def customer_page(
    request: Request,
    ctx: ContextDep,
    *,
    session: Signed,
    club: str,
    login: str,
    done: str | None = None,
) -> HTMLResponse:
    """A customer: balance, time bank, the ledger; the desk's forms."""
    found = await club_named(ctx, club)
    return await _customer_page(request, ctx, session, found, login, done=done)


@router.post("/clubs/{club}/customers/{login}/{action}", response_model=None)
async def customer_action(
    request: Request,
    ctx: ContextDep,
    *,
    session: Signed,
    staff: Staff,
    club: str,
    login: str,
    action: str,
    amount: Annotated[str, Form()] = "",
    method: Annotated[str, Form()] = "cash",
    minutes: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    key: Annotated[str, Form()] = "",
) -> Response:
    """`topup` (cash or card), `time` (minutes added, with a reason), `correction` (money,
    signed, with a reason), `block`, `unblock`: through the services as the visitor."""
    found = await club_named(ctx, club)
    customer = await _customer(ctx, found, login)
    entry_key = f"admin:{key}"[:128] if key else None
    actor = ledger_actor(session)
    try:
        if action == "topup":
            await ledger.topup(
                ctx,
                club=found,
                login=login,
                amount=_minor(found, amount),
                method=method,
                actor=actor,
                key=entry_key,
                caller=staff,
            )
            done = "topup"
        elif action in ("time", "correction"):
            await ledger.correct(
                ctx,
                club=found,
                login=login,
                reason=reason,
                actor=actor,
                amount=_minor(found, amount, signed=True) if amount.strip() else 0,
                seconds=whole_number(minutes, "minutes") * 60,
                key=entry_key,
                caller=staff,
            )
            done = action
        elif action in ("block", "unblock"):
            await customers.block(
                ctx, club=found, login=login, blocked=action == "block", caller=staff
            )
            done = f"{action}ed"
        else:
            raise PageError(404, "page")
    except KassaError as exc:
        what = "correction" if action == "time" else action
        await audit_refusal(
            ctx,
            staff,
            found,
            action=f"club.customer.{what}",
            object_id=customer.id,
            error=exc,
            login=login,
        )
        return await _customer_page(
            request, ctx, session, found, login, error=exc, status_code=status_of(exc)
        )
    return _done(f"{_base(found)}/customers/{login}", done)


# Tariffs and packages


async def _prices_page(
    request: Request,
    ctx: Context,
    session: Session,
    club: Club,
    *,
    done: str | None = None,
    error: KassaError | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "admin/club_prices.html",
        session=session,
        status_code=status_code,
        club=club,
        zones=await clubs.list_zones(ctx, club=club),
        tariffs=await pricing.list_tariffs(ctx, club=club),
        packages=await packages.list_packages(ctx, club=club),
        done=done if done in RESULTS else None,
        error=error,
    )


@router.get("/clubs/{club}/prices")
async def prices_page(
    request: Request, ctx: ContextDep, *, session: Signed, club: str, done: str | None = None
) -> HTMLResponse:
    """Tariffs by zone and packages; owners and operators change them (the forms are shown
    only to them, and the services refuse everyone else)."""
    return await _prices_page(request, ctx, session, await club_named(ctx, club), done=done)


async def _set_up(
    request: Request,
    ctx: Context,
    session: Session,
    staff: Caller,
    club: Club,
    *,
    action: str,
    change: Awaitable[None],
    **facts: Any,
) -> Response:
    """Run `change` (a coroutine of a set-up service, which audits what it does); go back to
    the prices page, or show it with the error (and audit the refusal)."""
    try:
        await change
    except KassaError as exc:
        await audit_refusal(ctx, staff, club, action=action, object_id=club.id, error=exc, **facts)
        return await _prices_page(
            request, ctx, session, club, error=exc, status_code=status_of(exc)
        )
    done = {"club.tariff.set": "rate", "club.package.add": "package"}.get(action, "disabled")
    return _done(f"{_base(club)}/prices", done)


@router.post("/clubs/{club}/prices/rate", response_model=None)
async def set_rate(
    request: Request,
    ctx: ContextDep,
    *,
    session: Signed,
    staff: Staff,
    club: str,
    zone: Annotated[str, Form()] = "",
    per_minute: Annotated[str, Form()] = "",
    days: Annotated[str, Form()] = "",
    hours: Annotated[str, Form()] = "",
) -> Response:
    found = await club_named(ctx, club)

    async def change() -> None:
        await pricing.set_rate(
            ctx,
            club=found,
            zone=zone,
            per_minute=_minor(found, per_minute),
            days=days.strip() or None,
            hours=hours.strip() or None,
            caller=staff,
        )

    return await _set_up(
        request,
        ctx,
        session,
        staff,
        found,
        action="club.tariff.set",
        change=change(),
        zone=zone,
        per_minute=per_minute,
        days=days,
        hours=hours,
    )


@router.post("/clubs/{club}/prices/packages", response_model=None)
async def add_package(
    request: Request,
    ctx: ContextDep,
    *,
    session: Signed,
    staff: Staff,
    club: str,
    name: Annotated[str, Form()] = "",
    minutes: Annotated[str, Form()] = "",
    price: Annotated[str, Form()] = "",
    zone: Annotated[str, Form()] = "",
    window: Annotated[str, Form()] = "",
) -> Response:
    found = await club_named(ctx, club)

    async def change() -> None:
        await packages.add(
            ctx,
            club=found,
            name=name.strip(),
            seconds=whole_number(minutes, "minutes") * 60,
            price=_minor(found, price),
            zone=zone.strip() or None,
            window=window.strip() or None,
            caller=staff,
        )

    return await _set_up(
        request,
        ctx,
        session,
        staff,
        found,
        action="club.package.add",
        change=change(),
        name=name.strip(),
    )


@router.post("/clubs/{club}/prices/packages/{name}/disable", response_model=None)
async def disable_package(
    request: Request, ctx: ContextDep, *, session: Signed, staff: Staff, club: str, name: str
) -> Response:
    found = await club_named(ctx, club)

    async def change() -> None:
        await packages.disable(ctx, club=found, name=name, caller=staff)

    return await _set_up(
        request,
        ctx,
        session,
        staff,
        found,
        action="club.package.disable",
        change=change(),
        name=name,
    )


# Apps and launch logs, online top-ups


@router.get("/clubs/{club}/apps")
async def apps_page(
    request: Request, ctx: ContextDep, *, session: Signed, club: str
) -> HTMLResponse:
    """The Games and Apps catalogue and the latest launches."""
    found = await club_named(ctx, club)
    return render(
        request,
        "admin/club_apps.html",
        session=session,
        club=found,
        apps=await apps.list_apps(ctx, club=found),
        launches=await apps.launches(ctx, club=found),
    )


@router.get("/clubs/{club}/topups")
async def topups_page(
    request: Request, ctx: ContextDep, *, session: Signed, club: str
) -> HTMLResponse:
    """The club's online top-ups with their payments' status."""
    found = await club_named(ctx, club)
    return render(
        request,
        "admin/club_topups.html",
        session=session,
        club=found,
        topups=await topups.list_topups(ctx, club=found),
    )


# Shifts


async def _shifts_page(
    request: Request,
    ctx: Context,
    session: Session,
    club: Club,
    *,
    done: str | None = None,
    error: KassaError | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    history = await shifts.list_shifts(ctx, club=club)
    open_shift = next((s for s in history if s.closed_at is None), None)
    report = None
    if open_shift is not None:
        _, report = await shifts.x_report(ctx, club=club)
    return render(
        request,
        "admin/club_shifts.html",
        session=session,
        status_code=status_code,
        club=club,
        shifts=history,
        open_shift=open_shift,
        report=report,
        done=done if done in RESULTS else None,
        error=error,
    )


@router.get("/clubs/{club}/shifts")
async def shifts_page(
    request: Request, ctx: ContextDep, *, session: Signed, club: str, done: str | None = None
) -> HTMLResponse:
    """The open shift with its X report (what it has taken so far), and the latest shifts."""
    return await _shifts_page(request, ctx, session, await club_named(ctx, club), done=done)


@router.post("/clubs/{club}/shifts/{action}", response_model=None)
async def shift_action(
    request: Request,
    ctx: ContextDep,
    *,
    session: Signed,
    staff: Staff,
    club: str,
    action: str,
    cash: Annotated[str, Form()] = "",
) -> Response:
    """`open` with the cash in the drawer, or `close` with the cash counted (its Z report)."""
    found = await club_named(ctx, club)
    actor = ledger_actor(session)
    try:
        if action == "open":
            await shifts.open_shift(
                ctx, club=found, cash=_minor(found, cash), actor=actor, caller=staff
            )
        elif action == "close":
            await shifts.close_shift(
                ctx, club=found, counted=_minor(found, cash), actor=actor, caller=staff
            )
        else:
            raise PageError(404, "page")
    except KassaError as exc:
        await audit_refusal(
            ctx, staff, found, action=f"club.shift.{action}", object_id=found.id, error=exc
        )
        return await _shifts_page(
            request, ctx, session, found, error=exc, status_code=status_of(exc)
        )
    return _done(f"{_base(found)}/shifts", "opened" if action == "open" else "closed")
