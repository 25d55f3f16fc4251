"""Moving a running bot's customers over (`kassa.services.bot.imports`): buyers and end
dates from CSV, all or nothing with every bad line named, the same file again (even twice
at once) changing nothing, a later end never shortened, and a renewal extending the
customer's own panel user."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from kassa.domain import ParameterInvalid, Shop
from kassa.services.bot import activation, buyers, imports, lookup
from kassa.store.tables import bot_buyers, bot_provisioning, bot_subscriptions
from tests.bot.conftest import FakePanel, bot_shop, buy, consume, ends_at, rows
from tests.bot.test_activation import provision
from tests.live import LiveServer


def telegram_ids(count: int) -> list[int]:
    return [secrets.randbelow(10**9) + 1 for _ in range(count)]


def apply(hub: LiveServer, shop: Shop, text: str, *, dry_run: bool = False) -> imports.Outcome:
    customers = imports.read(text)
    return hub.call(imports.apply(hub.ctx, shop_id=shop.id, customers=customers, dry_run=dry_run))


def subscriptions(hub: LiveServer, shop: Shop) -> dict[int, tuple[datetime, str | None]]:
    """The shop's subscriptions by Telegram id: their end and panel user name."""
    found = rows(hub, bot_buyers, bot_buyers.c.shop_id == shop.id)
    ids = {row["id"]: row["telegram_id"] for row in found}
    return {
        ids[row["buyer_id"]]: (row["ends_at"], row["panel_username"])
        for row in rows(hub, bot_subscriptions, bot_subscriptions.c.shop_id == shop.id)
    }


def test_customers_are_imported_once(hub: LiveServer) -> None:
    shop = bot_shop(hub)
    first, second, third = telegram_ids(3)
    text = (
        "\ufefftelegram_id,name,ends_at,panel_username,language\n"
        f"{first},Анна,2027-03-01,anna_vpn,ru\n"
        f"{second},Bob,2027-04-01T12:30:00+03:00,,en\n"
        "\n"
        f"{third},,2026-01-01,,\n"
    )
    dry = apply(hub, shop, text, dry_run=True)
    assert (dry.dry_run, dry.buyers_created, dry.subscriptions_created) == (True, 3, 3)
    assert subscriptions(hub, shop) == {}

    done = apply(hub, shop, text)
    assert (done.lines, done.buyers_created, done.subscriptions_created) == (3, 3, 3)
    assert (done.panel_users_linked, done.unchanged) == (1, 0)
    assert subscriptions(hub, shop) == {
        first: (datetime(2027, 3, 1, tzinfo=UTC), "anna_vpn"),
        second: (datetime(2027, 4, 1, 9, 30, tzinfo=UTC), None),
        third: (datetime(2026, 1, 1, tzinfo=UTC), None),  # ended: an expired customer
    }
    # Nothing for the panel or the buyers: they have their access.
    assert rows(hub, bot_provisioning, bot_provisioning.c.shop_id == shop.id) == []
    summary = hub.call(lookup.summary(hub.ctx, shop_id=shop.id))
    assert (summary.buyers, summary.active, summary.expired) == (3, 2, 1)

    # The same file again, twice at once: nothing changes.
    async def twice() -> list[imports.Outcome]:
        customers = imports.read(text)
        return list(
            await asyncio.gather(
                imports.apply(hub.ctx, shop_id=shop.id, customers=customers),
                imports.apply(hub.ctx, shop_id=shop.id, customers=customers),
            )
        )

    for again in hub.call(twice()):
        assert (again.buyers_created, again.subscriptions_created) == (0, 0)
        assert (again.subscriptions_moved, again.panel_users_linked, again.unchanged) == (0, 0, 3)
    assert len(subscriptions(hub, shop)) == 3


def test_a_later_end_is_kept_and_an_earlier_one_moved(hub: LiveServer) -> None:
    shop = bot_shop(hub)
    renewed, behind = telegram_ids(2)
    apply(hub, shop, f"{renewed},A,2027-01-01\n{behind},B,2027-01-01\n")
    outcome = apply(hub, shop, f"{renewed},A,2026-12-31\n{behind},B,2027-02-01,b_user\n")
    assert (outcome.subscriptions_moved, outcome.panel_users_linked) == (1, 1)
    assert outcome.unchanged == 1
    assert subscriptions(hub, shop) == {
        renewed: (datetime(2027, 1, 1, tzinfo=UTC), None),
        behind: (datetime(2027, 2, 1, tzinfo=UTC), "b_user"),
    }


