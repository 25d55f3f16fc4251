"""`/v1/club/{club}/…`: a computer club's world for its shop's staff and apps: customers,
top-ups (at the desk, or online through the shop's providers), corrections, package purchases,
packages, tariffs, apps, the price preview, and shifts with their X and Z reports.

`{club}` is the club's name; an API key sees only its own shop's clubs (another's is a 404),
in either mode (clubs belong to a shop, not to a mode). The ledger records the key as who
acted (`key:<id>`). A POST that writes the ledger keys its entry by the request's reserved id,
so a retry with the same Idempotency-Key never writes a second entry.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from kassa.domain import ParameterInvalid
from kassa.domain.money import from_decimal
from kassa.services.callers import Caller
from kassa.services.club import apps, clubs, customers, ledger, packages, pricing, shifts, topups
from kassa.services.club.clubs import Club
from kassa.services.context import Context
from kassa.web.club_objects import (
    app_object,
    club_object,
    customer_object,
    entry_object,
    package_object,
    play_preview_object,
    purchase_preview_object,
    shift_object,
    tariff_object,
    topup_object,
    zone_object,
)
from kassa.web.club_schemas import (
    MONEY_ERRORS,
    Amount,
    AppCreate,
    AppList,
    AppOut,
    ClubOut,
    CorrectionCreate,
    CustomerCreate,
    CustomerList,
    CustomerOut,
    EntryList,
    PackageCreate,
    PackageList,
    PackageOut,
    PostedOut,
    PreviewOut,
    PurchaseCreate,
    ShiftClose,
    ShiftList,
    ShiftOpen,
    ShiftOut,
    TariffList,
    TariffOut,
    TariffSet,
    TopupCreate,
    TopupList,
    TopupOut,
    ZoneCreate,
    ZoneList,
    ZoneOut,
)
from kassa.web.deps import CallerDep, ContextDep
from kassa.web.idempotent import idempotent
from kassa.web.objects import list_object
from kassa.web.schemas import ERRORS

router = APIRouter(prefix="/v1/club/{club}", tags=["club"])


async def _club(ctx: Context, caller: Caller, name: str) -> Club:
    return await clubs.get(ctx, name=name, shop=caller.own_shop)


def _actor(caller: Caller) -> str:
    return f"key:{caller.key_id}"


def _amount(value: Amount, club: Club, param: str) -> int:
    return from_decimal(value, club.currency, param=param)


async def _posted(ctx: Context, club: Club, entry: ledger.Entry) -> dict[str, Any]:
    async with ctx.db.read() as conn:
        customer = await customers.find_by_id(conn, customer_id=entry.customer_id)
    return entry_object(entry, club) | {"customer": customer_object(customer, club)}


@router.get("", summary="Get a club", response_model=ClubOut, responses=ERRORS)
async def get_club(club: str, ctx: ContextDep, caller: CallerDep) -> Any:
    return club_object(await _club(ctx, caller, club))


@router.get("/zones", summary="List a club's zones", response_model=ZoneList, responses=ERRORS)
async def list_zones(club: str, ctx: ContextDep, caller: CallerDep) -> Any:
    found = await clubs.list_zones(ctx, club=await _club(ctx, caller, club))
    return list_object(map(zone_object, found))


@router.post(
    "/zones", status_code=201, summary="Add a zone", responses={201: {"model": ZoneOut}, **ERRORS}
)
@idempotent(status=201)
async def add_zone(
    club: str, body: ZoneCreate, ctx: ContextDep, caller: CallerDep
) -> dict[str, Any]:
    zone = await clubs.add_zone(ctx, club=await _club(ctx, caller, club), name=body.name)
    return zone_object(zone)


@router.get(
    "/customers", summary="List a club's customers", response_model=CustomerList, responses=ERRORS
)
async def list_customers(club: str, ctx: ContextDep, caller: CallerDep) -> Any:
    """Every customer of the club but deleted ones, by login."""
    found = await _club(ctx, caller, club)
    listed = await customers.list_customers(ctx, club=found)
    return list_object(customer_object(each, found) for each in listed)


@router.post(
    "/customers",
    status_code=201,
    summary="Register a customer",
    responses={201: {"model": CustomerOut}, **ERRORS},
)
@idempotent(status=201)
async def register(
    club: str, body: CustomerCreate, ctx: ContextDep, caller: CallerDep
) -> dict[str, Any]:
    """A new customer with a zero balance and time bank. Logins are unique within the club
    and never reused (`409 customer_exists`)."""
    found = await _club(ctx, caller, club)
    customer = await customers.register(
        ctx,
        club=found,
        login=body.login,
        password=body.password,
        name=body.name,
        phone=body.phone,
        group=body.group,
    )
    return customer_object(customer, found)


@router.get(
    "/customers/{login}", summary="Get a customer", response_model=CustomerOut, responses=ERRORS
)
async def get_customer(club: str, login: str, ctx: ContextDep, caller: CallerDep) -> Any:
    found = await _club(ctx, caller, club)
    return customer_object(await customers.get(ctx, club=found, login=login), found)


async def _block(ctx: Context, caller: Caller, club: str, login: str, *, blocked: bool) -> Any:
    found = await _club(ctx, caller, club)
    customer = await customers.block(ctx, club=found, login=login, blocked=blocked)
    return customer_object(customer, found)


@router.post(
    "/customers/{login}/block",
    summary="Block a customer",
    responses={200: {"model": CustomerOut}, **ERRORS},
)
@idempotent()
async def block(club: str, login: str, ctx: ContextDep, caller: CallerDep) -> dict[str, Any]:
    """A blocked customer cannot sign in or buy; their balance stays."""
    answer: dict[str, Any] = await _block(ctx, caller, club, login, blocked=True)
    return answer


@router.post(
    "/customers/{login}/unblock",
    summary="Unblock a customer",
    responses={200: {"model": CustomerOut}, **ERRORS},
)
@idempotent()
async def unblock(club: str, login: str, ctx: ContextDep, caller: CallerDep) -> dict[str, Any]:
    answer: dict[str, Any] = await _block(ctx, caller, club, login, blocked=False)
    return answer


@router.delete(
    "/customers/{login}",
    summary="Delete a customer",
    response_model=CustomerOut,
    responses=ERRORS,
)
async def delete_customer(club: str, login: str, ctx: ContextDep, caller: CallerDep) -> Any:
    """The customer's ledger stays; no charge or top-up reaches them again, and their login
    is not reused."""
    found = await _club(ctx, caller, club)
    return customer_object(await customers.delete(ctx, club=found, login=login), found)


@router.get(
    "/customers/{login}/ledger",
    summary="A customer's ledger",
    response_model=EntryList,
    responses=ERRORS,
)
async def customer_ledger(club: str, login: str, ctx: ContextDep, caller: CallerDep) -> Any:
    """The customer's latest 100 entries, newest first."""
    found = await _club(ctx, caller, club)
    entries = await ledger.entries(ctx, club=found, login=login)
    return list_object(entry_object(entry, found) for entry in entries)


