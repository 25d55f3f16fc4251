"""The ledger: balances and time banks are the sums of their entries, a debit never overdraws
even when several come at once, an entry with a key happens once, and `kassa audit` finds a
balance that is not its ledger's sum."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, update

from kassa.domain import AuthenticationFailed, Conflict, InsufficientFunds, NotFound
from kassa.domain.club import LedgerKind
from kassa.services.club import customers, ledger, packages
from kassa.services.club.clubs import Club
from kassa.services.operations import integrity
from kassa.store.tables import club_customers, club_ledger
from tests.club.conftest import customer
from tests.live import LiveServer


def _sums(server: LiveServer, login: str, club: Club) -> tuple[int, int, int, int]:
    """The customer's balance and time bank, and the sums of their entries."""

    async def read() -> tuple[int, int, int, int]:
        async with server.ctx.db.read() as conn:
            row = await customers.find(conn, club=club, login=login)
            entries = (
                await conn.execute(
                    select(club_ledger.c.amount, club_ledger.c.seconds).where(
                        club_ledger.c.customer_id == row.id
                    )
                )
            ).all()
            return (
                row.balance,
                row.time_bank,
                sum(entry.amount for entry in entries),
                sum(entry.seconds for entry in entries),
            )

    return server.call(read())


def test_balance_and_time_bank_are_the_sums_of_the_entries(server: LiveServer, club: Club) -> None:
    login = customer(server, club, balance=150_000)
    ctx = server.ctx
    server.call(ledger.topup(ctx, club=club, login=login, amount=50_000, actor="cli"))
    server.call(
        ledger.correct(ctx, club=club, login=login, seconds=3600, reason="gift", actor="cli")
    )
    server.call(
        ledger.correct(ctx, club=club, login=login, amount=-10_050, reason="miscount", actor="cli")
    )
    balance, time_bank, amounts, seconds = _sums(server, login, club)
    assert (balance, time_bank) == (189_950, 3600) == (amounts, seconds)
    entries = server.call(ledger.entries(ctx, club=club, login=login))
    assert [entry.kind for entry in entries] == [
        LedgerKind.CORRECTION,
        LedgerKind.CORRECTION,
        LedgerKind.TOPUP,
        LedgerKind.TOPUP,
    ]
    assert entries[0].reason == "miscount"
    assert entries[0].actor == "cli"
    assert entries[-1].method == "cash"


def test_nothing_goes_below_zero_and_a_refused_entry_is_not_written(
    server: LiveServer, club: Club
) -> None:
    login = customer(server, club, balance=1000)
    ctx = server.ctx
    with pytest.raises(InsufficientFunds):
        server.call(
            ledger.correct(ctx, club=club, login=login, amount=-1001, reason="x", actor="cli")
        )
    with pytest.raises(InsufficientFunds):
        server.call(
            ledger.correct(ctx, club=club, login=login, seconds=-1, reason="x", actor="cli")
        )
    assert len(server.call(ledger.entries(ctx, club=club, login=login))) == 1
    assert _sums(server, login, club)[:2] == (1000, 0)


def test_concurrent_purchases_never_overdraw_and_each_that_passed_is_in_the_ledger(
    server: LiveServer, club: Club
) -> None:
    """Eight purchases of 350 at once from 1000: two pass, six are refused, the balance is
    300 and the ledger says the same (on SQLite and PostgreSQL)."""
    server.call(packages.add(server.ctx, club=club, name="1 hour", seconds=3600, price=35_000))
    login = customer(server, club, balance=100_000)

    async def all_at_once() -> list[object]:
        buys = [
            packages.buy(server.ctx, club=club, login=login, package="1 hour", actor="test")
            for _ in range(8)
        ]
        return await asyncio.gather(*buys, return_exceptions=True)

    outcomes = server.call(all_at_once())
    assert sum(isinstance(each, ledger.Entry) for each in outcomes) == 2
    assert sum(isinstance(each, InsufficientFunds) for each in outcomes) == 6
    assert _sums(server, login, club) == (30_000, 0, 30_000, 0)


