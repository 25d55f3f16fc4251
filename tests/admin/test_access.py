"""Signing in and out of the admin UI: the cookie, wrong passwords, rate limits, expiry, CSRF,
the language switcher, and the audit entries all of it leaves."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from http.cookies import SimpleCookie

import httpx
import pytest
from sqlalchemy import func, select

from kassa.domain import Role
from kassa.services.admin import audit, logins
from kassa.services.admin import users as admins
from kassa.services.admin.audit import Entry
from kassa.store.tables import admin_login_failures
from kassa.web.middleware import CONTENT_SECURITY_POLICY
from tests.admin.conftest import (
    PASSWORD,
    People,
    Visitor,
    new_address,
    new_user,
    signed_in,
    text_of,
)
from tests.helpers import later
from tests.live import LiveServer


@contextmanager
def clock_ahead(server: LiveServer, delta: timedelta) -> Iterator[None]:
    """The server's clock `delta` ahead while the block runs."""
    original = server.app.state.ctx
    server.app.state.ctx = later(server, delta)
    try:
        yield
    finally:
        server.app.state.ctx = original


def entries(server: LiveServer, actor: str) -> list[Entry]:
    found, _ = server.call(audit.list_entries(server.ctx, actor_name=actor))
    return found


def session_cookie(response: httpx.Response) -> SimpleCookie:
    cookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        if header.startswith("kassa_admin="):
            cookie.load(header)
    assert "kassa_admin" in cookie, response.headers
    return cookie


def test_signing_in_goes_back_to_the_page_asked_for(
    visitor: Visitor, admin_server: LiveServer, people: People
) -> None:
    asked = visitor.get("/admin/payments?status=succeeded")
    assert asked.status_code == 303
    assert asked.headers["location"] == "/admin/login?next=%2Fadmin%2Fpayments%3Fstatus%3Dsucceeded"
    assert visitor.get("/admin").headers["location"] == "/admin/login?next=%2Fadmin"

    with Visitor(admin_server) as plain:  # from the sign-in page itself: the dashboard
        assert plain.login(people.viewer).headers["location"] == "/admin"

    response = visitor.login(people.operator, next="/admin/payments?status=succeeded")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/payments?status=succeeded"
    morsel = session_cookie(response)["kassa_admin"]
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "lax"
    assert morsel["path"] == "/admin"
    assert not morsel["secure"], "plain HTTP: a Secure cookie would never come back"
    assert morsel.value not in response.text

    page = visitor.get("/admin/payments")
    assert page.status_code == 200
    assert people.operator in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "<script>" not in page.text
    assert "onclick" not in page.text
    assert entries(admin_server, people.operator)[0].action == "login"


def test_the_cookie_is_secure_behind_an_https_proxy(
    admin_server: LiveServer, people: People
) -> None:
    with Visitor(admin_server, **{"X-Forwarded-Proto": "https"}) as client:
        page = client.get("/admin/login")
        login_cookie = SimpleCookie(page.headers["set-cookie"])["kassa_login_csrf"]
        assert login_cookie["secure"] is True
        # httpx keeps Secure cookies for https URLs; the proxy's client would have sent it.
        client.cookies.set("kassa_login_csrf", login_cookie.value, path="/admin/login")
        form = {"name": people.viewer, "password": PASSWORD, "csrf_token": login_cookie.value}
        response = client.post("/admin/login", data=form)
        assert response.status_code == 303
        assert session_cookie(response)["kassa_admin"]["secure"] is True


@pytest.mark.parametrize("who", ["known", "unknown"])
def test_a_wrong_password_says_so_and_is_audited(
    visitor: Visitor, admin_server: LiveServer, people: People, who: str
) -> None:
    name = people.viewer if who == "known" else "nobody-here"
    response = visitor.login(name, password="not-the-password")
    assert response.status_code == 401
    assert "Wrong user name or password." in response.text
    assert "kassa_admin=" not in response.headers.get("set-cookie", "")
    assert "not-the-password" not in response.text
    failed = entries(admin_server, name)[0]
    assert (failed.action, failed.actor.client) == ("login.failed", visitor.address)
    assert visitor.get("/admin/payments").status_code == 303


