"""The club's dashboard in the admin UI: the clubs list, a club's page with its live map (and
its JSON), customers with the desk's actions, tariffs and packages, apps, shifts, online
top-ups; what each role may do (the services decide: a club operator tops up but cannot
change a price), the audit entries, and one browser test of the map refreshing itself."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, expect

from kassa.domain import Role
from kassa.domain.devices import AgentKind
from kassa.services.admin import audit
from kassa.services.club import clubs, customers, ledger, packages, pcs, pricing, sessions
from kassa.services.context import utcnow
from kassa.services.devices import presence
from kassa.web.admin.club import (
    Playing,
    Presence,
    Problem,
    Tile,
    TileState,
    join_sessions,
)
from tests.admin.club_world import ClubWorld, a_club
from tests.admin.conftest import People, Visitor, new_user, signed_in, text_of
from tests.admin.test_in_a_browser import Tab
from tests.admin.test_in_a_browser import browser as browser_fixture
from tests.live import LiveServer

#: The browser tests' Chromium, for this module's one browser test.
browser = browser_fixture


@pytest.fixture
def world(admin_server: LiveServer) -> ClubWorld:
    return a_club(admin_server)


@pytest.fixture
def desk(admin_server: LiveServer) -> Iterator[Visitor]:
    """A signed-in club operator."""
    client = signed_in(admin_server, new_user(admin_server, Role.CLUB_OPERATOR))
    yield client
    client.close()


def balance(server: LiveServer, world: ClubWorld) -> tuple[int, int]:
    found = server.call(customers.get(server.ctx, club=world.club, login=world.customer))
    return found.balance, found.time_bank


def actions(server: LiveServer, object_id: str) -> list[tuple[str, str | None]]:
    """The audit log's entries about `object_id`, oldest first: action and outcome."""
    found, _ = server.call(audit.list_entries(server.ctx, object_id=object_id))
    return [(entry.action, entry.outcome) for entry in reversed(found)]


def customer_id(server: LiveServer, world: ClubWorld) -> str:
    return server.call(customers.get(server.ctx, club=world.club, login=world.customer)).id


def test_every_role_sees_every_page(
    world: ClubWorld, owner: Visitor, operator: Visitor, viewer: Visitor, desk: Visitor
) -> None:
    pages = [
        "/admin/clubs",
        world.base,
        f"{world.base}/customers",
        f"{world.base}/customers/{world.customer}",
        f"{world.base}/prices",
        f"{world.base}/apps",
        f"{world.base}/shifts",
        f"{world.base}/topups",
    ]
    for client in (owner, operator, viewer, desk):
        for page in pages:
            response = client.get(page)
            assert response.status_code == 200, (page, response.status_code)
    club = text_of(viewer.get(world.base).text)
    assert "Enabled but offline" in club  # the never-connected PC is a problem
    assert "Cash KZT\u00a0500.00" in club  # taken today
    assert world.club.name in text_of(viewer.get("/admin/clubs").text)
    found = text_of(viewer.get(f"{world.base}/customers?q=IVAN").text)
    assert world.customer in found
    assert world.customer not in text_of(viewer.get(f"{world.base}/customers?q=zzz").text)
    launches = text_of(viewer.get(f"{world.base}/apps").text)
    assert "Dota" in launches
    assert world.online in launches
    assert viewer.get(f"{world.base}/customers/nobody").status_code == 404
    assert viewer.get("/admin/clubs/no-such-club").status_code == 404


