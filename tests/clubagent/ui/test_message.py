"""A message the staff sent: over whichever window is up, until the customer presses OK."""

from __future__ import annotations

from PySide6.QtCore import Qt

from kassa.clubagent.model import Mode
from kassa.clubagent.ui import AgentWindows
from tests.clubagent.ui.fake import FakeController
from tests.clubagent.ui.helpers import click, press


def test_a_message_on_the_lock_screen_until_ok(
    windows: AgentWindows, controller: FakeController
) -> None:
    dialog = windows.message
    assert not dialog.isVisible()
    controller.push(message="The club closes at 23:00")
    assert dialog.isVisible()
    assert dialog.windowFlags() & Qt.WindowType.WindowStaysOnTopHint
    assert dialog.text.text() == "The club closes at 23:00"
    assert dialog.heading.text() == "Сообщение от администратора"
    press(dialog, Qt.Key.Key_Escape)  # only OK dismisses it
    assert dialog.isVisible()
    click(dialog.ok)
    assert controller.names() == ["dismiss_message"]
    assert not dialog.isVisible()


def test_a_message_over_the_session_bar(windows: AgentWindows, controller: FakeController) -> None:
    controller.push(mode=Mode.PLAYING, seconds_left=600, language="en")
    controller.push(message="<b>Your friend</b> is waiting at the desk")
    dialog = windows.message
    assert dialog.isVisible()
    assert windows.session_bar.isVisible()
    assert dialog.heading.text() == "A message from the staff"
    assert dialog.text.textFormat() == Qt.TextFormat.PlainText  # the staff's words, not markup
    click(dialog.ok)
    assert not dialog.isVisible()
    assert windows.session_bar.isVisible()
