"""A club's whole flow, as the issue walks it, over the real hub with a scripted PC: a customer
registers, tops up online through the sandbox (credited once), buys a package, plays it on a
PC whose lease the heartbeats renew, and the PC is told to lock when the time is used up; the
ledger shows every step."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from kassa.services.club import packages, topups
from kassa.services.club.clubs import Club
from kassa.services.events.consumers import Registry, dispatch
from tests.club.pc import Clock, ScriptedPc, add_pc, entries, round_of, when
from tests.helpers import checkout
from tests.live import LiveServer

ONLY_TOPUPS = Registry()
ONLY_TOPUPS.register(topups.CONSUMER)


@pytest.fixture(scope="module")
def server(own_database_url: str) -> Iterator[LiveServer]:
    """A Kassa of the module's own: the top-ups' consumer reads its outbox from the start."""
    live = LiveServer(own_database_url).start()
    try:
        yield live
    finally:
        live.stop()


def test_register_top_up_buy_play_and_lock_at_zero(
    server: LiveServer, club: Club, clock: Clock, api: httpx.Client
) -> None:
    base = f"/v1/club/{club.name}"
    token = add_pc(server, club)
    server.call(packages.add(server.ctx, club=club, name="1 час", seconds=3600, price=500_00))
    registered = api.post(f"{base}/customers", json={"login": "arman", "password": "secret-1"})
    assert registered.status_code == 201, registered.text

    topup = api.post(f"{base}/topups", json={"customer": "arman", "amount": "500"}).json()
    assert topup["provider"] == "sandbox"
    assert checkout(server, topup, "pay").status_code == 200
    for _ in range(2):  # a second round finds the event consumed
        server.call(dispatch(server.ctx, ONLY_TOPUPS))
    assert api.get(f"{base}/customers/arman").json()["balance"] == "500.00"

    bought = api.post(f"{base}/purchases", json={"customer": "arman", "package": "1 час"})
    assert bought.status_code == 201, bought.text
    assert api.get(f"{base}/customers/arman").json()["balance"] == "0.00"

    async def play() -> None:
        pc = await ScriptedPc.connect(server, token)
        started = await asyncio.to_thread(
            api.post, f"{base}/sessions", json={"pc": "PC-01", "customer": "arman", "minutes": 60}
        )
        assert started.status_code == 201, started.text
        session = started.json()
        assert when(session["paid_until"]) == clock.now + timedelta(hours=1)
        await pc.operation("unlock")
        for _ in range(18):  # an hour of heartbeats, each renewing the lease
            lease = await pc.heartbeat(session=session["id"])
            assert lease["session"] == session["id"]
            clock.advance(200)
        await round_of(server)  # the paid hour is over: the server ends the session
        ended = await pc.operation("end_session")
        assert ended["body"] == {"session": session["id"]}
        after = await pc.heartbeat(session=session["id"], state="locked")
        assert after["session"] is None
        await pc.close()

    asyncio.run(play())
    listed = api.get(f"{base}/sessions", params={"ended": "true"}).json()["data"]
    assert [(each["state"], each["end_reason"]) for each in listed] == [("ended", "time_up")]
    kinds = [kind for kind, _amount, _seconds in entries(server, club, "arman")]
    assert kinds == ["topup", "purchase", "session_charge"]
    assert api.get(f"{base}/customers/arman").json()["balance"] == "0.00"
