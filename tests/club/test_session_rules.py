"""Sessions' rules through the services (and the API for remote actions): the fixed order and
packages, open-ended sessions, pause and move, concurrent duplicates, the offline policy's
reconciling, a restarted hub's reconnect window."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import httpx
import pytest
from sqlalchemy import select, update

from kassa.domain import Conflict, InsufficientFunds
from kassa.services.club import clubs, ledger, packages, session_records, sessions
from kassa.services.club.clubs import Club
from kassa.store.tables import club_holdings
from kassa.store.tables import clubs as clubs_table
from tests.club.conftest import customer
from tests.club.pc import RATE, Clock, ScriptedPc, add_pc, entries, floor, round_of, when
from tests.live import LiveServer

T = TypeVar("T")


def start(
    server: LiveServer, club: Club, login: str, pc: str = "PC-01", **how: object
) -> session_records.Session:
    return server.call(
        sessions.start(server.ctx, club=club, pc=pc, login=login, actor="test", **how)  # type: ignore[arg-type]
    )


def test_duplicated_acks_and_results_of_a_remote_action_have_one_effect(
    server: LiveServer, club: Club, clock: Clock, api: httpx.Client
) -> None:
    token = add_pc(server, club)

    async def scenario() -> None:
        pc = await ScriptedPc.connect(server, token)
        sent = await asyncio.to_thread(
            api.post,
            f"/v1/club/{club.name}/pcs/PC-01/actions",
            json={"action": "message", "text": "Closing in 10 minutes"},
        )
        assert sent.status_code == 202, sent.text
        operation = await pc.receive("operation")
        assert operation["kind"] == "message"
        assert operation["body"] == {"text": "Closing in 10 minutes"}
        request = {"request_id": operation["request_id"]}
        await pc.send("ack", request)
        await pc.send("ack", request)
        for _ in range(2):
            await pc.send("result", request | {"ok": True, "body": {"shown": True}})
            assert await pc.receive("ack") == request
        await pc.close()

    asyncio.run(scenario())
    listed = api.get(f"/v1/club/{club.name}/pcs/PC-01/actions").json()["data"]
    assert [(each["action"], each["state"], each["result"]) for each in listed] == [
        ("message", "done", {"shown": True})
    ]
    refused = api.post(f"/v1/club/{club.name}/pcs/PC-01/actions", json={"action": "explode"})
    assert refused.status_code == 422


def test_concurrent_starts_and_ends_have_one_effect(
    server: LiveServer, club: Club, clock: Clock
) -> None:
    add_pc(server, club)
    login = customer(server, club, balance=100_000)

    async def twice(work: Callable[[], Awaitable[T]]) -> list[T | BaseException]:
        return list(await asyncio.gather(work(), work(), return_exceptions=True))

    started = server.call(
        twice(
            lambda: sessions.start(
                server.ctx, club=club, pc="PC-01", login=login, minutes=10, actor="test"
            )
        )
    )
    assert sorted(type(each).__name__ for each in started) == ["Conflict", "Session"]
    clock.advance(150)
    ended = server.call(
        twice(lambda: sessions.end(server.ctx, club=club, pc="PC-01", actor="test"))
    )
    assert sum(isinstance(each, session_records.Session) for each in ended) == 1
    # 10 minutes charged, 3 started (2:30 played), 7 given back: once.
    assert entries(server, club, login) == [
        ("topup", 100_000, 0),
        ("session_charge", -10 * RATE, 0),
        ("correction", 7 * RATE, 0),
    ]


def test_time_is_used_in_the_fixed_order_and_given_back_in_reverse(
    server: LiveServer, club: Club, clock: Clock
) -> None:
    add_pc(server, club)
    login = customer(server, club, balance=100_000)

    async def setup() -> None:
        await packages.add(server.ctx, club=club, name="30 мин", seconds=1800, price=15_000)
        await ledger.correct(
            server.ctx, club=club, login=login, seconds=600, reason="birthday", actor="test"
        )

    server.call(setup())
    # The package bought with the session, then the time bank, then the balance.
    session = start(server, club, login, package="30 мин", minutes=45)
    assert session.paid_until == clock.now + timedelta(minutes=45)
    assert entries(server, club, login)[-2:] == [
        ("purchase", -15_000, 0),
        ("session_charge", -5 * RATE, -600),
    ]
    clock.advance(20 * 60 + 1)  # 20 minutes and a second of the package played
    server.call(sessions.end(server.ctx, club=club, pc="PC-01", actor="test"))
    # Back: the 5 balance minutes, the time bank's 600 s, the package's 599 s unplayed.
    assert entries(server, club, login)[-1] == ("correction", 5 * RATE, 600)
    assert holding_left(server, login) == 599

    broke = customer(server, club)
    with pytest.raises(InsufficientFunds):
        start(server, club, broke)


def holding_left(server: LiveServer, login: str) -> int:
    async def read() -> int:
        async with server.ctx.db.read() as conn:
            from kassa.store.tables import club_customers

            return int(
                (
                    await conn.execute(
                        select(club_holdings.c.seconds_left)
                        .join(club_customers, club_customers.c.id == club_holdings.c.customer_id)
                        .where(club_customers.c.login == login)
                    )
                ).scalar_one()
            )

    return server.call(read())


def test_an_open_ended_session_is_charged_a_block_at_a_time_while_the_customer_can_pay(
    server: LiveServer, club: Club, clock: Clock
) -> None:
    token = add_pc(server, club)
    login = customer(server, club, balance=7 * RATE)
    session = start(server, club, login)
    assert session.open_ended
    assert session.charged_seconds == 300  # a lease's worth

    async def scenario() -> None:
        pc = await ScriptedPc.connect(server, token)
        for _ in range(5):
            clock.advance(50)
            await pc.heartbeat(session=session.id)
        await round_of(server)  # 250 s in: under a lease left, the next block is charged
        clock.advance(50)
        lease = await pc.heartbeat(session=session.id)
        # The customer could pay 2 more minutes only.
        assert when(lease["paid_until"]) == session.started_at + timedelta(minutes=7)
        for _ in range(3):
            clock.advance(50)
            await pc.heartbeat(session=session.id)
        clock.advance(30)  # 7 minutes in
        await round_of(server)
        await pc.operation("unlock")
        await pc.operation("end_session")
        await pc.close()

    asyncio.run(scenario())
    ended = server.call(session_records.list_sessions(server.ctx, club=club, include_ended=True))[0]
    assert (ended.state, ended.end_reason) == ("ended", "time_up")
    assert entries(server, club, login)[1:] == [
        ("session_charge", -5 * RATE, 0),
        ("session_charge", -2 * RATE, 0),
    ]


def test_pause_holds_the_time_and_a_move_takes_it_to_another_pc(
    server: LiveServer, club: Club, clock: Clock
) -> None:
    add_pc(server, club)
    add_pc(server, club, "PC-02")
    login = customer(server, club, balance=100_000)
    start(server, club, login, minutes=30)
    clock.advance(600)
    paused = server.call(sessions.pause(server.ctx, club=club, pc="PC-01", actor="test"))
    assert (paused.state, paused.left(clock.now)) == ("paused", 1200)
    assert paused.lease().session is None
    clock.advance(3600)  # an hour's break costs nothing
    server.call(floor(server).watch())
    moved = server.call(sessions.move(server.ctx, club=club, pc="PC-01", to="PC-02", actor="t"))
    assert moved.pc == "PC-02"
    resumed = server.call(sessions.resume(server.ctx, club=club, pc="PC-02", actor="test"))
    assert resumed.paid_until == clock.now + timedelta(seconds=1200)
    other = customer(server, club, balance=100_000)
    with pytest.raises(Conflict):
        start(server, club, other, pc="PC-02", minutes=5)
    start(server, club, other, pc="PC-01", minutes=5)
    assert [
        (each.pc, each.login)
        for each in reversed(server.call(session_records.list_sessions(server.ctx, club=club)))
    ] == [
        ("PC-02", login),
        ("PC-01", other),
    ]


def test_with_the_continue_policy_the_agents_report_is_reconciled_once(
    server: LiveServer, club: Club, clock: Clock
) -> None:
    async def set_policy() -> Club:
        async with server.ctx.db.write() as conn:
            await conn.execute(
                update(clubs_table)
                .where(clubs_table.c.id == club.id)
                .values(offline_policy="continue")
            )
        return await clubs.get(server.ctx, name=club.name)

    club = server.call(set_policy())
    token = add_pc(server, club)
    login = customer(server, club, balance=100_000)
    session = start(server, club, login, minutes=30)
    began = clock.now

    async def scenario() -> None:
        pc = await ScriptedPc.connect(server, token)
        assert pc.welcome["offline_policy"] == "continue"
        await pc.heartbeat(session=session.id)
        await pc.close()
        clock.advance(900)  # the link is down past the lease: the PC plays on
        await round_of(server)
        assert server.call(session_records.get(server.ctx, club=club, pc="PC-01")).state == "active"
        clock.advance(1000)  # past the paid time: the server ends it there
        await round_of(server)
        # The PC comes back and says its customer left (it locked) 20 minutes in.
        pc = await ScriptedPc.connect(server, token)
        report = {"session": session.id, "at": (began + timedelta(minutes=20)).isoformat()}
        await pc.heartbeat(state="locked", ended=report)
        await pc.heartbeat(state="locked", ended=report)
        await pc.close()

    asyncio.run(scenario())
    ended = server.call(session_records.list_sessions(server.ctx, club=club, include_ended=True))[0]
    assert (ended.end_reason, ended.ended_at) == ("time_up", began + timedelta(minutes=30))
    assert ended.agent_ended_at == began + timedelta(minutes=20)
    assert entries(server, club, login)[1:] == [
        ("session_charge", -30 * RATE, 0),
        ("correction", 10 * RATE, 0),
    ]


def test_a_restarted_hub_gives_pcs_a_reconnect_window(
    server: LiveServer, club: Club, clock: Clock
) -> None:
    token = add_pc(server, club)
    login = customer(server, club, balance=100_000)
    session = start(server, club, login, minutes=30)
    clock.advance(400)  # the hub was down past the lease
    live = floor(server)
    up_since = live.started_at
    live.started_at = clock.now  # as a hub process that has just started sees it
    try:
        server.call(live.watch())
        assert server.call(session_records.get(server.ctx, club=club, pc="PC-01")).state == "active"

        async def scenario() -> None:
            pc = await ScriptedPc.connect(server, token)
            assert pc.welcome["lease"]["session"] == session.id
            # Its lease ran out while the hub was down: the PC stays locked, none is renewed.
            lease = await pc.heartbeat(session=session.id, state="locked")
            assert when(lease["lease_expires_at"]) == session.lease_expires_at
            await pc.close()

        asyncio.run(scenario())
        clock.advance(61)
        server.call(live.watch())
    finally:
        live.started_at = up_since
    ended = server.call(session_records.list_sessions(server.ctx, club=club, include_ended=True))[0]
    assert (ended.end_reason, ended.ended_at) == ("lease_expired", session.lease_expires_at)
