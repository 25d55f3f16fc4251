"""Shifts: opened with the cash in the drawer, one open per club (opened together: one), read
with an X report while open and closed with the Z report, the expected cash against the
counted and the difference recorded; through the services, the API and the CLI."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest
from typer.testing import CliRunner

from kassa.domain import Conflict, new_id
from kassa.domain.club import LedgerKind
from kassa.services.club import customers, ledger, packages, shifts
from kassa.services.club.clubs import Club
from kassa.services.context import utcnow
from tests.cli.conftest import invoke
from tests.club.conftest import at, customer
from tests.live import LiveServer


def test_opened_together_one_shift_opens(server: LiveServer, club: Club) -> None:
    async def open_at_once() -> list[object]:
        return await asyncio.gather(
            *(
                shifts.open_shift(server.ctx, club=club, cash=100000, actor=f"desk-{n}")
                for n in range(8)
            ),
            return_exceptions=True,
        )

    results = server.call(open_at_once())
    opened = [r for r in results if isinstance(r, shifts.Shift)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert (len(opened), len(refused)) == (1, 7), results
    assert {r.code for r in refused} == {"shift_open"}
    assert server.call(shifts.current(server.ctx, club=club)).id == opened[0].id


def _session_charge(server: LiveServer, club: Club, login: str, amount: int) -> None:
    """A session's charge as the sessions will post it (the ledger's one way in)."""

    async def post() -> None:
        async with server.ctx.db.write() as conn:
            found = await customers.find(conn, club=club, login=login)
            await ledger.post(
                conn,
                club=club,
                customer_id=found.id,
                kind=LedgerKind.SESSION_CHARGE,
                amount=-amount,
                actor="test",
                now=utcnow(),
            )

    server.call(post())


def test_a_shift_from_open_to_its_z_report(server: LiveServer, club: Club) -> None:
    ctx = server.ctx
    before = customer(server, club, balance=50000)  # before the shift: in no report
    opened = server.call(shifts.open_shift(ctx, club=club, cash=200000, actor="desk"))
    arman = customer(server, club)
    server.call(ledger.topup(ctx, club=club, login=arman, amount=150000, actor="desk"))
    server.call(
        ledger.topup(ctx, club=club, login=arman, amount=70000, actor="desk", method="card")
    )
    _online_credit(server, club, arman, 30000)
    server.call(packages.add(ctx, club=club, name=f"1h-{club.name}", seconds=3600, price=35000))
    server.call(packages.buy(ctx, club=club, login=arman, package=f"1h-{club.name}", actor="d"))
    _session_charge(server, club, arman, 5000)
    server.call(
        ledger.correct(ctx, club=club, login=before, reason="gift", seconds=600, actor="desk")
    )

    shift, x = server.call(shifts.x_report(ctx, club=club))
    assert shift.id == opened.id
    assert shift.open
    assert (x.opening_cash, x.cash, x.card, x.online) == (200000, 150000, 70000, 30000)
    assert (x.packages, x.packages_sold, x.sessions, x.session_charges) == (35000, 1, 5000, 1)
    assert (x.corrections, x.correction_seconds, x.corrections_made) == (0, 600, 1)
    assert x.expected_cash == 350000

    later = at(server, utcnow() + timedelta(seconds=1))
    closed, z = server.call(shifts.close_shift(later, club=club, counted=349000, actor="desk"))
    assert (closed.expected_cash, closed.counted_cash, closed.difference) == (350000, 349000, -1000)
    assert (z.cash, z.card, z.online, z.expected_cash) == (150000, 70000, 30000, 350000)
    assert closed.report is not None
    assert closed.report["expected_cash"] == 350000
    assert shifts.Report.from_record(closed.report) == z
    with pytest.raises(Conflict) as twice:
        server.call(shifts.close_shift(later, club=club, counted=0, actor="desk"))
    assert twice.value.code == "no_open_shift"
    # The next shift starts afresh.
    server.call(shifts.open_shift(later, club=club, cash=349000, actor="desk"))
    _, fresh = server.call(shifts.x_report(at(server, utcnow() + timedelta(seconds=2)), club=club))
    assert (fresh.cash, fresh.online, fresh.expected_cash) == (0, 0, 349000)


def _online_credit(server: LiveServer, club: Club, login: str, amount: int) -> None:
    """An online top-up's entry, as the `club-topups` consumer posts it."""

    async def post() -> None:
        async with server.ctx.db.write() as conn:
            found = await customers.find(conn, club=club, login=login)
            await ledger.post(
                conn,
                club=club,
                customer_id=found.id,
                kind=LedgerKind.TOPUP,
                amount=amount,
                method=ledger.ONLINE,
                actor="test",
                now=utcnow(),
                key=f"payment:{new_id('pay')}",
            )

    server.call(post())


def test_shifts_through_the_api(api: httpx.Client, club: Club) -> None:
    base = f"/v1/club/{club.name}/shifts"
    assert api.get(f"{base}/current").json()["error"]["code"] == "no_open_shift"
    opened = api.post(base, json={"cash": "2000"})
    assert opened.status_code == 201, opened.text
    assert (opened.json()["status"], opened.json()["opening_cash"]) == ("open", "2000.00")
    twice = api.post(base, json={"cash": "2000"})
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "shift_open")
    assert api.post(base, json={"cash": 1.5}).status_code == 422
    x = api.get(f"{base}/current").json()
    assert x["report"]["expected_cash"] == "2000.00"
    closed = api.post(f"{base}/current/close", json={"counted": "2100"})
    assert closed.status_code == 200, closed.text
    document = closed.json()
    assert (document["status"], document["difference"]) == ("closed", "100.00")
    assert document["report"]["expected_cash"] == "2000.00"
    listed = api.get(base).json()["data"]
    assert [(s["id"], s["report"]["expected_cash"]) for s in listed] == [
        (document["id"], "2000.00")
    ]


def test_shifts_on_the_command_line(kassa: CliRunner, server: LiveServer, club: Club) -> None:
    opened = invoke(kassa, "club", "shift", "open", club.name, "--cash", "1000")
    assert opened.exit_code == 0, opened.output
    assert "open with 1000.00 KZT" in opened.stdout
    login = customer(server, club)
    assert invoke(kassa, "club", "topup", club.name, login, "250", "--cash").exit_code == 0
    assert invoke(kassa, "club", "topup", club.name, login, "100", "--card").exit_code == 0
    x = invoke(kassa, "club", "shift", "x", club.name)
    assert "expected cash" in x.stdout, x.output
    assert "1250.00 KZT" in x.stdout, x.output
    closed = invoke(kassa, "club", "shift", "close", club.name, "--counted", "1240", "--json")
    assert closed.exit_code == 0, closed.output
    document = json.loads(closed.stdout)
    assert (document["report"]["card"], document["difference"]) == ("100.00", "-10.00")
    again = invoke(kassa, "club", "shift", "x", club.name)
    assert again.exit_code == 1
    assert "no open shift" in again.stderr
    both = invoke(kassa, "club", "topup", club.name, login, "1", "--cash", "--card")
    assert both.exit_code == 2
