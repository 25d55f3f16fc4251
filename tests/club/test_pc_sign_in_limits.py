"""Wrong sign-ins at a club's PCs: held to `LOGIN_ATTEMPTS` at one login from every PC and to
`SIGN_IN_ATTEMPTS` from one PC in `SIGN_IN_WINDOW`, however many hub requests try at once
(exactly as many as the limit reach the password check); a right sign-in frees its login,
not the PC; every refused sign-in is in the audit log, the password nowhere. On both
databases."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import httpx
import pytest

from kassa.protocol import club_pc
from kassa.services.admin import audit
from kassa.services.club import customers, pc_sign_in
from kassa.services.club.clubs import Club
from tests.club.conftest import customer
from tests.club.pc import Clock, add_pc
from tests.club.pc_api import error_code, pc_client
from tests.live import LiveServer

WRONG = "not-the-password"


@pytest.fixture
def pcs(server: LiveServer, club: Club) -> Iterator[list[httpx.Client]]:
    clients = [pc_client(server, add_pc(server, club, name)) for name in ("PC-01", "PC-02")]
    yield clients
    for client in clients:
        client.close()


def refusals(server: LiveServer, club: Club) -> list[dict[str, object]]:
    """The audit log's refused sign-ins at the club's PCs (their details), oldest first."""
    found, _ = server.call(audit.list_entries(server.ctx, limit=500))
    return [
        {**entry.details, "actor": entry.actor.name}
        for entry in reversed(found)
        if entry.action == pc_sign_in.ACTION
        and entry.shop_id == club.shop_id
        and entry.outcome == "refused"
    ]


def burst(server: LiveServer, tries: list[tuple[httpx.Client, str, str]]) -> list[httpx.Response]:
    """Every (PC, login, password) sign-in sent at once."""

    async def send() -> list[httpx.Response]:
        clients = [
            httpx.AsyncClient(base_url=server.url, headers=dict(pc.headers), timeout=60)
            for pc, _, _ in tries
        ]
        try:
            return list(
                await asyncio.gather(
                    *(
                        client.post("/club/pc/sign_in", json={"login": login, "password": word})
                        for client, (_, login, word) in zip(clients, tries, strict=True)
                    )
                )
            )
        finally:
            await asyncio.gather(*(client.aclose() for client in clients))

    return asyncio.run(send())


def statuses(answers: list[httpx.Response]) -> list[int]:
    return sorted(answer.status_code for answer in answers)


def test_wrong_passwords_at_one_login_are_limited_across_pcs_even_at_once(
    server: LiveServer, club: Club, pcs: list[httpx.Client], clock: Clock
) -> None:
    login, other = customer(server, club), customer(server, club)
    tries = [(pcs[n % 2], login, WRONG) for n in range(club_pc.LOGIN_ATTEMPTS + 5)]
    answers = burst(server, tries)
    limit = club_pc.LOGIN_ATTEMPTS
    assert statuses(answers) == [401] * limit + [429] * 5
    for answer in answers:
        if answer.status_code == 429:
            assert error_code(answer) == "too_many_attempts"
            assert 0 < int(answer.headers["Retry-After"]) <= club_pc.SIGN_IN_WINDOW
        else:
            assert error_code(answer) == "sign_in_failed"
    # The right password too waits: the login is held, from any PC.
    right = {"login": login, "password": "secret-1"}
    held = pcs[0].post("/club/pc/sign_in", json=right)
    assert (held.status_code, error_code(held)) == (429, "too_many_attempts")
    # Another login on the same PCs is not.
    assert pcs[0].post("/club/pc/sign_in", json={"login": other, "password": "secret-1"}).is_success

    reasons = sorted(str(each["reason"]) for each in refusals(server, club))
    assert reasons == sorted([pc_sign_in.WRONG] * limit + [pc_sign_in.LIMITED] * 6)
    assert {each["login"] for each in refusals(server, club)} == {login}
    assert {each["actor"] for each in refusals(server, club)} == {"pc:PC-01", "pc:PC-02"}
    entries, _ = server.call(audit.list_entries(server.ctx, limit=500))
    assert not any(
        WRONG in str(entry.details) or "secret-1" in str(entry.details) for entry in entries
    )

    clock.advance(club_pc.SIGN_IN_WINDOW + 1)
    assert pcs[1].post("/club/pc/sign_in", json=right).status_code == 200


def test_wrong_sign_ins_from_one_pc_are_limited_whatever_the_logins(
    server: LiveServer, club: Club, pcs: list[httpx.Client], clock: Clock
) -> None:
    login = customer(server, club)
    guesses = [f"guess-{secrets.token_hex(3)}" for _ in range(club_pc.SIGN_IN_ATTEMPTS + 4)]
    answers = burst(server, [(pcs[0], each, WRONG) for each in guesses])
    assert statuses(answers) == [401] * club_pc.SIGN_IN_ATTEMPTS + [429] * 4
    right = {"login": login, "password": "secret-1"}
    assert pcs[0].post("/club/pc/sign_in", json=right).status_code == 429
    # The other PC is free, and a customer's right sign-in there frees nothing here.
    assert pcs[1].post("/club/pc/sign_in", json=right).status_code == 200
    assert pcs[0].post("/club/pc/sign_in", json=right).status_code == 429
    clock.advance(club_pc.SIGN_IN_WINDOW + 1)
    assert pcs[0].post("/club/pc/sign_in", json=right).status_code == 200


def test_a_right_sign_in_frees_its_login_and_a_blocked_customer_is_refused_not_counted(
    server: LiveServer, club: Club, pcs: list[httpx.Client]
) -> None:
    login = customer(server, club)
    pc = pcs[0]
    wrong, right = {"login": login, "password": WRONG}, {"login": login, "password": "secret-1"}
    for _ in range(club_pc.LOGIN_ATTEMPTS - 1):
        assert pc.post("/club/pc/sign_in", json=wrong).status_code == 401
    assert pc.post("/club/pc/sign_in", json=right).status_code == 200
    # Its owner signed in: the login may be mistyped as often again.
    for _ in range(club_pc.LOGIN_ATTEMPTS - 1):
        assert pc.post("/club/pc/sign_in", json=wrong).status_code == 401

    server.call(customers.block(server.ctx, club=club, login=login))
    for _ in range(3):
        blocked = pc.post("/club/pc/sign_in", json=right)
        assert (blocked.status_code, error_code(blocked)) == (403, "customer_blocked")
    assert pc.post("/club/pc/sign_in", json=wrong).status_code == 401
    assert pc.post("/club/pc/sign_in", json=wrong).status_code == 429
    reasons = [each["reason"] for each in refusals(server, club)]
    assert reasons.count(pc_sign_in.BLOCKED) == 3
    assert reasons[-1] == pc_sign_in.LIMITED