@router.post(
    "/topups",
    status_code=201,
    summary="Top up a balance",
    responses={201: {"model": PostedOut | TopupOut}, **ERRORS},
)
@idempotent(status=201, prefix="topup")
async def topup(
    club: str, body: TopupCreate, ctx: ContextDep, caller: CallerDep, resource_id: str
) -> dict[str, Any]:
    """Paid at the desk (`method` cash or card): one ledger entry now, and the entry and
    the customer after it are answered. Otherwise online: a Kassa payment of the key's mode
    through `provider`, or the shop's default online one (Kaspi first; the sandbox in test
    mode), answered as a `club_topup` with the payment's `confirmation` (what the payer
    must do); its success credits the balance once (the ledger entry `payment:<id>`)."""
    found = await _club(ctx, caller, club)
    amount = _amount(body.amount, found, "amount")
    if body.method in ledger.METHODS:
        if body.provider is not None:
            raise ParameterInvalid("a top-up at the desk has no provider", param="provider")
        entry = await ledger.topup(
            ctx,
            club=found,
            login=body.customer,
            amount=amount,
            method=body.method,
            actor=_actor(caller),
            key=f"request:{resource_id}",
        )
        return await _posted(ctx, found, entry)
    started = await topups.start(
        ctx,
        caller=caller,
        club=found,
        login=body.customer,
        amount=amount,
        actor=_actor(caller),
        provider=body.provider,
        topup_id=resource_id,
        return_url=body.return_url,
    )
    return topup_object(started.topup, found, login=body.customer, payment=started.payment)


