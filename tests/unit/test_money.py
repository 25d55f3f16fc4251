"""Money: minor units, the exponent table, exact conversion at the edges."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kassa.domain import CURRENCY_EXPONENTS, MAX_AMOUNT, Money, currency_exponent
from kassa.domain.errors import AmountInvalid, CurrencyUnsupported
from kassa.domain.money import format_major, from_decimal, to_decimal


def test_exponent_table() -> None:
    assert dict(CURRENCY_EXPONENTS) == {
        "RUB": 2,
        "KZT": 2,
        "USD": 2,
        "EUR": 2,
        "XTR": 0,
        "USDT": 6,
        "TON": 9,
        "BTC": 8,
    }


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(CurrencyUnsupported) as error:
        currency_exponent("XYZ")
    assert error.value.param == "currency"
    with pytest.raises(CurrencyUnsupported):
        Money(100, "rub")


@pytest.mark.parametrize(
    ("amount", "currency", "major"),
    [
        (150000, "RUB", "1500.00"),
        (1, "KZT", "0.01"),
        (150, "XTR", "150"),
        (10_500_000, "USDT", "10.500000"),
        (1, "TON", "0.000000001"),
        (123_456_789, "BTC", "1.23456789"),
        (0, "EUR", "0.00"),
    ],
)
def test_conversion_both_ways(amount: int, currency: str, major: str) -> None:
    assert format_major(amount, currency) == major
    assert to_decimal(amount, currency) == Decimal(major)
    assert from_decimal(major, currency) == amount
    assert Money.from_major(major, currency) == Money(amount, currency)


def test_more_digits_than_the_currency_has_is_refused() -> None:
    with pytest.raises(AmountInvalid):
        from_decimal("10.001", "RUB")
    with pytest.raises(AmountInvalid):
        from_decimal("1.5", "XTR")
    assert from_decimal("10.10", "RUB") == 1010
    assert from_decimal("10.1000", "RUB") == 1010


@pytest.mark.parametrize(
    "value",
    # Decimal() itself would take the last six: spaces, underscores, exponents, a sign,
    # other scripts' digits (fullwidth, Arabic-Indic).
    [
        1.5,
        True,
        "abc",
        "NaN",
        "Infinity",
        "",
        " 12",
        "1_000",
        "1e3",
        "+5",
        "\uff11\uff12",
        "\u0661",
    ],
)
def test_non_decimal_values_are_refused(value: object) -> None:
    with pytest.raises(AmountInvalid):
        from_decimal(value, "RUB")  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", [-1, MAX_AMOUNT + 1, 1.0, True, "100"])
def test_money_refuses_bad_amounts(amount: object) -> None:
    with pytest.raises(AmountInvalid):
        Money(amount, "RUB")  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=MAX_AMOUNT), st.sampled_from(sorted(CURRENCY_EXPONENTS)))
def test_round_trip_is_exact(amount: int, currency: str) -> None:
    assert from_decimal(format_major(amount, currency), currency) == amount
    assert Money.from_major(to_decimal(amount, currency), currency).amount == amount


def test_str() -> None:
    assert str(Money(150000, "RUB")) == "1500.00 RUB"
