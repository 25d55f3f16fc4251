"""The bot's words in the buyer's language: Telegram's `language_code` when it is Russian or
English, else the bot's configured language. Messages are gettext's (the catalog of
`kassa.services.i18n`), so `gettext("…")` calls are found by the catalog's extraction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kassa.services import i18n


def language_of(language_code: str | None, default: str) -> str:
    """`ru` or `en` for a Telegram user's `language_code` (`ru`, `en-US`, …), else `default`."""
    if language_code:
        primary = language_code.split("-", 1)[0].lower()
        if primary in i18n.LOCALES:
            return primary
    return default


@dataclass(frozen=True, slots=True)
class Texts:
    """The bot's words in one language."""

    language: str
    timezone: str = "UTC"

    def gettext(self, message: str) -> str:
        return i18n.translations(self.language).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return i18n.translations(self.language).ngettext(singular, plural, n)

    def money(self, amount: int, currency: str) -> str:
        return i18n.format_money(amount, currency, self.language)

    def time(self, value: datetime) -> str:
        return i18n.format_time(value, self.timezone, locale=self.language)
