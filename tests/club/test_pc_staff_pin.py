"""The staff PIN on a club's PCs: refused while the club has none, checked against its hash,
and held to `PIN_ATTEMPTS` wrong PINs per PC in `PIN_WINDOW`, however many hub requests try
at once (exactly that many are checked); every check is in the audit log, the PIN nowhere."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from kassa.protocol import club_pc
from kassa.services.admin import audit
from kassa.services.club import staff_pin
from kassa.services.club.clubs import Club
from tests.club.pc import Clock, add_pc
from tests.club.pc_api import error_code, pc_client
from tests.live import LiveServer

PIN = "4821"


@pytest.fixture
def pc(server: LiveServer, club: Club) -> Iterator[httpx.Client]:
    client = pc_client(server, add_pc(server, club))
    yield client
    client.close()


def checks(server: LiveServer, club: Club) -> list[tuple[str, str | None]]:
    """The audit log's staff PIN checks at the club's PCs, oldest first."""
    found, _ = server.call(audit.list_entries(server.ctx, limit=200))
    return [
        (entry.actor.name, entry.outcome)
        for entry in reversed(found)
        if entry.action == staff_pin.ACTION and entry.shop_id == club.shop_id
    ]


def test_no_pin_set_refuses_then_a_right_pin_grants_and_a_wrong_one_does_not(
    server: LiveServer, club: Club, pc: httpx.Client
) -> None:
    unset = pc.post("/club/pc/staff", json={"pin": PIN})
    assert (unset.status_code, error_code(unset)) == (403, "staff_pin_not_set")
    server.call(staff_pin.set_pin(server.ctx, club=club, pin=PIN))
    right = pc.post("/club/pc/staff", json={"pin": PIN})
    assert right.status_code == 200, right.text
    assert right.json() == {"seconds": staff_pin.GRANT_SECONDS}
    wrong = pc.post("/club/pc/staff", json={"pin": "0000"})
    assert (wrong.status_code, error_code(wrong)) == (401, "pin_invalid")
    assert checks(server, club) == [("pc:PC-01", "granted"), ("pc:PC-01", "refused")]
    entries, _ = server.call(audit.list_entries(server.ctx, limit=200))
    assert not any(PIN in str(entry.details) for entry in entries)


def test_a_pin_is_four_to_twelve_digits(server: LiveServer, club: Club) -> None:
    for pin in ("123", "1234567890123", "12a4", ""):
        with pytest.raises(Exception, match="4 to 12 digits"):
            server.call(staff_pin.set_pin(server.ctx, club=club, pin=pin))


def test_wrong_pins_are_limited_per_pc_even_at_once_and_the_window_frees_it(
    server: LiveServer, club: Club, pc: httpx.Client, clock: Clock
) -> None:
    server.call(staff_pin.set_pin(server.ctx, club=club, pin=PIN))

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            base_url=server.url,
            headers=dict(pc.headers),
            timeout=60,
            limits=httpx.Limits(max_connections=10),
        ) as client:
            return list(
                await asyncio.gather(
                    *(client.post("/club/pc/staff", json={"pin": "9999"}) for _ in range(10))
                )
            )

    statuses = sorted(answer.status_code for answer in asyncio.run(burst()))
    # Exactly as many as the limit reach the check, however the burst went.
    assert statuses == [401] * club_pc.PIN_ATTEMPTS + [429] * (10 - club_pc.PIN_ATTEMPTS)
    limited = pc.post("/club/pc/staff", json={"pin": PIN})
    assert (limited.status_code, error_code(limited)) == (429, "too_many_attempts")
    assert 0 < int(limited.headers["Retry-After"]) <= club_pc.PIN_WINDOW
    refused = [outcome for _, outcome in checks(server, club)]
    assert refused == ["refused"] * club_pc.PIN_ATTEMPTS  # checked ones only

    other = pc_client(server, add_pc(server, club, "PC-02"))
    assert other.post("/club/pc/staff", json={"pin": PIN}).status_code == 200
    other.close()
    clock.advance(club_pc.PIN_WINDOW + 1)
    assert pc.post("/club/pc/staff", json={"pin": PIN}).status_code == 200
