"""The session bar: the core's countdown, the warnings, the catalogue, ending the session, and
the lock screen again at zero."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from kassa.clubagent.model import AgentError, Mode, Notice
from kassa.clubagent.ui import AgentWindows
from kassa.clubagent.ui.session_bar import SessionBar
from tests.clubagent.ui.fake import APPS, FakeController
from tests.clubagent.ui.helpers import click


def playing(controller: FakeController, seconds: int = 3909) -> None:
    controller.push(mode=Mode.PLAYING, session="ses_1", seconds_left=seconds, apps=APPS)


def app_buttons(bar: SessionBar, tab: int) -> list[QPushButton]:
    bar.catalogue.setCurrentIndex(tab)
    page = bar.catalogue.widget(tab)
    assert page is not None
    return page.findChildren(QPushButton)


def test_the_bar_sits_on_top_of_the_screen_and_shows_the_cores_countdown(
    windows: AgentWindows, controller: FakeController
) -> None:
    playing(controller)
    bar = windows.session_bar
    assert bar.isVisible()
    assert not windows.lock_screen.isVisible()
    assert bar.windowFlags() & Qt.WindowType.WindowStaysOnTopHint
    assert bar.geometry().top() == bar.screen().availableGeometry().top()
    assert bar.height() < bar.screen().availableGeometry().height() // 3
    assert bar.clock.text() == "1:05:09"
    controller.push(seconds_left=3908)
    assert bar.clock.text() == "1:05:08"
    assert not bar.warning.isVisible()


def test_the_warnings_at_five_and_one_minute(
    windows: AgentWindows, controller: FakeController
) -> None:
    playing(controller, seconds=300)
    bar = windows.session_bar
    controller.push(seconds_left=299, warning=5)
    assert bar.warning.isVisible()
    assert bar.warning.text() == "Осталось меньше 5 мин — сохраните игру"
    controller.push(seconds_left=59, warning=1, language="en")
    assert bar.warning.text() == "Less than 1 min left — save your game"
    assert bar.clock.text() == "0:00:59"


def test_locking_at_zero_shows_the_lock_screen_and_why(
    windows: AgentWindows, controller: FakeController
) -> None:
    playing(controller, seconds=1)
    controller.push(
        mode=Mode.LOCKED, seconds_left=None, warning=None, session=None, notice=Notice.TIME_UP
    )
    assert not windows.session_bar.isVisible()
    assert windows.lock_screen.isVisible()
    assert windows.lock_screen.notice.text() == "Время сеанса вышло"


def test_the_games_and_apps_tabs_launch_through_the_core(
    windows: AgentWindows, controller: FakeController
) -> None:
    playing(controller)
    bar = windows.session_bar
    assert [bar.catalogue.tabText(tab) for tab in range(2)] == ["Игры", "Программы"]
    games = app_buttons(bar, 0)
    assert [each.text() for each in games] == ["Counter-Strike 2", "Dota 2"]
    click(games[1])
    assert controller.calls[-1] == ("launch", {"app": APPS[1]})
    apps = app_buttons(bar, 1)
    assert [each.text() for each in apps] == ["Discord"]
    controller.failures["launch"] = AgentError("app_missing", "Discord is not installed")
    click(apps[0])
    assert bar.status.text() == "Discord is not installed"


def test_ending_the_session_asks_first(windows: AgentWindows, controller: FakeController) -> None:
    playing(controller)
    bar = windows.session_bar
    click(bar.end)
    assert bar.confirmation.isVisible()
    click(bar.confirm_no)
    assert "end_session" not in controller.names()
    assert not bar.confirmation.isVisible()
    click(bar.end)
    click(bar.confirm_yes)
    assert controller.names()[-1] == "end_session"


def test_the_customer_cannot_close_the_bar(
    windows: AgentWindows, controller: FakeController
) -> None:
    playing(controller)
    assert not windows.session_bar.close()
    assert windows.session_bar.isVisible()
