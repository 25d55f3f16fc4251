"""Russian and English for Kassa's pages: the locale of each request (negotiated, then kept
in a context variable the templates' gettext and formatting read). The catalogs and the
formatting in a named locale are `kassa.services.i18n`'s, which e-mails share.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from kassa.services import i18n
from kassa.services.i18n import DEFAULT_LOCALE, LOCALES, translations

__all__ = [
    "LOCALES",
    "current_locale",
    "format_duration",
    "format_money",
    "format_time",
    "gettext_",
    "negotiate",
    "ngettext_",
    "translations",
    "use_locale",
]

_current: ContextVar[str] = ContextVar("kassa_locale", default=DEFAULT_LOCALE)


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
    """Minor units for people, in `locale` or the current one."""
    return i18n.format_money(amount, currency, locale or _current.get())


def format_time(
    value: datetime | str | None, timezone: str, *, short: bool = False, locale: str | None = None
) -> str:
    """A moment for people, in `timezone` and `locale` or the current one."""
    return i18n.format_time(value, timezone, short=short, locale=locale or _current.get())


def format_duration(seconds: float, locale: str | None = None) -> str:
    """Roughly, in the largest unit that fits, in `locale` or the current one."""
    return i18n.format_duration(seconds, locale or _current.get())