def test_guessing_a_name_from_one_address_pauses_only_that_address(
    admin_server: LiveServer,
) -> None:
    name = new_user(admin_server, Role.OPERATOR)
    limit = admin_server.settings.admin_login_max_failures
    with Visitor(admin_server) as attacker:
        for _ in range(limit):
            assert attacker.login(name, password="guess-guess").status_code == 401
        with Visitor(admin_server) as owner:  # from anywhere else: straight in
            assert owner.login(name).status_code == 303
        for _ in range(3):  # refused before the password is checked, and not counted
            refused = attacker.login(name)  # even the right password, from that address
            assert refused.status_code == 429
        assert "try again in 15 minutes" in text_of(refused.text)
        assert 890 <= int(refused.headers["retry-after"]) <= 900
        # The rest of its IPv6 /64 is the same subscriber.
        neighbour = attacker.address.rsplit(":", 1)[0] + ":beef"
        with Visitor(admin_server, neighbour, **{"Accept-Language": "ru"}) as russian:
            assert "через 15 минут" in text_of(russian.login(name).text)
        with clock_ahead(admin_server, timedelta(minutes=16)):
            assert attacker.login(name).status_code == 303


def test_guessing_admin_from_many_addresses_brakes_but_never_locks_it(
    admin_database_url: str,
) -> None:
    """The brake on a name: after `brake_after` failures from all addresses, each attempt
    waits a doubling delay after the latest failure; the owner, from an address of their
    own with the right password, gets in once it has passed. The clock is moved, not waited."""
    server = LiveServer(
        admin_database_url,
        trusted_proxies=["127.0.0.1"],
        admin_login_max_failures=2,
        admin_login_brake_after=3,
        admin_login_brake_seconds=60,
        admin_login_brake_max_seconds=100,
    ).start()
    try:
        server.call(
            admins.create_user(
                server.ctx, name="admin", role=Role.OWNER, password=PASSWORD, actor=audit.CLI
            )
        )
        with Visitor(server) as first, Visitor(server) as second:
            for attacker in (first, first, second):
                assert attacker.login("admin", password="guess-guess").status_code == 401
            assert first.login("admin").status_code == 429  # its own pair: paused
        with Visitor(server) as owner:
            braked = owner.login("admin")
            assert braked.status_code == 429
            assert 55 <= int(braked.headers["retry-after"]) <= 60
            assert re.search(r"try again in (\d\d seconds|1 minute)\.", text_of(braked.text))
            with clock_ahead(server, timedelta(seconds=61)):
                assert owner.login("admin").status_code == 303
        # One more failure doubles the wait (60 * 2 = 120, capped at 100 seconds).
        with clock_ahead(server, timedelta(seconds=62)), Visitor(server) as third:
            assert third.login("admin", password="guess-guess").status_code == 401
        with Visitor(server) as owner:
            with clock_ahead(server, timedelta(seconds=62 + 70)):
                assert owner.login("admin").status_code == 429
            with clock_ahead(server, timedelta(seconds=62 + 101)):
                assert owner.login("admin").status_code == 303

        # Attempts from many addresses at once when a wait ends: one gets the turn.
        async def at_once() -> list[BaseException | logins.Session]:
            ctx = later(server, timedelta(seconds=62 + 110))
            attempts = [
                logins.log_in(ctx, name="admin", password="guess-guess", client=new_address())
                for _ in range(5)
            ]
            return await asyncio.gather(*attempts, return_exceptions=True)

        outcomes = [type(outcome).__name__ for outcome in server.call(at_once())]
        assert sorted(outcomes) == ["AuthenticationFailed"] + ["RateLimited"] * 4
    finally:
        server.stop()