def test_the_map_json_says_what_the_device_core_knows(
    admin_server: LiveServer, world: ClubWorld, viewer: Visitor
) -> None:
    shown = viewer.get(f"{world.base}/map.json")
    assert shown.status_code == 200
    assert shown.headers["cache-control"] == "no-store"
    states = {
        pc["name"]: (pc["state"], pc["presence"], pc["problem"]) for pc in shown.json()["pcs"]
    }
    assert states == {
        world.online: ("free", "online", None),
        world.offline: ("offline", "offline", "offline"),
        world.locked: ("locked", "offline", None),
    }
    assert f'data-pc="{world.offline}"' in shown.json()["problems"]
    # The agent of the offline PC connects: the next poll sees it free.
    device = admin_server.call(pcs.get(admin_server.ctx, club=world.club, name=world.offline))
    admin_server.call(
        presence.mark_connected(admin_server.ctx, device.device, kind=AgentKind.KASSA, version="1")
    )
    again = {pc["name"]: pc["state"] for pc in viewer.get(f"{world.base}/map.json").json()["pcs"]}
    assert again[world.offline] == "free"


def test_the_map_shows_who_plays_on_a_pc_once_a_session_runs(
    admin_server: LiveServer, viewer: Visitor
) -> None:
    world = a_club(admin_server)
    admin_server.call(
        sessions.start(
            admin_server.ctx,
            club=world.club,
            pc=world.online,
            login=world.customer,
            minutes=30,
            actor=world.actor,
        )
    )
    shown = {pc["name"]: pc for pc in viewer.get(f"{world.base}/map.json").json()["pcs"]}
    assert shown[world.online]["state"] == "in_use"
    assert shown[world.online]["problem"] is None
    assert world.customer in str(shown[world.online])


def test_a_club_operator_tops_up_once_and_corrects_and_blocks(
    admin_server: LiveServer, world: ClubWorld, desk: Visitor
) -> None:
    page = f"{world.base}/customers/{world.customer}"
    token = desk.token(page)
    form = {"csrf_token": token, "amount": "1 000,50", "method": "card", "key": "form-1"}
    first = desk.post(f"{page}/topup", data=form)
    again = desk.post(f"{page}/topup", data=form)  # the same form sent twice: one entry
    assert (first.status_code, again.status_code) == (303, 303)
    assert balance(admin_server, world) == (500_00 + 1000_50, 3600)
    shown = text_of(desk.get(first.headers["location"]).text)
    assert "The top-up was added." in shown
    entries = admin_server.call(
        ledger.entries(admin_server.ctx, club=world.club, login=world.customer)
    )
    assert [(e.kind, e.amount, e.method) for e in entries] == [
        ("topup", 1000_50, "card"),
        ("correction", 0, None),
        ("topup", 500_00, "cash"),
    ]
    assert entries[0].actor.startswith("admin:club_operator-")
    added = desk.post(
        f"{page}/time", data={"csrf_token": token, "minutes": "30", "reason": "compensation"}
    )
    corrected = desk.post(
        f"{page}/correction", data={"csrf_token": token, "amount": "-100", "reason": "mistake"}
    )
    assert (added.status_code, corrected.status_code) == (303, 303)
    assert balance(admin_server, world) == (500_00 + 1000_50 - 100_00, 3600 + 1800)
    no_reason = desk.post(f"{page}/correction", data={"csrf_token": token, "amount": "5"})
    assert no_reason.status_code == 422
    assert balance(admin_server, world)[0] == 500_00 + 1000_50 - 100_00
    assert desk.post(f"{page}/block", data={"csrf_token": token}).status_code == 303
    blocked = admin_server.call(
        customers.get(admin_server.ctx, club=world.club, login=world.customer)
    )
    assert blocked.blocked_at is not None
    assert desk.post(f"{page}/unblock", data={"csrf_token": token}).status_code == 303
    assert actions(admin_server, customer_id(admin_server, world)) == [
        ("club.customer.topup", None),
        ("club.customer.topup", None),  # sent again: recorded, the entry replayed
        ("club.customer.correction", None),  # time added
        ("club.customer.correction", None),
        ("club.customer.correction", "refused: parameter_invalid"),
        ("club.customer.block", None),
        ("club.customer.unblock", None),
    ]


