"""A real `kassa worker` killed with SIGKILL while it credits an online top-up, after its
ledger entry was written and before the commit (`tests.club.topup_kill_plugin`): nothing of it
stays, and the next worker credits the top-up once."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from kassa.services.club import customers, topups
from kassa.services.club.clubs import Club
from kassa.store.tables import club_ledger, club_topups, consumer_receipts
from tests.club.conftest import customer
from tests.helpers import checkout
from tests.live import LiveServer
from tests.worker_process import Worker, eventually

PLUGIN = "tests.club.topup_kill_plugin:consumer"
#: The plugin's variable (not imported from it: its kill hook is for the worker alone).
KILLED = "CLUB_TOPUP_KILLED"


@pytest.fixture(scope="module")
def server(own_database_url: str) -> Iterator[LiveServer]:
    """A Kassa of the module's own: only the workers run background work on it."""
    live = LiveServer(own_database_url).start()
    try:
        yield live
    finally:
        live.stop()


def credited(server: LiveServer, club: Club, login: str, payment_id: str) -> tuple[int, str, int]:
    """The customer's balance, the top-up's status, and the consumer's receipts of it."""

    async def read() -> tuple[int, str, int]:
        async with server.ctx.db.read() as conn:
            found = await customers.find(conn, club=club, login=login)
            status = (
                await conn.execute(
                    select(club_topups.c.status).where(club_topups.c.payment_id == payment_id)
                )
            ).scalar_one()
            entries = (
                await conn.execute(
                    select(club_ledger.c.id).where(
                        club_ledger.c.idempotency_key == topups.ledger_key(payment_id)
                    )
                )
            ).all()
            receipts = (
                await conn.execute(
                    select(consumer_receipts.c.event_id).where(
                        consumer_receipts.c.consumer == topups.NAME
                    )
                )
            ).all()
        assert len(entries) == (1 if found.balance else 0)
        return found.balance, status, len(receipts)

    return server.call(read())


def test_a_worker_killed_before_crediting_commits_is_made_good_once(
    *,
    server: LiveServer,
    api: httpx.Client,
    club: Club,
    own_database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    login = customer(server, club)
    answer = api.post(f"/v1/club/{club.name}/topups", json={"customer": login, "amount": "900"})
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert checkout(server, made, "pay").status_code == 200
    killed = tmp_path / "killed"
    monkeypatch.setenv(KILLED, str(killed))

    first = Worker(own_database_url, PLUGIN)
    try:
        assert first.wait() == -signal.SIGKILL, first.text
    finally:
        if first.process.poll() is None:
            first.process.kill()
    assert killed.exists()  # it died at the commit of the credit
    assert credited(server, club, login, made["payment"]) == (0, "pending", 0)

    second = Worker(own_database_url, PLUGIN)
    try:
        eventually(
            lambda: credited(server, club, login, made["payment"])[0] > 0,
            what=f"the top-up to be credited:\n{second.text}",
        )
        assert second.stop() == 0, second.text
    finally:
        if second.process.poll() is None:
            second.process.kill()
    assert credited(server, club, login, made["payment"]) == (90000, "credited", 1)
