"""Russian and English: locale choice, money per locale, a complete Russian catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from kassa.web.i18n import format_money, negotiate, translations

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("requested", "header", "locale"),
    [
        (None, "ru-RU,ru;q=0.9,en;q=0.8", "ru"),
        (None, "en-US,en;q=0.9,ru;q=0.5", "en"),
        (None, "de-DE, ru;q=0.3", "ru"),
        (None, "de-DE", "en"),
        (None, "ru;q=0, en", "en"),
        (None, "ru;q=abc", "en"),
        (None, None, "en"),
        ("ru", "en", "ru"),
        ("fr", "ru", "ru"),
    ],
)
def test_negotiate(requested: str | None, header: str | None, locale: str) -> None:
    assert negotiate(requested, header) == locale


@pytest.mark.parametrize(
    ("amount", "currency", "ru", "en"),
    [
        (150000, "RUB", "1\u00a0500,00\u00a0₽", "RUB\u00a01,500.00"),
        (150000, "USD", "1\u00a0500,00\u00a0$", "$1,500.00"),
        (150, "XTR", "150\u00a0XTR", "150\u00a0XTR"),
        (10_500_000, "USDT", "10,5\u00a0USDT", "10.5\u00a0USDT"),
    ],
)
def test_money_per_locale(amount: int, currency: str, ru: str, en: str) -> None:
    assert format_money(amount, currency, "ru") == ru
    assert format_money(amount, currency, "en") == en


def extracted() -> list[str | tuple[str, ...]]:
    """Every message Babel finds in Kassa's code and pages (`babel.cfg`'s patterns):
    strings, and (singular, plural) pairs."""
    method_map = [
        ("**.py", "python"),
        ("web/templates/**.html", "jinja2"),
        ("services/emails/templates/**", "jinja2"),
    ]
    options = {
        "web/templates/**.html": {"extensions": "jinja2.ext.i18n"},
        "services/emails/templates/**": {"extensions": "jinja2.ext.i18n"},
    }
    return [
        message
        for _, _, message, _, _ in extract_from_dir(
            ROOT / "src" / "kassa", method_map, options_map=options
        )
    ]


def test_every_message_has_a_russian_translation() -> None:
    russian = translations("ru")
    messages = {message for message in extracted() if isinstance(message, str)}
    assert {"Pay", "Decline", "Authorize", "Parameters", "Payment terminal"} <= messages
    assert {"Amount paid", "Refund from %(shop)s"} <= messages  # the e-mails' too
    assert [m for m in sorted(messages) if russian.gettext(m) == m] == []


def test_every_counter_has_its_three_russian_forms() -> None:
    """Russian says 1 платёж, 2 платежа, 5 платежей: each plural message has three forms."""
    russian = translations("ru")
    pairs = {(m[0], m[1]) for m in extracted() if isinstance(m, tuple) and m[0] and m[1]}
    assert ("%(num)d attempt", "%(num)d attempts") in pairs
    forms = {pair: {russian.ngettext(*pair, n) for n in (1, 2, 5)} for pair in pairs}
    untranslated = [p for p in sorted(pairs) if forms[p] & set(p) or len(forms[p]) < 2]
    assert untranslated == []


def test_the_russian_catalog_defines_each_message_once() -> None:
    """Two definitions of one message (as merges of parallel work leave) make `msgfmt` fail,
    while the catalog reader keeps whichever comes last, silently."""
    catalog = ROOT / "src" / "kassa" / "locale" / "ru" / "LC_MESSAGES" / "messages.po"
    entries: list[str] = []
    for block in catalog.read_text(encoding="utf-8").split("\n\n"):
        # The message's identity: its msgctxt, msgid and msgid_plural lines, up to msgstr.
        identity: list[str] = []
        for line in block.splitlines():
            if line.startswith("msgstr"):
                break
            if not line.startswith("#"):
                identity.append(line)
        if identity:
            entries.append("\n".join(identity))
    duplicates = sorted({entry for entry in entries if entries.count(entry) > 1})
    assert duplicates == []