def test_a_viewer_cannot_top_up_and_a_form_without_csrf_is_refused(
    admin_server: LiveServer, world: ClubWorld, viewer: Visitor, desk: Visitor
) -> None:
    page = f"{world.base}/customers/{world.customer}"
    assert 'action="' + page + '/topup"' not in viewer.get(page).text
    refused = viewer.post(f"{page}/topup", data={"csrf_token": viewer.token(page), "amount": "100"})
    assert refused.status_code == 403
    assert desk.post(f"{page}/topup", data={"amount": "100"}).status_code == 403
    assert balance(admin_server, world) == (500_00, 3600)
    assert actions(admin_server, customer_id(admin_server, world)) == [
        ("club.customer.topup", "refused: role_forbidden")
    ]


def test_two_sends_of_one_top_up_form_at_once_credit_it_once(
    admin_server: LiveServer, world: ClubWorld, desk: Visitor
) -> None:
    page = f"{world.base}/customers/{world.customer}"
    form = {"csrf_token": desk.token(page), "amount": "70", "key": "same-form"}
    with ThreadPoolExecutor(max_workers=4) as pool:
        sent = list(pool.map(lambda _: desk.post(f"{page}/topup", data=form), range(4)))
    assert [r.status_code for r in sent] == [303] * 4
    assert balance(admin_server, world) == (500_00 + 70_00, 3600)
    entries = admin_server.call(
        ledger.entries(admin_server.ctx, club=world.club, login=world.customer)
    )
    assert [e.amount for e in entries if e.kind == "topup"] == [70_00, 500_00]


def test_a_club_operator_cannot_change_a_price_but_an_owner_can(
    admin_server: LiveServer, world: ClubWorld, owner: Visitor, desk: Visitor
) -> None:
    page = f"{world.base}/prices"
    assert "Set the rate" not in desk.get(page).text
    assert "Read only" in desk.get(page).text
    form = {"csrf_token": desk.token(page), "zone": "VIP", "per_minute": "20"}
    refused = desk.post(f"{page}/rate", data=form)
    assert refused.status_code == 403
    assert "Your role may not do this." in text_of(refused.text)
    sold = desk.post(
        f"{page}/packages",
        data={"csrf_token": desk.token(page), "name": "Day", "minutes": "60", "price": "5"},
    )
    assert sold.status_code == 403
    tariffs = admin_server.call(pricing.list_tariffs(admin_server.ctx, club=world.club))
    assert [t.zone for t in tariffs] == ["Standard"]
    assert "Set the rate" in owner.get(page).text
    set_rate = owner.post(f"{page}/rate", data={**form, "csrf_token": owner.token(page)})
    assert set_rate.status_code == 303
    tariffs = admin_server.call(pricing.list_tariffs(admin_server.ctx, club=world.club))
    assert {(t.zone, t.per_minute) for t in tariffs} == {("Standard", 10_00), ("VIP", 20_00)}
    added = owner.post(
        f"{page}/packages",
        data={"csrf_token": owner.token(page), "name": "Day", "minutes": "60", "price": "5"},
    )
    assert added.status_code == 303
    stopped = owner.post(f"{page}/packages/Night/disable", data={"csrf_token": owner.token(page)})
    assert stopped.status_code == 303
    shown = text_of(owner.get(page).text)
    assert "Day" in shown
    assert "No longer sold" in shown
    assert actions(admin_server, world.club.id) == [
        ("club.tariff.set", "refused: role_forbidden"),
        ("club.package.add", "refused: role_forbidden"),
    ]
    vip = next(
        z
        for z in admin_server.call(clubs.list_zones(admin_server.ctx, club=world.club))
        if z.name == "VIP"
    )
    assert actions(admin_server, vip.id) == [("club.tariff.set", None)]
    night = next(
        p
        for p in admin_server.call(packages.list_packages(admin_server.ctx, club=world.club))
        if p.name == "Night"
    )
    assert actions(admin_server, night.id) == [("club.package.disable", None)]