@pytest.mark.parametrize("limit", ["pair", "address", "brake"])
def test_guesses_sent_at_once_are_held_to_each_limit(admin_server: LiveServer, limit: str) -> None:
    """Every limit holds however many attempts arrive at once: each is recorded before its
    password is checked and counted with the others, so a burst gets no more checks than
    attempts one after another would (all 10 were checked against limits of 2, 3 and 4)."""
    settings = admin_server.settings.model_copy(
        update={
            "admin_login_max_failures": 2,
            "admin_login_max_failures_per_client": 3,
            "admin_login_brake_after": 4,
        }
    )
    ctx = replace(admin_server.ctx, settings=settings)
    name, address = new_user(admin_server, Role.OPERATOR), new_address()
    attempts = {
        "pair": [(name, address)] * 10,
        "address": [(f"{name}-{n}", address) for n in range(10)],
        "brake": [(name, new_address()) for _ in range(10)],
    }[limit]
    allowed = {"pair": 2, "address": 3, "brake": 4}[limit]

    async def at_once() -> list[BaseException | logins.Session]:
        return await asyncio.gather(
            *(
                logins.log_in(ctx, name=who, password="guess-guess", client=where)
                for who, where in attempts
            ),
            return_exceptions=True,
        )

    outcomes = Counter(type(outcome).__name__ for outcome in admin_server.call(at_once()))
    checked = outcomes["AuthenticationFailed"]
    assert checked <= allowed
    assert outcomes["RateLimited"] == 10 - checked
    # The refused ones were not counted: the failures are those of the checked attempts.
    clients = {logins.throttle_key(where) for _, where in attempts}

    async def failures() -> int:
        counted = select(func.count()).where(admin_login_failures.c.client.in_(clients))
        async with admin_server.ctx.db.read() as conn:
            return int((await conn.execute(counted)).scalar_one())

    assert admin_server.call(failures()) == checked


def test_failed_sign_ins_pause_a_client_address(admin_database_url: str) -> None:
    # A Kassa of its own with a low limit, to keep the test short (each check costs argon2).
    limit = 3
    server = LiveServer(
        admin_database_url, trusted_proxies=["127.0.0.1"], admin_login_max_failures_per_client=limit
    ).start()
    try:
        name = new_user(server, Role.VIEWER)
        with Visitor(server) as attacker:
            for attempt in range(limit):
                assert attacker.login(f"guess-{attempt}", password="guess-guess").status_code == 401
            assert attacker.login(name).status_code == 429
        with Visitor(server) as elsewhere:
            assert elsewhere.login(name).status_code == 303
    finally:
        server.stop()


def test_signing_out_ends_the_session(admin_server: LiveServer, people: People) -> None:
    client = signed_in(admin_server, people.viewer)
    token = client.cookies["kassa_admin"]
    out = client.submit("/admin/payments", "/admin/logout")
    assert out.status_code == 303
    assert out.headers["location"] == "/admin/login?signed_out=1"
    assert "You have signed out." in client.get(out.headers["location"]).text
    assert entries(admin_server, people.viewer)[0].action == "logout"
    with Visitor(admin_server) as thief:
        thief.cookies.set("kassa_admin", token, path="/admin")
        assert thief.get("/admin/payments").status_code == 303


