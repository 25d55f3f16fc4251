"""The terminals pages: the live list and its JSON, a terminal's page with its operations,
adding terminals and revoking their tokens (owners; a token shown once), enabling and
disabling them (operators too); each refusal and each audit entry."""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect
from websockets.exceptions import InvalidStatus

from kassa.domain import Shop
from kassa.services.admin import audit
from kassa.services.devices import operations as terminal_operations
from kassa.services.devices import terminals
from kassa.services.shops import shops
from tests.admin.conftest import People, Visitor, text_of
from tests.admin.test_in_a_browser import CHROMIUM, Tab
from tests.admin.test_in_a_browser import browser as browser_fixture
from tests.live import LiveServer
from tests.terminals.kiosk import ScriptedAgent

#: The browser tests' Chromium, for this module's one browser test.
browser = browser_fixture

JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")


@pytest.fixture
def shop(admin_server: LiveServer) -> Shop:
    return admin_server.call(shops.create_shop(admin_server.ctx, name=f"t-{secrets.token_hex(4)}"))


@pytest.fixture
def kiosk(admin_server: LiveServer, shop: Shop) -> tuple[str, str]:
    """A terminal of `shop`: its id and its token."""
    terminal_id = f"KIOSK_{secrets.token_hex(3)}"
    issued = admin_server.call(
        terminals.add_terminal(
            admin_server.ctx, shop=shop, terminal_id=terminal_id, location="Hall 2"
        )
    )
    return terminal_id, issued.token


def audited(server: LiveServer, object_id: str) -> list[tuple[str, str]]:
    found, _ = server.call(audit.list_entries(server.ctx, object_id=object_id))
    return [(entry.action, entry.actor.name) for entry in found]


def test_every_role_sees_the_list_and_a_terminals_page(
    admin_server: LiveServer,
    *,
    shop: Shop,
    kiosk: tuple[str, str],
    owner: Visitor,
    operator: Visitor,
    viewer: Visitor,
) -> None:
    terminal_id, _ = kiosk
    admin_server.call(
        terminal_operations.queue_operation(
            admin_server.ctx, shop_id=shop.id, terminal_id=terminal_id, kind="print", body={}
        )
    )
    for client in (owner, operator, viewer):
        listing = client.get(f"/admin/terminals?shop={shop.name}")
        assert listing.status_code == 200
        assert listing.headers["Cache-Control"] == "no-store"
        text = text_of(listing.text)
        assert f"{shop.name} {terminal_id} Hall 2 Offline" in text
        assert 'href="/admin/terminals" aria-current="page"' in listing.text
        assert 'src="/static/terminals.js"' in listing.text
        page = client.get(f"/admin/terminals/{shop.name}/{terminal_id}")
        assert page.status_code == 200
        assert "Recent operations" in page.text
        assert "Queued" in text_of(page.text)
        assert JWT.search(page.text) is None
    assert "Add a terminal" in owner.get("/admin/terminals").text
    assert "Add a terminal" not in operator.get("/admin/terminals").text
    assert (
        'action="/admin/terminals/'
        not in viewer.get(f"/admin/terminals/{shop.name}/{terminal_id}").text
    )


def test_the_pages_speak_russian(shop: Shop, kiosk: tuple[str, str], viewer: Visitor) -> None:
    terminal_id, _ = kiosk
    viewer.cookies.set("kassa_lang", "ru", path="/admin")
    listing = text_of(viewer.get(f"/admin/terminals?shop={shop.name}").text)
    assert "Терминалы" in listing
    assert "Не в сети" in listing  # noqa: RUF001
    page = text_of(viewer.get(f"/admin/terminals/{shop.name}/{terminal_id}").text)
    assert "Последние операции" in page


def test_unknown_terminals_and_shops(shop: Shop, viewer: Visitor) -> None:
    assert viewer.get(f"/admin/terminals/{shop.name}/NOPE").status_code == 404
    assert viewer.get("/admin/terminals/no-such-shop/NOPE").status_code == 404
    assert viewer.get("/admin/terminals?shop=no-such-shop").status_code == 404


def test_the_json_follows_a_terminal_going_online(
    admin_server: LiveServer, shop: Shop, kiosk: tuple[str, str], viewer: Visitor
) -> None:
    terminal_id, token = kiosk
    url = f"/admin/terminals.json?shop={shop.name}"

    def rows() -> dict[str, Any]:
        response = viewer.get(url)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        found: dict[str, Any] = response.json()
        return found

    before = rows()
    (terminal,) = before["terminals"]
    assert (terminal["shop"], terminal["id"], terminal["online"]) == (shop.name, terminal_id, False)
    assert "Offline" in before["html"]

    async def while_connected() -> dict[str, Any]:
        agent = await ScriptedAgent.connect(admin_server, token, version="2.0")
        after = await asyncio.to_thread(rows)
        await agent.close()
        return after

    after = asyncio.run(while_connected())
    (terminal,) = after["terminals"]
    assert terminal["online"] is True
    assert terminal["agent"] == {"kind": "kassa", "version": "2.0"}
    assert "Online" in after["html"]
    assert "kassa 2.0" in after["html"]
    assert "token" not in terminal


def test_the_json_needs_a_session(admin_server: LiveServer) -> None:
    response = httpx.get(f"{admin_server.url}/admin/terminals.json")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/admin/login")