def test_shifts_are_closed_and_opened_with_the_cash_counted(
    admin_server: LiveServer, world: ClubWorld, desk: Visitor, viewer: Visitor
) -> None:
    page = f"{world.base}/shifts"
    shown = text_of(desk.get(page).text)
    assert "X report" in shown
    assert "Close the shift" not in viewer.get(page).text
    closed = desk.post(f"{page}/close", data={"csrf_token": desk.token(page), "cash": "550"})
    assert closed.status_code == 303
    after = text_of(desk.get(closed.headers["location"]).text)
    assert "The shift is closed." in after
    assert "Open a shift" in after
    twice = desk.post(f"{page}/close", data={"csrf_token": desk.token(page), "cash": "1"})
    assert twice.status_code == 409
    opened = desk.post(f"{page}/open", data={"csrf_token": desk.token(page), "cash": "10"})
    assert opened.status_code == 303
    again = desk.post(f"{page}/open", data={"csrf_token": desk.token(page), "cash": "10"})
    assert again.status_code == 409
    assert viewer.post(
        f"{page}/open", data={"csrf_token": viewer.token(page), "cash": "1"}
    ).status_code in (403, 409)


def test_join_sessions_marks_pcs_in_use_and_their_problems() -> None:
    now = utcnow()
    tile = Tile("PC-1", "PC-1", "VIP", Presence.ONLINE, True, now, TileState.FREE)
    silent = Tile(
        "PC-2", "PC-2", "VIP", Presence.STALE, True, now, TileState.PROBLEM, Problem.STALE
    )
    late = Tile("PC-3", "PC-3", "VIP", Presence.ONLINE, True, now, TileState.FREE)
    later = timedelta(seconds=30)
    idle = Tile("PC-4", "PC-4", "VIP", Presence.ONLINE, True, now, TileState.FREE)
    playing = {
        "PC-1": Playing("ann", now + timedelta(minutes=5), now + later, unlocked=True),
        "PC-2": Playing("bob", now + timedelta(minutes=5), now + later, unlocked=True),
        # Paid time left, but the lease ran out and the PC says it is unlocked anyway.
        "PC-3": Playing("cid", now + timedelta(minutes=5), now - later, unlocked=True),
    }
    joined = join_sessions([tile, silent, late, idle], playing, now)
    assert [(t.state, t.problem, t.customer) for t in joined] == [
        (TileState.IN_USE, None, "ann"),
        (TileState.PROBLEM, Problem.SILENT_IN_USE, "bob"),
        (TileState.PROBLEM, Problem.LEASE_EXPIRED_UNLOCKED, "cid"),
        (TileState.FREE, None, None),
    ]


def test_the_club_map_refreshes_itself_in_a_browser(
    admin_server: LiveServer, browser: Browser, people: People, world: ClubWorld
) -> None:
    """The page's script polls the map's JSON (within the Content-Security-Policy: `Tab`
    fails on any violation) and swaps the map in: a PC coming online shows without a reload."""
    tab = Tab(browser, admin_server, viewport={"width": 412, "height": 900})
    tab.sign_in(people.viewer, at=world.base)
    page = tab.page
    tile = page.locator(f'#club-map li[data-pc="{world.offline}"]')
    expect(tile).to_have_attribute("data-state", "offline")
    expect(page.locator("#club-problems")).to_contain_text(world.offline)
    tab.shot("club-map")
    page.evaluate("window.loadedOnce = true")
    device = admin_server.call(pcs.get(admin_server.ctx, club=world.club, name=world.offline))
    admin_server.call(
        presence.mark_connected(admin_server.ctx, device.device, kind=AgentKind.KASSA, version="1")
    )
    expect(tile).to_have_attribute("data-state", "free", timeout=8000)
    expect(page.locator("#club-problems")).not_to_contain_text(world.offline)
    assert page.evaluate("window.loadedOnce") is True  # no reload happened
    page.get_by_role("link", name="RU", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator(f'#club-map li[data-pc="{world.online}"] .state')).to_have_text("Свободен")
    tab.shot("club-map-ru")
    tab.close()