def test_a_session_ends_when_idle_and_at_its_age_limit(
    admin_server: LiveServer, people: People
) -> None:
    settings = admin_server.settings
    idle = timedelta(minutes=settings.admin_session_idle_minutes)
    client = signed_in(admin_server, people.viewer)
    # Active: each request within the idle time keeps it alive.
    steps = [idle * 0.9 * i for i in range(1, 4)]
    for step in steps:
        with clock_ahead(admin_server, step):
            assert client.get("/admin/payments").status_code == 200
    with clock_ahead(admin_server, steps[-1] + idle + timedelta(minutes=1)):
        expired = client.get("/admin/payments")
    assert expired.status_code == 303
    assert expired.headers["location"] == "/admin/login?next=%2Fadmin%2Fpayments&expired=1"
    assert "Your session has ended" in client.get(expired.headers["location"]).text

    # Busy all along, it still ends at its age limit.
    busy = signed_in(admin_server, people.viewer)
    age = timedelta(hours=settings.admin_session_max_hours)
    step = idle * 0.9
    elapsed = step
    while elapsed < age:
        with clock_ahead(admin_server, elapsed):
            assert busy.get("/admin/payments").status_code == 200
        elapsed += step
    with clock_ahead(admin_server, elapsed):
        assert busy.get("/admin/payments").status_code == 303


def test_a_deactivated_user_is_signed_out(admin_server: LiveServer) -> None:
    name = new_user(admin_server, Role.VIEWER)
    client = signed_in(admin_server, name)
    user = admin_server.call(admins.get_user(admin_server.ctx, name=name))
    change = admins.Change(active=False)
    admin_server.call(
        admins.update_user(admin_server.ctx, user_id=user.id, change=change, actor=audit.CLI)
    )
    assert client.get("/admin/payments").status_code == 303
    assert client.login(name).status_code == 401


def test_every_post_needs_its_csrf_token(
    admin_server: LiveServer, owner: Visitor, people: People
) -> None:
    user = admin_server.call(admins.get_user(admin_server.ctx, name=people.viewer))
    for path in (
        "/admin/logout",
        "/admin/users",
        f"/admin/users/{user.id}",
        "/admin/payments/pay_unknown/refund",
    ):
        real = owner.token("/admin/payments")
        almost = real[:-1] + ("1" if real[-1] == "0" else "0")
        for token in (None, "forged", almost):
            data = {"role": "owner"} | ({"csrf_token": token} if token else {})
            refused = owner.post(path, data=data)
            assert refused.status_code == 403, path
            assert "This form has expired" in refused.text
    assert admin_server.call(admins.get_user(admin_server.ctx, name=people.viewer)).role == "viewer"
    assert owner.get("/admin/payments").status_code == 200, "still signed in"

    with Visitor(admin_server) as visitor:
        form = {"name": people.viewer, "password": PASSWORD}
        assert visitor.post("/admin/login", data=form).status_code == 403
        visitor.get("/admin/login")
        assert visitor.post("/admin/login", data={**form, "csrf_token": "x"}).status_code == 403


def test_the_language_follows_the_browser_then_the_switcher(
    admin_server: LiveServer, people: People
) -> None:
    with Visitor(admin_server, **{"Accept-Language": "ru-RU,ru;q=0.9"}) as client:
        assert "Вход в Kassa" in client.get("/admin/login").text
        assert client.login(people.viewer).status_code == 303
        page = client.get("/admin/payments")
        assert "Платежи" in page.text
        assert 'lang="ru"' in page.text
        switched = client.get("/admin/language?lang=en&next=/admin/payments%3Fstatus%3Dfailed")
        assert switched.headers["location"] == "/admin/payments?status=failed"
        assert "Payments" in client.get("/admin/payments").text
        for target in ("//evil.example/", "https://evil.example/", "/admin\\..\\x", "/docs"):
            away = client.get("/admin/language", params={"lang": "ru", "next": target})
            assert away.headers["location"] == "/admin"
        assert "Платежи" in client.get("/admin/payments").text


def test_unknown_pages_and_payments_are_404(owner: Visitor) -> None:
    missing = owner.get("/admin/payments/pay_nothing_here")
    assert missing.status_code == 404
    assert "Payment not found" in missing.text
    assert owner.get("/admin/payments/pay_nothing_here/refund").status_code == 404
    assert owner.get("/admin/payments/pay_nothing_here/explode").status_code == 404
    assert owner.get("/admin/nowhere").status_code == 404
