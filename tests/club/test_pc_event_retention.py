"""The club PCs' journalled events are deleted `KASSA_CLUB_PC_EVENT_RETENTION_DAYS` after the
hub received them, by a job of the background loop; newer ones and the launch log stay. On
both databases."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from kassa.services.club import apps, pc_events
from kassa.services.club.clubs import Club
from kassa.services.operations.background import JOBS
from kassa.services.operations.jobs import Job
from kassa.store.tables import club_pc_events
from tests.club.conftest import at
from tests.club.pc import Clock, add_pc
from tests.club.pc_api import pc_client
from tests.live import LiveServer


def post(pc: httpx.Client, first: int, *kinds: str) -> None:
    events = [
        {
            "id": f"00000000-0000-0000-0000-{first + n:012d}",
            "seq": first + n,
            "kind": kind,
            "at": "2026-12-06T10:00:00Z",
            **({"app": "Dota 2"} if kind == "launch" else {}),
        }
        for n, kind in enumerate(kinds)
    ]
    answer = pc.post("/club/pc/events", json={"events": events})
    assert answer.status_code == 200, answer.text


def held(server: LiveServer, club: Club) -> list[int]:
    e = club_pc_events.c

    async def read() -> list[int]:
        async with server.ctx.db.read() as conn:
            query = select(e.pc_seq).where(e.club_id == club.id).order_by(e.pc_seq)
            return list((await conn.execute(query)).scalars())

    return server.call(read())


def test_events_past_their_retention_are_deleted_by_the_background_job(
    server: LiveServer, club: Club, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    pc = pc_client(server, add_pc(server, club))
    post(pc, 1, "unlock", "launch", "tick")
    clock.advance(timedelta(days=60).total_seconds())
    post(pc, 4, "tick", "lock")
    pc.close()
    days = server.ctx.settings.club_pc_event_retention_days
    assert days == 90
    # The background loop runs it.
    assert [each.every for each in JOBS if isinstance(each, Job) and each.run is pc_events.prune]

    # A day short of the first batch's retention: nothing goes.
    first_received = clock.now - timedelta(days=60)
    server.call(pc_events.prune(at(server, first_received + timedelta(days=days - 1))))
    assert held(server, club) == [1, 2, 3, 4, 5]

    monkeypatch.setattr(pc_events, "PRUNE_BATCH", 2)
    pruned = server.call(
        pc_events.prune(at(server, first_received + timedelta(days=days, seconds=1)))
    )
    assert pruned >= 3  # other tests' old events too, on a shared database
    assert held(server, club) == [4, 5]
    launched = server.call(apps.launches(server.ctx, club=club))
    assert [each.app for each in launched] == ["Dota 2"]