def test_concurrent_entries_with_one_key_happen_once(server: LiveServer, club: Club) -> None:
    login = customer(server, club)

    async def all_at_once() -> list[ledger.Entry]:
        posts = [
            ledger.topup(
                server.ctx, club=club, login=login, amount=5000, actor="test", key="payment:pay_1"
            )
            for _ in range(5)
        ]
        return await asyncio.gather(*posts)

    entries = server.call(all_at_once())
    assert len({entry.id for entry in entries}) == 1
    assert sum(not entry.replayed for entry in entries) == 1
    assert _sums(server, login, club) == (5000, 0, 5000, 0)
    # The key is the club's: another customer's entry with it is the first one again.
    other = customer(server, club)
    again = server.call(
        ledger.topup(server.ctx, club=club, login=other, amount=1, actor="t", key="payment:pay_1")
    )
    assert again.replayed
    assert again.customer_id == entries[0].customer_id


def test_a_purchase_with_a_key_is_bought_once(server: LiveServer, club: Club) -> None:
    server.call(packages.add(server.ctx, club=club, name="30 min", seconds=1800, price=15_000))
    login = customer(server, club, balance=100_000)
    first, second = (
        server.call(
            packages.buy(
                server.ctx, club=club, login=login, package="30 min", actor="t", key="req:1"
            )
        )
        for _ in range(2)
    )
    assert (first.replayed, second.replayed, first.id) == (False, True, second.id)
    assert _sums(server, login, club)[0] == 85_000


def test_blocked_and_deleted_customers(server: LiveServer, club: Club) -> None:
    server.call(packages.add(server.ctx, club=club, name="1 hour", seconds=3600, price=35_000))
    login = customer(server, club, balance=100_000)
    ctx = server.ctx
    assert server.call(customers.verify(ctx, club=club, login=login, password="secret-1"))
    with pytest.raises(AuthenticationFailed):
        server.call(customers.verify(ctx, club=club, login=login, password="wrong"))
    with pytest.raises(AuthenticationFailed):
        server.call(customers.verify(ctx, club=club, login="nobody", password="secret-1"))
    server.call(customers.block(ctx, club=club, login=login))
    with pytest.raises(Conflict, match="blocked"):
        server.call(customers.verify(ctx, club=club, login=login, password="secret-1"))
    with pytest.raises(Conflict, match="blocked"):
        server.call(packages.buy(ctx, club=club, login=login, package="1 hour", actor="t"))
    server.call(customers.block(ctx, club=club, login=login, blocked=False))
    server.call(packages.buy(ctx, club=club, login=login, package="1 hour", actor="t"))
    deleted = server.call(customers.delete(ctx, club=club, login=login))
    assert deleted.status == "deleted"
    with pytest.raises(NotFound):
        server.call(ledger.topup(ctx, club=club, login=login, amount=1, actor="t"))
    # The ledger stays, and the login is not given to anyone else.
    assert len(server.call(ledger.entries(ctx, club=club, login=login))) == 2
    with pytest.raises(Conflict, match="never reused"):
        server.call(customers.register(ctx, club=club, login=login, password="secret-2"))
    assert login not in [c.login for c in server.call(customers.list_customers(ctx, club=club))]


def test_the_audit_finds_a_balance_that_is_not_its_ledgers_sum(
    server: LiveServer, club: Club
) -> None:
    login = customer(server, club, balance=1000)
    checks = [check for check in integrity.CHECKS if check.name == "club_balances"]

    def findings() -> list[str]:
        (report,) = server.call(integrity.audit(server.ctx, checks))
        return [finding.problem for finding in report.findings]

    assert not [problem for problem in findings() if "1000" in problem]

    async def tamper() -> str:
        async with server.ctx.db.write() as conn:
            row = await customers.find(conn, club=club, login=login)
            await conn.execute(
                update(club_customers)
                .where(club_customers.c.id == row.id)
                .values(balance=999_999, time_bank=60)
            )
            return row.id

    customer_id = server.call(tamper())
    (report,) = server.call(integrity.audit(server.ctx, checks))
    mine = [finding.problem for finding in report.findings if finding.subject == customer_id]
    assert mine == [
        "its balance is 999999, its ledger adds up to 1000",
        "its time bank is 60 s, its ledger adds up to 0 s",
    ]

    async def repair() -> None:
        async with server.ctx.db.write() as conn:
            await conn.execute(
                update(club_customers)
                .where(club_customers.c.id == customer_id)
                .values(balance=1000, time_bank=0)
            )

    server.call(repair())
