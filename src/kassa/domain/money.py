"""Money as integers in a currency's minor units.

Kassa keeps every amount as an integer count of the currency's smallest unit (150000 RUB is
1 500.00 ₽). `Decimal` appears only at the edges: parsing a provider's "1500.00" or printing one.
Floats never touch money.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import MappingProxyType

from kassa.domain.errors import AmountInvalid, CurrencyUnsupported

#: Digits after the decimal point per currency. XTR is Telegram Stars (whole stars only).
CURRENCY_EXPONENTS: Mapping[str, int] = MappingProxyType(
    {
        "RUB": 2,
        "KZT": 2,
        "USD": 2,
        "EUR": 2,
        "XTR": 0,
        "USDT": 6,
        "TON": 9,
        "BTC": 8,
    }
)

#: The largest amount Kassa accepts, in minor units: fits a signed 64-bit column with room to sum.
MAX_AMOUNT = 10**15


def currency_exponent(currency: str) -> int:
    """The number of minor-unit digits of `currency`, or `CurrencyUnsupported`."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise CurrencyUnsupported(currency) from None


def to_decimal(amount: int, currency: str) -> Decimal:
    """Minor units to a major-unit `Decimal` with the currency's digits: 150000 RUB → 1500.00."""
    exponent = currency_exponent(currency)
    return Decimal(amount).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))


_DECIMAL_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def from_decimal(value: Decimal | str | int, currency: str, *, param: str = "amount") -> int:
    """A major-unit value ("1500.00", Decimal, int) to minor units, refusing lost precision."""
    if isinstance(value, float | bool):
        raise AmountInvalid(f"{value!r} is not an exact decimal amount", param=param)
    exponent = currency_exponent(currency)
    if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value):
        # Decimal() would also take " 12", "1_000", "1e3" and other scripts' digits ("١٢");
        # a provider's amount is plain ASCII digits.
        raise AmountInvalid(f"{value[:40]!r} is not a decimal amount", param=param)
    try:
        decimal = Decimal(value)
    except (InvalidOperation, ValueError):
        raise AmountInvalid(f"{value!r} is not a decimal amount", param=param) from None
    if not decimal.is_finite():
        raise AmountInvalid(f"{value!r} is not a finite amount", param=param)
    minor = decimal.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise AmountInvalid(
            f"{value} has more than {exponent} decimal places for {currency}", param=param
        )
    return int(minor)


def format_major(amount: int, currency: str) -> str:
    """Minor units as a plain major-unit string with the currency's digits: "1500.00"
    (never exponent notation, which `str(Decimal)` uses for tiny values: 1E-9)."""
    return format(to_decimal(amount, currency), "f")


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units together with its currency; validated on construction."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        currency_exponent(self.currency)
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise AmountInvalid("amount must be an integer in minor units")
        if not 0 <= self.amount <= MAX_AMOUNT:
            raise AmountInvalid(f"amount must be between 0 and {MAX_AMOUNT}")

    @classmethod
    def from_major(cls, value: Decimal | str | int, currency: str) -> Money:
        """Parse a provider's major-unit value, e.g. `Money.from_major("1500.00", "RUB")`."""
        return cls(from_decimal(value, currency), currency)

    def __str__(self) -> str:
        return f"{format_major(self.amount, self.currency)} {self.currency}"
