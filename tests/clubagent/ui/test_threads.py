"""The core hands Views over from its own thread: the windows draw them on Qt's."""

from __future__ import annotations

import threading

from PySide6.QtCore import QThread
from pytestqt.qtbot import QtBot

from kassa.clubagent.model import View
from kassa.clubagent.ui import AgentWindows
from tests.clubagent.ui.fake import FakeController


def test_a_view_from_the_cores_thread_is_drawn_on_qts(
    qtbot: QtBot, windows: AgentWindows, controller: FakeController
) -> None:
    drawn_on: list[QThread] = []
    windows.changed.connect(lambda _view: drawn_on.append(QThread.currentThread()))
    core = threading.Thread(target=lambda: controller.push(online=False))
    core.start()
    core.join()
    qtbot.waitUntil(windows.lock_screen.offline.isVisible, timeout=2000)
    assert drawn_on == [windows.thread()]
    assert isinstance(windows.view, View)
    assert windows.view.online is False