@router.get("/topups", summary="List online top-ups", response_model=TopupList, responses=ERRORS)
async def list_topups(club: str, ctx: ContextDep, caller: CallerDep) -> Any:
    """The club's latest 100 online top-ups, newest first."""
    found = await _club(ctx, caller, club)
    listed = await topups.list_topups(ctx, club=found)
    return list_object(
        topup_object(each.topup, found, login=each.login, payment_status=each.payment_status)
        for each in listed
    )


@router.post(
    "/corrections",
    status_code=201,
    summary="Correct a balance or time bank",
    responses={201: {"model": PostedOut}, **MONEY_ERRORS},
)
@idempotent(status=201, prefix="led")
async def correct(
    club: str, body: CorrectionCreate, ctx: ContextDep, caller: CallerDep, resource_id: str
) -> dict[str, Any]:
    """A signed change of the balance (`amount`) and/or the time bank (`seconds`), with its
    reason; neither goes below zero (`402 insufficient_funds`)."""
    found = await _club(ctx, caller, club)
    entry = await ledger.correct(
        ctx,
        club=found,
        login=body.customer,
        amount=_amount(body.amount, found, "amount"),
        seconds=body.seconds,
        reason=body.reason,
        actor=_actor(caller),
        key=f"request:{resource_id}",
    )
    return await _posted(ctx, found, entry)


@router.post(
    "/purchases",
    status_code=201,
    summary="Buy a package from the balance",
    responses={201: {"model": PostedOut}, **MONEY_ERRORS},
)
@idempotent(status=201, prefix="led")
async def purchase(
    club: str, body: PurchaseCreate, ctx: ContextDep, caller: CallerDep, resource_id: str
) -> dict[str, Any]:
    """The club's own price of the package is taken from the balance (`402
    insufficient_funds` if it does not cover it) and its time is held for the customer; a
    window package only inside its window (`409 package_unavailable`)."""
    found = await _club(ctx, caller, club)
    entry = await packages.buy(
        ctx,
        club=found,
        login=body.customer,
        package=body.package,
        actor=_actor(caller),
        key=f"request:{resource_id}",
    )
    return await _posted(ctx, found, entry)


@router.get("/packages", summary="List packages", response_model=PackageList, responses=ERRORS)
async def list_packages(club: str, ctx: ContextDep, caller: CallerDep) -> Any:
    found = await _club(ctx, caller, club)
    listed = await packages.list_packages(ctx, club=found)
    return list_object(package_object(each, found) for each in listed)


@router.post(
    "/packages",
    status_code=201,
    summary="Add a package",
    responses={201: {"model": PackageOut}, **ERRORS},
)
@idempotent(status=201)
async def add_package(
    club: str, body: PackageCreate, ctx: ContextDep, caller: CallerDep
) -> dict[str, Any]:
    found = await _club(ctx, caller, club)
    package = await packages.add(
        ctx,
        club=found,
        name=body.name,
        seconds=body.seconds,
        price=_amount(body.price, found, "price"),
        zone=body.zone,
        window=body.window,
    )
    return package_object(package, found)


@router.get("/tariffs", summary="List tariffs", response_model=TariffList, responses=ERRORS)
async def list_tariffs(club: str, ctx: ContextDep, caller: CallerDep) -> Any:
    found = await _club(ctx, caller, club)
    listed = await pricing.list_tariffs(ctx, club=found)
    return list_object(tariff_object(each, found) for each in listed)


@router.post(
    "/tariffs", summary="Set a zone's rate", responses={200: {"model": TariffOut}, **ERRORS}
)
@idempotent()
async def set_tariff(
    club: str, body: TariffSet, ctx: ContextDep, caller: CallerDep
) -> dict[str, Any]:
    """The zone's rate per started minute, on `days` and in `hours` if given (the rule with
    the same days and hours is replaced; the most specific rule in force wins)."""
    found = await _club(ctx, caller, club)
    tariff = await pricing.set_rate(
        ctx,
        club=found,
        zone=body.zone,
        per_minute=_amount(body.per_minute, found, "per_minute"),
        days=body.days,
        hours=body.hours,
    )
    return tariff_object(tariff, found)


