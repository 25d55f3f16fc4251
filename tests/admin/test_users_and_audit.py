"""The users page (owners only) and the audit log page."""

from __future__ import annotations

import asyncio
import re
import secrets
from pathlib import Path

import pytest

from kassa.config import Settings
from kassa.domain import InvalidState, NotFound, Role
from kassa.services.admin import audit
from kassa.services.admin import users as admins
from kassa.services.context import Context
from kassa.store import upgrade
from tests.admin.conftest import PASSWORD, People, Visitor, new_user, signed_in, text_of
from tests.live import LiveServer


def test_only_owners_manage_users(
    admin_server: LiveServer, operator: Visitor, viewer: Visitor, people: People
) -> None:
    user = admin_server.call(admins.get_user(admin_server.ctx, name=people.viewer))
    for client in (operator, viewer):
        assert "/admin/users" not in client.get("/admin/payments").text
        assert client.get("/admin/users").status_code == 403
        token = client.token("/admin/payments")
        made = client.post(
            "/admin/users",
            data={"csrf_token": token, "name": "sneaky", "role": "owner", "password": "x" * 12},
        )
        assert made.status_code == 403
        promoted = client.post(
            f"/admin/users/{user.id}", data={"csrf_token": token, "role": "owner"}
        )
        assert promoted.status_code == 403
    assert admin_server.call(admins.get_user(admin_server.ctx, name=people.viewer)).role == "viewer"
    with pytest.raises(NotFound):
        admin_server.call(admins.get_user(admin_server.ctx, name="sneaky"))


def test_an_owner_adds_users_with_a_password_or_a_generated_one(
    admin_server: LiveServer, owner: Visitor, people: People
) -> None:
    assert "Add a user" in owner.get("/admin/users").text
    chosen = f"anna-{secrets.token_hex(3)}"
    made = owner.submit("/admin/users", name=chosen, role="operator", password=PASSWORD)
    assert made.status_code == 303
    assert "The user was created" in owner.get(made.headers["location"]).text
    assert signed_in(admin_server, chosen).get("/admin/payments").status_code == 200

    generated = f"boris-{secrets.token_hex(3)}"
    shown = owner.submit("/admin/users", name=generated, role="viewer", password="")
    assert shown.status_code == 200
    password = re.search(r'<code class="secret">([^<]+)</code>', shown.text)
    assert password, shown.text
    assert "shown only this once" in shown.text
    assert password.group(1) not in owner.get("/admin/users").text
    with Visitor(admin_server) as boris:
        assert boris.login(generated, password.group(1)).status_code == 303

    again = owner.submit("/admin/users", name=chosen, role="viewer", password=PASSWORD)
    assert again.status_code == 409
    assert "A user with this name exists already." in again.text
    short = owner.submit("/admin/users", name="short-pw", role="viewer", password="abc")
    assert short.status_code == 422
    assert owner.submit("/admin/users", name="x", role="king", password=PASSWORD).status_code == 422

    entries, _ = admin_server.call(audit.list_entries(admin_server.ctx, actor_name=people.owner))
    created = [e.details["name"] for e in entries if e.action == "user.create"]
    assert {chosen, generated} <= set(created)


def test_an_owner_changes_role_activity_and_password(
    admin_server: LiveServer, owner: Visitor
) -> None:
    name = new_user(admin_server, Role.VIEWER)
    user = admin_server.call(admins.get_user(admin_server.ctx, name=name))
    them = signed_in(admin_server, name)

    promoted = owner.submit("/admin/users", f"/admin/users/{user.id}", role="operator")
    assert promoted.status_code == 303
    assert "The user was changed." in owner.get(promoted.headers["location"]).text
    assert them.get("/admin/users").status_code == 403, "an operator, not an owner"
    assert admin_server.call(admins.get_user(admin_server.ctx, name=name)).role == Role.OPERATOR

    fresh = owner.submit("/admin/users", f"/admin/users/{user.id}", new_password="yes")
    password = re.search(r'<code class="secret">([^<]+)</code>', fresh.text)
    assert password
    assert them.get("/admin/payments").status_code == 303, "a new password signs them out"
    with Visitor(admin_server) as again:
        assert again.login(name).status_code == 401
        assert again.login(name, password.group(1)).status_code == 303

    off = owner.submit("/admin/users", f"/admin/users/{user.id}", active="no")
    assert off.status_code == 303
    assert "Deactivated" in owner.get("/admin/users").text
    with Visitor(admin_server) as later:
        assert later.login(name, password.group(1)).status_code == 401

    assert owner.submit("/admin/users", "/admin/users/usr_nobody", role="viewer").status_code == 404


def test_the_last_owner_stays(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/kassa.db"
    upgrade(url)

    async def scenario() -> None:
        ctx = Context.open(Settings(database_url=url))
        try:
            password = await admins.ensure_first_owner(ctx)
            assert password is not None
            assert len(password) >= 20
            assert await admins.ensure_first_owner(ctx) is None, "only on an empty database"
            owner = await admins.get_user(ctx, name=admins.FIRST_OWNER)
            for change in (admins.Change(role=Role.VIEWER), admins.Change(active=False)):
                with pytest.raises(InvalidState):
                    await admins.update_user(ctx, user_id=owner.id, change=change, actor=audit.CLI)
            assert (await admins.get_user(ctx, user_id=owner.id)).role == Role.OWNER
            assert await admins.verify(ctx, name=admins.FIRST_OWNER, password=password)
        finally:
            await ctx.close()

    asyncio.run(scenario())


def test_the_audit_page_lists_who_did_what(
    admin_server: LiveServer, viewer: Visitor, people: People
) -> None:
    with Visitor(admin_server) as stranger:
        stranger.login(people.operator, password="wrong-password")
    page = viewer.get("/admin/audit")
    assert page.status_code == 200
    text = text_of(page.text)
    for shown in ("Failed sign-in", people.operator, "Signed in", people.viewer):
        assert shown in text
    mine = viewer.get("/admin/audit", params={"actor": people.viewer})
    rows = re.findall(r"<tr>.*?</tr>", mine.text, re.S)[1:]
    assert rows
    assert all(people.viewer in row for row in rows)
    russian = viewer.get("/admin/audit", headers={"Accept-Language": "ru"})
    assert "Журнал действий" in russian.text
