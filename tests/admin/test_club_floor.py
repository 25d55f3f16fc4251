"""A club PC's page in the admin UI: a session started (after its price preview), extended,
paused, resumed, moved and ended by a club operator through the services, each form acting
once however often it is sent; a viewer gets none of it; a remote action sent from the page is
shown done once a scripted PC (`tests.club.pc`) acknowledges it; the map's problems from what
the PCs' heartbeats report (a lease run out on a PC still unlocked, a PC in use gone silent,
an agent's alarm); the page's live parts refreshing themselves in a browser."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, expect

from kassa.domain import Role
from kassa.domain.devices import AgentKind
from kassa.services.club import actions as pc_actions
from kassa.services.club import clubs, customers, ledger, pcs, session_records, sessions
from kassa.services.club.clubs import Club
from kassa.services.context import utcnow
from kassa.services.devices import presence
from kassa.services.shops import shops
from tests.admin.club_world import ClubWorld, a_club
from tests.admin.conftest import People, Visitor, new_user, signed_in, text_of
from tests.admin.test_club_pages import actions, balance
from tests.admin.test_in_a_browser import Tab
from tests.admin.test_in_a_browser import browser as browser_fixture
from tests.club.pc import RATE, Clock, ScriptedPc, add_pc, round_of
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


def running(server: LiveServer, club: Club) -> list[session_records.Session]:
    return server.call(session_records.list_sessions(server.ctx, club=club))


def test_a_club_operator_runs_a_session_from_the_pc_page_each_form_once(
    admin_server: LiveServer, world: ClubWorld, desk: Visitor
) -> None:
    page = f"{world.base}/pcs/{world.online}"
    preview = desk.get(page, params={"login": world.customer, "length": "minutes", "minutes": 90})
    assert preview.status_code == 200
    # 90 minutes: the time bank's hour first, then 30 minutes at 10 KZT a minute.
    said = text_of(preview.text).replace("\xa0", " ")
    assert "90 min of play: KZT 300.00 from the balance." in said
    assert "Time bank: 60 min" in said
    assert "Balance: 30 min for KZT 300.00" in said
    assert f'action="{page}/start"' in preview.text
    token = desk.token(page)
    start = {"csrf_token": token, "key": "k-start", "login": world.customer}
    start |= {"length": "minutes", "minutes": "90"}
    with ThreadPoolExecutor(max_workers=3) as pool:
        sent = list(pool.map(lambda _: desk.post(f"{page}/start", data=start), range(3)))
    assert [r.status_code for r in sent] == [303] * 3
    assert sent[0].headers["location"].endswith("?done=started")
    [session] = running(admin_server, world.club)
    assert session.charged_seconds == 90 * 60
    assert balance(admin_server, world) == (500_00 - 30 * 10_00, 0)
    shown = text_of(desk.get(sent[0].headers["location"]).text)
    assert "The session started." in shown
    assert world.customer in shown

    extend = {"csrf_token": token, "key": "k-extend", "length": "minutes", "minutes": "10"}
    for _ in range(2):  # a double submit: charged once
        assert desk.post(f"{page}/extend", data=extend).status_code == 303
    [session] = running(admin_server, world.club)
    assert session.charged_seconds == 100 * 60
    assert balance(admin_server, world)[0] == 500_00 - 40 * 10_00
    for control in ("pause", "resume"):
        form = {"csrf_token": token, "key": f"k-{control}"}
        assert desk.post(f"{page}/{control}", data=form).status_code == 303
        assert desk.post(f"{page}/{control}", data=form).status_code == 303  # answered again
    moved = desk.post(
        f"{page}/move", data={"csrf_token": token, "key": "k-move", "to": world.offline}
    )
    assert moved.status_code == 303
    [session] = running(admin_server, world.club)
    assert (session.pc, session.state) == (world.offline, "active")
    other = f"{world.base}/pcs/{world.offline}"
    ended = desk.post(f"{other}/end", data={"csrf_token": token, "key": "k-end"})
    assert ended.status_code == 303
    assert running(admin_server, world.club) == []
    again = desk.post(f"{other}/end", data={"csrf_token": token, "key": "k-end-2"})
    assert again.status_code == 404  # nothing runs there any more: said, and audited
    assert "Nothing was changed." in text_of(again.text)
    assert actions(admin_server, session.id) == [
        ("club.session.start", None),
        ("club.session.extend", None),
        ("club.session.pause", None),
        ("club.session.resume", None),
        ("club.session.move", None),
        ("club.session.end", None),
    ]
    assert actions(admin_server, world.offline) == [
        ("club.session.end", "refused: resource_missing")
    ]


def test_a_start_that_cannot_be_paid_is_refused_and_its_preview_says_so(
    admin_server: LiveServer, world: ClubWorld, desk: Visitor
) -> None:
    page = f"{world.base}/pcs/{world.online}"
    preview = desk.get(page, params={"login": world.customer, "length": "package",
                                     "package": "Night"})  # fmt: skip
    said = text_of(preview.text).replace("\xa0", " ")
    assert "the balance goes from KZT 500.00 to -KZT 1,000.00" in said
    assert "The balance does not cover the price" in said
    assert f'action="{page}/start"' not in preview.text
    form = {"csrf_token": desk.token(page), "key": "k-night", "login": world.customer}
    refused = desk.post(f"{page}/start", data=form | {"length": "package", "package": "Night"})
    assert refused.status_code == 402
    assert running(admin_server, world.club) == []
    assert balance(admin_server, world) == (500_00, 3600)


def test_a_viewer_has_no_controls_and_the_services_refuse_one(
    admin_server: LiveServer, world: ClubWorld, viewer: Visitor, desk: Visitor
) -> None:
    page = f"{world.base}/pcs/{world.online}"
    shown = viewer.get(page).text
    assert f'action="{page}/lock"' not in shown
    assert f'action="{page}' not in shown
    assert f'action="{page}/lock"' in desk.get(page).text
    form = {"csrf_token": viewer.token(page), "key": "v-1", "login": world.customer}
    refused = viewer.post(f"{page}/start", data=form | {"length": "open"})
    assert refused.status_code == 403
    assert viewer.post(f"{page}/lock", data={"csrf_token": viewer.token(page)}).status_code == 403
    assert running(admin_server, world.club) == []
    assert actions(admin_server, world.online) == [
        ("club.session.start", "refused: role_forbidden"),
        ("club.pc.lock", "refused: role_forbidden"),
    ]


@pytest.fixture
def stopped(admin_server: LiveServer) -> Iterator[Clock]:
    """The admin server's clock, stopped two hours ahead (past any reconnect window)."""
    original = admin_server.ctx.clock
    clock = Clock(utcnow().replace(microsecond=0) + timedelta(hours=2))
    admin_server.ctx.clock = clock
    try:
        yield clock
    finally:
        admin_server.ctx.clock = original


