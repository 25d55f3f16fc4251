"""Russian and English for Kassa's pages: gettext catalogs (Babel), locale choice, money.

Catalogs live as `.po` files in `kassa/locale/<lang>/LC_MESSAGES/messages.po` and are compiled
in memory when Kassa starts, so there is no build step. English is the source language.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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

_current: ContextVar[str] = ContextVar("kassa_locale", default=DEFAULT_LOCALE)


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


def negotiate(requested: str | None, accept_language: str | None) -> str:
    """The locale to use: an explicit choice if supported, else the best of Accept-Language."""
    if requested in LOCALES:
        return requested
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        language = tag.split("-")[0].lower()
        if language in LOCALES and quality > 0:
            weighted.append((-quality, position, language))
    return min(weighted)[2] if weighted else DEFAULT_LOCALE


@contextmanager
def use_locale(locale: str) -> Iterator[None]:
    """Make `locale` current for gettext calls in this task (templates render inside it)."""
    token = _current.set(locale)
    try:
        yield
    finally:
        _current.reset(token)


def current_locale() -> str:
    return _current.get()


def gettext_(message: str) -> str:
    return translations(_current.get()).gettext(message)


def ngettext_(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


def format_money(amount: int, currency: str, locale: str | None = None) -> str:
    """Minor units for people: `1 500,00 ₽` in Russian, `RUB 1,500.00` in English."""
    locale = locale or _current.get()
    value = to_decimal(amount, currency)
    if currency in _BABEL_CURRENCIES:
        # CLDR's currency spacing, which Babel leaves out: a letter symbol and a digit get a
        # no-break space between them ("RUB 1,500.00", not "RUB1,500.00").
        return _LETTER_THEN_DIGIT.sub(
            "\\1\u00a0\\2", format_currency(value, currency, locale=locale)
        )
    return f"{format_decimal(value, locale=locale, decimal_quantization=False)}\u00a0{currency}"


def format_time(
    value: datetime | str | None, timezone: str, *, short: bool = False, locale: str | None = None
) -> str:
    """A moment for people, in `timezone` and the locale's style (medium, or the short form:
    `30.11.2026, 08:37` / `11/30/26, 8:37 AM`). Takes ISO 8601 strings too (the API
    objects' timestamps); None is an empty string."""
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return format_datetime(
        moment,
        "short" if short else "medium",
        tzinfo=ZoneInfo(timezone),
        locale=locale or _current.get(),
    )


def format_duration(seconds: float, locale: str | None = None) -> str:
    """Roughly, in the largest unit that fits: `3 min`, `2 h` (`3 мин`, `2 ч`)."""
    return format_timedelta(
        timedelta(seconds=seconds), threshold=1.5, format="short", locale=locale or _current.get()
    )
