# ruff: noqa: RUF001 (the Russian words on screen)
"""Once signed in: a package or per-minute play, its price shown first, then "Start"."""

from __future__ import annotations

from PySide6.QtCore import Qt

from kassa.clubagent.model import AgentError, Mode
from kassa.clubagent.ui import AgentWindows
from kassa.clubagent.ui.purchase import PurchasePanel
from kassa.protocol.club_pc import Preview
from tests.clubagent.ui.fake import FakeController
from tests.clubagent.ui.helpers import click, click_item, press, type_in


def signed_in(windows: AgentWindows) -> PurchasePanel:
    panel = windows.lock_screen.sign_in
    type_in(panel.login, "aidar")
    type_in(panel.password, "secret")
    press(panel.password, Qt.Key.Key_Return)
    return windows.lock_screen.purchase


def test_before_signing_in_the_packages_are_only_shown(
    windows: AgentWindows, controller: FakeController
) -> None:
    panel = windows.lock_screen.purchase
    assert not panel.start.isVisible()
    assert panel.hint.text() == "Войдите, чтобы купить пакет или играть поминутно"
    click_item(panel.packages, "1 hour")
    assert controller.calls == []


def test_buying_a_package_shows_its_price_before_start(
    windows: AgentWindows, controller: FakeController
) -> None:
    panel = signed_in(windows)
    assert panel.start.isVisible()
    assert not panel.start.isEnabled()  # nothing chosen, no price yet
    controller.preview_answer = Preview(
        seconds=10800,
        price="2000.00",
        time_bank_seconds=0,
        package_seconds=0,
        balance_after="3200.00",
    )
    click_item(panel.packages, "3 hours")
    assert controller.calls[-1] == ("preview", {"package": "3 hours", "minutes": None})
    assert panel.price.text() == "3\u00a0ч игры · 2\u202f000\u00a0₸"
    assert panel.uses.text() == "Баланс после: 3\u202f200\u00a0₸"
    click(panel.start)
    assert controller.calls[-1] == ("start", {"package": "3 hours", "minutes": None})
    assert panel.status.text() == "Запускаем сеанс…"
    controller.push(mode=Mode.PLAYING, seconds_left=10800, customer=None)
    assert not windows.lock_screen.isVisible()
    assert windows.session_bar.isVisible()


def test_an_unavailable_package_cannot_be_chosen(
    windows: AgentWindows, controller: FakeController
) -> None:
    panel = signed_in(windows)
    click_item(panel.packages, "Night")
    assert "preview" not in controller.names()
    assert not panel.start.isEnabled()


def test_per_minute_play_for_some_minutes(
    windows: AgentWindows, controller: FakeController
) -> None:
    panel = signed_in(windows)
    controller.preview_answer = Preview(
        seconds=5400,
        price="1200.00",
        time_bank_seconds=1800,
        package_seconds=0,
        balance_after="4000.00",
    )
    click(panel.per_minute)
    assert controller.calls[-1] == ("preview", {"package": None, "minutes": None})
    click(panel.more)
    click(panel.more)
    assert controller.calls[-1] == ("preview", {"package": None, "minutes": 30})
    click(panel.fewer)
    assert panel.minutes.text() == "15"
    panel.minutes.clear()
    type_in(panel.minutes, "90")
    assert controller.calls[-1] == ("preview", {"package": None, "minutes": 90})
    assert panel.price.text() == "1\u00a0ч 30\u00a0мин игры · 1\u202f200\u00a0₸"
    assert "Из банка времени: 0:30:00" in panel.uses.text()
    click(panel.start)
    assert controller.calls[-1] == ("start", {"package": None, "minutes": 90})


def test_not_enough_money_is_said_in_words(
    windows: AgentWindows, controller: FakeController
) -> None:
    panel = signed_in(windows)
    controller.failures["start"] = AgentError("insufficient_funds", "balance too low")
    click_item(panel.packages, "1 hour")
    click(panel.start)
    assert panel.status.text() == "Недостаточно средств на балансе"
    assert panel.start.isEnabled()  # the customer may choose again
    controller.failures["start"] = AgentError("session_exists", "already playing")
    click(panel.start)
    assert panel.status.text() == "У вас уже идёт сеанс"


def test_signing_out_forgets_the_choice(windows: AgentWindows, controller: FakeController) -> None:
    panel = signed_in(windows)
    click_item(panel.packages, "1 hour")
    click(windows.lock_screen.customer.sign_out)
    assert not panel.price.isVisible()
    assert panel.packages.selectedItems() == []