def test_a_remote_action_from_the_page_is_shown_done_and_the_map_shows_the_pcs_problems(
    admin_server: LiveServer, stopped: Clock, desk: Visitor
) -> None:
    suffix = secrets.token_hex(3)

    async def setup() -> Club:
        club = await clubs.create(
            admin_server.ctx,
            shop=await shops.create_shop(admin_server.ctx, name=f"f-{suffix}"),
            name=f"club-{suffix}",
            currency="KZT",
            timezone="Asia/Almaty",
            offline_policy="continue",  # the floor leaves a session whose lease ran out
        )
        await clubs.add_zone(admin_server.ctx, club=club, name="Standard")
        await customers.register(
            admin_server.ctx, club=club, login=f"c{suffix}", password="secret-1"
        )
        await ledger.topup(admin_server.ctx, club=club, login=f"c{suffix}", amount=600 * RATE,
                           actor="test")  # fmt: skip
        return club

    club = admin_server.call(setup())
    token = add_pc(admin_server, club, name=f"PC-{suffix}")
    base = f"/admin/clubs/{club.name}"
    page = f"{base}/pcs/PC-{suffix}"

    async def still_linked() -> None:
        """The hub's refresh of its linked devices' presence (every 30 s), done now."""
        await presence.keep_present(admin_server.ctx, [(club.shop_id, f"PC-{suffix}")])

    def problem() -> str | None:
        [pc] = desk.get(f"{base}/map.json").json()["pcs"]
        return pc["problem"]  # type: ignore[no-any-return]

    async def scenario() -> None:
        pc = await ScriptedPc.connect(admin_server, token)
        form = {"csrf_token": desk.token(page), "key": f"{suffix}-lock"}
        sent = await asyncio.to_thread(desk.post, f"{page}/lock", data=form)
        assert sent.status_code == 303
        queued = await asyncio.to_thread(desk.get, page)
        assert 'data-kind="lock"' in queued.text
        await pc.operation("lock")  # acknowledged, then answered done
        for _ in range(50):
            shown = (await asyncio.to_thread(desk.get, page)).text
            if 'data-kind="lock" data-state="done"' in shown:
                break
            await asyncio.sleep(0.1)
        assert 'data-kind="lock" data-state="done"' in shown

        start = {"csrf_token": desk.token(page), "key": f"{suffix}-start", "login": f"c{suffix}"}
        started = await asyncio.to_thread(
            desk.post, f"{page}/start", data=start | {"length": "minutes", "minutes": "60"}
        )
        assert started.status_code == 303
        unlock = await pc.operation("unlock")
        session = unlock["body"]["session"]
        await pc.heartbeat(session=session)
        await round_of(admin_server)
        assert problem() is None
        stopped.advance(400)  # past the lease (5 minutes) and its grace: not renewed now
        await pc.heartbeat(session=session)  # … yet the PC says it is unlocked
        await round_of(admin_server)
        await asyncio.to_thread(admin_server.call, still_linked())
        assert problem() == "lease_expired_unlocked"
        stopped.advance(70)  # linked, but no heartbeat since: in use, yet silent
        await asyncio.to_thread(admin_server.call, still_linked())
        assert problem() == "silent_in_use"
        await pc.close()

    asyncio.run(scenario())


