"""Russian and English in a named locale: gettext catalogs (Babel) and money, times and
durations for people. The web pages use them through `kassa.web.i18n`, which chooses the
locale of each request; e-mails (`kassa.services.emails`) pass their shop's language.

Catalogs live as `.po` files in `kassa/locale/<lang>/LC_MESSAGES/messages.po` and are compiled
in memory on first use, so there is no build step. English is the source language.
"""

from __future__ import annotations

import gettext
import re
from datetime import datetime, timedelta
from functools import cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal

from kassa.domain.money import to_decimal

LOCALES = ("en", "ru")
DEFAULT_LOCALE = "en"
CATALOGS = Path(__file__).resolve().parent.parent / "locale"

#: Currencies Babel formats with their symbol and two decimals; others print as "150 XTR".
_BABEL_CURRENCIES = frozenset({"RUB", "KZT", "USD", "EUR"})

_LETTER_THEN_DIGIT = re.compile(r"([A-Za-z])(\d)")


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The compiled catalog for `locale` (English needs none)."""
    path = CATALOGS / locale / "LC_MESSAGES" / "messages.po"
    if locale == DEFAULT_LOCALE or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=locale)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def format_money(amount: int, currency: str, locale: str) -> str:
    """Minor units for people: `1 500,00 ₽` in Russian, `RUB 1,500.00` in English."""
    value = to_decimal(amount, currency)
    if currency in _BABEL_CURRENCIES:
        # CLDR's currency spacing, which Babel leaves out: a letter symbol and a digit get a
        # no-break space between them ("RUB 1,500.00", not "RUB1,500.00").
        return _LETTER_THEN_DIGIT.sub(
            "\\1\u00a0\\2", format_currency(value, currency, locale=locale)
        )
    return f"{format_decimal(value, locale=locale, decimal_quantization=False)}\u00a0{currency}"


def format_time(
    value: datetime | str | None, timezone: str, *, locale: str, short: bool = False
) -> str:
    """A moment for people, in `timezone` and the locale's style (medium, or the short form:
    `30.11.2026, 08:37` / `11/30/26, 8:37 AM`). Takes ISO 8601 strings too (the API
    objects' timestamps); None is an empty string."""
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return format_datetime(
        moment, "short" if short else "medium", tzinfo=ZoneInfo(timezone), locale=locale
    )


def format_duration(seconds: float, locale: str) -> str:
    """Roughly, in the largest unit that fits: `3 min`, `2 h` (`3 мин`, `2 ч`)."""
    return format_timedelta(
        timedelta(seconds=seconds), threshold=1.5, format="short", locale=locale
    )
