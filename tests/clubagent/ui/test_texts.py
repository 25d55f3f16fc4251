"""How money, time and errors are written, in both languages."""

from __future__ import annotations

import pytest

from kassa.clubagent.model import AgentError, Notice
from kassa.clubagent.ui import texts


@pytest.mark.parametrize(
    ("amount", "currency", "language", "written"),
    [
        ("1500.00", "KZT", "ru", "1\u202f500\u00a0₸"),
        ("99.50", "RUB", "ru", "99,50\u00a0₽"),
        ("12.50", "USD", "en", "12.50\u00a0USD"),
        ("1234567.10", "RUB", "en", "1\u202f234\u202f567.10\u00a0₽"),
        ("0", "KZT", "en", "0\u00a0₸"),
    ],
)
def test_money(amount: str, currency: str, language: str, written: str) -> None:
    assert texts.money(amount, currency, language) == written


@pytest.mark.parametrize(
    ("seconds", "written"), [(3909, "1:05:09"), (59, "0:00:59"), (0, "0:00:00"), (-4, "0:00:00")]
)
def test_clock(seconds: int, written: str) -> None:
    assert texts.clock(seconds) == written


def test_durations_in_words() -> None:
    assert texts.duration(10800, "ru") == "3\u00a0ч"
    assert texts.duration(5400, "en") == "1\u00a0h 30\u00a0min"
    assert texts.duration(2700, "ru") == "45\u00a0мин"


def test_every_english_word_has_its_russian_twin() -> None:
    assert set(texts.EN) == set(texts.RU)
    for notice in Notice:
        assert texts.notice("en", notice) != texts.notice("ru", notice)


def test_errors_in_words_and_unknown_codes_in_the_hubs_message() -> None:
    wrong = AgentError("sign_in_failed", "invalid credentials")
    assert texts.error("ru", wrong) == "Неверный логин или пароль"
    assert texts.error("en", wrong) == "Wrong login or password"
    odd = AgentError("zone_closed", "The VIP zone is closed tonight")
    assert texts.error("en", odd) == "The VIP zone is closed tonight"


def test_an_unknown_language_falls_back_to_russian() -> None:
    assert texts.text("kk", "sign_in") == texts.RU["sign_in"]
