"""The club agent's windows under test: Qt's offscreen platform (no display needed), the
windows' theme, and a fake core that answers at once."""

from __future__ import annotations

import os

if not os.environ.get("QT_QPA_PLATFORM"):
    os.environ["QT_QPA_PLATFORM"] = "offscreen"

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from kassa.clubagent.ui import AgentWindows, theme
from tests.clubagent.ui.fake import FakeController


@pytest.fixture
def controller() -> FakeController:
    return FakeController()


@pytest.fixture
def windows(qtbot: QtBot, qapp: QApplication, controller: FakeController) -> AgentWindows:
    theme.apply(qapp)
    made = AgentWindows(controller)
    for window in (made.lock_screen, made.session_bar, made.staff_panel):
        qtbot.addWidget(window)
    qtbot.addWidget(made.pin_dialog)
    qtbot.addWidget(made.message)
    made.show()
    return made
