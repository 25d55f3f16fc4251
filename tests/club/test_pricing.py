"""Tariffs, packages and the preview: window packages bought only inside their window in the
club's time zone (across midnight) and ending with it, zone packages used only in their zone,
time used in the fixed order, a member group's discount; a preview changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kassa.domain import Conflict
from kassa.services.club import clubs, customers, ledger, packages, pricing
from kassa.services.club.clubs import Club
from tests.club.conftest import at, customer
from tests.live import LiveServer

# Asia/Almaty is UTC+5: 23:30 there on Saturday 5 December is 18:30 UTC.
SATURDAY_2330 = datetime(2026, 12, 5, 18, 30, tzinfo=UTC)


@pytest.fixture
def priced(server: LiveServer, club: Club) -> Club:
    """10.00 a minute in VIP, 7.00 at night; 5.00 in Standard; a night pass and a VIP hour."""

    async def setup() -> None:
        ctx = server.ctx
        await pricing.set_rate(ctx, club=club, zone="VIP", per_minute=1000)
        await pricing.set_rate(ctx, club=club, zone="VIP", per_minute=700, hours="23:00-08:00")
        await pricing.set_rate(ctx, club=club, zone="Standard", per_minute=500)
        await packages.add(
            ctx, club=club, name="Night", seconds=10 * 3600, price=200_000, window="23:00-08:00"
        )
        await packages.add(ctx, club=club, name="VIP hour", seconds=3600, price=90_000, zone="VIP")

    server.call(setup())
    return club


@pytest.mark.parametrize(
    ("utc", "sold"),
    [
        (SATURDAY_2330 - timedelta(minutes=31), False),  # 22:59 there
        (SATURDAY_2330 - timedelta(minutes=30), True),  # 23:00
        (SATURDAY_2330 + timedelta(hours=3), True),  # 02:30 on Sunday
        (SATURDAY_2330 + timedelta(hours=8, minutes=29), True),  # 07:59
        (SATURDAY_2330 + timedelta(hours=8, minutes=30), False),  # 08:00
    ],
)
def test_a_night_pass_is_sold_only_in_its_window_in_the_clubs_time_zone(
    server: LiveServer, priced: Club, utc: datetime, sold: bool
) -> None:
    login = customer(server, priced, balance=500_000)
    ctx = at(server, utc)
    preview = server.call(packages.preview_purchase(ctx, club=priced, login=login, package="Night"))
    assert (preview.refused is None) is sold
    if sold:
        # Its time ends with the window it was bought in: 08:00 on Sunday there.
        assert preview.expires_at == datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
        entry = server.call(packages.buy(ctx, club=priced, login=login, package="Night", actor="t"))
        assert entry.amount == -200_000
    else:
        with pytest.raises(Conflict, match="sold only 23:00-08:00"):
            server.call(packages.buy(ctx, club=priced, login=login, package="Night", actor="t"))
        assert server.call(customers.get(ctx, club=priced, login=login)).balance == 500_000


def test_play_uses_packages_then_the_time_bank_then_the_balance(
    server: LiveServer, priced: Club
) -> None:
    login = customer(server, priced, balance=500_000)
    ctx = at(server, SATURDAY_2330)
    server.call(packages.buy(ctx, club=priced, login=login, package="Night", actor="t"))
    server.call(packages.buy(ctx, club=priced, login=login, package="VIP hour", actor="t"))
    server.call(
        ledger.correct(ctx, club=priced, login=login, seconds=1200, reason="gift", actor="t")
    )
    # The night pass ends at 08:00, in 8.5 hours: it goes first, then the VIP hour, then the
    # time bank, then the balance, at the night rate (7.00) until 08:00 and 10.00 after.
    vip = server.call(pricing.preview_play(ctx, club=priced, login=login, zone="VIP"))
    assert vip.per_minute == 700
    kinds = [(use.kind, use.package, use.seconds) for use in vip.plan.uses]
    assert kinds[:3] == [
        ("package", "Night", 30_600),
        ("package", "VIP hour", 3600),
        ("time_bank", None, 1200),
    ]
    assert kinds[3][0] == "balance"
    # Past 08:00 (9 h 50 min of play so far) every minute costs 10.00: the 2 100.00 left
    # buys 210 minutes.
    assert vip.plan.uses[3].seconds == 210 * 60
    assert vip.plan.amount == 210_000
    # In Standard the VIP hour does not count, and the day rate there is 5.00.
    standard = server.call(
        pricing.preview_play(ctx, club=priced, login=login, zone="Standard", seconds=9 * 3600)
    )
    assert [(use.kind, use.package) for use in standard.plan.uses][:2] == [
        ("package", "Night"),
        ("time_bank", None),
    ]
    # A preview changes nothing.
    after = server.call(customers.get(ctx, club=priced, login=login))
    assert (after.balance, after.time_bank) == (210_000, 1200)


def test_a_member_group_pays_less_per_minute(server: LiveServer, priced: Club) -> None:
    server.call(clubs.add_group(server.ctx, club=priced, name="Regulars", discount_percent=10))
    ctx = at(server, SATURDAY_2330 - timedelta(hours=6))  # 17:30 there: the day rate
    server.call(
        customers.register(ctx, club=priced, login="regular", password="secret-1", group="Regulars")
    )
    server.call(ledger.topup(ctx, club=priced, login="regular", amount=9000, actor="t"))
    preview = server.call(pricing.preview_play(ctx, club=priced, login="regular", zone="VIP"))
    assert preview.per_minute == 900
    assert [(use.kind, use.seconds, use.amount) for use in preview.plan.uses] == [
        ("balance", 600, 9000)
    ]


def test_weekday_rules_and_replacing_a_rule(server: LiveServer, priced: Club) -> None:
    ctx = server.ctx
    server.call(pricing.set_rate(ctx, club=priced, zone="Standard", per_minute=400, days="sat,sun"))
    server.call(pricing.set_rate(ctx, club=priced, zone="Standard", per_minute=450, days="sun,sat"))
    standard = [
        t for t in server.call(pricing.list_tariffs(ctx, club=priced)) if t.zone == "Standard"
    ]
    assert [(t.per_minute, t.days, t.hours) for t in standard] == [
        (500, None, None),
        (450, "sat,sun", None),
    ]
    login = customer(server, priced, balance=100_000)
    saturday_noon = at(server, datetime(2026, 12, 5, 7, 0, tzinfo=UTC))
    monday_noon = at(server, datetime(2026, 12, 7, 7, 0, tzinfo=UTC))
    for ctx_at, rate in ((saturday_noon, 450), (monday_noon, 500)):
        found = server.call(pricing.preview_play(ctx_at, club=priced, login=login, zone="Standard"))
        assert found.per_minute == rate