def test_an_agents_alarm_puts_its_pc_on_the_problems_list_until_it_clears(
    admin_server: LiveServer, stopped: Clock, desk: Visitor
) -> None:
    suffix = secrets.token_hex(3)

    async def setup() -> Club:
        club = await clubs.create(
            admin_server.ctx,
            shop=await shops.create_shop(admin_server.ctx, name=f"a-{suffix}"),
            name=f"club-{suffix}",
            currency="KZT",
            timezone="Asia/Almaty",
        )
        await clubs.add_zone(admin_server.ctx, club=club, name="Standard")
        return club

    club = admin_server.call(setup())
    token = add_pc(admin_server, club, name=f"PC-{suffix}")
    base = f"/admin/clubs/{club.name}"

    def shown() -> tuple[str | None, str]:
        answer = desk.get(f"{base}/map.json").json()
        [pc] = answer["pcs"]
        return pc["problem"], answer["problems"]

    async def scenario() -> None:
        pc = await ScriptedPc.connect(admin_server, token)
        alarm = "agent killed while in use"
        await pc.heartbeat(state="locked", alarms=[alarm, 42, "x" * 500])
        await round_of(admin_server)
        problem, problems = await asyncio.to_thread(shown)
        assert problem == "agent_alarm"
        assert alarm in problems
        live = (await asyncio.to_thread(desk.get, f"{base}/pcs/PC-{suffix}/live.json")).json()
        assert live["pc"]["problem"] == "agent_alarm"
        assert alarm in live["fields"]  # the PC's page shows it without a reload
        assert "x" * 200 in problems
        assert "x" * 201 not in problems  # an alarm is cut to its length
        await pc.heartbeat(state="locked")  # nothing wrong any more
        await round_of(admin_server)
        problem, _problems = await asyncio.to_thread(shown)
        assert problem is None
        await pc.close()

    asyncio.run(scenario())


def test_the_pc_page_refreshes_its_state_session_and_actions_in_a_browser(
    admin_server: LiveServer, browser: Browser, people: People, world: ClubWorld
) -> None:
    """The page's script polls the PC's live JSON (within the Content-Security-Policy: `Tab`
    fails on any violation) and swaps its parts in: the PC coming online, a session started
    with its lease, and a remote action show without a reload."""
    page_url = f"{world.base}/pcs/{world.offline}"
    tab = Tab(browser, admin_server, viewport={"width": 412, "height": 900})
    tab.sign_in(people.viewer, at=page_url)
    page = tab.page
    state = page.locator("#pc-state")
    expect(state).to_have_attribute("data-state", "offline")
    expect(page.locator("#session-customer")).to_have_count(0)
    expect(page.locator("#pc-actions tbody")).to_contain_text("No actions yet.")
    page.evaluate("window.loadedOnce = true")

    ctx = admin_server.ctx
    device = admin_server.call(pcs.get(ctx, club=world.club, name=world.offline))
    admin_server.call(
        presence.mark_connected(ctx, device.device, kind=AgentKind.KASSA, version="1")
    )
    expect(state).to_have_attribute("data-state", "free", timeout=8000)
    admin_server.call(
        sessions.start(
            ctx,
            club=world.club,
            pc=world.offline,
            login=world.customer,
            minutes=30,
            actor=world.actor,
        )
    )
    admin_server.call(
        pc_actions.send(
            ctx, club=world.club, pc=world.offline, action="message", text="Hi", actor="desk"
        )
    )
    expect(state).to_have_attribute("data-state", "in_use", timeout=8000)
    expect(page.locator("#session-customer")).to_have_text(world.customer)
    expect(page.locator("#session-state")).to_have_attribute("data-state", "active")
    expect(page.locator("#session-lease")).to_contain_text("until")
    expect(page.locator('#pc-actions tr[data-kind="message"]')).to_contain_text("message: Hi")
    assert page.evaluate("window.loadedOnce") is True  # no reload happened
    tab.shot("club-pc-live")
    page.get_by_role("link", name="RU", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator("#session-lease")).to_contain_text("до")
    tab.close()
