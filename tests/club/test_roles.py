"""The `club_operator` role, checked by the club's services the admin pages call: it runs the
floor (customers, top-ups at the desk and online, corrections, purchases, shifts) and cannot
change what the club charges or offers (tariffs, packages, member groups and their discounts,
zones, apps); a viewer changes nothing; owners and operators do both."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kassa.domain import PermissionDenied, Role
from kassa.services.admin.audit import Actor
from kassa.services.callers import Caller
from kassa.services.club import apps, clubs, customers, ledger, packages, pricing, shifts, topups
from kassa.services.club.clubs import Club
from kassa.services.context import Context
from tests.club.conftest import customer
from tests.helpers import ShopSetup
from tests.live import LiveServer

Action = Callable[[Context, Club, Caller], Awaitable[Any]]


def staff(role: Role) -> Caller:
    return Caller.staff(Actor(name=f"a-{role}", user_id="usr_test"), role=role)


#: What club staff do at the desk.
FLOOR: dict[str, Action] = {
    "register": lambda ctx, club, caller: customers.register(
        ctx, club=club, login=f"n-{caller.role}", password="secret-1", caller=caller
    ),
    "top up in cash": lambda ctx, club, caller: ledger.topup(
        ctx, club=club, login="regular", amount=1000, actor="desk", caller=caller
    ),
    "add time": lambda ctx, club, caller: ledger.correct(
        ctx, club=club, login="regular", reason="birthday", seconds=60, actor="d", caller=caller
    ),
    "sell a package": lambda ctx, club, caller: packages.buy(
        ctx, club=club, login="regular", package="1 час", actor="desk", caller=caller
    ),
    "block": lambda ctx, club, caller: customers.block(
        ctx, club=club, login="regular", blocked=False, caller=caller
    ),
    "open a shift": lambda ctx, club, caller: shifts.open_shift(
        ctx, club=club, cash=0, actor="desk", caller=caller
    ),
    "read the X report": lambda ctx, club, caller: shifts.x_report(ctx, club=club, caller=caller),
    "close the shift": lambda ctx, club, caller: shifts.close_shift(
        ctx, club=club, counted=0, actor="desk", caller=caller
    ),
}

#: What only those who set the club up do.
SETUP: dict[str, Action] = {
    "set a tariff": lambda ctx, club, caller: pricing.set_rate(
        ctx, club=club, zone="VIP", per_minute=1, caller=caller
    ),
    "add a package": lambda ctx, club, caller: packages.add(
        ctx, club=club, name=f"p-{caller.role}", seconds=60, price=1, caller=caller
    ),
    "disable a package": lambda ctx, club, caller: packages.disable(
        ctx, club=club, name="1 час", caller=caller
    ),
    "add a group (a discount)": lambda ctx, club, caller: clubs.add_group(
        ctx, club=club, name=f"g-{caller.role}", discount_percent=50, caller=caller
    ),
    "add a zone": lambda ctx, club, caller: clubs.add_zone(
        ctx, club=club, name=f"z-{caller.role}", caller=caller
    ),
    "add an app": lambda ctx, club, caller: apps.add(
        ctx, club=club, name=f"a-{caller.role}", path="x.exe", kind="app", caller=caller
    ),
}


@pytest.fixture
def served(server: LiveServer, club: Club) -> Club:
    """The club with a customer `regular` with money, and a package to sell."""
    customer(server, club, balance=1_000_000, login="regular")
    server.call(packages.add(server.ctx, club=club, name="1 час", seconds=3600, price=100))
    return club


def attempt(server: LiveServer, club: Club, caller: Caller, action: Action) -> str:
    async def run() -> str:
        try:
            await action(server.ctx, club, caller)
        except PermissionDenied as exc:
            return exc.code
        return "done"

    return server.call(run())


def test_a_club_operator_runs_the_floor_but_not_the_prices(
    server: LiveServer, served: Club
) -> None:
    operator = staff(Role.CLUB_OPERATOR)
    assert {
        name: attempt(server, served, operator, act) for name, act in FLOOR.items()
    } == dict.fromkeys(FLOOR, "done")
    assert {
        name: attempt(server, served, operator, act) for name, act in SETUP.items()
    } == dict.fromkeys(SETUP, "role_forbidden")


def test_a_viewer_changes_nothing_and_an_owner_everything(server: LiveServer, served: Club) -> None:
    viewer = staff(Role.VIEWER)
    every = FLOOR | SETUP
    assert {
        name: attempt(server, served, viewer, act) for name, act in every.items()
    } == dict.fromkeys(every, "role_forbidden")
    for role in (Role.OWNER, Role.OPERATOR):
        done = {name: attempt(server, served, staff(role), act) for name, act in SETUP.items()}
        assert done == dict.fromkeys(SETUP, "done"), role


def test_a_club_operator_starts_an_online_topup(
    server: LiveServer, shop: ShopSetup, served: Club
) -> None:
    desk = staff(Role.CLUB_OPERATOR).within(shop=shop.shop, test=True)
    started = server.call(
        topups.start(server.ctx, caller=desk, club=served, login="regular", amount=500, actor="d")
    )
    assert started.confirmation is not None
    assert started.confirmation["type"] == "redirect"
    viewer = staff(Role.VIEWER).within(shop=shop.shop, test=True)
    with pytest.raises(PermissionDenied):
        server.call(
            topups.start(
                server.ctx, caller=viewer, club=served, login="regular", amount=500, actor="d"
            )
        )
