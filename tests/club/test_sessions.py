"""Sessions on the server's ledger with a PC's lease, driven by a scripted PC over the real hub
on loopback (`tests.club.pc`), with the server's clock moved by hand and the floor's rounds
run by the test (`Floor.round`) rather than waited for."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from kassa.services.club import session_records, sessions
from kassa.services.club.clubs import Club
from tests.club.conftest import customer
from tests.club.pc import RATE, Clock, ScriptedPc, add_pc, entries, round_of, when
from tests.live import LiveServer


def test_a_session_runs_on_its_renewed_lease_until_its_time_is_up(
    server: LiveServer, club: Club, clock: Clock, api: httpx.Client
) -> None:
    token = add_pc(server, club)
    login = customer(server, club, balance=100_000)

    async def scenario() -> None:
        pc = await ScriptedPc.connect(server, token)
        assert pc.welcome["heartbeat_interval"] == 5
        assert pc.welcome["lease"]["session"] is None
        assert pc.welcome["offline_policy"] == "lock"
        answer = await asyncio.to_thread(
            api.post,
            f"/v1/club/{club.name}/sessions",
            json={"pc": "PC-01", "customer": login, "minutes": 10},
        )
        assert answer.status_code == 201, answer.text
        session = answer.json()
        start = clock.now
        assert when(session["paid_until"]) == start + timedelta(minutes=10)
        unlock = await pc.operation("unlock")
        assert unlock["body"] == {"session": session["id"]}

        first = await pc.heartbeat(session=session["id"])
        assert first["session"] == session["id"]
        assert when(first["lease_expires_at"]) == start + timedelta(seconds=club.lease_max)
        clock.advance(120)
        second = await pc.heartbeat(session=session["id"])
        assert when(second["lease_expires_at"]) == start + timedelta(seconds=120 + 300)
        assert second["seq"] > first["seq"]
        # The same heartbeat again (a retry after a blip) renews nothing.
        clock.advance(3)
        repeated = await pc.heartbeat(seq=pc.seq, session=session["id"])
        assert repeated.pop("server_time") > second.pop("server_time")
        assert repeated == second
        clock.advance(200)
        await pc.heartbeat(session=session["id"])
        clock.advance(200)
        last = await pc.heartbeat(session=session["id"])
        assert when(last["lease_expires_at"]) == when(session["paid_until"])

        clock.advance(78)  # past the paid time
        await round_of(server)
        ended = await pc.operation("end_session")
        assert ended["body"] == {"session": session["id"]}
        after = await pc.heartbeat(session=session["id"], state="locked")
        assert after["session"] is None
        await pc.close()

    asyncio.run(scenario())
    listed = api.get(f"/v1/club/{club.name}/sessions", params={"ended": "true"}).json()["data"]
    assert [(each["state"], each["end_reason"]) for each in listed] == [("ended", "time_up")]
    assert when(listed[0]["ended_at"]) == when(listed[0]["paid_until"])
    assert entries(server, club, login) == [
        ("topup", 100_000, 0),
        ("session_charge", -10 * RATE, 0),
    ]


def test_a_pc_that_loses_its_link_plays_to_its_lease_end_and_no_longer(
    server: LiveServer, club: Club, clock: Clock
) -> None:
    token = add_pc(server, club)
    login = customer(server, club, balance=100_000)
    session = server.call(
        sessions.start(server.ctx, club=club, pc="PC-01", login=login, minutes=30, actor="test")
    )
    start = clock.now

    async def scenario() -> None:
        pc = await ScriptedPc.connect(server, token)
        assert pc.welcome["lease"]["session"] == session.id
        clock.advance(60)
        lease = await pc.heartbeat(session=session.id)
        assert when(lease["lease_expires_at"]) == start + timedelta(seconds=60 + 300)
        await round_of(server)  # the renewed lease reaches the database
        await pc.close()  # the link is lost

        clock.advance(20)
        await round_of(server)
        assert pc_state(server, club) == ("stale", "active")
        clock.advance(45)
        await round_of(server)
        assert pc_state(server, club) == ("offline", "active")
        clock.advance(300 - 65 + 3)  # just past the lease's end (and its grace)
        await round_of(server)

    asyncio.run(scenario())
    ended = server.call(session_records.list_sessions(server.ctx, club=club, include_ended=True))[0]
    assert ended.state == "ended"
    assert ended.end_reason == "lease_expired"
    assert ended.ended_at == start + timedelta(seconds=360)
    # Charged 30 minutes; played 6 (to the lease's end); the 24 not played come back.
    assert entries(server, club, login) == [
        ("topup", 100_000, 0),
        ("session_charge", -30 * RATE, 0),
        ("correction", 24 * RATE, 0),
    ]


def pc_state(server: LiveServer, club: Club) -> tuple[str, str]:
    """The PC's liveness and its session's state."""
    from sqlalchemy import select

    from kassa.store.tables import club_pc_states, club_sessions

    async def read() -> tuple[str, str]:
        async with server.ctx.db.read() as conn:
            liveness = (
                await conn.execute(
                    select(club_pc_states.c.liveness).where(club_pc_states.c.club_id == club.id)
                )
            ).scalar_one()
            state = (
                await conn.execute(
                    select(club_sessions.c.state).where(club_sessions.c.club_id == club.id)
                )
            ).scalar_one()
            return liveness, state

    return server.call(read())


def test_the_api_refuses_what_cannot_be_paid_or_is_taken_and_replays_a_retry(
    server: LiveServer, club: Club, clock: Clock, api: httpx.Client
) -> None:
    add_pc(server, club)
    broke = customer(server, club)
    rich = customer(server, club, balance=100_000)
    path = f"/v1/club/{club.name}/sessions"
    refused = api.post(path, json={"pc": "PC-01", "customer": broke, "minutes": 5})
    assert (refused.status_code, refused.json()["error"]["code"]) == (402, "insufficient_funds")
    retry = {"Idempotency-Key": "desk-0001"}
    body = {"pc": "PC-01", "customer": rich, "minutes": 5}
    first = api.post(path, json=body, headers=retry)
    assert first.status_code == 201, first.text
    assert api.post(path, json=body, headers=retry).json() == first.json()
    taken = api.post(path, json=body)
    assert (taken.status_code, taken.json()["error"]["code"]) == (409, "session_exists")
    missing = api.post(f"/v1/club/{club.name}/sessions/PC-09/end")
    assert missing.status_code == 404
    assert entries(server, club, rich)[1:] == [("session_charge", -5 * RATE, 0)]


def test_a_pc_that_reconnects_carries_on_with_its_lease(
    server: LiveServer, club: Club, clock: Clock
) -> None:
    token = add_pc(server, club)
    login = customer(server, club, balance=100_000)
    session = server.call(
        sessions.start(server.ctx, club=club, pc="PC-01", login=login, minutes=30, actor="test")
    )

    async def scenario() -> None:
        old = await ScriptedPc.connect(server, token)
        await old.heartbeat(session=session.id)
        new = await ScriptedPc.connect(server, token)  # replaces the older link (4409)
        await asyncio.sleep(0.2)  # the older link's end is handled
        new.seq = old.seq
        clock.advance(5)
        lease = await new.heartbeat(session=session.id)
        assert lease["session"] == session.id
        assert when(lease["lease_expires_at"]) == clock.now + timedelta(minutes=5)
        await new.close()
        await old.close()

    asyncio.run(scenario())