def test_an_owner_adds_a_terminal_and_sees_its_token_once(
    admin_server: LiveServer, shop: Shop, owner: Visitor
) -> None:
    terminal_id = f"KIOSK_{secrets.token_hex(3)}"
    added = owner.submit(
        "/admin/terminals",
        shop=shop.name,
        terminal_id=terminal_id,
        name="By the door",
        location="Hall 1",
    )
    assert added.status_code == 200, added.text
    assert 'id="new-token"' in added.text
    token = JWT.search(added.text)
    assert token is not None
    assert f"KASSA_HUB_URL={admin_server.url}" in added.text
    assert added.headers["Cache-Control"] == "no-store"
    assert audited(admin_server, terminal_id) == [("terminal.add", owner_name(owner))]
    page = owner.get(f"/admin/terminals/{shop.name}/{terminal_id}")
    assert token.group() not in page.text
    log = owner.get("/admin/audit", params={"actor": owner_name(owner)})
    assert "Terminal added" in log.text

    async def connect() -> None:
        await (await ScriptedAgent.connect(admin_server, token.group())).close()

    asyncio.run(connect())
    again = owner.submit("/admin/terminals", shop=shop.name, terminal_id=terminal_id)
    assert again.status_code == 409
    assert "The shop has a terminal with this id already." in again.text
    bad = owner.submit("/admin/terminals", shop=shop.name, terminal_id="no spaces")
    assert bad.status_code == 422
    assert "Check the id." in bad.text


def owner_name(client: Visitor) -> str:
    who = re.search(r'<span class="who">([^ ]+) ·', client.get("/admin/terminals").text)
    assert who is not None
    return who.group(1)


def test_an_owner_revokes_a_token(
    admin_server: LiveServer, shop: Shop, kiosk: tuple[str, str], owner: Visitor
) -> None:
    terminal_id, old = kiosk
    page = f"/admin/terminals/{shop.name}/{terminal_id}"
    confirm = owner.get(page + "/revoke")
    assert confirm.status_code == 200
    assert "Revoke the terminal's token?" in text_of(confirm.text)
    revoked = owner.submit(page + "/revoke")
    assert revoked.status_code == 200
    new = JWT.search(revoked.text)
    assert new is not None
    assert new.group() != old
    assert audited(admin_server, terminal_id) == [("terminal.revoke", owner_name(owner))]

    async def connect() -> None:
        with pytest.raises(InvalidStatus):
            await ScriptedAgent.connect(admin_server, old)
        await (await ScriptedAgent.connect(admin_server, new.group())).close()

    asyncio.run(connect())


def test_an_operator_disables_and_enables(
    admin_server: LiveServer, shop: Shop, kiosk: tuple[str, str], operator: Visitor
) -> None:
    terminal_id, _ = kiosk
    page = f"/admin/terminals/{shop.name}/{terminal_id}"
    disabled = operator.submit(page, page + "/disable")
    assert disabled.status_code == 303
    assert disabled.headers["location"] == page + "?done=disabled"
    shown = operator.get(disabled.headers["location"])
    assert "The terminal was disabled" in shown.text
    assert "Disabled" in text_of(shown.text)
    enabled = operator.submit(page, page + "/enable")
    assert enabled.headers["location"] == page + "?done=enabled"
    actions = [action for action, _ in audited(admin_server, terminal_id)]
    assert actions == ["terminal.enable", "terminal.disable"]


def test_who_may_not_act(
    admin_server: LiveServer,
    shop: Shop,
    kiosk: tuple[str, str],
    operator: Visitor,
    viewer: Visitor,
) -> None:
    terminal_id, _ = kiosk
    page = f"/admin/terminals/{shop.name}/{terminal_id}"
    for action in ("/disable", "/enable", "/revoke"):
        refused = viewer.submit(page, page + action)
        assert refused.status_code == 403, action
    assert viewer.get(page + "/revoke").status_code == 403
    assert operator.get(page + "/revoke").status_code == 403
    refused = operator.submit(page, page + "/revoke")
    assert refused.status_code == 403
    assert "Only owners can add terminals" in refused.text
    for client in (operator, viewer):
        added = client.submit("/admin/terminals", shop=shop.name, terminal_id="SNEAKY")
        assert added.status_code == 403
    terminal = admin_server.call(
        terminals.get_terminal(admin_server.ctx, shop_id=shop.id, terminal_id=terminal_id)
    )
    assert (terminal.enabled, terminal.token_version) == (True, 1)
    assert audited(admin_server, terminal_id) == []
    assert audited(admin_server, "SNEAKY") == []


def test_a_form_without_its_csrf_token_is_refused(
    shop: Shop, kiosk: tuple[str, str], owner: Visitor
) -> None:
    terminal_id, _ = kiosk
    page = f"/admin/terminals/{shop.name}/{terminal_id}"
    for action in ("/disable", "/revoke"):
        refused = owner.post(page + action, data={"csrf_token": "forged"})
        assert refused.status_code == 403
        assert "This form has expired" in refused.text


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_the_list_shows_a_terminal_coming_online_in_a_browser(
    admin_server: LiveServer,
    browser: Browser,
    people: People,
    shop: Shop,
    kiosk: tuple[str, str],
) -> None:
    """The page's script polls its JSON (within the Content-Security-Policy: `Tab` fails on
    any violation) and swaps in the rows: an agent that connects shows up without a reload."""
    terminal_id, token = kiosk
    tab = Tab(browser, admin_server)
    tab.sign_in(people.viewer)
    tab.page.goto(f"/admin/terminals?shop={shop.name}")
    state = tab.page.locator(f'tr[data-terminal="{shop.name}/{terminal_id}"] .state')
    expect(state).to_have_text("Offline")
    connected, leave = threading.Event(), threading.Event()

    async def agent_session() -> None:
        agent = await ScriptedAgent.connect(admin_server, token)
        connected.set()
        await asyncio.to_thread(leave.wait, 15)
        await agent.close()

    agent = threading.Thread(target=asyncio.run, args=(agent_session(),))
    agent.start()
    try:
        assert connected.wait(5)
        expect(state).to_have_text("Online", timeout=8000)
    finally:
        leave.set()
        agent.join()
        tab.close()
