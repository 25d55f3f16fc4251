"""The real club agent (`CoreThread`: its core, link and HTTP client) against the real hub on
loopback, through a forwarder the test cuts (`Cuttable`: the link and the PC's API both go
through it, as one network would). Heartbeats are made fast; the agent's monotonic clock is
the test's (`FakeClock`), the hub's is the clubs' `clock` fixture."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from kassa.clubagent import core as core_module
from kassa.clubagent.config import ClubAgentConfig
from kassa.clubagent.controller import CoreThread
from kassa.services.club import floor as floor_module
from kassa.services.club.clubs import Club
from kassa.store.tables import club_pc_events
from tests.club.pc import add_pc
from tests.clubagent.cuttable import Cuttable
from tests.clubagent.fakes import FakeClock
from tests.live import LiveServer

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], timeout: float = 10.0) -> T:
    """What `probe` answers once it answers something (not None, not False), within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None and found is not False:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not reached in {timeout} s: {probe()!r}")


@dataclass
class Pc:
    thread: CoreThread
    mono: FakeClock
    link: Cuttable
    token: str
    config: ClubAgentConfig


def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Heartbeats every 0.3 s, top-ups polled every 0.2 s and shown settled for 2 s."""
    monkeypatch.setattr(floor_module, "HEARTBEAT_INTERVAL", 0.3)
    monkeypatch.setattr(core_module, "TOPUP_POLL", 0.2)
    monkeypatch.setattr(core_module, "TOPUP_SHOWN", 2.0)


@contextmanager
def running_pc(
    server: LiveServer, club: Club, data_dir: Path, *, online: bool = True, link_cut: bool = False
) -> Iterator[Pc]:
    """PC-01 of `club` with the real agent's core running (linked, if `online`). `link_cut`:
    its link's forwarder is down from the start (the hub has never heard it over the link),
    while its HTTP calls go straight to the hub."""
    token = add_pc(server, club)
    link = Cuttable(int(urlsplit(server.url).port or 0)).start()
    if link_cut:
        link.down = True  # before the agent starts: no connection to drop yet
        online = False
    config = ClubAgentConfig(
        hub_url=f"ws://127.0.0.1:{link.port}/club/ws",
        api_url=server.url if link_cut else f"http://127.0.0.1:{link.port}",
        token=token,
        data_dir=data_dir,
        backoff_max=0.5,
    )
    mono = FakeClock()
    thread = CoreThread(config, clock=mono, boot="boot-1")
    thread.open()
    try:
        if online:
            eventually(lambda: thread.view.online and thread.view.screen is not None)
        yield Pc(thread, mono, link, token, config)
    finally:
        thread.close()
        link.stop()


def hub_events(server: LiveServer, club: Club) -> list[tuple[str, str | None]]:
    """The PC events the hub holds of `club`'s PCs, by their `seq`: (kind, reason)."""

    async def read() -> list[tuple[str, str | None]]:
        e = club_pc_events.c
        async with server.ctx.db.read() as conn:
            rows = await conn.execute(
                select(e.kind, e.reason).where(e.club_id == club.id).order_by(e.pc_seq)
            )
            return [(row.kind, row.reason) for row in rows]

    return server.call(read())


def lease_until(pc: Pc, moment: datetime) -> None:
    """Wait until the PC holds a lease running to `moment` (a renewal answered, not only the
    countdown moved: the paid time left moves with the clocks alone). The tests move the PC's
    clock before the hub's, so that no lease answered in between reads a later hub time
    against an earlier PC time."""

    def held() -> bool:
        kept = pc.thread.core.countdown.held
        return kept is not None and kept.lease.lease_expires_at == moment

    eventually(held)