@router.get("/apps", summary="List apps", response_model=AppList, responses=ERRORS)
async def list_apps(
    club: str,
    ctx: ContextDep,
    caller: CallerDep,
    zone: str | None = Query(None, max_length=64, description="Only those offered there."),
) -> Any:
    found = await apps.list_apps(ctx, club=await _club(ctx, caller, club), zone=zone)
    return list_object(map(app_object, found))


@router.post(
    "/apps", status_code=201, summary="Add an app", responses={201: {"model": AppOut}, **ERRORS}
)
@idempotent(status=201)
async def add_app(club: str, body: AppCreate, ctx: ContextDep, caller: CallerDep) -> dict[str, Any]:
    added = await apps.add(
        ctx,
        club=await _club(ctx, caller, club),
        name=body.name,
        path=body.path,
        kind=body.kind,
        icon=body.icon,
        zones=tuple(body.zones),
    )
    return app_object(added)


@router.get(
    "/preview", summary="Preview a purchase or play", response_model=PreviewOut, responses=ERRORS
)
async def preview(
    club: str,
    ctx: ContextDep,
    caller: CallerDep,
    customer: str = Query(max_length=64, description="The customer's login."),
    package: str | None = Query(None, max_length=64, description="What buying it would do."),
    zone: str | None = Query(None, max_length=64, description="How long they can play here now."),
    minutes: int | None = Query(None, ge=1, le=1440, description="Play of this long (with zone)."),
) -> Any:
    """What buying `package`, or playing in `zone` from now (for `minutes`, or as long as
    the customer can, up to a day), would use and cost: packages first, then the time bank,
    then the balance per minute. Changes nothing."""
    if (package is None) == (zone is None):
        raise ParameterInvalid("preview a package or play in a zone, one of the two")
    found = await _club(ctx, caller, club)
    if package is not None:
        bought = await packages.preview_purchase(ctx, club=found, login=customer, package=package)
        return purchase_preview_object(bought, found)
    assert zone is not None
    seconds = None if minutes is None else minutes * 60
    play = await pricing.preview_play(ctx, club=found, login=customer, zone=zone, seconds=seconds)
    return play_preview_object(play, found)


@router.get("/shifts", summary="List shifts", response_model=ShiftList, responses=ERRORS)
async def list_shifts(club: str, ctx: ContextDep, caller: CallerDep) -> Any:
    """The club's latest 30 shifts, newest first; a closed one with its Z report."""
    found = await _club(ctx, caller, club)
    listed = await shifts.list_shifts(ctx, club=found)
    return list_object(shift_object(each, found) for each in listed)


@router.post(
    "/shifts",
    status_code=201,
    summary="Open a shift",
    responses={201: {"model": ShiftOut}, **ERRORS},
)
@idempotent(status=201)
async def open_shift(
    club: str, body: ShiftOpen, ctx: ContextDep, caller: CallerDep
) -> dict[str, Any]:
    """Open the club's shift with the cash in the drawer; one shift is open at a time
    (`409 shift_open`)."""
    found = await _club(ctx, caller, club)
    shift = await shifts.open_shift(
        ctx, club=found, cash=_amount(body.cash, found, "cash"), actor=_actor(caller)
    )
    return shift_object(shift, found)


@router.get(
    "/shifts/current",
    summary="The open shift and its X report",
    response_model=ShiftOut,
    responses=ERRORS,
)
async def current_shift(club: str, ctx: ContextDep, caller: CallerDep) -> Any:
    """The open shift with what it has taken so far (`409 no_open_shift` if none)."""
    found = await _club(ctx, caller, club)
    shift, report = await shifts.x_report(ctx, club=found)
    return shift_object(shift, found, report)


@router.post(
    "/shifts/current/close",
    summary="Close the shift: the Z report",
    responses={200: {"model": ShiftOut}, **ERRORS},
)
@idempotent()
async def close_shift(
    club: str, body: ShiftClose, ctx: ContextDep, caller: CallerDep
) -> dict[str, Any]:
    """Close the open shift with the cash counted; its Z report, the expected cash and the
    difference (counted less expected) are recorded with it."""
    found = await _club(ctx, caller, club)
    shift, report = await shifts.close_shift(
        ctx, club=found, counted=_amount(body.counted, found, "counted"), actor=_actor(caller)
    )
    return shift_object(shift, found, report)