def test_a_known_buyer_keeps_their_name_and_gets_no_trial(hub: LiveServer) -> None:
    shop = bot_shop(hub)
    (telegram_id,) = telegram_ids(1)
    known = hub.call(
        buyers.register(hub.ctx, shop_id=shop.id, telegram_id=telegram_id, name="From /start")
    )
    apply(hub, shop, f"{telegram_id},Old bot's name,2027-05-01\n")
    profile = hub.call(lookup.profile(hub.ctx, shop_id=shop.id, buyer_id=known.id))
    assert profile.buyer.name == "From /start"
    assert profile.subscription is not None
    assert profile.subscription.status == buyers.PAID
    with pytest.raises(Exception, match="never had a subscription"):
        hub.call(buyers.start_trial(hub.ctx, shop_id=shop.id, buyer_id=known.id))


def test_bad_lines_are_all_named_and_nothing_is_imported(hub: LiveServer) -> None:
    shop = bot_shop(hub)
    good, twice = telegram_ids(2)
    text = (
        "telegram_id,name,ends_at,panel_username,language\n"
        f"{good},Fine,2027-01-01\n"
        "12ab,Bad id,2027-01-01\n"
        f"{twice},Once,2027-01-01\n"
        f"{twice},Twice,2027-01-01\n"
        "42,Bad date,31.01.2027\n"
        "43,Bad user,2027-01-01,no spaces allowed\n"
        "44,Bad language,2027-01-01,,de\n"
        "45,Too,many,values,here,and more\n"
        "46\n"
    )
    with pytest.raises(ParameterInvalid) as refused:
        imports.read(text)
    message = refused.value.message
    named = {
        int(each.split(":")[0].removeprefix("line ")): each for each in message.splitlines()[1:]
    }
    assert sorted(named) == [3, 5, 6, 7, 8, 9, 10]
    for line, problem in (
        (3, "'12ab' is not a Telegram user id"),
        (5, f"telegram_id {twice} is on line 4 too"),
        (6, "'31.01.2027' is not an ISO date"),
        (7, "'no spaces allowed' is not a panel's user name"),
        (8, "language is ru or en, not 'de'"),
        (9, "6 values, not 3-5"),
        (10, "1 values, not 3-5"),
    ):
        assert problem in named[line], (line, message)
    for header in ("telegram_id,name\n1,A\n", "telegram_id,name,ends_at,colour\n"):
        with pytest.raises(ParameterInvalid, match="line 1: the columns are"):
            imports.read(header)
    # A quoted name over two lines: lines are counted as in the file.
    with pytest.raises(ParameterInvalid, match=r"\nline 3: ends_at 'bad'"):
        imports.read('1,"Two\nlines",2027-01-01\n2,B,bad\n')
    with pytest.raises(ParameterInvalid, match="line 1: telegram_id '²' is not a Telegram"):
        imports.read("²,A,2027-01-01\n")
    with pytest.raises(ParameterInvalid, match="no customers"):
        imports.read("telegram_id,name,ends_at\n")
    assert subscriptions(hub, shop) == {}


def test_a_customer_linked_to_another_panel_user_refuses_the_whole_file(hub: LiveServer) -> None:
    shop = bot_shop(hub)
    first, second = telegram_ids(2)
    apply(hub, shop, f"{first},A,2027-01-01,first_user\n")
    with pytest.raises(ParameterInvalid, match=r"line 2: .* has the panel user 'first_user'"):
        apply(hub, shop, f"{second},B,2027-01-01\n{first},A,2027-01-01,other_user\n")
    assert subscriptions(hub, shop) == {first: (datetime(2027, 1, 1, tzinfo=UTC), "first_user")}


def test_a_renewal_extends_the_customers_own_panel_user(hub: LiveServer) -> None:
    panel = FakePanel()
    shop = bot_shop(hub, panel="marzban", panel_url="https://panel", panel_password="panel-secret")
    (telegram_id,) = telegram_ids(1)
    end = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0)
    apply(hub, shop, f"{telegram_id},Moved,{end.isoformat()},old_bot_42\n")
    found = hub.call(
        buyers.register(hub.ctx, shop_id=shop.id, telegram_id=telegram_id, name="Moved")
    )
    buy(hub, shop, found)
    consume(hub)
    provision(hub, panel)
    assert [call.username for call in panel.calls] == ["old_bot_42"]
    assert panel.users == {"old_bot_42": end + timedelta(days=30)}
    assert ends_at(hub, found) == end + timedelta(days=30)
    assert activation.panel_username(telegram_id) not in panel.users
