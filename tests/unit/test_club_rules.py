"""The club's pure rules: windows across midnight, weekdays, which tariff rule is in force, a
group's discount, and the fixed order time is used in."""

from __future__ import annotations

from datetime import datetime

import pytest

from kassa.domain import ParameterInvalid
from kassa.domain.club import (
    Held,
    TariffRule,
    Window,
    discounted,
    parse_weekdays,
    rate_at,
    usage_plan,
)

NIGHT = Window.parse("23:00-08:00")


@pytest.mark.parametrize(
    ("time", "inside"),
    [("22:59", False), ("23:00", True), ("00:00", True), ("07:59", True), ("08:00", False)],
)
def test_a_window_across_midnight(time: str, inside: bool) -> None:
    hours, minutes = map(int, time.split(":"))
    assert NIGHT.contains(hours * 60 + minutes) is inside


def test_a_window_ends_with_its_own_occurrence() -> None:
    assert NIGHT.ends_after(datetime(2026, 12, 5, 23, 30)) == datetime(2026, 12, 6, 8, 0)
    assert NIGHT.ends_after(datetime(2026, 12, 6, 2, 0)) == datetime(2026, 12, 6, 8, 0)
    day = Window.parse("10:00-18:00")
    assert day.ends_after(datetime(2026, 12, 6, 12, 0)) == datetime(2026, 12, 6, 18, 0)
    assert str(NIGHT) == "23:00-08:00"


@pytest.mark.parametrize("text", ["23:00", "25:00-08:00", "10:00-10:00", "ten-eleven", ""])
def test_bad_windows_are_refused(text: str) -> None:
    with pytest.raises(ParameterInvalid):
        Window.parse(text)


def test_weekdays() -> None:
    assert parse_weekdays("mon-fri") == {0, 1, 2, 3, 4}
    assert parse_weekdays("sat,sun") == {5, 6}
    assert parse_weekdays("fri-mon") == {4, 5, 6, 0}
    with pytest.raises(ParameterInvalid):
        parse_weekdays("funday")


def test_the_most_specific_rule_in_force_wins() -> None:
    rules = [
        TariffRule(1000),
        TariffRule(800, weekdays=frozenset({5, 6})),
        TariffRule(600, window=NIGHT),
        TariffRule(500, weekdays=frozenset({4}), window=NIGHT),
    ]
    wednesday_noon = datetime(2026, 12, 2, 12, 0)
    saturday_noon = datetime(2026, 12, 5, 12, 0)
    wednesday_night = datetime(2026, 12, 2, 23, 30)
    # After midnight, Friday's night is still Friday's: 02:00 on Saturday.
    friday_night_late = datetime(2026, 12, 5, 2, 0)
    assert rate_at(rules, wednesday_noon) == 1000
    assert rate_at(rules, saturday_noon) == 800
    assert rate_at(rules, wednesday_night) == 600
    assert rate_at(rules, friday_night_late) == 500
    assert rate_at([TariffRule(600, window=NIGHT)], wednesday_noon) is None


def test_a_group_discount_rounds_half_up_to_a_minor_unit() -> None:
    assert discounted(1000, 10) == 900
    assert discounted(999, 15) == 849  # 849.15
    assert discounted(5, 50) == 3  # 2.5
    assert discounted(1000, 100) == 0


def test_time_is_used_packages_then_the_time_bank_then_the_balance() -> None:
    held = [Held("hold_a", "Night", 600), Held("hold_b", "1 hour", 3600)]
    plan = usage_plan(held=held, time_bank=900, balance=20_000, rate=lambda _: 1000, seconds=6000)
    assert [(use.kind, use.seconds, use.amount) for use in plan.uses] == [
        ("package", 600, 0),
        ("package", 3600, 0),
        ("time_bank", 900, 0),
        ("balance", 900, 15_000),
    ]
    assert (plan.seconds, plan.short, plan.amount) == (6000, 0, 15_000)


def test_the_balance_pays_whole_minutes_at_each_minutes_rate_and_runs_out() -> None:
    # 25.00 at 10.00 a minute for two minutes, then 7.00: 10 + 10 + 7 = 27 > 25 → two minutes.
    plan = usage_plan(
        held=[],
        time_bank=0,
        balance=2500,
        rate=lambda minute: 1000 if minute < 2 else 700,
        seconds=600,
    )
    assert [(use.kind, use.seconds, use.amount) for use in plan.uses] == [("balance", 120, 2000)]
    assert plan.short == 480
    # As long as they can: a partial minute is charged whole.
    longest = usage_plan(held=[], time_bank=30, balance=2500, rate=lambda _: 1000)
    assert [(use.kind, use.seconds) for use in longest.uses] == [
        ("time_bank", 30),
        ("balance", 120),
    ]
    assert longest.amount == 2000


def test_no_rate_no_play_on_the_balance() -> None:
    plan = usage_plan(held=[], time_bank=0, balance=10_000, rate=lambda _: None, seconds=60)
    assert plan.uses == ()
    assert plan.short == 60
